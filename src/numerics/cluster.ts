/**
 * Seurat-style graph clustering of cells from their PCA scores: kNN on the first `dims` PCs,
 * SNN graph (k = 20, Jaccard pruning 1/15), Louvain at the given resolution, fixed seed.
 */
import { louvain, renumberBySize } from "./louvain.ts";
import { leidenFromNeighbors, nearestNeighbors, type Neighbors } from "./scran.ts";
import { buildSnnGraph } from "./snn.ts";

export const CLUSTER_DEFAULTS = { k: 20, prune: 1 / 15, resolution: 0.8, seed: 0, dims: 30 } as const;

/** The first `dims` columns of a cells x nPcs row-major score matrix. */
export function firstPcs(scores: Float64Array, nCells: number, nPcs: number, dims: number): Float64Array {
  const d = Math.min(dims, nPcs);
  if (d === nPcs) return scores;
  const out = new Float64Array(nCells * d);
  for (let i = 0; i < nCells; i++) out.set(scores.subarray(i * nPcs, i * nPcs + d), i * d);
  return out;
}

/** Neighbours for the SNN graph: k - 1 besides the cell itself, as Seurat's k.param counts self. */
export function clusteringNeighbors(coords: Float64Array, nCells: number, dims: number, k: number = CLUSTER_DEFAULTS.k): Promise<Neighbors> {
  return nearestNeighbors(coords, nCells, dims, k - 1);
}

export type ClusterMethod = "louvain" | "leiden";

/** Clusters numbered 0.. by decreasing size. Louvain on Seurat's SNN graph; Leiden (modularity) on scran's Jaccard SNN graph. */
export async function clusterCells(nn: Neighbors, method: ClusterMethod, resolution: number): Promise<Int32Array> {
  if (method === "louvain") return clusterFromNeighbors(nn, resolution);
  if (nn.nCells < 2) return new Int32Array(nn.nCells);
  return renumberBySize(await leidenFromNeighbors(nn, resolution));
}

export function clusterFromNeighbors(nn: Neighbors, resolution: number, seed: number = CLUSTER_DEFAULTS.seed): Int32Array {
  if (nn.nCells < 2) return new Int32Array(nn.nCells);
  const graph = buildSnnGraph(nn, nn.k + 1, CLUSTER_DEFAULTS.prune);
  return louvain(graph, { resolution, seed, starts: nn.nCells > 50000 ? 3 : 10 }).membership;
}
