// The one way the page talks to the server: JSON in, JSON out, and every failure as an ApiError whose
// message is the server's own readable sentence (the server answers {"error": kind, "message": text}).

import type { Job } from "./types";

export class ApiError extends Error {
  constructor(message: string, readonly kind: string, readonly status: number, readonly details: unknown = null) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown, keepalive = false): Promise<T> {
  // keepalive: the request outlives the page (a save sent as the browser tab closes).
  const init: RequestInit = { method, headers: {}, keepalive };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError("the imagier server cannot be reached: is `imagier serve` still running?", "Offline", 0);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const message = data && typeof data === "object" && data.message ? data.message
      : `${method} ${path} failed: ${response.status} ${response.statusText}`;
    throw new ApiError(message, data?.error ?? "HTTPError", response.status, data);
  }
  return data as T;
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body?: unknown, { keepalive = false } = {}) => request<T>("POST", path, body ?? {}, keepalive),
  put: <T>(path: string, body?: unknown, { keepalive = false } = {}) => request<T>("PUT", path, body ?? {}, keepalive),
  patch: <T>(path: string, body?: unknown) => request<T>("PATCH", path, body ?? {}),
  del: <T>(path: string) => request<T>("DELETE", path),
};

/** A path segment for property and tag names, which may hold spaces and slashes. */
export function seg(name: string): string {
  return encodeURIComponent(name);
}

export function thumbnailUrl(hash: string): string {
  return `/api/thumbnails/${hash}.jpg`;
}

export function originalUrl(hash: string): string {
  return `/api/originals/${hash}`;
}

/** Follow a background job through its server-sent events until it ends; resolves with its last snapshot
 * (whatever its state: the caller decides what a failure or a cancel means). */
export function followJob(id: string, onProgress: (job: Job) => void = () => {}): Promise<Job> {
  return new Promise((resolve, reject) => {
    const source = new EventSource(`/api/jobs/${id}/events`);
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
      api.get<Job>(`/api/jobs/${id}`).then((job) => {
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
