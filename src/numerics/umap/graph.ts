/**
 * UMAP's fuzzy simplicial set from each cell's k nearest neighbours (the UMAP paper, section
 * 3; umap-learn's documented defaults: local connectivity 1, bandwidth 1, union by the
 * probabilistic t-conorm).
 *
 * For cell i with neighbour distances d_1 <= ... <= d_k, rho_i is the distance to the nearest
 * neighbour at a positive distance and sigma_i solves
 *   sum_j exp(-max(0, d_j - rho_i) / sigma_i) = log2(k + 1)
 * (k + 1: the neighbour lists exclude the cell itself, which umap-learn's n_neighbors counts).
 * The directed weight i -> j is exp(-max(0, d_ij - rho_i) / sigma_i); the graph is
 * W = A + A' - A∘A', kept in compressed rows with both directions of each edge.
 */
export interface FuzzyGraph {
  nCells: number;
  /** row start of each cell, length nCells + 1 */
  indptr: Int32Array;
  /** column (other cell) of each entry */
  indices: Int32Array;
  weights: Float64Array;
}

/** Neighbour lists: cells x k row-major, nearest first, the cell itself excluded. */
export interface NeighborLists {
  nCells: number;
  k: number;
  indices: Int32Array;
  distances: Float64Array;
}

const TOLERANCE = 1e-5;
const MIN_SCALE = 1e-3;

export function fuzzySimplicialSet(nn: NeighborLists): FuzzyGraph {
  const { nCells: n, k, indices, distances } = nn;
  const target = Math.log2(k + 1);
  let meanAll = 0;
  for (let t = 0; t < n * k; t++) meanAll += distances[t]!;
  meanAll /= Math.max(1, n * k);

  // directed memberships, same layout as the neighbour lists
  const directed = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    let rho = 0;
    for (let j = 0; j < k; j++) { const d = distances[o + j]!; if (d > 0) { rho = d; break; } }
    let lo = 0, hi = Infinity, mid = 1;
    for (let iter = 0; iter < 64; iter++) {
      let psum = 0;
      for (let j = 0; j < k; j++) {
        const d = distances[o + j]! - rho;
        psum += d > 0 ? Math.exp(-d / mid) : 1;
      }
      if (Math.abs(psum - target) < TOLERANCE) break;
      if (psum > target) { hi = mid; mid = (lo + hi) / 2; }
      else { lo = mid; mid = hi === Infinity ? mid * 2 : (lo + hi) / 2; }
    }
    let meanI = 0;
    for (let j = 0; j < k; j++) meanI += distances[o + j]!;
    meanI /= Math.max(1, k);
    const floor = MIN_SCALE * (rho > 0 ? meanI : meanAll);
    const sigma = Math.max(mid, floor);
    for (let j = 0; j < k; j++) {
      const d = distances[o + j]! - rho;
      directed[o + j] = indices[o + j] === i ? 0 : d > 0 ? Math.exp(-d / sigma) : 1;
    }
  }

  // both directions of every directed entry, merged per row: w = a + b - ab
  const count = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) { count[i + 1]!++; count[indices[i * k + j]! + 1]!++; }
  }
  for (let i = 0; i < n; i++) count[i + 1]! += count[i]!;
  const rawCol = new Int32Array(count[n]!), rawW = new Float64Array(count[n]!);
  const fill = count.slice(0, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const c = indices[i * k + j]!, w = directed[i * k + j]!;
      let p = fill[i]!++; rawCol[p] = c; rawW[p] = w;
      p = fill[c]!++; rawCol[p] = i; rawW[p] = w;
    }
  }
  const indptr = new Int32Array(n + 1);
  const outCol = new Int32Array(rawCol.length), outW = new Float64Array(rawCol.length);
  // slot[c]: where column c sits in the current row, valid while rowOf[c] is that row
  const slot = new Int32Array(n), rowOf = new Int32Array(n).fill(-1);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const start = m;
    for (let p = count[i]!; p < count[i + 1]!; p++) {
      const c = rawCol[p]!, w = rawW[p]!;
      if (rowOf[c] === i) { const s = slot[c]!; outW[s] = outW[s]! + w - outW[s]! * w; }
      else { rowOf[c] = i; slot[c] = m; outCol[m] = c; outW[m] = w; m++; }
    }
    // drop zero weights and the cell itself
    let w = start;
    for (let p = start; p < m; p++) if (outW[p]! > 0 && outCol[p] !== i) { outCol[w] = outCol[p]!; outW[w] = outW[p]!; w++; }
    m = w;
    indptr[i + 1] = m;
  }
  return { nCells: n, indptr, indices: outCol.subarray(0, m), weights: outW.subarray(0, m) };
}
