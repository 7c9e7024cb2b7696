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
  // neighbourhood of i: hood[i*size .. (i+1)*size) = [i, nn.indices[i*nn.k .. i*nn.k+kk)]
  const hood = new Int32Array(n * size);
  for (let i = 0; i < n; i++) {
    hood[i * size] = i;
    for (let j = 1; j < size; j++) hood[i * size + j] = nn.indices[i * nn.k + j - 1]!;
  }
  // reverse index: for each cell c, the cells whose neighbourhood contains c, ascending
  const revStart = new Int32Array(n + 1);
  for (let q = 0; q < hood.length; q++) revStart[hood[q]! + 1]!++;
  for (let c = 0; c < n; c++) revStart[c + 1]! += revStart[c]!;
  const rev = new Int32Array(revStart[n]!);
  const fill = revStart.slice(0, n);
  for (let q = 0; q < hood.length; q++) rev[fill[hood[q]!]!++] = (q / size) | 0;

  // The shared count s(a, b) = Σ_c mult_a(c)·mult_b(c) is symmetric, and so is the weight
  // s / (2·size − s): each pair is counted once, from its smaller cell (a cursor per cell c
  // skips the entries of rev[c] up to the current cell), and stored in both rows.
  const cursor = revStart.slice(0, n);
  const shared = new Int32Array(n);
  let touched = new Int32Array(64);
  // upper-triangle edges (a < b), a ascending, b in order of discovery within a
  let upTargets = new Int32Array(Math.max(16, n * size * 2));
  let upWeights = new Float64Array(upTargets.length);
  const upEnd = new Int32Array(n + 1);
  let nUp = 0;
  for (let i = 0; i < n; i++) {
    let nTouched = 0;
    for (let q = i * size; q < (i + 1) * size; q++) {
      const c = hood[q]!;
      const end = revStart[c + 1]!;
      let p = cursor[c]!;
      while (p < end && rev[p]! <= i) p++;
      cursor[c] = p;
      for (; p < end; p++) {
        const other = rev[p]!;
        if (shared[other] === 0) {
          if (nTouched === touched.length) { const t = new Int32Array(touched.length * 2); t.set(touched); touched = t; }
          touched[nTouched++] = other;
        }
        shared[other]! += 1;
      }
    }
    if (nUp + nTouched > upTargets.length) {
      const grown = Math.max(upTargets.length * 2, nUp + nTouched);
      const t = new Int32Array(grown); t.set(upTargets.subarray(0, nUp)); upTargets = t;
      const w = new Float64Array(grown); w.set(upWeights.subarray(0, nUp)); upWeights = w;
    }
    for (let q = 0; q < nTouched; q++) {
      const other = touched[q]!;
      const s = shared[other]!;
      const w = s / (2 * size - s);
      if (w >= prune) { upTargets[nUp] = other; upWeights[nUp] = w; nUp++; }
      shared[other] = 0;
    }
    upEnd[i + 1] = nUp;
  }
  // Both directions, rows ascending by target, by two counting sorts (no comparisons): row r
  // is [a < r ascending, then b > r ascending]. First each edge (a, b) goes to the front part
  // of row b, visited by a ascending; then, visiting rows b ascending, each front entry a of
  // row b puts b in the back part of row a.
  const inCount = new Int32Array(n);
  for (let p = 0; p < nUp; p++) inCount[upTargets[p]!]!++;
  const offsets = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + inCount[i]! + (upEnd[i + 1]! - upEnd[i]!);
  const nEdges = offsets[n]!;
  const targets = new Int32Array(nEdges);
  const weights = new Float64Array(nEdges);
  const front = new Int32Array(n);
  for (let i = 0; i < n; i++) front[i] = offsets[i]!;
  for (let a = 0; a < n; a++) {
    for (let p = upEnd[a]!; p < upEnd[a + 1]!; p++) {
      const at = front[upTargets[p]!]!++;
      targets[at] = a;
      weights[at] = upWeights[p]!;
    }
  }
  const back = front; // now offsets[i] + inCount[i]: where row i's back part starts
  for (let b = 0; b < n; b++) {
    const end = offsets[b]! + inCount[b]!;
    for (let p = offsets[b]!; p < end; p++) {
      const at = back[targets[p]!]!++;
      targets[at] = b;
      weights[at] = weights[p]!;
    }
  }
  return { nNodes: n, offsets, targets, weights };
}
