/**
 * 2-D embeddings of an experiment (UMAP, t-SNE) from its PCA (the first 30 PCs, or all of a
 * Seurat object's stored PCA: its numPCs, as the R worker's umap2 / RunTSNE use), computed once per parameter set
 * and kept for the experiment's lifetime. A layout with any non-finite coordinate is a
 * WORKER_ERROR, never a result (nor memoised).
 */
import type { Experiment } from "./experiment.ts";
import { firstPcs, UMAP_NEIGHBORS } from "../numerics/cluster.ts";
import { embed2d } from "../numerics/scran.ts";
import { nearestNeighbors } from "../numerics/neighbors.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";
import { pcsUsedOf } from "./preprocess.ts";

export type EmbeddingParams =
  | { type: "umap"; minDist: number; metric: "euclidean" | "cosine" }
  | { type: "tsne"; perplexity: number; learningRate: number };

/** cells x 2 row-major coordinates; memoised per parameters. */
export function computeEmbedding(exp: Experiment, params: EmbeddingParams, progress?: (f: number) => void): Promise<Float64Array> {
  return exp.memoize(`embedding:${JSON.stringify(params)}`, async () => {
    const { pca } = exp.state;
    const dims = pcsUsedOf(exp.state);
    let coords = firstPcs(pca.scores, exp.nCells, pca.nPcs, dims);
    if (params.type === "umap" && params.metric === "cosine") coords = rowNormalized(coords, exp.nCells, dims);
    const k = params.type === "umap" ? UMAP_NEIGHBORS : Math.ceil(3 * params.perplexity);
    // euclidean UMAP uses the neighbours preprocessing kept (computed on the same PCs)
    const kept = exp.state.neighbors;
    const reuse = params.type === "umap" && params.metric === "euclidean" && kept.k === k;
    const nn = reuse ? kept : await nearestNeighbors(coords, exp.nCells, dims, k);
    const out = await embed2d(
      nn,
      params.type === "umap"
        // starts from the first two of the PCs the neighbours were found in
        ? { method: "umap", minDist: params.minDist, epochs: umapEpochs(exp.nCells), start: coords, startDims: dims }
        // t-SNE starts from the first two PCs (deterministic; keeps the global arrangement)
        : { method: "tsne", perplexity: params.perplexity, learningRate: params.learningRate, init: firstPcs(coords, exp.nCells, dims, 2) },
      progress,
    );
    const bad = nonFiniteCells(out, exp.nCells, 2);
    if (bad > 0) {
      throw new WorkerError(ErrorCode.WORKER_ERROR, `The ${params.type} layout failed: ${bad} of ${exp.nCells} cells got non-finite coordinates. Try other ${params.type} settings.`);
    }
    return out;
  });
}

/**
 * UMAP's epochs: 200 up to 10 000 cells, 150 above (uwot and umap-learn run 500 and 200). Their
 * kNN-15 preservation stays within 0.01 of scran.js's 500 / 200 epochs on pbmc3k and the 12.6k-cell
 * set (bench/umap-quality.ts; bench/results/2026-12-05-umap-tuning.json).
 */
export function umapEpochs(nCells: number): number {
  return nCells > 10_000 ? 150 : 200;
}

/** How many cells of a cells x dims row-major array have a non-finite value in their first two dims. */
export function nonFiniteCells(coords: Float64Array, nCells: number, dims: number): number {
  let bad = 0;
  for (let i = 0; i < nCells; i++) if (!Number.isFinite(coords[i * dims]!) || !Number.isFinite(coords[i * dims + 1]!)) bad++;
  return bad;
}

/** Rows scaled to unit length: Euclidean neighbours of these are cosine neighbours of the input. */
function rowNormalized(x: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! ** 2;
    const norm = Math.sqrt(s) || 1;
    for (let j = 0; j < d; j++) out[i * d + j] = x[i * d + j]! / norm;
  }
  return out;
}
