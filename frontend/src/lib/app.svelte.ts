// The page's state: the project, the current view and its result, the selection, background jobs and
// messages. Components read it and change it through the functions here, so every write to the project
// is followed by the same refresh (values, query, properties, history) wherever it was made.
//
// Large values (the result's ids, the selection) are $state.raw and replaced wholesale: a deep proxy
// over 500,000 ids would cost more than the query itself.

import { api, ApiError, followJob, href, jobError, writesSettled } from "./api";
import type {
  Display, Filter, GroupKey, Guess, Info, Item, Job, Mode, Operation, Property, QueryResult, SortKey, ViewState,
} from "./types";

export type { Display, Mode };

export interface Message { id: number; text: string; kind: "error" | "info" }

/** A result shown instead of the view's own for a while: clusters, a text search, similar images. The
 * grid and table show `app.shown_result`; closing the overlay returns to the view. Groups of an overlay
 * may carry a `label` (shown instead of the key) and `score` (a cluster's cohesion, a match's score). */
export interface Overlay {
  title: string;
  result: QueryResult;
  /** Scores by image id, shown under the thumbnails (similarity, text match). */
  scores?: Map<number, number>;
  /** The server's sentence about the result, shown in the banner (why a text search found nothing). */
  note?: string;
  /** Buttons in the overlay's banner ("Save clusters as tags", ...). */
  actions?: { label: string; run: () => void }[];
}

class AppState {
  info = $state<Info | null>(null);
  properties = $state<Property[]>([]);
  view = $state<ViewState>({ filter: null, sort: [], group: [] });
  result = $state.raw<QueryResult | null>(null);
  overlay = $state.raw<Overlay | null>(null);
  /** What the grid and the table show: the overlay's result when there is one, else the view's. */
  get shownResult(): QueryResult | null {
    return this.overlay?.result ?? this.result;
  }
  /** Changes when the grid and table show another result (a new view or overlay), not when the same one
   * is refreshed after a write: they go back to their top when it does. */
  get shownKey(): string {
    return JSON.stringify(this.view) + "|" + (this.overlay?.title ?? "");
  }
  querying = $state(false);
  selection = $state.raw<Set<number>>(new Set());
  /** The image the last click landed on: the anchor of a shift-click range. */
  anchor = $state<number | null>(null);
  /** Properties shown under each thumbnail and as table columns. */
  shown = $state<string[]>([]);
  private shownChosen = false;
  thumbSize = $state(160);
  mode = $state<Mode>("grid");
  /** The image open in the detail view. */
  detail = $state<number | null>(null);
  jobs = $state<Job[]>([]);
  history = $state<Operation[]>([]);
  messages = $state<Message[]>([]);
  /** Bumped after every write: components that cache values re-read when it changes. */
  version = $state(0);

  /** Values of the images seen so far, by id; emptied when the project changes. */
  private items = new Map<number, Item>();
  private pending = new Map<number, Promise<void>>();
  private messageId = 0;

  // ---- reading -------------------------------------------------------------------------------

  /** Set by the tabs: chooses the view the project opens with (the remembered tab) and sets `view`. */
  chooseView: ((info: Promise<Info>) => Promise<void>) | null = null;

  async loadProject(): Promise<void> {
    const linked = viewFromHash(location.hash);
    if (linked) this.view = linked;
    // The first query is the slowest request (every id of the project): it leaves once, for the view the
    // page opens with, as soon as that is known and before anything renders.
    const info = api.info();
    const loaded = Promise.all([this.refreshInfo(info), this.refreshHistory()]);
    if (this.chooseView) await this.chooseView(info);
    const query = this.runQuery();
    // From now on a new address (a link pasted into this tab) opens its view.
    window.addEventListener("hashchange", () => {
      const view = viewFromHash(location.hash);
      if (view && JSON.stringify(view) !== JSON.stringify($state.snapshot(this.view))) this.setView(view);
    });
    await loaded;
    await query;
  }

  async refreshInfo(answer: Promise<Info> = api.info()): Promise<void> {
    const reading = Promise.all([answer, api.properties()]);
    this.infoReading = reading.then(() => {}, () => {});
    const [info, properties] = await reading;
    this.info = info;
    this.fileVersion = info.version;
    this.properties = properties;
    this.shown = this.shown.filter((name) => properties.some((p) => p.name === name));
    // Until the project has properties of its own there is nothing to show; the first ones that appear
    // are shown, then the user decides. A model's guesses are not the user's: never shown unasked.
    const own = properties.filter((p) => !p.builtin && !p.machine);
    if (!this.shownChosen && own.length > 0) {
      this.shown = own.map((p) => p.name).slice(0, 3);
      this.shownChosen = true;
    }
  }

  get display(): Display {
    return { mode: this.mode, shown: [...this.shown], thumbSize: this.thumbSize };
  }

  /** Show the images as a tab kept them (a tab saved before tabs kept this has none: nothing changes). */
  applyDisplay(display: Partial<Display> | undefined): void {
    if (!display) return;
    if (display.mode) this.mode = display.mode;
    if (display.thumbSize) this.thumbSize = display.thumbSize;
    if (display.shown) {
      this.shown = [...display.shown];
      this.shownChosen = true;
    }
  }

  async refreshHistory(): Promise<void> {
    this.history = await api.history();
  }

  property(name: string): Property | undefined {
    return this.properties.find((p) => p.name === name);
  }

  /** Run the current view on the server: the ordered ids and the group tree. */
  async runQuery(): Promise<void> {
    this.querying = true;
    // Queries overlap (typing in a filter, a tab switch while the page loads): only the latest may land.
    const seq = ++this.querySeq;
    try {
      const view = $state.snapshot(this.view);
      history.replaceState(null, "", viewToHash(view));
      const result = await api.query({ filter: view.filter, sort: view.sort, group: view.group });
      // The server leaves `groups` out of an ungrouped answer; the page always reads a list.
      if (seq === this.querySeq) this.result = { ...result, groups: result.groups ?? [] };
    } catch (error) {
      if (seq === this.querySeq) this.report(error);
    } finally {
      if (seq === this.querySeq) this.querying = false;
    }
  }

  private querySeq = 0;

  setView(change: Partial<{ filter: Filter | null; sort: SortKey[]; group: GroupKey[] }>): Promise<void> {
    this.view = { ...$state.snapshot(this.view), ...change };
    return this.runQuery();
  }

  /** The cached values of an image, or undefined until `ensureItems` has fetched them. Reactive: a
   * component showing it re-renders when values arrive or a write empties the cache. */
  item(id: number): Item | undefined {
    void this.itemsLoaded;
    void this.version;
    return this.items.get(id);
  }

  /** Fetch the values of the images not cached yet (a screenful at a time: callers pass what is visible). */
  async ensureItems(ids: number[]): Promise<void> {
    const missing = ids.filter((id) => !this.items.has(id) && !this.pending.has(id));
    const waits = ids.map((id) => this.pending.get(id)).filter((p): p is Promise<void> => p !== undefined);
    if (missing.length > 0) {
      const version = this.version;
      const fetched = api.values(missing).then(({ items }) => {
        if (version !== this.version) return;  // a write happened meanwhile: these values may be stale
        for (const item of items) this.items.set(item.id, item);
        this.itemsLoaded++;
      }, (error) => this.report(error)).finally(() => {
        for (const id of missing) this.pending.delete(id);
      });
      for (const id of missing) this.pending.set(id, fetched);
      waits.push(fetched);
    }
    await Promise.all(waits);
  }

  /** Bumped when fetched values arrive, so components showing them re-render. */
  itemsLoaded = $state(0);

  /** The model's guesses of an image with their probabilities, once `ensureGuesses` fetched them. */
  guesses(id: number): Guess[] | undefined {
    void this.itemsLoaded;
    void this.version;
    return this.guessCache.get(id);
  }

  /** Fetch the guesses (and their probabilities) of the images not cached yet: for the hover of a shown
   * machine-made property, a screenful at a time like the values. */
  async ensureGuesses(ids: number[]): Promise<void> {
    const missing = ids.filter((id) => !this.guessCache.has(id));
    if (missing.length === 0) return;
    const version = this.version;
    try {
      const found = await api.guesses(missing);
      if (version !== this.version) return;
      for (const [id, guesses] of Object.entries(found)) this.guessCache.set(Number(id), guesses);
      this.itemsLoaded++;
    } catch (error) {
      this.report(error);
    }
  }

  private guessCache = new Map<number, Guess[]>();

  // ---- writing -------------------------------------------------------------------------------

  /** Run a write, then refresh what it may have changed. Errors are reported and re-thrown. */
  async write<T>(operation: () => Promise<T>, { query = true } = {}): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      this.report(error);
      throw error;
    } finally {
      await this.changed({ query });
    }
  }

  /** The project changed (here, by a job, or by another page): drop cached values and re-read. */
  async changed({ query = true } = {}): Promise<void> {
    this.refreshedAt = performance.now();
    this.items.clear();
    this.guessCache.clear();
    this.version++;
    await Promise.all([this.refreshInfo(), this.refreshHistory(), query ? this.runQuery() : Promise.resolve()]);
  }

  setValue(ids: number[], property: string, value: unknown): Promise<unknown> {
    return this.write(() => api.setValues({ property, ids, value }));
  }

  addTags(ids: number[], property: string, tags: string[]): Promise<unknown> {
    return this.write(() => api.addTags({ property, ids, tags }));
  }

  removeTags(ids: number[], property: string, tags: string[] | null): Promise<unknown> {
    return this.write(() => api.removeTags({ property, ids, tags }));
  }

  undo(): Promise<unknown> {
    return this.write(() => api.undo());
  }

  redo(): Promise<unknown> {
    return this.write(() => api.redo());
  }

  // ---- jobs ----------------------------------------------------------------------------------

  /** Follow a background job started by `start` (which returns {job: id}), keeping it in `jobs` for the
   * progress bars; resolves with its result, rejects (and reports) if it fails or is cancelled. */
  async runJob<T>(start: () => Promise<{ job: string }>, { changes = true } = {}): Promise<T> {
    let id: string;
    try {
      id = (await start()).job;
    } catch (error) {
      this.report(error);
      throw error;
    }
    const job = await followJob(id, (snapshot) => this.trackJob(snapshot));
    this.trackJob(job);
    if (changes) await this.changed();
    if (job.state !== "done") {
      const error = jobError(job);
      this.report(error);
      throw error;
    }
    return job.result as T;
  }

  trackJob(job: Job): void {
    const others = this.jobs.filter((j) => j.id !== job.id);
    this.jobs = [job, ...others].slice(0, 20);
  }

  cancelJob(id: string): Promise<unknown> {
    return api.cancelJob(id).catch((error) => this.report(error));
  }

  // ---- changes made elsewhere ---------------------------------------------------------------

  /** The project file's version when the page last read it (from /api/info). */
  private fileVersion: number | null = null;
  /** The page's newest read of the info (and so of the file's version), settled once it has landed. */
  private infoReading: Promise<void> = Promise.resolve();
  private refreshedAt = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  /** Keep the page current when the project changes elsewhere: another page, a plugin or embedding job,
   * the CLI, a notebook. The server says when the file changed; the page refreshes at most every
   * REFRESH_GAP ms (a long job commits often), and not for a version it has already read. */
  watchChanges(): void {
    let latest: number | null = null;
    const source = new EventSource(href("/api/changes"));
    source.onmessage = (event) => {
      latest = (JSON.parse(event.data) as { version: number }).version;
      if (this.refreshTimer !== null) return;
      const wait = REFRESH_GAP - (performance.now() - this.refreshedAt);
      this.refreshTimer = setTimeout(async () => {
        // The page's own reads of the info bring the version to compare with: the one at load, or the one
        // after its own write, may still be on its way (a busy machine answers in seconds), or the write
        // itself, whose answer starts that read. Until they land every version would look new, and the
        // page would read everything twice.
        let reading: Promise<void>;
        do {
          await writesSettled();
          reading = this.infoReading;
          await reading;
        } while (reading !== this.infoReading);
        this.refreshTimer = null;
        // The page's own writes refresh it and read the new version: their echo is no news.
        if (latest === null || latest === this.fileVersion) return;
        this.changed().catch((error) => this.report(error));
      }, Math.max(wait, ECHO_WAIT));
    };
  }

  // ---- messages ------------------------------------------------------------------------------

  /** Show a failure as the server's own readable message. */
  report(error: unknown): void {
    const text = error instanceof ApiError || error instanceof Error ? error.message : String(error);
    this.say(text, "error");
  }

  say(text: string, kind: "error" | "info" = "info"): void {
    const message = { id: ++this.messageId, text, kind };
    this.messages = [...this.messages, message];
    setTimeout(() => this.dismiss(message.id), kind === "error" ? 12000 : 4000);
  }

  dismiss(id: number): void {
    this.messages = this.messages.filter((m) => m.id !== id);
  }
}

/** The shortest time between two refreshes caused by changes made elsewhere. */
const REFRESH_GAP = 2000;
/** How long news of a change waits: time for this page's own write to finish its refresh. */
const ECHO_WAIT = 300;

export const app = new AppState();
// Scripts that drive the page (the web UI benchmark, a researcher's browser console) reach the state here.
(globalThis as unknown as { imagierApp: AppState }).imagierApp = app;

/** The view in the page's address (`#view=` and the view as JSON), so a link or a bookmark reopens it. */
export function viewToHash(view: ViewState): string {
  const empty = !view.filter && view.sort.length === 0 && view.group.length === 0;
  return empty ? location.pathname + location.search : "#view=" + encodeURIComponent(JSON.stringify(view));
}

export function viewFromHash(hash: string): ViewState | null {
  if (!hash.startsWith("#view=")) return null;
  try {
    const view = JSON.parse(decodeURIComponent(hash.slice("#view=".length)));
    return { filter: view.filter ?? null, sort: view.sort ?? [], group: view.group ?? [] };
  } catch {
    return null;  // a damaged link opens the whole project rather than nothing
  }
}
