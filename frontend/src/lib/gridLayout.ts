// The grid's layout as arithmetic: the group tree becomes a list of segments (a header row, or a block
// of tile rows covering ids[start:end]) with their vertical offsets. Nothing here touches the DOM, so a
// result of 500,000 images costs one pass over its groups, and every question the grid asks (what is on
// screen, where is image i, what does a rectangle cover) is a binary search plus a little arithmetic.

import { lastAtOrBelow } from "./search";
import type { Group, QueryResult } from "./types";

export interface HeaderSegment {
  kind: "header";
  y: number;
  /** The grid row it is (headers and rows of tiles counted from 0), for screen readers. */
  row: number;
  height: number;
  depth: number;
  group: Group;
  /** The keys from the outermost group down to this one. */
  keys: unknown[];
  /** Identifies the group across queries (its key path), for the collapsed set. */
  id: string;
  collapsed: boolean;
  /** Index of the enclosing group's header segment, or -1. */
  parent: number;
}

export interface TileSegment {
  kind: "tiles";
  y: number;
  /** The grid row of its first row of tiles. */
  row: number;
  height: number;
  start: number;
  end: number;
  rows: number;
  parent: number;
}

export type Segment = HeaderSegment | TileSegment;

export interface Metrics {
  width: number;
  tileWidth: number;
  tileHeight: number;
  headerHeight: number;
  gap: number;
  padding: number;
}

export interface Layout extends Metrics {
  segments: Segment[];
  /** Indices of the tile segments, in result order (for finding an image's segment). */
  blocks: number[];
  columns: number;
  /** Rows in the whole grid, headers included. */
  rowCount: number;
  height: number;
  /** Deepest group level + 1 (0 without groups): the most sticky headers that can stack up. */
  levels: number;
}

export interface Row {
  /** Stable while the layout holds: "h<segment>" or "r<first index>". */
  key: string;
  y: number;
  /** Its grid row (see HeaderSegment.row). */
  index: number;
  segment: number;
  /** For tile rows: the result indices [start, end) of the row. */
  start: number;
  end: number;
}

export function groupId(keys: unknown[]): string {
  return JSON.stringify(keys);
}

export function buildLayout(result: QueryResult, metrics: Metrics, collapsed: Set<string>): Layout {
  const { tileWidth, tileHeight, headerHeight, gap, padding, width } = metrics;
  const columns = Math.max(1, Math.floor((width - 2 * padding + gap) / (tileWidth + gap)));
  const pitch = tileHeight + gap;
  const segments: Segment[] = [];
  const blocks: number[] = [];
  let y = padding;
  let row = 0;
  let levels = 0;

  const tiles = (start: number, end: number, parent: number) => {
    if (end <= start) return;
    const rows = Math.ceil((end - start) / columns);
    blocks.push(segments.length);
    segments.push({ kind: "tiles", y, row, height: rows * pitch + gap, start, end, rows, parent });
    y += rows * pitch + gap;
    row += rows;
  };

  const walk = (groups: Group[], keys: unknown[], depth: number, parent: number) => {
    levels = Math.max(levels, depth + 1);
    for (const group of groups) {
      const path = [...keys, group.key];
      const id = groupId(path);
      const isCollapsed = collapsed.has(id);
      const index = segments.length;
      segments.push({ kind: "header", y, row, height: headerHeight, depth, group, keys: path, id,
                      collapsed: isCollapsed, parent });
      y += headerHeight;
      row += 1;
      if (isCollapsed) continue;
      if (group.groups.length > 0) walk(group.groups, path, depth + 1, index);
      else tiles(group.start, group.end, index);
    }
  };

  // An overlay's result may come without a group tree at all.
  const groups = result.groups ?? [];
  if (groups.length > 0) walk(groups, [], 0, -1);
  else tiles(0, result.ids.length, -1);
  return { ...metrics, segments, blocks, columns, rowCount: row, height: y + padding, levels };
}

/** The index of the last segment starting at or above y (0 if none). */
export function segmentAt(layout: Layout, y: number): number {
  return lastAtOrBelow(layout.segments, y, (segment) => segment.y);
}

/** The rows (headers and rows of tiles) that overlap [top, bottom). */
export function rowsBetween(layout: Layout, top: number, bottom: number): Row[] {
  const rows: Row[] = [];
  const pitch = layout.tileHeight + layout.gap;
  for (let s = segmentAt(layout, top); s < layout.segments.length; s++) {
    const segment = layout.segments[s];
    if (segment.y >= bottom) break;
    if (segment.kind === "header") {
      if (segment.y + segment.height > top) {
        rows.push({ key: `h${s}`, y: segment.y, index: segment.row, segment: s, start: 0, end: 0 });
      }
      continue;
    }
    const first = Math.max(0, Math.floor((top - segment.y) / pitch));
    const last = Math.min(segment.rows - 1, Math.floor((bottom - segment.y) / pitch));
    for (let r = first; r <= last; r++) {
      const start = segment.start + r * layout.columns;
      rows.push({ key: `r${start}`, y: segment.y + r * pitch, index: segment.row + r, segment: s, start,
                  end: Math.min(segment.end, start + layout.columns) });
    }
  }
  return rows;
}

/** The tile segment holding result index i, or -1 when i is inside a collapsed group. */
export function blockOf(layout: Layout, index: number): number {
  const { blocks, segments } = layout;
  let low = 0;
  let high = blocks.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const segment = segments[blocks[mid]] as TileSegment;
    if (index < segment.start) high = mid - 1;
    else if (index >= segment.end) low = mid + 1;
    else return blocks[mid];
  }
  return -1;
}

/** Where image i's tile is, or null when it is hidden in a collapsed group. */
export function tileBox(layout: Layout, index: number): { x: number; y: number; column: number; row: number; block: number } | null {
  const block = blockOf(layout, index);
  if (block < 0) return null;
  const segment = layout.segments[block] as TileSegment;
  const offset = index - segment.start;
  const row = Math.floor(offset / layout.columns);
  const column = offset % layout.columns;
  return { x: layout.padding + column * (layout.tileWidth + layout.gap),
           y: segment.y + row * (layout.tileHeight + layout.gap), column, row, block };
}

/** The result indices whose tiles a rectangle (in layout coordinates) touches, in result order. */
export function indicesIn(layout: Layout, x0: number, y0: number, x1: number, y1: number): number[] {
  const [left, right] = x0 < x1 ? [x0, x1] : [x1, x0];
  const [top, bottom] = y0 < y1 ? [y0, y1] : [y1, y0];
  const pitchX = layout.tileWidth + layout.gap;
  const pitchY = layout.tileHeight + layout.gap;
  const firstColumn = Math.max(0, Math.ceil((left - layout.padding - layout.tileWidth) / pitchX));
  const lastColumn = Math.min(layout.columns - 1, Math.floor((right - layout.padding) / pitchX));
  const found: number[] = [];
  if (firstColumn > lastColumn) return found;
  for (let s = segmentAt(layout, top); s < layout.segments.length; s++) {
    const segment = layout.segments[s];
    if (segment.y > bottom) break;
    if (segment.kind !== "tiles") continue;
    const firstRow = Math.max(0, Math.ceil((top - segment.y - layout.tileHeight) / pitchY));
    const lastRow = Math.min(segment.rows - 1, Math.floor((bottom - segment.y) / pitchY));
    for (let r = firstRow; r <= lastRow; r++) {
      for (let c = firstColumn; c <= lastColumn; c++) {
        const index = segment.start + r * layout.columns + c;
        if (index < segment.end) found.push(index);
      }
    }
  }
  return found;
}

/** The result index a keyboard move lands on from `index` (arrows move by tile and by row, crossing
 * group boundaries at the same column), or `index` itself at an edge. */
export function step(layout: Layout, index: number, direction: "left" | "right" | "up" | "down"): number {
  const box = tileBox(layout, index);
  if (!box) return firstVisibleIndex(layout);
  const segment = layout.segments[box.block] as TileSegment;
  const at = layout.blocks.indexOf(box.block);
  if (direction === "left" || direction === "right") {
    const next = index + (direction === "left" ? -1 : 1);
    if (next >= segment.start && next < segment.end) return next;
    const neighbour = layout.segments[layout.blocks[at + (direction === "left" ? -1 : 1)]] as TileSegment | undefined;
    if (!neighbour) return index;
    return direction === "left" ? neighbour.end - 1 : neighbour.start;
  }
  if (direction === "up") {
    if (box.row > 0) return index - layout.columns;
    const previous = layout.segments[layout.blocks[at - 1]] as TileSegment | undefined;
    if (!previous) return index;
    return Math.min(previous.end - 1, previous.start + (previous.rows - 1) * layout.columns + box.column);
  }
  if (box.row < segment.rows - 1) return Math.min(segment.end - 1, index + layout.columns);
  const next = layout.segments[layout.blocks[at + 1]] as TileSegment | undefined;
  if (!next) return index;
  return Math.min(next.end - 1, next.start + box.column);
}

export function firstVisibleIndex(layout: Layout): number {
  const first = layout.segments[layout.blocks[0]] as TileSegment | undefined;
  return first ? first.start : -1;
}

/** The sticky headers at y, outermost first: at each depth, the header of the group under the stack of
 * its parents (so a nested header scrolled just under its parent's sticky header joins the stack). */
export function enclosingHeaders(layout: Layout, y: number): HeaderSegment[] {
  const stack: HeaderSegment[] = [];
  if (layout.segments.length === 0) return stack;
  for (let depth = 0; depth < layout.levels; depth++) {
    const header = headersAt(layout, y + depth * layout.headerHeight)[depth];
    if (!header || (depth > 0 && layout.segments[header.parent] !== stack[depth - 1])) break;
    stack.push(header);
  }
  return stack;
}

/** The headers of the groups the point y lies in (a header's own row counts as inside), outermost first. */
function headersAt(layout: Layout, y: number): HeaderSegment[] {
  const chain: HeaderSegment[] = [];
  let s = segmentAt(layout, y);
  if (layout.segments[s].y > y) return chain;  // above the first segment
  if (layout.segments[s].kind !== "header") s = layout.segments[s].parent;
  while (s >= 0) {
    const header = layout.segments[s] as HeaderSegment;
    chain.unshift(header);
    s = header.parent;
  }
  return chain;
}
