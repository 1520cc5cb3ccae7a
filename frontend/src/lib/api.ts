// The one way the page talks to the server. Every route the page uses is a function below, checked against
// the HTTP API's own description: `schema.d.ts` is generated from the server's OpenAPI schema (see
// scripts/openapi.py), so a path, a parameter or a request body the server does not accept fails `npm run
// check`. The schema leaves most answers loose (routes returning a dict): their shapes are the page's own,
// declared in types.ts and named here, once per route. Every failure is an ApiError whose message is the
// server's own readable sentence (the server answers {"error": kind, "message": text}).

import type { paths } from "./schema";
import type { PluginList } from "./plugins";
import type {
  CsvPreview, FileDetail, FolderListing, FrameOfFilm, Guess, IiifSource, ImageText, Info, Item, Job, ModelOffer, Operation,
  Property, QueryResult, SavedView, Scored, SearchAnswer, Similar, Tag,
} from "./types";

export class ApiError extends Error {
  constructor(message: string, readonly kind: string, readonly status: number, readonly details: unknown = null) {
    super(message);
  }
}

// ---- requests typed by the schema --------------------------------------------------------------------

type Method = "get" | "post" | "put" | "patch" | "delete";
/** The paths of the API that answer `method`. */
type PathOf<M extends Method> = { [P in keyof paths]: paths[P][M] extends undefined ? never : P }[keyof paths];
type OperationOf<M extends Method, P extends PathOf<M>> = NonNullable<paths[P][M]>;
type JsonOf<T> = T extends { content: { "application/json": infer B } } ? B : never;
type BodyOf<O> = O extends { requestBody: infer R } ? JsonOf<R> : never;
type PathParamsOf<O> = O extends { parameters: { path: infer A } } ? A : never;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
type AnswerOf<O> = O extends { responses: { 200: infer R } } ? JsonOf<R> : undefined;

/** What a request carries: its path's parameters, its query and its JSON body, each as the schema says. */
type RequestOf<O> =
  ([PathParamsOf<O>] extends [never] ? { path?: never } : { path: PathParamsOf<O> })
  & ([QueryOf<O>] extends [never] ? { query?: never } : { query?: QueryOf<O> })
  & ([BodyOf<O>] extends [never] ? { body?: never } : { body: BodyOf<O> })
  & { /** The request outlives the page (a save sent as the browser tab closes). */ keepalive?: boolean };
/** The request argument, optional when nothing in it is required. */
type RequestArgs<O> = {} extends RequestOf<O> ? [request?: RequestOf<O>] : [request: RequestOf<O>];

/** The address of `path` with its parameters filled in (names may hold spaces and slashes) and its query. */
function address(path: string, params: Record<string, unknown> = {}, query: Record<string, unknown> = {}): string {
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name])));
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) search.append(name, String(value));
  }
  return search.size ? `${filled}?${search}` : filled;
}

/** The address of a GET route, for what the browser reads itself (images, links, event streams). */
export function href<P extends PathOf<"get">>(path: P, ...[request]: RequestArgs<OperationOf<"get", P>>): string {
  return address(path, request?.path as Record<string, unknown>, request?.query as Record<string, unknown>);
}

/** The page's requests that may write (every method but GET: the reads too large for an address, such as
 * POST /api/query, are among them) on their way to the server and back. */
const writes = new Set<Promise<unknown>>();

/** Settles once none of the page's requests that may write is on its way: a change the server announces
 * meanwhile may be one of theirs, whose answer has not arrived yet. */
export async function writesSettled(): Promise<void> {
  while (writes.size > 0) await Promise.allSettled([...writes]);
}

/** Keep a write's answer among the writes on their way until it has been read. */
function tracked<T>(method: Method, answer: Promise<T>): Promise<T> {
  if (method !== "get") {
    writes.add(answer);
    answer.finally(() => writes.delete(answer)).catch(() => {});
  }
  return answer;
}

/** Send a request; its response when it succeeded, else its failure as an ApiError. */
async function send(method: Method, url: string, body?: unknown, keepalive = false): Promise<Response> {
  const init: RequestInit = { method: method.toUpperCase(), headers: {}, keepalive };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError("the imagier server cannot be reached: is `imagier serve` still running?", "Offline", 0);
  }
  if (!response.ok) {
    const data = parsed(await response.text());
    const message = data && typeof data === "object" && data.message ? data.message
      : `${init.method} ${url} failed: ${response.status} ${response.statusText}`;
    throw new ApiError(message, data?.error ?? "HTTPError", response.status, data);
  }
  return response;
}

function parsed(text: string): any {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/** A JSON request to a route of the schema, answered with JSON (nothing for a 204). A write is among the
 * writes on their way until its answer is read: the caller's next step (a refresh) starts before news of
 * a change waits no more (writesSettled). */
function call<M extends Method, P extends PathOf<M>>(
  method: M, path: P, ...[request]: RequestArgs<OperationOf<M, P>>
): Promise<AnswerOf<OperationOf<M, P>>> {
  const url = address(path, request?.path as Record<string, unknown>, request?.query as Record<string, unknown>);
  // A POST, PUT or PATCH always carries a body: the server reads an empty one as {}.
  const body = request?.body ?? (method === "get" || method === "delete" ? undefined : {});
  return tracked(method, send(method, url, body, request?.keepalive).then(async (response) =>
    (response.status === 204 ? undefined : parsed(await response.text())) as AnswerOf<OperationOf<M, P>>));
}

/** An answer the schema types loosely (a route returning a dict), read as the page's type for it. */
function as<T>(answer: Promise<unknown>): Promise<T> {
  return answer as Promise<T>;
}

type Body<M extends Method, P extends PathOf<M>> = BodyOf<OperationOf<M, P>>;

// ---- the routes the page uses -------------------------------------------------------------------------

export const api = {
  // the project
  info: () => as<Info>(call("get", "/api/info")),
  openProject: (body: Body<"post", "/api/project/open">) => call("post", "/api/project/open", { body }),
  history: () => as<Operation[]>(call("get", "/api/history")),
  undo: () => call("post", "/api/undo"),
  redo: () => call("post", "/api/redo"),
  folders: (path: string | null) => as<FolderListing>(call("get", "/api/folders", { query: { path } })),

  // images and their values
  query: (body: Body<"post", "/api/query">) => as<QueryResult>(call("post", "/api/query", { body })),
  values: (ids: number[]) => as<{ items: Item[] }>(call("post", "/api/values", { body: { ids } })),
  file: (id: number) => as<FileDetail>(call("get", "/api/files/{file_id}", { path: { file_id: id } })),
  textMatches: (id: number, property: string, search: string) =>
    as<number[][]>(call("get", "/api/files/{file_id}/matches", { path: { file_id: id }, query: { property, search } })),
  imageText: (id: number, search: string | null = null) =>
    as<ImageText>(call("get", "/api/files/{file_id}/text", { path: { file_id: id }, query: { search } })),
  iiifSource: (id: number) => as<IiifSource | null>(call("get", "/api/files/{file_id}/iiif", { path: { file_id: id } })),
  frame: (id: number) => as<FrameOfFilm>(call("get", "/api/files/{file_id}/frame", { path: { file_id: id } })),
  setValues: (body: Body<"post", "/api/values/set">) => call("post", "/api/values/set", { body }),
  addTags: (body: Body<"post", "/api/values/add">) => call("post", "/api/values/add", { body }),
  removeTags: (body: Body<"post", "/api/values/remove">) => call("post", "/api/values/remove", { body }),
  importCsv: (body: Body<"post", "/api/import-csv">) => as<CsvPreview>(call("post", "/api/import-csv", { body })),

  // properties and tags
  properties: () => as<Property[]>(call("get", "/api/properties")),
  createProperty: (body: Body<"post", "/api/properties">) => call("post", "/api/properties", { body }),
  renameProperty: (name: string, to: string) =>
    call("patch", "/api/properties/{name}", { path: { name }, body: { name: to } }),
  deleteProperty: (name: string) => call("delete", "/api/properties/{name}", { path: { name } }),
  tags: (name: string) => as<Tag[]>(call("get", "/api/properties/{name}/tags", { path: { name } })),
  createTag: (name: string, tag: string) =>
    call("post", "/api/properties/{name}/tags", { path: { name }, body: { name: tag } }),
  changeTag: (name: string, tag: string, body: Body<"patch", "/api/properties/{name}/tags/{tag}">) =>
    call("patch", "/api/properties/{name}/tags/{tag}", { path: { name, tag }, body }),
  deleteTag: (name: string, tag: string) =>
    call("delete", "/api/properties/{name}/tags/{tag}", { path: { name, tag } }),
  mergeTags: (name: string, body: Body<"post", "/api/properties/{name}/tags/merge">) =>
    call("post", "/api/properties/{name}/tags/merge", { path: { name }, body }),

  // saved views (the tabs)
  views: () => as<SavedView[]>(call("get", "/api/views")),
  createView: (body: Body<"post", "/api/views">, keepalive = false) =>
    as<SavedView>(call("post", "/api/views", { body, keepalive })),
  replaceView: (id: number, body: Body<"put", "/api/views/{view_id}">, keepalive = false) =>
    as<SavedView>(call("put", "/api/views/{view_id}", { path: { view_id: id }, body, keepalive })),
  deleteView: (id: number) => call("delete", "/api/views/{view_id}", { path: { view_id: id } }),

  // the machine's help
  guesses: (ids: number[]) => as<Record<string, Guess[]>>(call("post", "/api/guesses", { body: { ids } })),
  guessesEnabled: () => as<{ enabled: boolean }>(call("get", "/api/labels")),
  setGuesses: (enabled: boolean) => as<{ enabled: boolean; images?: number }>(call("put", "/api/labels", { body: { enabled } })),
  models: () => as<{ name: string; present: boolean }[]>(call("get", "/api/models")),
  modelOffer: (adding: number) => as<ModelOffer>(call("get", "/api/models/offer", { query: { adding } })),
  search: (body: Body<"post", "/api/search">) => as<SearchAnswer>(call("post", "/api/search", { body })),
  similar: (body: Body<"post", "/api/similar">) => as<Similar[]>(call("post", "/api/similar", { body })),
  suggestions: (body: Body<"post", "/api/suggestions">) => as<Scored[]>(call("post", "/api/suggestions", { body })),
  acceptSuggestions: (body: Body<"post", "/api/suggestions/accept">) => call("post", "/api/suggestions/accept", { body }),
  rejectSuggestions: (body: Body<"post", "/api/suggestions/reject">) => call("post", "/api/suggestions/reject", { body }),
  saveClusters: (body: Body<"post", "/api/clusters/save">) => call("post", "/api/clusters/save", { body }),
  plugins: (reload: boolean) => as<PluginList>(call("get", "/api/plugins", { query: { reload } })),

  // background jobs: each start answers {job: id}, followed with followJob
  jobs: () => as<Job[]>(call("get", "/api/jobs")),
  job: (id: string) => as<Job>(call("get", "/api/jobs/{job_id}", { path: { job_id: id } })),
  cancelJob: (id: string) => call("post", "/api/jobs/{job_id}/cancel", { path: { job_id: id } }),
  startJob: (body: Body<"post", "/api/jobs">) => as<Started>(call("post", "/api/jobs", { body })),
  startImport: (body: Body<"post", "/api/imports">) => as<Started>(call("post", "/api/imports", { body })),
  startIiifImport: (body: Body<"post", "/api/imports/iiif">) => as<Started>(call("post", "/api/imports/iiif", { body })),
  getModel: (name: string) => as<Started>(call("post", "/api/models/{name}/get", { path: { name } })),
  startClusters: (body: Body<"post", "/api/cluster">) => as<Started>(call("post", "/api/cluster", { body })),
  startDuplicates: (body: Body<"post", "/api/duplicates">) => as<Started>(call("post", "/api/duplicates", { body })),
  startLayout: (body: Body<"post", "/api/layout">) => as<Started>(call("post", "/api/layout", { body })),
  runPlugin: (plugin: string, action: string, body: Body<"post", "/api/plugins/{plugin}/{action}/run">) =>
    as<Started>(call("post", "/api/plugins/{plugin}/{action}/run", { path: { plugin, action }, body })),

  /** The similarity map's stored layout: binary (see lib/map.ts), so its response as such. */
  layout: (vectorType: string | null) => send("get", href("/api/layout", { query: { vector_type: vectorType } })),
};

/** A background job's start: its id. */
export interface Started { job: string }

export function thumbnailUrl(hash: string): string {
  return href("/api/thumbnails/{content_hash}.jpg", { path: { content_hash: hash } });
}

export function originalUrl(hash: string): string {
  return href("/api/originals/{content_hash}", { path: { content_hash: hash } });
}

export function filmVideoUrl(filmId: number): string {
  return href("/api/films/{film_id}/video", { path: { film_id: filmId } });
}

/** Follow a background job through its server-sent events until it ends; resolves with its last snapshot
 * (whatever its state: the caller decides what a failure or a cancel means). */
export function followJob(id: string, onProgress: (job: Job) => void = () => {}): Promise<Job> {
  return new Promise((resolve, reject) => {
    const source = new EventSource(href("/api/jobs/{job_id}/events", { path: { job_id: id } }));
    source.onmessage = (event) => {
      const job = JSON.parse(event.data) as Job;
      onProgress(job);
      if (job.state !== "running") {
        source.close();
        resolve(job);
      }
    };
    source.onerror = () => {
      // The stream ends when the job does; a broken stream is answered by asking for the job once.
      source.close();
      api.job(id).then((job) => {
        if (job.state === "running") followJob(id, onProgress).then(resolve, reject);
        else resolve(job);
      }, reject);
    };
  });
}

/** A job's failure as an ApiError, so it is shown like any other server error. */
export function jobError(job: Job): ApiError {
  if (job.state === "cancelled") return new ApiError(`${job.kind} was cancelled`, "Cancelled", 0);
  return new ApiError(job.error?.message ?? `${job.kind} failed`, job.error?.error ?? "JobFailed", 0, job.error);
}
