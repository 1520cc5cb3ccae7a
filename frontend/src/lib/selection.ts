// Changes to the selection, in the shown result's order. The selection is one Set replaced wholesale
// (never mutated), so everything that shows it re-renders once per change, however many ids it holds.

import { app } from "./app.svelte";

function ids(): number[] {
  return app.shownResult?.ids ?? [];
}

/** Only this image (a plain click). */
export function selectOnly(index: number): void {
  const id = ids()[index];
  if (id === undefined) return;
  app.selection = new Set([id]);
  app.anchor = id;
}

/** Add or remove this image (ctrl/cmd-click, space). */
export function toggle(index: number): void {
  const id = ids()[index];
  if (id === undefined) return;
  const next = new Set(app.selection);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  app.selection = next;
  app.anchor = id;
}

/** The images from the anchor to this one, in result order (shift-click, shift+arrows); `add` keeps the
 * images selected before. The anchor stays where it was, so extending again replaces the range. */
export function selectRange(index: number, add = false): void {
  const all = ids();
  const anchorAt = app.anchor === null ? -1 : all.indexOf(app.anchor);
  if (anchorAt < 0) {
    selectOnly(index);
    return;
  }
  const [from, to] = anchorAt < index ? [anchorAt, index] : [index, anchorAt];
  const next = add ? new Set(app.selection) : new Set<number>();
  for (let i = from; i <= to; i++) next.add(all[i]);
  app.selection = next;
}

/** The images ids[start:end] (a group); `add` keeps the current selection. */
export function selectSpan(start: number, end: number, add = false): void {
  const next = add ? new Set(app.selection) : new Set<number>();
  const all = ids();
  for (let i = start; i < end; i++) next.add(all[i]);
  app.selection = next;
}

/** The given result indices, on top of `base` (a rectangle drag). */
export function selectIndices(indices: number[], base: Set<number>): void {
  const next = new Set(base);
  const all = ids();
  for (const i of indices) next.add(all[i]);
  app.selection = next;
}

export function selectAll(): void {
  app.selection = new Set(ids());
}

export function clearSelection(): void {
  if (app.selection.size > 0) app.selection = new Set();
}

/** The selected ids in result order (what a batch action sends), selected ids not shown coming last. */
export function selectedIds(): number[] {
  const selected = app.selection;
  if (selected.size === 0) return [];
  const ordered = ids().filter((id) => selected.has(id));
  if (ordered.length === selected.size) return ordered;
  const shown = new Set(ordered);
  return [...ordered, ...[...selected].filter((id) => !shown.has(id))];
}
