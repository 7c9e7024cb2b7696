/**
 * MarkerHeatmap (reference spec §5.13): the top marker genes of every child of a cell class,
 * for the heatmap the UI then fills through GeneExpression.
 *
 * Groups = the class's children in order, as the cells of each child that are in the data;
 * cells in no child take no part. One-vs-rest Wilcoxon per child on at most 1000 cells per
 * child drawn with a fixed seed, filters logFC > 0, auc ≥ 0.3, pct_in ≥ 20, pct_out ≤ 70, each
 * gene kept once (in its lowest-p child), the first `nGenes` per child by decreasing logFC,
 * children in order (shared/markers.ts). Response `{ orderedGeneNames }`: gene symbols, each
 * once (fewer than nGenes per child when too few genes pass).
 *
 * The class: `selectedCellSet`, else `downsampleSettings.selectedCellSet` (the API's hook
 * sends only that), else "louvain" (the newest UI sends only `nGenes`). The other
 * `downsampleSettings` fields (groupedTracks, selectedPoints, hiddenCellSets) concern the
 * cells the UI draws, not the marker list, and are ignored.
 *
 * Differences from the original, on purpose: overlapping children work (each child is tested
 * against the other cells of the union; the original failed); the sample is seeded; a class
 * with fewer than two non-empty children gives `[]` (the original's presto call failed); the
 * ranking is computed once per class content (cell indices of each child, in order) and kept
 * for the experiment's lifetime, so any nGenes afterwards is a slice of it.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { cachedRankedMarkers, childGroups, uniqueByName } from "./shared/markers.ts";
import { topMarkerGenes } from "../numerics/markers.ts";

export const MAX_GENES_PER_GROUP = 1000;
export const DEFAULT_CLASS = "louvain";

const Key = z.string().min(1).max(1000);

const Body = z.object({
  name: z.literal("MarkerHeatmap"),
  nGenes: z.number().int().min(1).max(MAX_GENES_PER_GROUP),
  selectedCellSet: Key.optional(),
  /** the UI's heatmap settings; only selectedCellSet is read */
  downsampleSettings: z.object({
    selectedCellSet: Key.optional(),
    groupedTracks: z.array(Key).max(1000).optional(),
    selectedPoints: z.string().max(1000).optional(),
    hiddenCellSets: z.array(Key).max(100_000).optional(),
  }).loose().optional(),
}).strict();


export default defineTask({
  name: "MarkerHeatmap",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "whole",
  example: { name: "MarkerHeatmap", nGenes: 5, selectedCellSet: "louvain" },
  async run(body, { experiment: exp, progress }) {
    const key = body.selectedCellSet ?? body.downsampleSettings?.selectedCellSet ?? DEFAULT_CLASS;
    const field = body.selectedCellSet !== undefined ? "selectedCellSet"
      : body.downsampleSettings?.selectedCellSet !== undefined ? "downsampleSettings.selectedCellSet" : "selectedCellSet (default)";
    const groups = childGroups(exp, key, field);
    if (groups.filter((g) => g.length > 0).length < 2) return { orderedGeneNames: [] };
    const ranked = await cachedRankedMarkers(exp, "heatmap", groups, progress);
    return { orderedGeneNames: uniqueByName(exp, topMarkerGenes(ranked, body.nGenes)).names };
  },
});
