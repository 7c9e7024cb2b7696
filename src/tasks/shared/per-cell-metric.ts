/**
 * Helpers for the per-cell metric tasks (reference spec §5.9–5.12: GetDoubletScore,
 * GetMitochondrialContent, GetNGenes, GetNUmis): numeric obs columns looked up by name,
 * log10, and the original's COLUMN_NOT_FOUND message "{column} is not computed for this
 * experiment.".
 */
import type { Experiment } from "../../experiment/experiment.ts";
import { ErrorCode, WorkerError } from "../../result/errors.ts";

/** The first obs column among `names` (in that order) with its values as numbers, or null if none exists. */
export function numericObsColumn(exp: Experiment, names: readonly string[]): { name: string; values: Float64Array } | null {
  for (const name of names) {
    const col = exp.data.obs.find((c) => c.name === name);
    if (!col) continue;
    if (col.kind === "numeric") return { name, values: col.values };
    if (col.kind === "categorical") {
      // numbers stored as a categorical (some AnnData writers do this)
      const levels = col.categories.map((c) => (c.trim() === "" ? NaN : Number(c)));
      if (levels.every((v) => Number.isFinite(v))) {
        return { name, values: Float64Array.from(col.codes, (code) => (code >= 0 ? levels[code]! : NaN)) };
      }
    }
    throw new WorkerError(ErrorCode.DATA_INVALID, `The cell metadata column "${name}" is not numeric (${col.kind}).`);
  }
  return null;
}

/** log10 of each value (0 → -Infinity, shown as null by valuesByCellId). */
export function log10Of(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values, (v) => Math.log10(v));
}

/** The original's error for a metric the experiment does not have, optionally with the reason. */
export function columnNotFound(column: string, reason?: string): WorkerError {
  return new WorkerError(ErrorCode.COLUMN_NOT_FOUND, `${column} is not computed for this experiment.${reason ? ` ${reason}` : ""}`);
}
