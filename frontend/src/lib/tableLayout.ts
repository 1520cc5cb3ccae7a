// The table's rows and columns as arithmetic: group headers and runs of images as segments (a row is found by a
// binary search, whatever the size of the result), and each column's width.

import { lastAtOrBelow } from "./search";
import type { Group, Property } from "./types";

/** A run of the table's rows: a group's header, or images ids[start:end] of the result. */
export type Segment =
  | { kind: "group"; row: number; group: Group; depth: number; path: Group[] }
  | { kind: "images"; row: number; start: number; end: number };

/** The table's rows as segments (one per group header and per leaf group's images), so a row index is
 * found by a binary search rather than by a row array as long as the result. */
export function segmentsOf(total: number, groups: Group[]): { segments: Segment[]; rows: number } {
  const segments: Segment[] = [];
  let rows = 0;
  const walk = (list: Group[], depth: number, path: Group[]) => {
    for (const group of list) {
      segments.push({ kind: "group", row: rows++, group, depth, path: [...path, group] });
      if (group.groups.length > 0) walk(group.groups, depth + 1, [...path, group]);
      else if (group.end > group.start) {
        segments.push({ kind: "images", row: rows, start: group.start, end: group.end });
        rows += group.end - group.start;
      }
    }
  };
  if (groups.length > 0) walk(groups, 0, []);
  else if (total > 0) {
    segments.push({ kind: "images", row: 0, start: 0, end: total });
    rows = total;
  }
  return { segments, rows };
}

export function segmentAt(segments: Segment[], row: number): Segment {
  return segments[lastAtOrBelow(segments, row, (segment) => segment.row)];
}

const WIDTHS: Record<string, number> = {
  path: 320, folder: 220, name: 190, format: 64, width: 64, height: 64, size: 76, modified: 150, taken: 150,
  hash: 110, imported: 150,
};
const TYPE_WIDTHS: Record<string, number> = {
  text: 190, number: 90, date: 150, checkbox: 74, url: 200, colour: 100, tag: 150, "multi-tag": 230, path: 260,
};

export function columnWidth(property: Property): number {
  return (property.builtin ? WIDTHS[property.name] : undefined) ?? TYPE_WIDTHS[property.type] ?? 150;
}
