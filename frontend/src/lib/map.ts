// The similarity map's data: the layout the server computes once per version of a vector type
// (binary: int32 file ids, then float32 x, y per image, in [0, 1]), and the geometry of the map view.

import { api } from "./api";
import { app } from "./app.svelte";
import type { QueryResult } from "./types";

export interface MapLayout {
  ids: Int32Array;
  xy: Float32Array;
  missing: number;
  vectorType: string;
}

async function fetchLayout(vectorType: string | null): Promise<MapLayout> {
  const response = await api.layout(vectorType);
  const buffer = await response.arrayBuffer();
  const n = Number(response.headers.get("X-Points") ?? 0);
  return { ids: new Int32Array(buffer, 0, n), xy: new Float32Array(buffer, 4 * n, 2 * n),
           missing: Number(response.headers.get("X-Missing") ?? 0),
           vectorType: decodeURIComponent(response.headers.get("X-Vector-Type") ?? "") };
}

/** The stored layout, computed first (a background job with progress) when there is none yet. The job is
 * asked for every time: it answers at once when the layout is stored, where reading a layout not yet made
 * would be a 404 the browser logs as an error on every first opening. */
export async function loadLayout(vectorType: string | null): Promise<MapLayout> {
  await app.runJob(() => api.startLayout({ vector_type: vectorType }), { changes: false });
  return fetchLayout(vectorType);
}

/** Indices (into the layout) of the points whose image is among `ids`: the view's images on the map. */
export function pointsOf(layout: MapLayout, ids: number[]): Uint32Array {
  let max = 0;
  for (const id of ids) if (id > max) max = id;
  const wanted = new Uint8Array(max + 1);
  for (const id of ids) wanted[id] = 1;
  const found = new Uint32Array(layout.ids.length);
  let count = 0;
  for (let i = 0; i < layout.ids.length; i++) {
    const id = layout.ids[i];
    if (id <= max && wanted[id]) found[count++] = i;
  }
  return found.slice(0, count);
}

/** Whether (x, y) lies inside the polygon (even-odd rule). */
export function inside(polygon: [number, number][], x: number, y: number): boolean {
  let within = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) within = !within;
  }
  return within;
}

/** Per image id, its point on the map (-1: none): lookups in typed arrays rather than sets of 500,000. */
export function pointIndex(layout: MapLayout): Int32Array {
  let max = 0;
  for (let i = 0; i < layout.ids.length; i++) if (layout.ids[i] > max) max = layout.ids[i];
  const index = new Int32Array(max + 1).fill(-1);
  for (let i = 0; i < layout.ids.length; i++) index[layout.ids[i]] = i;
  return index;
}

// The groups of the view (or of clusters) in colours, as CSS and as ABGR pixels; later groups grey.
export const PALETTE = ["#4363d8", "#3cb44b", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#9a6324",
                        "#469990", "#808000"];
const PIXELS = Uint32Array.from(PALETTE, (c) => {
  const [r, g, b] = [1, 3, 5].map((at) => parseInt(c.slice(at, at + 2), 16));
  return (0xff << 24 | b << 16 | g << 8 | r) >>> 0;
});
const OTHER = 0xff_a0_a0_a0;

/** Per point (of `points`), the colour of its top-level group in `shown` (0 when it is not grouped). */
export function groupColours(points: number, shown: QueryResult | null, pointOfId: Int32Array): Uint32Array {
  const out = new Uint32Array(points);
  const groups = shown?.groups ?? [];
  if (!shown || groups.length < 2) return out;
  groups.forEach((g, n) => {
    const colour = n < PIXELS.length ? PIXELS[n] : OTHER;
    for (let k = g.start; k < g.end; k++) {
      const i = shown.ids[k] < pointOfId.length ? pointOfId[shown.ids[k]] : -1;
      if (i >= 0) out[i] = colour;
    }
  });
  return out;
}

/** Per point (of `points`), 1 when its image is selected. */
export function selectionMask(points: number, selection: Set<number>, pointOfId: Int32Array): Uint8Array {
  const mask = new Uint8Array(points);
  for (const id of selection) {
    const i = id < pointOfId.length ? pointOfId[id] : -1;
    if (i >= 0) mask[i] = 1;
  }
  return mask;
}

/** The scale and offset (screen = offset + unit coordinate * scale) that show every point in a width x
 * height view, with room at the edges for the thumbnails of a small map. */
export function fitted(layout: MapLayout | null, width: number, height: number): { scale: number; ox: number; oy: number } {
  let [x0, y0, x1, y1] = [0, 0, 1, 1];
  if (layout && layout.ids.length) {
    [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let i = 0; i < layout.ids.length; i++) {
      const x = layout.xy[2 * i];
      const y = layout.xy[2 * i + 1];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  const margin = Math.min(70, Math.min(width, height) / 6);
  const scale = Math.max(Math.min((width - 2 * margin) / Math.max(x1 - x0, 1e-6),
                                  (height - 2 * margin) / Math.max(y1 - y0, 1e-6)), 1);
  return { scale, ox: (width - (x1 - x0) * scale) / 2 - x0 * scale, oy: (height - (y1 - y0) * scale) / 2 - y0 * scale };
}
