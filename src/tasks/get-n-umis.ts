/**
 * GetNUmis (reference spec §5.12): log10 of the total UMI count of each cell, as an array
 * indexed by cell id with `null` for ids not in the data (and for cells with no counts).
 * Computed from the raw counts by preprocessing (the original read the pipeline's
 * `nCount_RNA`, the same sum). When the data holds log-normalised values only, the totals
 * come from an obs column (`nCount_RNA`, `total_counts`, `n_counts` or `nUMI`, the first
 * present); without one it is COLUMN_NOT_FOUND, since the counts cannot be recovered.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { valuesByCellId } from "./shared/by-cell-id.ts";
import { columnNotFound, log10Of, numericObsColumn } from "./shared/per-cell-metric.ts";

const Body = z.object({ name: z.literal("GetNUmis") }).strict();

export const UMI_COLUMNS = ["nCount_RNA", "total_counts", "n_counts", "nUMI"] as const;

export default defineTask({
  name: "GetNUmis",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "none",
  example: { name: "GetNUmis" },
  async run(_body, { experiment: exp }) {
    if (exp.data.matrixKind === "counts") return valuesByCellId(exp, log10Of(exp.state.qc.totalCounts));
    const col = numericObsColumn(exp, UMI_COLUMNS);
    if (!col) throw columnNotFound("nCount_RNA", "The data holds log-normalised values only, so UMI counts are unknown.");
    return valuesByCellId(exp, log10Of(col.values));
  },
});
