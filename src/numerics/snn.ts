/**
 * Shared-nearest-neighbour graph as Seurat's FindNeighbors builds it: each cell's neighbourhood
 * is itself plus its k - 1 nearest neighbours; two cells are joined when their neighbourhoods
 * overlap, weighted by the Jaccard index |A ∩ B| / |A ∪ B|; weights below `prune` (1/15) are
 * dropped. The result is a symmetric weighted graph in compressed adjacency form without
 * self-loops: Seurat's SNN matrix has a unit diagonal, but its modularity optimiser ignores
 * self-links, and so does ours.
 */
import type { Neighbors } from "./scran.ts";

export interface WeightedGraph {
  nNodes: number;
  /** adjacency of node i spans [offsets[i], offsets[i+1]) */
  offsets: Float64Array;
  targets: Int32Array;
  weights: Float64Array;
}

export function buildSnnGraph(nn: Neighbors, k: number, prune = 1 / 15): WeightedGraph {
  const n = nn.nCells;
  const kk = Math.min(k - 1, nn.k); // neighbours besides self
  const size = kk + 1;
  // neighbourhood of i: [i, nn.indices[i*nn.k .. i*nn.k+kk)]
  const hood = (i: number, j: number): number => (j === 0 ? i : nn.indices[i * nn.k + j - 1]!);
  // reverse index: for each cell c, the cells whose neighbourhood contains c
  const revCount = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) for (let j = 0; j < size; j++) revCount[hood(i, j) + 1]! += 1;
  for (let c = 0; c < n; c++) revCount[c + 1]! += revCount[c]!;
  const rev = new Int32Array(revCount[n]!);
  const fill = revCount.slice(0, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < size; j++) rev[fill[hood(i, j)]!++] = i;

  const shared = new Int32Array(n);
  const touched: number[] = [];
  const offsets = new Float64Array(n + 1);
  // growable typed buffers: no per-edge JS numbers for the garbage collector
  let targets = new Int32Array(Math.max(16, n * size * 2));
  let weights = new Float64Array(targets.length);
  let nEdges = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < size; j++) {
      const c = hood(i, j);
      for (let p = revCount[c]!; p < revCount[c + 1]!; p++) {
        const other = rev[p]!;
        if (shared[other] === 0) touched.push(other);
        shared[other]! += 1;
      }
    }
    touched.sort((a, b) => a - b);
    if (nEdges + touched.length > targets.length) {
      const grown = Math.max(targets.length * 2, nEdges + touched.length);
      const t = new Int32Array(grown); t.set(targets.subarray(0, nEdges)); targets = t;
      const w = new Float64Array(grown); w.set(weights.subarray(0, nEdges)); weights = w;
    }
    for (const other of touched) {
      const s = shared[other]!;
      const w = s / (2 * size - s);
      if (w >= prune && other !== i) { targets[nEdges] = other; weights[nEdges] = w; nEdges++; }
      shared[other] = 0;
    }
    touched.length = 0;
    offsets[i + 1] = nEdges;
  }
  return { nNodes: n, offsets, targets: targets.slice(0, nEdges), weights: weights.slice(0, nEdges) };
}
