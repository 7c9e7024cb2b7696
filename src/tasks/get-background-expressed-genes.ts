/**
 * GetBackgroundExpressedGenes (reference spec §5.6): the genes expressed in the two groups of
 * a differential-expression request, used as the universe of pathway analysis. The groups
 * are resolved exactly as DifferentialExpression's (shared/de-groups.ts, same errors); the
 * raw counts of the cells in either group are summed per gene and the genes whose total is
 * greater than 15 (edgeR filterByExpr's min.total.count) are returned as `{ genes }`, their
 * symbols (the id where a symbol is empty) in the experiment's gene order. `comparisonType`
 * is accepted and unused, as in the original. Needs raw counts: DATA_UNSUPPORTED when the
 * data holds log-normalised values only.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";
import { groupLabels, resolveDeGroups, type DeGroups } from "./shared/de-groups.ts";

/** a gene is "expressed" when its total count over both groups is above this */
export const MIN_TOTAL_COUNT = 15;

const Key = z.string().max(1000);

const Body = z.object({
  name: z.literal("GetBackgroundExpressedGenes"),
  cellSet: Key,
  compareWith: Key,
  basis: Key.nullable().optional(),
  comparisonType: z.enum(["within", "between"]).optional(),
}).strict();

export default defineTask({
  name: "GetBackgroundExpressedGenes",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "whole",
  example: { name: "GetBackgroundExpressedGenes", cellSet: "louvain-0", compareWith: "rest", basis: "all", comparisonType: "within" },
  async run(body, { experiment: exp }) {
    if (exp.data.matrixKind !== "counts") {
      throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, "Background expressed genes need raw counts; this experiment holds log-normalised values only.");
    }
    const totals = groupCountTotals(exp, resolveDeGroups(exp, body));
    const { symbols, ids } = exp.data.genes;
    const genes: string[] = [];
    totals.forEach((t, g) => { if (t > MIN_TOTAL_COUNT) genes.push(symbols[g] || ids[g]!); });
    return { genes };
  },
});

/** Per gene, the sum of the stored counts over the cells of both groups. */
export function groupCountTotals(exp: Experiment, groups: DeGroups): Float64Array {
  const { indptr, indices, values, nGenes } = exp.data.matrix;
  const labels = groupLabels(exp.nCells, groups);
  const totals = new Float64Array(nGenes);
  for (let g = 0; g < nGenes; g++) {
    let s = 0;
    for (let q = indptr[g]!, end = indptr[g + 1]!; q < end; q++) if (labels[indices[q]!] !== 0) s += values[q]!;
    totals[g] = s;
  }
  return totals;
}
