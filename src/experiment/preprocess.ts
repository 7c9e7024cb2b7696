/**
 * What happens to an experiment on first load when it has raw counts: QC metrics,
 * LogNormalize (Seurat, 1e4, natural log), vst HVGs (2000), scaling + PCA (50 PCs),
 * SNN + Louvain clusters (resolution 0.8). Every step is deterministic for a given input.
 * Cells are never filtered here: QC filtering belongs to the pipeline that made the data.
 */
import { basename } from "node:path";
import type { LoadedData } from "./types.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";
import { computeCellQc, mitoMask, SCALE_FACTOR, type CellQc, type Normalizer } from "../numerics/normalize.ts";
import { computeVst } from "../numerics/hvg.ts";
import { computePca } from "../numerics/pca.ts";
import { CLUSTER_DEFAULTS, clusterFromNeighbors, clusteringSubset, firstPcs, sharedNeighbors } from "../numerics/cluster.ts";
import type { Neighbors } from "../numerics/scran.ts";

export const PREPROCESS = { nHvg: 2000, nPcs: 50, pcsUsed: 30, ...CLUSTER_DEFAULTS } as const;

/**
 * The smallest data preprocessing accepts. PCA needs 2 cells and 2 genes, UMAP 3 cells; below
 * about 10 cells neighbours, clusters and embeddings mean nothing, and a file that small is a
 * mistake (an empty export, the wrong file), so it is refused when loaded, not half-analysed.
 */
export const MIN_CELLS = 10;
export const MIN_GENES = 10;

/**
 * DATA_UNSUPPORTED naming the file and the minimum when the data has fewer than MIN_CELLS cells
 * or MIN_GENES genes (the files' name only: never the worker's folders).
 */
export function checkMinimumSize(data: Pick<LoadedData, "format" | "path" | "matrixSource" | "matrix">): void {
  const { nCells, nGenes } = data.matrix;
  const problems: string[] = [];
  if (nCells < MIN_CELLS) problems.push(`at least ${MIN_CELLS} cells (this file has ${nCells})`);
  if (nGenes < MIN_GENES) problems.push(`at least ${MIN_GENES} genes (this file has ${nGenes})`);
  if (problems.length === 0) return;
  const name = data.format === "10x-mtx" ? basename(data.matrixSource) : basename(data.path);
  throw new WorkerError(
    ErrorCode.DATA_UNSUPPORTED,
    `${name}: too small to analyse: preprocessing (PCA, neighbours, clusters) needs ${problems.join(" and ")}`,
  );
}

/** Everything preprocessing produces; plain arrays, saved as-is by the processed-state cache. */
export interface ProcessedState {
  qc: CellQc;
  gene: {
    means: Float64Array;
    /** vst standardized variance (or the file's stored dispersions) */
    dispersions: Float64Array;
    highlyVariable: Uint8Array;
  };
  /** HVG indices by decreasing dispersion */
  hvgs: Int32Array;
  pca: { nPcs: number; scores: Float64Array; varianceExplained: Float64Array };
  /** each cell's 30 nearest neighbours on the first 30 PCs (kept: UMAP uses them, ClusterCells the first 19) */
  neighbors: Neighbors;
  louvain: Int32Array;
}

/** LogNormalize from counts and per-cell totals, or the identity when the file held log-normalised values. */
export function normalizerOf(data: Pick<LoadedData, "matrixKind">, state: Pick<ProcessedState, "qc">): Normalizer {
  return data.matrixKind === "counts" ? { kind: "counts", totals: state.qc.totalCounts, scaleFactor: SCALE_FACTOR } : { kind: "identity" };
}

export async function preprocess(data: LoadedData, progress: (step: string) => void = () => {}): Promise<ProcessedState> {
  checkMinimumSize(data);
  const m = data.matrix;
  progress("qc");
  const qc = computeCellQc(m, mitoMask(data.genes.symbols));
  progress("hvg");
  const { gene, hvgs } = data.matrixKind === "counts" ? vstGenes(data) : storedGenes(data);
  const norm = normalizerOf(data, { qc });
  progress("pca");
  const pcaOut = await computePca(m, norm, hvgs, Math.min(PREPROCESS.nPcs, Math.max(1, m.nCells - 1)));
  const pca = { nPcs: pcaOut.nPcs, scores: pcaOut.scores, varianceExplained: pcaOut.varianceExplained };
  progress("clusters");
  const dims = Math.min(PREPROCESS.pcsUsed, pca.nPcs);
  const nn = await sharedNeighbors(firstPcs(pca.scores, m.nCells, pca.nPcs, dims), m.nCells, dims);
  const louvain = clusterFromNeighbors(clusteringSubset(nn), PREPROCESS.resolution, PREPROCESS.seed);
  return { qc, gene, hvgs, pca, neighbors: nn, louvain };
}

function vstGenes(data: LoadedData): Pick<ProcessedState, "gene" | "hvgs"> {
  const vst = computeVst(data.matrix);
  const nHvg = Math.min(PREPROCESS.nHvg, data.matrix.nGenes);
  const hvgs = vst.ranking.slice(0, nHvg);
  const highlyVariable = new Uint8Array(data.matrix.nGenes);
  for (const g of hvgs) highlyVariable[g] = 1;
  return { gene: { means: vst.means, dispersions: vst.standardizedVariances, highlyVariable }, hvgs };
}

/**
 * Log-normalised-only files (the 2021 python.h5ad): vst needs counts, so genes are ranked by
 * the dispersions stored in the file, or else by the variance of the log-normalised values.
 */
function storedGenes(data: LoadedData): Pick<ProcessedState, "gene" | "hvgs"> {
  const m = data.matrix;
  const means = new Float64Array(m.nGenes);
  const variances = new Float64Array(m.nGenes);
  for (let g = 0; g < m.nGenes; g++) {
    let s = 0, ss = 0;
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) { s += m.values[p]!; ss += m.values[p]! * m.values[p]!; }
    const mu = s / m.nCells;
    means[g] = mu;
    variances[g] = m.nCells > 1 ? (ss - m.nCells * mu * mu) / (m.nCells - 1) : 0;
  }
  const stored = data.storedGeneStats;
  const dispersions = stored?.dispersions ?? variances;
  const byDispersion = Int32Array.from({ length: m.nGenes }, (_, i) => i).sort(
    (a, b) => (Number.isNaN(dispersions[b]!) ? -Infinity : dispersions[b]!) - (Number.isNaN(dispersions[a]!) ? -Infinity : dispersions[a]!) || a - b,
  );
  let hvgs: Int32Array;
  if (stored?.highlyVariable && stored.highlyVariable.some((v) => v === 1)) {
    hvgs = byDispersion.filter((g) => stored.highlyVariable![g] === 1);
  } else {
    hvgs = byDispersion.slice(0, Math.min(PREPROCESS.nHvg, m.nGenes));
  }
  const highlyVariable = new Uint8Array(m.nGenes);
  for (const g of hvgs) highlyVariable[g] = 1;
  return { gene: { means: stored?.means ?? means, dispersions, highlyVariable }, hvgs };
}
