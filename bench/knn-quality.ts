/**
 * The embedding benchmarks' quality measure (bench/tsne-quality.ts, bench/umap-quality.ts):
 * exact k nearest neighbours and the kNN preservation of test/science (the mean fraction of each
 * cell's k nearest in one space kept among its k nearest in another).
 */

/** Each row's k nearest other rows (exact, Euclidean, ties by index), n x d row-major; only `rows` when given. */
export function exactKnn(x: Float64Array, n: number, d: number, k: number, rows: Int32Array | null = null): Int32Array[] {
  const out: Int32Array[] = [];
  const bestD = new Float64Array(k), bestI = new Int32Array(k);
  for (let r = 0; r < (rows ? rows.length : n); r++) {
    const i = rows ? rows[r]! : r;
    bestD.fill(Infinity); bestI.fill(-1);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let s = 0;
      for (let t = 0; t < d; t++) { const diff = x[i * d + t]! - x[j * d + t]!; s += diff * diff; }
      if (s >= bestD[k - 1]!) continue;
      let p = k - 1;
      while (p > 0 && bestD[p - 1]! > s) { bestD[p] = bestD[p - 1]!; bestI[p] = bestI[p - 1]!; p--; }
      bestD[p] = s; bestI[p] = j;
    }
    out.push(bestI.slice());
  }
  return out;
}

/** The science tests' measure itself. */
export { knnPreservation } from "../test/science/reference.ts";
