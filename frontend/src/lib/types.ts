// The shapes of the HTTP API's answers that the page relies on, where the OpenAPI schema leaves them loose
// (routes returning a dict). What the page sends, and the paths, are typed by the schema itself (schema.d.ts,
// generated; see api.ts).

export type PropertyType =
  | "text" | "number" | "date" | "checkbox" | "url" | "colour" | "tag" | "multi-tag" | "path";

export interface Property {
  id: number | null;
  name: string;
  type: PropertyType;
  scope: "file" | "content";
  builtin: boolean;
  /** Made by a model (the ImageNet guesses): its values are guesses, styled as such and not shown by default. */
  machine: boolean;
}

/** A model's guess for an image, with its probability (POST /api/guesses). */
export interface Guess { label: string; probability: number }

export interface Tag {
  id: number;
  name: string;
  colour: string | null;
  /** The ids of its parent tags. */
  parents: number[];
  count: number;
}

/** A condition, or an AND / OR / NOT of filters. */
export type Filter =
  | { property?: string; op: string; value?: unknown }  // no property: a `search` in every text
  | { and: Filter[] }
  | { or: Filter[] }
  | { not: Filter };

export interface SortKey { property: string; desc?: boolean }
export interface GroupKey { property: string; by?: "year" | "month" | "week" | "day"; bin?: number }

export interface ViewState {
  filter: Filter | null;
  sort: SortKey[];
  group: GroupKey[];
}

/** A group of the query result: the images ids[start:end] of the ordered result. */
export interface Group {
  key: unknown;
  count: number;
  start: number;
  end: number;
  groups: Group[];
  /** Set by overlays (clusters, ...): shown instead of the key. */
  label?: string;
  /** A cluster's cohesion. */
  score?: number;
}

export interface QueryResult {
  total: number;
  rows: number;
  ids: number[];
  groups: Group[];
}

/** One image of a window: its built-in fields and its property values. */
export interface Item {
  id: number;
  path: string;
  folder: string;
  name: string;
  format: string;
  width: number;
  height: number;
  size: number;
  modified: string | null;
  taken: string | null;
  hash: string;
  imported: string;
  content_id: number;
  orientation: number;
  /** A frame of a film: its film's path, time in seconds, timecode and shot (null for other images). */
  film: string | null;
  time: number | null;
  timecode: string | null;
  shot: number | null;
  values: Record<string, unknown>;
}

export interface Info {
  path: string;
  /** Changes whenever the project file does (see GET /api/changes). */
  version: number;
  files: number;
  contents: number;
  properties: { name: string; type: PropertyType; scope: string }[];
  vectors: Record<string, { model: string; dim: number; count: number; default: boolean }>;
}

export interface Job {
  id: string;
  kind: string;
  state: "running" | "done" | "failed" | "cancelled";
  params: Record<string, unknown>;
  progress: { done?: number; total?: number; phase?: string; [key: string]: unknown };
  result: unknown;
  error: { error: string; message: string } | null;
  started: string;
  finished: string | null;
  seq: number;
}

export interface Operation {
  id: number;
  kind: string;
  label: string;
  created: string;
  params: Record<string, unknown>;
  undoable: boolean;
  state: "done" | "undone";
}

export interface Scored { id: number; path: string; score: number }

/** An image's own page: its fields, its values and the other files with the same picture. */
export type FileDetail = Item & { same_content: number[] };

export interface Similar { id: number; path: string; score: number; similarity: number }

/** A word read in an image (OCR), its box as fractions of the upright picture's width and height. */
/** A word read in an image, its box as fractions of the picture; `match` when asked whether a text search
 * matches it. */
export interface WordBox { text: string; confidence: number; line: number; x: number; y: number; w: number; h: number;
  match?: boolean }

/** A frame of a film: its film and time, the frames of its shot and the first frames of the shots around it. */
export interface FrameOfFilm {
  id: number; film_id: number; film: string; time: number; shot: number | null; shot_start: number | null;
  shot_end: number | null; film_duration: number; film_fps: number; film_shots: number | null;
  shot_frames: { id: number; time: number; hash: string }[]; previous_shot: number | null; next_shot: number | null;
}

/** The text read in an image: `read` is null before any reading. */
export interface ImageText { id: number; read: string | null; engine: string | null; text: string; words: WordBox[] }

/** Where an image imported from IIIF comes from: its manifest, its canvas, the URL of its picture, the
 * manifest's page for people (null when it names none). */
export interface IiifSource { manifest: string; canvas: string; image: string; homepage: string | null }

/** A text search's answer: the images found, best first, and why nothing was found (or which words it did
 * not understand). */
export interface SearchAnswer { results: Scored[]; message: string | null }

/** A saved view (a tab): its filter, sort and grouping, with how the page showed it. */
export interface SavedView { id: number; name: string; state: ViewState & { display?: Display } }

export type Mode = "grid" | "table" | "map" | "duplicates";

/** How a tab shows its images, kept with its view. */
export interface Display {
  mode: Mode;
  shown: string[];
  thumbSize: number;
}

/** `images` counts sub-folders' images too (what an import takes); not `complete`: counting ran out of
 * time, and the count is a lower bound. */
export interface FolderEntry { name: string; path: string; images: number; complete: boolean; folders: number }
export interface FolderListing { path: string | null; parent: string | null; images: number; complete: boolean;
  projects: string[]; folders: FolderEntry[]; truncated: boolean; roots: string[] }

/** The model the project uses and the CLIP model it could use, with the time at the server's speed. */
export interface ModelOffer { uses: string | null; better: { name: string; present: boolean; images: number;
  seconds: number | null; estimate: string | null; get: string } | null }

/** A CSV import's report (a dry run's too). */
export interface CsvPreview {
  rows: number; matched: number; unmatched: number; cells: number;
  unmatched_rows: { row: number; key: string; reason: string }[];
  invalid: { row: number; column: string | null; value: string; error: string }[];
  created_properties: string[]; skipped_columns: { column: string; reason: string }[];
}
