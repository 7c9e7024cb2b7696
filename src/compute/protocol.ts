/**
 * Messages between the compute host (main thread) and the compute thread that owns the
 * experiment. Plain structured-clone data only.
 */
import type { CellClass } from "../experiment/cell-sets/cell-sets.ts";
import type { TaskResult } from "../result/response.ts";

export interface OpenSpec {
  path: string;
  cacheDir: string | null;
  cellSetsFile?: string;
}

export type ToThread =
  | { type: "open"; spec: OpenSpec }
  | { type: "run"; id: number; body: { name: string; [k: string]: unknown }; pagination: unknown; cellSets: CellClass[] | null };

export type FromThread =
  | { type: "opened"; nCells: number; nGenes: number; cellSets: CellClass[] }
  | { type: "open-failed"; code: string; message: string }
  | { type: "progress"; id: number; fraction: number }
  | { type: "result"; id: number; result: TaskResult; cellSets: CellClass[] | null }
  | { type: "log"; message: string; fields?: Record<string, unknown> };
