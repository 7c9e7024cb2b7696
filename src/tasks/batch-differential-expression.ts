/**
 * BatchDifferentialExpression (reference spec §5.4): several DifferentialExpression
 * comparisons in one request, answered as an array in comparison order.
 *
 * Comparisons: with one `basis`, `(basis[0], cs)` for each `cs` of `cellSet` (e.g. every
 * cluster vs "background" with basis ["all"]); otherwise `(b, cellSet[0])` for each `b` of
 * `basis` (the same comparison repeated within each cluster). Both lists having several
 * entries is INVALID_INPUT (the original silently ignored `cellSet[1..]`).
 *
 * Each comparison is resolved and computed exactly as an unpaginated DifferentialExpression
 * (shared/de-groups.ts, `withinGroupsDe` or the pseudobulk `betweenSamplesResult`, same column
 * shaping: every gene by ascending p_val, total = genes). A comparison that fails with a
 * WorkerError (unknown key, empty group, too few samples for `between`) becomes
 * `{ total: 0, data: "No data available for this comparison" }` and the others still run.
 * Unexpected (internal) errors are not swallowed: they fail the request rather than be cached
 * as "no data". Comparisons run one after another.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { WorkerError } from "../result/errors.ts";
import { resolveDeGroups } from "./shared/de-groups.ts";
import { betweenSamplesResult, unpaginatedDeResult, withinGroupsDe } from "./differential-expression.ts";

/** comparisons in one request (each is a full Wilcoxon pass over every gene) */
export const MAX_COMPARISONS = 500;

export const NO_DATA = "No data available for this comparison";

const Key = z.string().max(1000);

const Body = z.object({
  name: z.literal("BatchDifferentialExpression"),
  basis: z.array(Key.nullable()).min(1).max(MAX_COMPARISONS),
  cellSet: z.array(Key).min(1).max(MAX_COMPARISONS),
  compareWith: Key,
  comparisonType: z.enum(["within", "between"]).default("within"),
  genesOnly: z.boolean().optional(),
}).strict().refine((b) => b.basis.length === 1 || b.cellSet.length === 1, {
  message: "give one basis and several cellSet keys, or several basis keys and one cellSet",
  path: ["cellSet"],
});

export type BatchDeBody = z.infer<typeof Body>;

export interface Comparison {
  basis: string | null;
  cellSet: string;
}

export type BatchDeItem = { total: number; data: Record<string, unknown[]>; method?: string } | { total: 0; data: typeof NO_DATA };

/** The comparisons of a request, in order (spec §5.4). */
export function batchComparisons(body: Pick<BatchDeBody, "basis" | "cellSet">): Comparison[] {
  if (body.basis.length === 1) return body.cellSet.map((cellSet) => ({ basis: body.basis[0]!, cellSet }));
  return body.basis.map((basis) => ({ basis, cellSet: body.cellSet[0]! }));
}

export default defineTask({
  name: "BatchDifferentialExpression",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "whole",
  example: { name: "BatchDifferentialExpression", basis: ["all"], cellSet: ["louvain-0", "louvain-1"], compareWith: "background", comparisonType: "within" },
  async run(body, { experiment: exp, progress }) {
    const comparisons = batchComparisons(body);
    await exp.valueOrderReady();
    const out: BatchDeItem[] = [];
    for (const [i, c] of comparisons.entries()) {
      out.push(runComparison(exp, body, c, (f) => progress((i + f) / comparisons.length)));
    }
    progress(1);
    return out;
  },
});

function runComparison(exp: Experiment, body: BatchDeBody, c: Comparison, progress: (fraction: number) => void): BatchDeItem {
  try {
    const groups = resolveDeGroups(exp, { cellSet: c.cellSet, compareWith: body.compareWith, basis: c.basis });
    if (body.comparisonType === "between") return betweenSamplesResult(exp, groups, undefined, body.genesOnly ?? false, progress);
    return unpaginatedDeResult(exp, withinGroupsDe(exp, groups, progress), body.genesOnly ?? false);
  } catch (err) {
    if (err instanceof WorkerError) return { total: 0, data: NO_DATA };
    throw err;
  }
}
