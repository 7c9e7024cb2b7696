/**
 * Messages between the compute host (main thread) and the compute thread that owns the
 * experiment. Plain structured-clone data only.
 */
import type { CellClass } from "../experiment/cell-sets/cell-sets.ts";
import type { TaskResult } from "../result/response.ts";
import type { TaskContext } from "../tasks/task.ts";

export type TaskLimits = NonNullable<TaskContext["limits"]>;

/** A file result the thread has written to disk (a FileResult's stream cannot cross threads). */
export interface FileOnDisk {
  path: string;
  contentType: string;
  contentEncoding: string;
}

export interface OpenSpec {
  path: string;
  cacheDir: string | null;
  cellSetsFile?: string;
  limits?: { memoEntries?: number; memoryBudgetMb?: number | null };
}

export type ToThread =
  | { type: "open"; spec: OpenSpec }
  | { type: "run"; id: number; body: { name: string; [k: string]: unknown }; pagination: unknown; limits: TaskLimits | null; cellSets: CellClass[] | null; fileDir: string };

export type FromThread =
  | { type: "opened"; nCells: number; nGenes: number; cellSets: CellClass[] }
  | { type: "open-failed"; code: string; message: string }
  | { type: "progress"; id: number; fraction: number }
  | { type: "result"; id: number; result: TaskResult; cellSets: CellClass[] | null; file?: FileOnDisk }
  | { type: "log"; message: string; fields?: Record<string, unknown> };
