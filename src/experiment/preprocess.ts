/**
 * What happens to an experiment on first load when it has raw counts: QC metrics,
 * LogNormalize (Seurat, 1e4, natural log), vst HVGs (2000), scaling + PCA (50 PCs),
 * SNN + Louvain clusters (resolution 0.8). Every step is deterministic for a given input.
 * Cells are never filtered here: QC filtering belongs to the pipeline that made the data.
 *
 * A Seurat object (.rds) carries the pipeline's results, which are what the UI shows: its
 * stored PCA (`X_pca`, the first `misc$numPCs` components, variances from the DimReduc's
 * stdev), its gene statistics (`misc$gene_dispersion`, variable features) and its
 * `seurat_clusters` are used as they are, and the neighbours are computed on those PCs; only
 * what the object lacks is computed.
 */
import { basename } from "node:path";
import type { LoadedData } from "./types.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";
import { computeCellQc, mitoMask, SCALE_FACTOR, type CellQc, type Normalizer } from "../numerics/normalize.ts";
import { computeVst } from "../numerics/hvg.ts";
import { computePca } from "../numerics/pca.ts";
import { scoreVariances } from "../numerics/sparse-pca.ts";
import { CLUSTER_DEFAULTS, clusterFromNeighbors, clusteringSubset, firstPcs, sharedNeighbors } from "../numerics/cluster.ts";
import type { Neighbors } from "../numerics/scran.ts";
import { buildGeneValueOrder, type GeneValueOrder } from "../numerics/stats/gene-value-order.ts";

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
  /** each cell's 30 nearest neighbours on the first `pcsUsedOf(state)` PCs (kept: UMAP uses them, ClusterCells the first 19) */
  neighbors: Neighbors;
  louvain: Int32Array;
  /**
   * PCs neighbours, clusters and UMAP / t-SNE use: all of a stored PCA (the pipeline's
   * `numPCs`); absent (computed PCA) = min(30, nPcs). See pcsUsedOf.
   */
  pcsUsed?: number;
  /** which results are a Seurat object's, used as stored (absent: all computed) */
  stored?: StoredParts;
  /**
   * Each gene's stored entries in order of log-normalised value (numerics/stats/gene-value-order.ts),
   * which makes every Wilcoxon comparison linear in the non-zeros: 8 bytes per non-zero plus
   * 64 bytes per cell. Built once by preprocessing (for a serving open, in the background once
   * the experiment is ready: Experiment.valueOrderReady) and kept in the processed-state cache.
   * Absent in states made by hand (tests) or when that build failed; DifferentialExpression then builds it.
   */
  valueOrder?: GeneValueOrder;
}

export interface StoredParts {
  /** `X_pca` (first `misc$numPCs` components) */
  pca: boolean;
  /** gene means, dispersions and highly variable genes from `misc$gene_dispersion` / variable features */
  genes: boolean;
  /** `louvain` = `seurat_clusters` */
  clusters: boolean;
}

/** The leading PCs neighbours and embeddings are computed on. */
export function pcsUsedOf(state: Pick<ProcessedState, "pca" | "pcsUsed">): number {
  return state.pcsUsed ?? Math.min(PREPROCESS.pcsUsed, state.pca.nPcs);
}

/** LogNormalize from counts and per-cell totals, or the identity when the file held log-normalised values. */
export function normalizerOf(data: Pick<LoadedData, "matrixKind">, state: Pick<ProcessedState, "qc">): Normalizer {
  return data.matrixKind === "counts" ? { kind: "counts", totals: state.qc.totalCounts, scaleFactor: SCALE_FACTOR } : { kind: "identity" };
}

/**
 * QC, genes, PCA, neighbours and clusters, then the value order — unless `opts.valueOrder` is
 * false (a serving open builds it in the background, after the experiment is ready).
 */
export async function preprocess(data: LoadedData, progress: (step: string) => void = () => {}, opts: { valueOrder?: boolean } = {}): Promise<ProcessedState> {
  checkMinimumSize(data);
  const m = data.matrix;
  progress("qc");
  const qc = computeCellQc(m, mitoMask(data.genes.symbols));
  const seurat = data.format === "rds";
  progress("hvg");
  const storedGeneStats = seurat && data.matrixKind === "counts" && hasCompleteDispersions(data);
  const { gene, hvgs } = data.matrixKind === "counts" && !storedGeneStats ? vstGenes(data) : storedGenes(data);
  const norm = normalizerOf(data, { qc });
  progress("pca");
  const storedPca = seurat ? storedPcaOf(data) : undefined;
  let pca: ProcessedState["pca"];
  if (storedPca) {
    pca = storedPca;
  } else {
    const pcaOut = await computePca(m, norm, hvgs, Math.min(PREPROCESS.nPcs, Math.max(1, m.nCells - 1)));
    pca = { nPcs: pcaOut.nPcs, scores: pcaOut.scores, varianceExplained: pcaOut.varianceExplained };
  }
  progress("neighbours");
  // the pipeline's neighbours use all numPCs components; computed PCs: the first 30
  const dims = storedPca ? pca.nPcs : Math.min(PREPROCESS.pcsUsed, pca.nPcs);
  const nn = await sharedNeighbors(firstPcs(pca.scores, m.nCells, pca.nPcs, dims), m.nCells, dims);
  progress("clusters");
  const storedClusters = seurat ? seuratClustersOf(data) : undefined;
  const louvain = storedClusters ?? clusterFromNeighbors(clusteringSubset(nn), PREPROCESS.resolution, PREPROCESS.seed);
  const state: ProcessedState = { qc, gene, hvgs, pca, neighbors: nn, louvain };
  if (opts.valueOrder !== false) {
    progress("value order");
    state.valueOrder = buildGeneValueOrder(m, norm);
  }
  if (seurat) {
    state.stored = { pca: storedPca !== undefined, genes: data.matrixKind === "counts" ? storedGeneStats : hasCompleteDispersions(data), clusters: storedClusters !== undefined };
    if (storedPca) state.pcsUsed = dims;
    const missing = [!state.stored.pca && "PCA", !state.stored.genes && "gene dispersions", !state.stored.clusters && "seurat_clusters"].filter((x) => x);
    if (missing.length > 0) data.notes.push(`The Seurat object has no usable ${missing.join(", ")}: computed by the worker instead.`);
  }
  return state;
}

/** misc$gene_dispersion covers every gene (with its means too when they are stored). */
function hasCompleteDispersions(data: LoadedData): boolean {
  const { dispersions, means } = data.storedGeneStats ?? {};
  const complete = (x: Float64Array | undefined): boolean => x !== undefined && x.length === data.matrix.nGenes && x.every(Number.isFinite);
  return complete(dispersions) && (means === undefined || complete(means));
}

/**
 * A Seurat object's stored PCA (`X_pca`): its first `misc$numPCs` components (all when numPCs is
 * absent or larger), variances from the DimReduc's stdev (else the scores' sample variance);
 * undefined when there is none, it has fewer than 2 components or a non-finite score.
 */
function storedPcaOf(data: LoadedData): ProcessedState["pca"] | undefined {
  const e = data.embeddings["X_pca"];
  const n = data.matrix.nCells;
  if (e === undefined || e.dims < 2 || e.values.length !== n * e.dims || !e.values.every(Number.isFinite)) return undefined;
  const nPcs = Math.min(e.dims, data.seuratMisc?.numPCs ?? e.dims);
  const scores = firstPcs(e.values, n, e.dims, nPcs);
  const stdev = e.stdev;
  const varianceExplained = stdev ? Float64Array.from({ length: nPcs }, (_, j) => stdev[j]! ** 2) : scoreVariances(scores, n, nPcs);
  return { nPcs, scores, varianceExplained };
}

/**
 * meta.data `seurat_clusters` as cluster labels (the level when levels are "0", "1", ...,
 * else the level's position); undefined when absent, not categorical or a cell has none.
 */
function seuratClustersOf(data: LoadedData): Int32Array | undefined {
  const col = data.obs.find((c) => c.name === "seurat_clusters");
  if (col?.kind !== "categorical" || col.codes.some((c) => c < 0)) return undefined;
  const numbered = col.categories.every((c) => /^\d{1,9}$/.test(c)) && new Set(col.categories.map(Number)).size === col.categories.length;
  return Int32Array.from(col.codes, (c) => (numbered ? Number(col.categories[c]) : c));
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
