/**
 * GetNGenes (reference spec §5.11): log10 of the number of genes detected (non-zero) in each
 * cell, as an array indexed by cell id with `null` for ids not in the data (and for cells
 * with no detected gene, whose log10 is -Infinity). Computed from the matrix by
 * preprocessing (the original read the pipeline's `nFeature_RNA`, the same count); works for
 * log-normalised-only data too, since a value is non-zero exactly where its count is.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { valuesByCellId } from "./shared/by-cell-id.ts";
import { log10Of } from "./shared/per-cell-metric.ts";

const Body = z.object({ name: z.literal("GetNGenes") }).strict();

export default defineTask({
  name: "GetNGenes",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "none",
  example: { name: "GetNGenes" },
  async run(_body, { experiment: exp }) {
    return valuesByCellId(exp, log10Of(exp.state.qc.genesDetected));
  },
});
