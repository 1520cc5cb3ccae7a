// Clusters shown as an overlay of groups: clustering any group (or the whole view) opens a form, the
// server clusters in a background job, and the clusters become the overlay's groups. A cluster's
// header offers "Create clusters…" again, which nests its sub-clusters under it. "Save clusters as
// tags" sends the overlay's groups, sub-clusters included, to be saved as tags in one operation: what
// is saved is what the researcher reviewed, with how each level was made (the jobs' provenance).

import { count } from "./words";
import { api } from "./api";
import { app, type Overlay } from "./app.svelte";
import type { GroupTarget } from "./groupActions";
import type { Filter, Group, QueryResult } from "./types";

export interface ClusterSettings {
  method: "kmeans" | "hdbscan";
  /** kmeans: null chooses k automatically. */
  k: number | null;
  /** hdbscan: null lets the server choose. */
  minClusterSize: number | null;
  vectorType: string | null;
  /** The weight of the words read in the images (OCR) against the pictures: 0 pictures only, 1 words only. */
  textWeight: number;
}

/** What is clustered: explicit ids (a group, a cluster, the selection) or the view's filter (the
 * whole view: no need to send 500,000 ids). */
export interface ClusterInput {
  title: string;
  ids?: number[];
  filter?: Filter | null;
  /** Set when reclustering a group of the cluster overlay: the group to replace. */
  within?: Group;
}

interface Cluster { cluster: number; score: number; size: number; ids: number[]; noise: boolean }

type Provenance = Record<string, unknown>;

/** A group of the cluster overlay; a reclustered one keeps how its sub-clusters were made. */
interface ClusterGroup extends Group { provenance?: Provenance }

// Raw: a deep proxy would copy a group's ids (maybe 500,000) and lose the identity of `within`.
class ClusterFormState {
  input = $state.raw<ClusterInput | null>(null);
}
export const clusterForm = new ClusterFormState();

/** The cluster overlay (shown through `app.overlay`) and how its top level was made. */
let clusterOverlay: Overlay | null = null;
let topProvenance: Provenance = {};

/** Open the form for a group action's target (a cluster of the overlay is reclustered in place). */
export function openClusterForm(target: GroupTarget): void {
  const within = clusterOverlay !== null && app.overlay === clusterOverlay && target.group !== undefined
    ? findGroup(clusterOverlay.result.groups, target.group) : undefined;
  clusterForm.input = { title: target.title, ids: target.ids, within };
}

/** The overlay's own group object for a group the grid passed back (which may be a copy of it). */
function findGroup(groups: Group[], wanted: Group): Group | undefined {
  for (const g of groups) {
    if (g.start === wanted.start && g.end === wanted.end && g.label === wanted.label) return g;
    const inner = findGroup(g.groups, wanted);
    if (inner) return inner;
  }
  return undefined;
}

export function openClusterFormForView(): void {
  clusterForm.input = { title: "this view", filter: app.view.filter };
}

function request(input: ClusterInput, settings: ClusterSettings, extra: Record<string, unknown> = {}) {
  return {
    ...(input.ids ? { ids: input.ids } : { filter: input.filter ?? null }),
    method: settings.method,
    k: settings.method === "kmeans" ? settings.k : null,
    min_cluster_size: settings.method === "hdbscan" ? settings.minClusterSize : null,
    vector_type: settings.vectorType,
    text_weight: settings.textWeight,
    ...extra,
  };
}

/** Groups of the overlay for clusters whose members start at `offset`, named "Cluster 3", or "Cluster 3.1"
 * under "Cluster 3" (`prefix` "3."), or "Unclustered · 1" under "Unclustered". */
function clusterGroups(clusters: Cluster[], offset: number, prefix: string): { ids: number[]; groups: Group[] } {
  const ids: number[] = [];
  const groups: Group[] = [];
  for (const c of clusters) {
    const start = offset + ids.length;
    for (const id of c.ids) ids.push(id);
    const name = c.noise ? "Unclustered" : prefix.endsWith(" · ") ? `${prefix}${c.cluster}` : `Cluster ${prefix}${c.cluster}`;
    groups.push({ key: c.cluster, label: name, score: c.score, count: c.ids.length, start,
                  end: offset + ids.length, groups: [] });
  }
  return { ids, groups };
}

/** Run the clustering the form describes and show it. */
export async function runClustering(input: ClusterInput, settings: ClusterSettings): Promise<void> {
  const found = await app.runJob<{ clusters: Cluster[]; provenance: Provenance }>(
    () => api.startClusters(request(input, settings)), { changes: false });
  const clusters = found.clusters;
  if (input.within && clusterOverlay && app.overlay === clusterOverlay) {
    nest(input.within, clusters, found.provenance);
    return;
  }
  const { ids, groups } = clusterGroups(clusters, 0, "");
  topProvenance = found.provenance;
  const result: QueryResult = { total: ids.length, rows: ids.length, ids, groups };
  clusterOverlay = {
    title: `${count(groups.length, "cluster")} of ${input.title}`,
    result,
    actions: [{ label: "Save clusters as tags…", run: () => (saveForm.open = true) }],
  };
  app.overlay = clusterOverlay;
}

/** Replace the reclustered group with one whose sub-groups are the new clusters. */
function nest(old: Group, clusters: Cluster[], provenance: Provenance): void {
  const label = old.label ?? String(old.key);
  const number = /^Cluster (.+)$/.exec(label)?.[1];
  const { ids, groups } = clusterGroups(clusters, old.start, number ? `${number}.` : `${label} · `);
  const replaced: ClusterGroup = { ...old, groups, provenance };
  const before = clusterOverlay!.result;
  const allIds = before.ids.slice();
  for (let i = 0; i < ids.length; i++) allIds[old.start + i] = ids[i];  // no spread: a cluster may be huge
  const swap = (list: Group[]): Group[] => list.map((g) => (g === old ? replaced : { ...g, groups: swap(g.groups) }));
  clusterOverlay = { ...clusterOverlay!, result: { ...before, ids: allIds, groups: swap(before.groups) } };
  app.overlay = clusterOverlay;
}

export const saveForm = $state({ open: false });

interface ClusterTree { cluster: number; noise: boolean; ids: number[]; clusters: ClusterTree[] }

/** Save the overlay's clusters, as shown, as tags of `property` in one operation; then show the
 * property's groups. */
export async function saveClusters(property: string): Promise<void> {
  if (!clusterOverlay) return;
  const shown = clusterOverlay.result.ids;
  const nested: Provenance[] = [];
  const tree = (groups: ClusterGroup[]): ClusterTree[] => groups.map((g) => {
    if (g.provenance) nested.push({ of: g.label ?? String(g.key), ...g.provenance });
    // A cluster's key is its number; the images that fit no cluster have 0 (see clusterGroups).
    return { cluster: Number(g.key), noise: g.key === 0, ids: shown.slice(g.start, g.end), clusters: tree(g.groups) };
  });
  const clusters = tree(clusterOverlay.result.groups);
  const provenance = nested.length ? { ...topProvenance, "sub-clusters": nested } : topProvenance;
  await app.write(() => api.saveClusters({ property, clusters, provenance }), { query: false });
  clusterOverlay = null;
  app.overlay = null;
  await app.setView({ group: [{ property }] });
}
