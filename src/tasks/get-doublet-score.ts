/**
 * GetDoubletScore (reference spec §5.9): each cell's doublet score from the obs column
 * `doublet_scores` (the Cellenics pipeline's name) or else `scDblFinder.score`, as an array
 * indexed by cell id with `null` for ids not in the data and missing values. The worker does
 * not compute doublet scores: without such a column it is COLUMN_NOT_FOUND with the
 * original's message "doublet_scores is not computed for this experiment.".
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { valuesByCellId } from "./shared/by-cell-id.ts";
import { columnNotFound, numericObsColumn } from "./shared/per-cell-metric.ts";

const Body = z.object({ name: z.literal("GetDoubletScore") }).strict();

export const DOUBLET_COLUMNS = ["doublet_scores", "scDblFinder.score"] as const;

export default defineTask({
  name: "GetDoubletScore",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "none",
  example: { name: "GetDoubletScore" },
  async run(_body, { experiment: exp }) {
    const col = numericObsColumn(exp, DOUBLET_COLUMNS);
    if (!col) throw columnNotFound("doublet_scores");
    return valuesByCellId(exp, col.values);
  },
});
