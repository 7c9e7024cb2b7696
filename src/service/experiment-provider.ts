/**
 * The service's experiment: synced from S3 before every request (cheap when nothing changed),
 * reopened when a file changed (the processed-state cache makes reopening fast), with cell
 * sets refreshed from their store for every request. Calls are serialised, so the start-up
 * preload and the first request never download the same files twice.
 *
 * Tasks run in a compute thread by default (compute/thread-host.ts): the main thread stays
 * free for heartbeats and visibility extensions, a task past its time limit is stopped, and
 * loading a damaged file cannot hang the worker. `in-process` runs them on the main thread.
 * Errors about the experiment's files name the file but not the worker's data folder.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { Experiment } from "../experiment/experiment.ts";
import { dataPathOf, syncExperiment, type SyncMemo } from "../experiment/source/s3-sync.ts";
import type { CellSetStore } from "../experiment/cell-sets/store.ts";
import type { CellClass } from "../experiment/cell-sets/cell-sets.ts";
import type { runTask as RunTask } from "../compute/run-task.ts";
import { ThreadHost } from "../compute/thread-host.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";
import type { Logger } from "../log.ts";
import { resolve, sep } from "node:path";

import type { ExperimentCompute, ExperimentSource, LoadHooks } from "../pipeline/request.ts";
import type { Limits } from "../config.ts";

export interface ProviderOptions {
  s3: S3Client;
  bucket: string;
  experimentId: string;
  dataDir: string;
  cacheDir: string;
  cellSets: CellSetStore | null;
  log: Logger;
  compute: "thread" | "in-process";
  taskTimeoutMs: number;
  loadTimeoutMs: number;
  limits?: Limits;
}

export class S3ExperimentProvider implements ExperimentSource {
  private readonly memo: SyncMemo = new Map();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly opts: ProviderOptions;
  private readonly host: ThreadHost | null;
  private inProcess: Experiment | null = null;
  private runTask: typeof RunTask | null = null;
  private openedPath: string | null = null;
  /** cell sets to use on the next run instead of the thread's (after a revert) */
  private override: CellClass[] | null = null;

  constructor(opts: ProviderOptions) {
    this.opts = opts;
    this.host = opts.compute === "thread"
      ? new ThreadHost({ taskTimeoutMs: opts.taskTimeoutMs, openTimeoutMs: opts.loadTimeoutMs, log: opts.log })
      : null;
  }

  /** true once an experiment has been loaded */
  get loaded(): boolean {
    return this.openedPath !== null;
  }

  get(hooks: LoadHooks = {}): Promise<ExperimentCompute> {
    const next = this.queue.then(() => this.load(hooks)).catch((err: unknown) => { throw this.withoutLocalPaths(err); });
    this.queue = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    await this.host?.close();
  }

  /**
   * Errors about the experiment's files name them (`matrix.mtx.gz: the gzip stream is
   * truncated`) but not where this worker keeps them: users see these messages.
   */
  private withoutLocalPaths(err: unknown): unknown {
    if (!(err instanceof WorkerError)) return err;
    const dir = resolve(this.opts.dataDir, this.opts.experimentId) + sep;
    if (!err.message.includes(dir)) return err;
    return new WorkerError(err.code, err.message.split(dir).join(""), { cause: err });
  }

  private async load(hooks: LoadHooks): Promise<ExperimentCompute> {
    const { s3, bucket, experimentId, dataDir, cacheDir, log } = this.opts;
    if (!this.loaded) hooks.downloading?.();
    const sync = await syncExperiment({ s3, bucket, experimentId, dataDir, memo: this.memo });
    if (sync.downloaded.length > 0 || sync.removed.length > 0 || !this.loaded) {
      const path = dataPathOf(sync);
      if (!path) throw new WorkerError(ErrorCode.DATA_NOT_FOUND, `No readable data file for experiment ${experimentId} (found: ${sync.files.join(", ")}).`);
      if (sync.downloaded.length > 0) log("experiment data synced from S3", { experimentId, files: sync.downloaded });
      hooks.loading?.();
      this.openedPath = null;
      if (this.host) {
        await this.host.close(); // the files changed: reopen even if the path is the same
        await this.host.open({ path, cacheDir, limits: this.opts.limits }).catch((err: Error & { code?: string }) => {
          throw new WorkerError((err.code as ErrorCode | undefined) ?? ErrorCode.WORKER_ERROR, err.message);
        });
      } else {
        // loaded on demand: in thread mode the task code lives in the compute thread, off the main thread
        const [{ openExperiment }, { runTask }] = await Promise.all([import("../experiment/open.ts"), import("../compute/run-task.ts")]);
        this.runTask = runTask;
        this.inProcess = await openExperiment({ path, cacheDir, log, limits: this.opts.limits, background: true });
      }
      this.openedPath = path;
    }
    const stored = this.opts.cellSets ? await this.opts.cellSets.load(experimentId) : null;
    return this.host ? this.threadCompute(this.host, stored) : this.inProcessCompute(this.inProcess!, this.runTask!, stored);
  }

  private threadCompute(host: ThreadHost, stored: CellClass[] | null): ExperimentCompute {
    const cellSets = this.override ?? stored;
    this.override = null;
    const before = cellSets ?? host.cellSets;
    return {
      run: async (input, signal) => (await host.run({ ...input, cellSets }, signal)).result,
      revertCellSets: () => { this.override = before; },
    };
  }

  private inProcessCompute(exp: Experiment, runTask: typeof RunTask, stored: CellClass[] | null): ExperimentCompute {
    if (stored) exp.cellSets = stored;
    const before = exp.cellSets;
    return {
      run: (input) => runTask(exp, input, (err) =>
        this.opts.log("task failed unexpectedly", { task: input.body.name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })),
      revertCellSets: () => { exp.cellSets = before; },
    };
  }
}
