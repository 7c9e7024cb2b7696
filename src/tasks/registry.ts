/**
 * The one dispatch table: wire name → task definition. Each task lives in the file named after
 * its wire name in kebab-case (a test checks that).
 */
import type { TaskDefinition } from "./task.ts";
import getEmbedding from "./get-embedding.ts";
import clusterCells from "./cluster-cells.ts";
import listGenes from "./list-genes.ts";
import geneExpression from "./gene-expression.ts";
import differentialExpression from "./differential-expression.ts";

const TASKS: readonly TaskDefinition[] = [getEmbedding, listGenes, geneExpression, differentialExpression, clusterCells] as unknown as TaskDefinition[];

export const registry: ReadonlyMap<string, TaskDefinition> = new Map(TASKS.map((t) => [t.name, t]));

/** Task names of the Cellenics protocol that this worker does not implement yet. */
export const PLANNED_TASKS = [
  "MarkerHeatmap", "DotPlot",
  "BatchDifferentialExpression", "GetBackgroundExpressedGenes", "GetNGenes", "GetNUmis", "GetMitochondrialContent",
  "GetDoubletScore", "GetExpressionCellSets", "GetNormalizedExpression",
] as const;
