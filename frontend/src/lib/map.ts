// The similarity map's data: the layout the server computes once per version of a vector type
// (binary: int32 file ids, then float32 x, y per image, in [0, 1]), and the geometry of the map view.

import { api } from "./api";
import { app } from "./app.svelte";

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
