/**
 * The service's experiment: synced from S3 before every request (cheap when nothing changed),
 * reopened when a file changed (the processed-state cache makes reopening fast), with cell
 * sets refreshed from their store for every request. Calls are serialised, so the start-up
 * preload and the first request never download the same files twice.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { Experiment } from "../experiment/experiment.ts";
import { openExperiment } from "../experiment/open.ts";
import { dataPathOf, syncExperiment, type SyncMemo } from "../experiment/source/s3-sync.ts";
import type { CellSetStore } from "../experiment/cell-sets/store.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";
import type { Logger } from "../log.ts";

/** Moments a request may want to tell its user about (heartbeats of the current protocol). */
export interface LoadHooks {
  /** before the first download of the experiment's files */
  downloading?(): void;
  /** files were downloaded and are about to be (re)loaded */
  loading?(): void;
}

export interface ExperimentProvider {
  get(hooks?: LoadHooks): Promise<Experiment>;
  /** true once an experiment has been loaded */
  readonly loaded: boolean;
}

export class S3ExperimentProvider implements ExperimentProvider {
  private current: Experiment | null = null;
  private readonly memo: SyncMemo = new Map();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly opts: {
    s3: S3Client; bucket: string; experimentId: string; dataDir: string; cacheDir: string;
    cellSets: CellSetStore | null; log: Logger;
  };

  constructor(opts: S3ExperimentProvider["opts"]) {
    this.opts = opts;
  }

  get loaded(): boolean {
    return this.current !== null;
  }

  get(hooks: LoadHooks = {}): Promise<Experiment> {
    const next = this.queue.then(() => this.load(hooks));
    this.queue = next.catch(() => {});
    return next;
  }

  private async load(hooks: LoadHooks): Promise<Experiment> {
    const { s3, bucket, experimentId, dataDir, cacheDir, log } = this.opts;
    if (!this.current) hooks.downloading?.();
    const sync = await syncExperiment({ s3, bucket, experimentId, dataDir, memo: this.memo });
    if (sync.downloaded.length > 0 || !this.current) {
      const path = dataPathOf(sync);
      if (!path) throw new WorkerError(ErrorCode.DATA_NOT_FOUND, `No readable data file for experiment ${experimentId} (found: ${sync.files.join(", ")}).`);
      if (sync.downloaded.length > 0) log("experiment data synced from S3", { experimentId, files: sync.downloaded });
      hooks.loading?.();
      this.current = await openExperiment({ path, cacheDir, log });
    }
    const stored = this.opts.cellSets ? await this.opts.cellSets.load(experimentId) : null;
    if (stored) this.current.cellSets = stored;
    return this.current;
  }
}
