// Actions offered on any group of the grid or table (and on the selection): "Create clusters",
// "Suggestions", ... Components that provide an action register it here; the group headers and the
// selection bar list whatever is registered, so neither needs to know the others.

import type { Group } from "./types";

export interface GroupTarget {
  /** The images of the group (or of the selection). */
  ids: number[];
  /** A readable name: the group's key path ("2019-05 / cups") or "the selection". */
  title: string;
  /** The group, when the target is one (absent for a selection). */
  group?: Group;
  /** For a group of the view: the property = value conditions that define it, outermost first. */
  path?: { property: string; key: unknown }[];
}

export interface GroupAction {
  label: string;
  run: (target: GroupTarget) => void;
}

const actions: GroupAction[] = [];

export function registerGroupAction(action: GroupAction): () => void {
  actions.push(action);
  return () => {
    const at = actions.indexOf(action);
    if (at >= 0) actions.splice(at, 1);
  };
}

export function groupActions(): GroupAction[] {
  return [...actions];
}

/** How a group is named on its header, in the grid and the table alike. */
export function groupName(group: Group): string {
  if (group.label) return group.label;
  const key = group.key;
  if (key === null || key === undefined || key === "") return "(no value)";
  if (typeof key === "boolean") return key ? "yes" : "no";
  return String(key);
}
