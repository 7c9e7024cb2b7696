/**
 * Results indexed by cell id: position i holds cell id i's value, `null` for ids not in the
 * data (Cellenics' convention for QC-filtered cells).
 */
import type { Experiment } from "../../experiment/experiment.ts";

/** `[x, y]` per cell id from a cells x dims row-major array (first two dims). */
export function pairsByCellId(exp: Experiment, coords: Float64Array, dims: number): ([number, number] | null)[] {
  const out: ([number, number] | null)[] = new Array(exp.maxCellId + 1).fill(null);
  exp.data.cellIds.forEach((id, i) => { out[id] = [coords[i * dims]!, coords[i * dims + 1]!]; });
  return out;
}

/** One number per cell id. */
export function valuesByCellId(exp: Experiment, values: ArrayLike<number>): (number | null)[] {
  const out: (number | null)[] = new Array(exp.maxCellId + 1).fill(null);
  exp.data.cellIds.forEach((id, i) => { const v = values[i]!; out[id] = Number.isFinite(v) ? v : null; });
  return out;
}
