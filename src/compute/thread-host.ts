/**
 * Runs tasks in a compute thread (compute/thread.ts) that owns the experiment. The main thread
 * keeps receiving progress and stays responsive while a task computes; a task that passes its
 * time limit is abandoned: the thread is terminated (its memory released) and the next
 * request starts a fresh one, which reopens the experiment from the processed-state cache.
 * Loading has its own time limit, so a file that makes the HDF5 library spin cannot hang the
 * worker.
 */
import { Worker } from "node:worker_threads";
import type { CellClass } from "../experiment/cell-sets/cell-sets.ts";
import type { TaskResult } from "../result/response.ts";
import { ErrorCode } from "../result/errors.ts";
import type { FileOnDisk, FromThread, OpenSpec, TaskLimits, ToThread } from "./protocol.ts";
import type { FileResult } from "../result/file-result.ts";
import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../log.ts";

export interface ThreadHostOptions {
  /** wall-time limit per task */
  taskTimeoutMs: number;
  /** time limit for opening (reading + preprocessing) the experiment */
  openTimeoutMs: number;
  /** where the thread writes file results (default: a folder in the system temp dir) */
  fileDir?: string;
  log?: Logger;
}

export interface ThreadRun {
  body: { name: string; [k: string]: unknown };
  pagination?: unknown;
  limits?: TaskLimits;
  /** cell sets to use for this request (e.g. fresh from their store); null keeps the thread's */
  cellSets?: CellClass[] | null;
  progress?: (fraction: number) => void;
}

interface Live {
  worker: Worker;
  spec: OpenSpec;
  opened: Promise<void>;
}

export class ThreadHost {
  private live: Live | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: { result: TaskResult; cellSets: CellClass[] | null }) => void; progress?: (f: number) => void }>();
  private readonly opts: ThreadHostOptions;
  /** the experiment's cell sets as last reported by the thread */
  cellSets: CellClass[] = [];
  /** what was opened last: a thread stopped after a timeout is restarted with it */
  private lastSpec: OpenSpec | null = null;
  /** file results of earlier requests, deleted when the next request starts */
  private files: string[] = [];

  constructor(opts: ThreadHostOptions) {
    this.opts = opts;
  }

  /** Opens (or reopens, when the spec changed) the experiment in the thread. Throws a WorkerError-shaped error on failure. */
  async open(spec: OpenSpec): Promise<void> {
    this.lastSpec = spec;
    if (this.live && JSON.stringify(this.live.spec) === JSON.stringify(spec)) return this.live.opened;
    await this.stop();
    const worker = new Worker(new URL("./thread.ts", import.meta.url));
    worker.unref();
    const opened = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(Object.assign(new Error(`Loading the experiment took longer than ${Math.round(this.opts.openTimeoutMs / 1000)} s; the data file may be damaged.`), { code: ErrorCode.DATA_INVALID }));
        void this.close();
      }, this.opts.openTimeoutMs);
      worker.on("message", (m: FromThread) => {
        if (m.type === "opened") { clearTimeout(timer); this.cellSets = m.cellSets; resolve(); }
        else if (m.type === "open-failed") { clearTimeout(timer); reject(Object.assign(new Error(m.message), { code: m.code })); void this.close(); }
        else this.onMessage(m);
      });
      worker.on("error", (err) => { clearTimeout(timer); reject(err); this.crashed(worker, err); });
      worker.on("exit", () => { clearTimeout(timer); reject(new Error("compute thread exited")); this.crashed(worker, new Error("compute thread exited")); });
    });
    opened.catch(() => {});
    this.live = { worker, spec, opened };
    worker.postMessage({ type: "open", spec } satisfies ToThread);
    return opened;
  }

  /**
   * Runs one task; never throws (timeouts and crashes become error results). An aborted
   * `signal` stops the thread (the task's memory is released; the next run restarts it).
   */
  async run(input: ThreadRun, signal?: AbortSignal): Promise<{ result: TaskResult; cellSets: CellClass[] | null }> {
    if (!this.live && this.lastSpec) await this.open(this.lastSpec).catch(() => {}); // restarted after a timeout or crash
    const live = this.live;
    if (!live) return { result: { ok: false, code: ErrorCode.WORKER_ERROR, message: "The experiment is not loaded." }, cellSets: null };
    try {
      await live.opened;
    } catch (err) {
      const e = err as { code?: ErrorCode; message: string };
      return { result: { ok: false, code: e.code ?? ErrorCode.WORKER_ERROR, message: e.message }, cellSets: null };
    }
    await this.removeFiles();
    const id = this.nextId++;
    return new Promise((resolve) => {
      const abandon = (result: TaskResult, why: string, fields: Record<string, unknown>): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.pending.delete(id);
        this.opts.log?.(why, { task: input.body.name, ...fields });
        void this.stop();
        resolve({ result, cellSets: null });
      };
      const timer = setTimeout(() => abandon(
        { ok: false, code: ErrorCode.TIMEOUT, message: `The task took longer than ${Math.round(this.opts.taskTimeoutMs / 1000)} s and was stopped.` },
        "task passed its time limit; compute thread stopped", { limitMs: this.opts.taskTimeoutMs },
      ), this.opts.taskTimeoutMs);
      const onAbort = (): void => abandon(
        { ok: false, code: ErrorCode.WORKER_ERROR, message: "The task was stopped before it finished." },
        "task abandoned; compute thread stopped", {},
      );
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, {
        resolve: (r) => { clearTimeout(timer); signal?.removeEventListener("abort", onAbort); if (r.cellSets) this.cellSets = r.cellSets; resolve(r); },
        ...(input.progress ? { progress: input.progress } : {}),
      });
      const fileDir = this.opts.fileDir ?? join(tmpdir(), `cellworker-results-${process.pid}`);
      live.worker.postMessage({ type: "run", id, body: input.body, pagination: input.pagination, limits: input.limits ?? null, cellSets: input.cellSets ?? null, fileDir } satisfies ToThread);
    });
  }

  /** Stops the thread (idempotent); the next open() starts a new one. */
  async close(): Promise<void> {
    this.lastSpec = null;
    return this.stop();
  }

  /** Stops the thread but remembers what was open, so the next run restarts it. */
  private async stop(): Promise<void> {
    const live = this.live;
    this.live = null;
    if (live) await live.worker.terminate();
    await this.removeFiles();
  }

  private async removeFiles(): Promise<void> {
    const files = this.files;
    this.files = [];
    await Promise.all(files.map((f) => rm(f, { force: true })));
  }

  /** A FileResult reading what the thread wrote (kept until the next request). */
  private fileResult(f: FileOnDisk): FileResult {
    this.files.push(f.path);
    return { kind: "file", contentType: f.contentType, contentEncoding: f.contentEncoding, open: () => createReadStream(f.path) };
  }

  private onMessage(m: FromThread): void {
    if (m.type === "progress") this.pending.get(m.id)?.progress?.(m.fraction);
    else if (m.type === "result") {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      const result: TaskResult = m.file && m.result.ok ? { ...m.result, data: this.fileResult(m.file) } : m.result;
      p?.resolve({ result, cellSets: m.cellSets });
    }
    else if (m.type === "log") this.opts.log?.(m.message, m.fields);
  }

  /** A thread died on its own: fail what it was running. (A thread we stopped is no longer `live`.) */
  private crashed(worker: Worker, err: Error): void {
    if (this.live?.worker !== worker) return;
    this.opts.log?.("compute thread crashed", { error: err.message });
    this.live = null;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve({ result: { ok: false, code: ErrorCode.WORKER_ERROR, message: "An unexpected error occurred while performing the work." }, cellSets: null });
    }
  }
}
