/**
 * Seurat-style graph clustering of cells from their PCA scores: kNN on the first `dims` PCs,
 * SNN graph (k = 20, Jaccard pruning 1/15), Louvain at the given resolution, fixed seed.
 */
import { louvain, renumberBySize } from "./louvain.ts";
import { leidenFromNeighbors, type Neighbors } from "./scran.ts";
import { nearestNeighbors } from "./neighbors.ts";
import { buildSnnGraph, type WeightedGraph } from "./snn.ts";

export const CLUSTER_DEFAULTS = { k: 20, prune: 1 / 15, resolution: 0.8, seed: 0, dims: 30 } as const;

/** The first `dims` columns of a cells x nPcs row-major score matrix. */
export function firstPcs(scores: Float64Array, nCells: number, nPcs: number, dims: number): Float64Array {
  const d = Math.min(dims, nPcs);
  if (d === nPcs) return scores;
  const out = new Float64Array(nCells * d);
  for (let i = 0; i < nCells; i++) out.set(scores.subarray(i * nPcs, i * nPcs + d), i * d);
  return out;
}

/** UMAP's neighbour count (uwot's and Seurat's n.neighbors = 30). */
export const UMAP_NEIGHBORS = 30;

/**
 * The neighbours preprocessing keeps: the 30 nearest on the first PCs, enough for UMAP (30)
 * and, truncated, for the SNN graph (see `clusteringSubset`). One search serves both.
 */
export function sharedNeighbors(coords: Float64Array, nCells: number, dims: number): Promise<Neighbors> {
  return nearestNeighbors(coords, nCells, dims, Math.max(UMAP_NEIGHBORS, CLUSTER_DEFAULTS.k - 1));
}

/** The first k - 1 neighbours of each cell (Seurat's k.param counts the cell itself). */
export function clusteringSubset(nn: Neighbors, k: number = CLUSTER_DEFAULTS.k): Neighbors {
  const kk = Math.min(k - 1, nn.k);
  if (kk === nn.k) return nn;
  const indices = new Int32Array(nn.nCells * kk);
  const distances = new Float64Array(nn.nCells * kk);
  for (let i = 0; i < nn.nCells; i++) {
    indices.set(nn.indices.subarray(i * nn.k, i * nn.k + kk), i * kk);
    distances.set(nn.distances.subarray(i * nn.k, i * nn.k + kk), i * kk);
  }
  return { nCells: nn.nCells, k: kk, indices, distances };
}

export type ClusterMethod = "louvain" | "leiden";

/**
 * Clusters numbered 0.. by decreasing size. Louvain on Seurat's SNN graph (`graph`, built from
 * `nn` when not given); Leiden (modularity) on scran's Jaccard SNN graph.
 */
export async function clusterCells(nn: Neighbors, method: ClusterMethod, resolution: number, graph?: WeightedGraph): Promise<Int32Array> {
  if (method === "louvain") return clusterFromNeighbors(nn, resolution, CLUSTER_DEFAULTS.seed, graph);
  if (nn.nCells < 2) return new Int32Array(nn.nCells);
  return renumberBySize(await leidenFromNeighbors(nn, resolution));
}

/** Seurat's SNN graph (k = 20 counting the cell, Jaccard, pruned below 1/15) from clustering neighbours. */
export function snnGraphOf(nn: Neighbors): WeightedGraph {
  return buildSnnGraph(nn, nn.k + 1, CLUSTER_DEFAULTS.prune);
}

/**
 * Louvain on the SNN graph. Seurat runs 10 random starts and keeps the best; above 10 000 cells
 * 3 starts are used: the best modularity differs in the 4th decimal while the time is a third.
 */
export function clusterFromNeighbors(nn: Neighbors, resolution: number, seed: number = CLUSTER_DEFAULTS.seed, graph?: WeightedGraph): Int32Array {
  if (nn.nCells < 2) return new Int32Array(nn.nCells);
  return louvain(graph ?? snnGraphOf(nn), { resolution, seed, starts: nn.nCells > 10_000 ? 3 : 10 }).membership;
}
