// The filter editor's model: the view's filter JSON as an editable tree (with stable ids for keyed
// lists), the operators that apply to each property type with their readable names, and the way back to
// JSON. A condition still missing its value is left out of the JSON, so the user can build it in steps.

import type { Filter, PropertyType } from "./types";

export interface Condition { id: number; kind: "condition"; property: string; op: string; value: unknown; negate: boolean }
export interface FilterGroup { id: number; kind: "group"; combinator: "and" | "or"; negate: boolean; children: FilterNode[] }
export type FilterNode = Condition | FilterGroup;

let nextId = 0;
export const newId = (): number => ++nextId;

/** The operators of each property type, in the order offered, with their names in the editor. */
const SET_OPS: [string, string][] = [["is_set", "is set"], ["is_empty", "is empty"]];
const ORDER_OPS = (before: string, after: string): [string, string][] => [
  ["lt", `is ${before}`], ["le", `is ${before} or equal to`], ["gt", `is ${after}`], ["ge", `is ${after} or equal to`]];
const TEXT_OPS: [string, string][] = [
  ["eq", "is"], ["ne", "is not"], ["contains", "contains"], ["startswith", "starts with"],
  ["matches", "matches (regular expression)"], ...ORDER_OPS("before (A–Z)", "after (A–Z)"), ...SET_OPS];
/** The full-text search, which looks in text properties (`any text` when the condition names none). */
export const SEARCH_OP: [string, string] = ["search", "has the words (full text)"];
export const ANY_TEXT = "";
const OPS: Record<string, [string, string][]> = {
  text: TEXT_OPS,
  number: [["eq", "="], ["ne", "≠"], ["lt", "<"], ["le", "≤"], ["gt", ">"], ["ge", "≥"], ...SET_OPS],
  date: [["eq", "is in"], ["ne", "is not in"], ["lt", "is before"], ["le", "is on or before"], ["gt", "is after"],
    ["ge", "is on or after"], ...SET_OPS],
  colour: [["eq", "is"], ["ne", "is not"], ["contains", "contains"], ["startswith", "starts with"],
    ["matches", "matches (regular expression)"], ...SET_OPS],
  checkbox: [["eq", "is"], ["ne", "is not"], ...SET_OPS],
  tag: [["has_any", "has any of"], ["has_all", "has all of"], ["has_none", "has none of"], ["eq", "is"],
    ["ne", "is not"], ...SET_OPS],
};

export function family(type: PropertyType | undefined): string {
  if (type === "tag" || type === "multi-tag") return "tag";
  if (type === "path" || type === "url" || type === undefined) return "text";
  return type;
}

export function opsFor(type: PropertyType | undefined, property?: string): [string, string][] {
  if (property === ANY_TEXT) return [SEARCH_OP];
  return type === "text" ? [...OPS.text, SEARCH_OP] : OPS[family(type)];
}

export function needsValue(op: string): boolean {
  return op !== "is_set" && op !== "is_empty";
}

/** Ops whose value is a list of tags. */
export function takesList(op: string): boolean {
  return op === "has_any" || op === "has_all" || op === "has_none";
}

/** The value an op starts with when the user picks it (keeping what fits of the previous value). */
export function valueFor(type: PropertyType | undefined, op: string, previous: unknown): unknown {
  if (!needsValue(op)) return null;
  if (family(type) === "tag") {
    const list = Array.isArray(previous) ? previous : previous ? [previous] : [];
    return takesList(op) ? list : (list[0] ?? "");
  }
  if (family(type) === "checkbox") return typeof previous === "boolean" ? previous : true;
  return Array.isArray(previous) || typeof previous === "boolean" ? "" : previous ?? "";
}

export function newCondition(property: string, type: PropertyType | undefined): Condition {
  const op = opsFor(type)[0][0];
  return { id: newId(), kind: "condition", property, op, value: valueFor(type, op, null), negate: false };
}

export function emptyRoot(): FilterGroup {
  return { id: newId(), kind: "group", combinator: "and", negate: false, children: [] };
}

/** The editor's tree of a filter; the root is always a group. */
export function toTree(filter: Filter | null): FilterGroup {
  if (!filter) return emptyRoot();
  const node = parse(filter);
  if (node.kind === "group") return node;
  return { ...emptyRoot(), children: [node] };
}

function parse(filter: Filter): FilterNode {
  if ("and" in filter || "or" in filter) {
    const combinator = "and" in filter ? "and" : "or";
    const children = ("and" in filter ? filter.and : (filter as { or: Filter[] }).or).map(parse);
    return { id: newId(), kind: "group", combinator, negate: false, children };
  }
  if ("not" in filter) {
    const inner = parse(filter.not);
    return { ...inner, negate: !inner.negate };
  }
  return { id: newId(), kind: "condition", property: filter.property ?? ANY_TEXT, op: filter.op, value: filter.value ?? null,
    negate: false };
}

function complete(condition: Condition): boolean {
  if (!condition.property && condition.op !== SEARCH_OP[0]) return false;
  if (!needsValue(condition.op)) return true;
  const value = condition.value;
  if (Array.isArray(value)) return value.length > 0;
  return value !== null && value !== undefined && value !== "";
}

/** The filter JSON of a tree; null when nothing in it is complete yet. */
export function toFilter(node: FilterNode): Filter | null {
  let filter: Filter | null;
  if (node.kind === "condition") {
    if (!complete(node)) return null;
    filter = node.property === ANY_TEXT ? { op: node.op, value: node.value }
      : needsValue(node.op) ? { property: node.property, op: node.op, value: node.value }
      : { property: node.property, op: node.op };
  } else {
    const children = node.children.map(toFilter).filter((f): f is Filter => f !== null);
    if (children.length === 0) return null;
    // A group of one says the same as its only member (unless negated, where NOT applies to it anyway).
    filter = children.length === 1 ? children[0] : node.combinator === "and" ? { and: children } : { or: children };
  }
  return node.negate ? { not: filter } : filter;
}

/** The filter with the top bar's text search set to `words` (an empty text removes it): a condition on any
 * text, put beside the other conditions of the view, in place of the one the box set before. */
export function withTextSearch(filter: Filter | null, words: string): Filter | null {
  const isSearch = (f: Filter) => "op" in f && f.op === SEARCH_OP[0] && f.property === undefined;
  const others = !filter || isSearch(filter) ? [] : "and" in filter ? filter.and.filter((f) => !isSearch(f)) : [filter];
  const all = words ? [...others, { op: SEARCH_OP[0], value: words }] : others;
  return all.length === 0 ? null : all.length === 1 ? all[0] : { and: all };
}

/** The text searches of a filter that find images by the words of `property` (theirs, or any text's), as
 * one search: what the detail view highlights. Those under a NOT are left out: their words are the ones an
 * image must not have. Null when there is none. */
export function searchOf(filter: Filter | null, property: string): string | null {
  const found: string[] = [];
  const walk = (f: Filter): void => {
    if ("and" in f) f.and.forEach(walk);
    else if ("or" in f) f.or.forEach(walk);
    else if ("op" in f && f.op === SEARCH_OP[0] && (f.property === undefined || f.property === property)
             && typeof f.value === "string" && f.value.trim()) found.push(f.value);
  };
  if (filter) walk(filter);
  return found.length === 0 ? null : found.length === 1 ? found[0] : found.map((words) => `(${words})`).join(" OR ");
}
