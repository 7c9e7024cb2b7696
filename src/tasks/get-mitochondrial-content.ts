/**
 * GetMitochondrialContent (reference spec §5.10): the percent (0–100) of each cell's counts
 * that come from mitochondrial genes (symbols starting `MT-`/`mt-`), as an array indexed by
 * cell id with `null` for ids not in the data. Computed from the raw counts by preprocessing
 * (the original read the pipeline's `percent.mt`); 0 for every cell when the data has no
 * mitochondrial gene. When the data holds log-normalised values only, the percentages come
 * from an obs column (`percent.mt`, `pct_counts_mt`, `percent_mito` or `percent.mito`, the
 * first present); without one it is COLUMN_NOT_FOUND.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { valuesByCellId } from "./shared/by-cell-id.ts";
import { columnNotFound, numericObsColumn } from "./shared/per-cell-metric.ts";

const Body = z.object({ name: z.literal("GetMitochondrialContent") }).strict();

export const MITO_COLUMNS = ["percent.mt", "pct_counts_mt", "percent_mito", "percent.mito"] as const;

export default defineTask({
  name: "GetMitochondrialContent",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "none",
  example: { name: "GetMitochondrialContent" },
  async run(_body, { experiment: exp }) {
    if (exp.data.matrixKind === "counts") return valuesByCellId(exp, exp.state.qc.percentMito);
    const col = numericObsColumn(exp, MITO_COLUMNS);
    if (!col) throw columnNotFound("percent.mt", "The data holds log-normalised values only, so mitochondrial counts are unknown.");
    return valuesByCellId(exp, col.values);
  },
});
