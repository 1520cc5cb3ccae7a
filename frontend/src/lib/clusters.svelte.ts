// Clusters shown as an overlay of groups: clustering any group (or the whole view) opens a form, the
// server clusters in a background job, and the clusters become the overlay's groups. A cluster's
// header offers "Create clusters…" again, which nests its sub-clusters under it. "Save clusters as
// tags" asks the server to cluster the same images again with the same settings (clustering is seeded,
// so the clusters are the same) and store them as tags, sub-clusters under their parent's tag.

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

/** How each group of the overlay was made, to save it again as tags. */
interface Made { input: ClusterInput; settings: ClusterSettings; tags: Map<Group, string> }

// Raw: a deep proxy would copy a group's ids (maybe 500,000) and lose the identity of `within`.
class ClusterFormState {
  input = $state.raw<ClusterInput | null>(null);
}
export const clusterForm = new ClusterFormState();

/** The overlay's cluster groups and how they were made (the overlay itself lives in `app`). */
let made: Made[] = [];
let clusterOverlay: Overlay | null = null;

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
  const found = await app.runJob<{ clusters: Cluster[] }>(
    () => api.post("/api/cluster", request(input, settings)), { changes: false });
  const clusters = found.clusters;
  if (input.within && clusterOverlay && app.overlay === clusterOverlay) {
    nest(input, settings, clusters);
    return;
  }
  const { ids, groups } = clusterGroups(clusters, 0, "");
  made = [{ input, settings, tags: new Map(groups.map((g, n) => [g, tagName(clusters[n], null)])) }];
  const result: QueryResult = { total: ids.length, rows: ids.length, ids, groups };
  clusterOverlay = {
    title: `${groups.length} clusters of ${input.title}`,
    result,
    actions: [{ label: "Save clusters as tags…", run: () => (saveForm.open = true) }],
  };
  app.overlay = clusterOverlay;
}

/** The tag name the server gives a cluster (see analysis/clustering.py). */
function tagName(c: Cluster, parent: string | null): string {
  if (parent) return `${parent}.${c.noise ? "unclustered" : c.cluster}`;
  return c.noise ? "unclustered" : `cluster ${c.cluster}`;
}

/** Replace the reclustered group with one whose sub-groups are the new clusters. */
function nest(input: ClusterInput, settings: ClusterSettings, clusters: Cluster[]): void {
  const old = input.within!;
  const parentMade = made.find((m) => m.tags.has(old));
  const parentTag = parentMade?.tags.get(old) ?? null;
  const label = old.label ?? String(old.key);
  const number = /^Cluster (.+)$/.exec(label)?.[1];
  const { ids, groups } = clusterGroups(clusters, old.start, number ? `${number}.` : `${label} · `);
  const replaced: Group = { ...old, groups };
  const before = clusterOverlay!.result;
  const allIds = before.ids.slice();
  for (let i = 0; i < ids.length; i++) allIds[old.start + i] = ids[i];  // no spread: a cluster may be huge
  const swap = (list: Group[]): Group[] => list.map((g) => (g === old ? replaced : { ...g, groups: swap(g.groups) }));
  // Groups are rebuilt, so the recorded provenance follows them to their new objects.
  const rebuilt = swap(before.groups);
  const mapping = new Map<Group, Group>();
  const pair = (a: Group[], b: Group[]) => a.forEach((g, i) => { mapping.set(g, b[i]); if (g !== old) pair(g.groups, b[i].groups); });
  pair(before.groups, rebuilt);
  // What was nested in the old group is replaced: only provenance of groups still shown is kept.
  made = made.filter((m) => !m.input.within || (m.input.within !== old && mapping.has(m.input.within))).map((m) => ({
    ...m, input: { ...m.input, within: m.input.within && mapping.get(m.input.within) },
    tags: new Map([...m.tags].map(([g, t]) => [mapping.get(g) ?? g, t])),
  }));
  if (parentTag) {
    made.push({ input: { ...input, within: replaced },
                settings, tags: new Map(groups.map((g, n) => [g, tagName(clusters[n], parentTag)])) });
  }
  clusterOverlay = { ...clusterOverlay!, result: { ...before, ids: allIds, groups: rebuilt } };
  app.overlay = clusterOverlay;
}

export const saveForm = $state({ open: false });

/** Save the overlay's clusters as tags of `property`: the top level in one operation, each reclustered
 * cluster's sub-clusters under its tag in one more. Then show the property's groups. */
export async function saveClusters(property: string): Promise<number> {
  let operations = 0;
  let differing = 0;
  const shownIds = clusterOverlay?.result.ids ?? [];
  for (const m of made) {
    const parent = m.input.within ? [...made].map((o) => o.tags.get(m.input.within!)).find(Boolean) : undefined;
    const saved = await app.runJob<{ clusters: (Cluster & { tag: string })[] }>(
      () => api.post("/api/cluster", request(m.input, m.settings, { save_as: property, ...(parent ? { parent } : {}) })),
      { changes: false });
    operations++;
    // The images may have changed since the clusters were shown (an import, new vectors): say so
    // rather than let the researcher believe the tags are what they reviewed.
    for (const [group, tag] of m.tags) {
      const found = saved.clusters.find((c) => c.tag === tag);
      const shown = new Set(shownIds.slice(group.start, group.end));
      if (!found || found.ids.length !== shown.size || found.ids.some((id) => !shown.has(id))) differing++;
    }
  }
  if (differing) {
    app.say(`${differing} saved cluster(s) differ from those shown: the images or their vectors changed since `
            + "the clustering. The tags hold the new clusters; undo (Ctrl+Z) to take them back.", "error");
  }
  clusterOverlay = null;
  made = [];
  app.overlay = null;
  await app.changed({ query: false });
  await app.setView({ group: [{ property }] });
  return operations;
}
