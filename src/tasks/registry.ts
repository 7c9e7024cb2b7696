/**
 * The one dispatch table: wire name → task definition. Each task lives in the file named after
 * its wire name in kebab-case (a test checks that).
 */
import type { Task } from "./task.ts";
import getEmbedding from "./get-embedding.ts";
import clusterCells from "./cluster-cells.ts";
import listGenes from "./list-genes.ts";
import geneExpression from "./gene-expression.ts";
import differentialExpression from "./differential-expression.ts";
import batchDifferentialExpression from "./batch-differential-expression.ts";
import getBackgroundExpressedGenes from "./get-background-expressed-genes.ts";
import getNGenes from "./get-n-genes.ts";
import getNUmis from "./get-n-umis.ts";
import getMitochondrialContent from "./get-mitochondrial-content.ts";
import getDoubletScore from "./get-doublet-score.ts";
import getExpressionCellSets from "./get-expression-cell-sets.ts";
import markerHeatmap from "./marker-heatmap.ts";
import dotPlot from "./dot-plot.ts";
import getNormalizedExpression from "./get-normalized-expression.ts";
import cellCycleScoring from "./cell-cycle-scoring.ts";
import downloadAnnotSeuratObject from "./download-annot-seurat-object.ts";
import getTrajectoryAnalysisStartingNodes from "./get-trajectory-analysis-starting-nodes.ts";
import getTrajectoryAnalysisPseudoTime from "./get-trajectory-analysis-pseudo-time.ts";

const TASKS: readonly Task[] = [
  getEmbedding, listGenes, geneExpression, differentialExpression, clusterCells,
  batchDifferentialExpression, getBackgroundExpressedGenes, getNGenes, getNUmis, getMitochondrialContent, getDoubletScore,
  getExpressionCellSets, markerHeatmap, dotPlot, getNormalizedExpression, cellCycleScoring, downloadAnnotSeuratObject,
  getTrajectoryAnalysisStartingNodes, getTrajectoryAnalysisPseudoTime,
];

export const registry: ReadonlyMap<string, Task> = new Map(TASKS.map((t) => [t.name, t]));

/** Task names of the Cellenics protocol that this worker does not implement yet. */
export const PLANNED_TASKS = [
  "ScTypeAnnotate", "CASSIAAnnotate",
] as const;
