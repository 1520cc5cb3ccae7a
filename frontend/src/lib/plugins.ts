// Plugins in the page: the list of plugins and their actions' forms (JSON Schema from the server), and
// running an action on a group, the selection or the whole view. The result is shown by its kind: groups
// as an overlay like clusters, ranked images as an overlay with scores, a message for the rest.

import { count } from "./words";
import { api } from "./api";
import { app } from "./app.svelte";
import type { GroupTarget } from "./groupActions";
import type { Filter, Group } from "./types";

export type ActionKind = "group" | "similar" | "execute" | "embed";

/** One field of an action's form: a JSON Schema property, with imagier's picker hints. */
export interface FieldSchema {
  type: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  format?: string;
  "x-imagier"?: "property" | "vector-type" | "path";
  "x-property-types"?: string[];
}

export interface PluginAction {
  name: string;
  kind: ActionKind;
  label: string;
  description: string;
  timeout: number | null;
  schema: { properties: Record<string, FieldSchema>; required: string[] };
}

export interface PluginInfo {
  name: string;
  version: string | null;
  source: string;
  builtin: boolean;
  actions: PluginAction[];
}

export interface PluginList {
  plugins: PluginInfo[];
  errors: { plugin: string; source: string; error: string }[];
}

/** What an action runs on: explicit images (a group, the selection) or the view's filter (the whole
 * view: 500,000 ids need not travel). */
export interface PluginTarget {
  title: string;
  ids: number[] | null;
  filter: Filter | null;
}

export function loadPlugins(reload = false): Promise<PluginList> {
  return api.plugins(reload);
}

/** The types a field accepts, without null. */
export function fieldTypes(field: FieldSchema): { type: string; nullable: boolean } {
  const types = Array.isArray(field.type) ? field.type : [field.type];
  return { type: types.find((t) => t !== "null") ?? "string", nullable: types.includes("null") };
}

/** The form's starting values: each field's default (null when it has none). */
export function defaults(action: PluginAction): Record<string, unknown> {
  return Object.fromEntries(Object.entries(action.schema.properties).map(([name, f]) => [name, f.default ?? null]));
}

// The form lives in PluginForm.svelte, which registers how to open it.
let opener: ((target: PluginTarget) => void) | null = null;

export function setPluginFormOpener(open: ((target: PluginTarget) => void) | null): void {
  opener = open;
}

export function openPluginForm(target: PluginTarget): void {
  opener?.(target);
}

export function targetOfGroup(target: GroupTarget): PluginTarget {
  return { title: target.title, ids: target.ids, filter: app.view.filter };
}

export function targetOfView(): PluginTarget {
  return { title: "this view", ids: null, filter: app.view.filter };
}

interface NamedGroup { name: string; ids: number[]; score?: number }
interface ScoredImage { id: number; path: string; score: number }

/** Run an action as a job (its progress shows with the other jobs) and show its result. */
export async function runPlugin(plugin: string, action: PluginAction, params: Record<string, unknown>,
                                target: PluginTarget): Promise<void> {
  const writes = action.kind === "execute" || action.kind === "embed";
  const result = await app.runJob<unknown>(() => api.runPlugin(plugin, action.name, {
    params, ids: target.ids, filter: target.filter,
  }), { changes: writes });
  const title = `${action.label} — ${target.title}`;
  if (action.kind === "group") showGroups(title, result as NamedGroup[]);
  else if (action.kind === "similar") showRanked(title, result as ScoredImage[]);
  else app.say((result as { message: string }).message);
}

function showGroups(title: string, found: NamedGroup[]): void {
  const ids: number[] = [];
  const groups: Group[] = [];
  for (const g of found) {
    const start = ids.length;
    for (const id of g.ids) ids.push(id);
    groups.push({ key: g.name, label: g.name, score: g.score, count: g.ids.length, start, end: ids.length, groups: [] });
  }
  app.overlay = { title: `${title}: ${count(groups.length, "group")}`, result: { total: ids.length, rows: ids.length, ids, groups } };
  if (app.mode !== "grid" && app.mode !== "table") app.mode = "grid";
}

function showRanked(title: string, found: ScoredImage[]): void {
  const ids = found.map((r) => r.id);
  app.overlay = {
    title: `${title}` + (found.length ? "" : " (nothing found)"),
    result: { total: ids.length, rows: ids.length, ids, groups: [] },
    scores: new Map(found.map((r) => [r.id, r.score])),
  };
  if (app.mode !== "grid" && app.mode !== "table") app.mode = "grid";
}
