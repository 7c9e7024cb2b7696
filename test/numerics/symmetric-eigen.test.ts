/**
 * The PCA's linear algebra (numerics/symmetric-eigen.ts, numerics/sparse-pca.ts) on matrices
 * whose answers are known: a tridiagonal matrix with closed-form eigenvalues, a symmetric matrix
 * built from a chosen spectrum (clustered and repeated eigenvalues included), and the PCA's
 * invariants on a sparse matrix (scores uncorrelated, their variances the reported ones, the
 * total variance every feature's).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { topEigenpairs, tridiagonalEigen } from "../../src/numerics/symmetric-eigen.ts";
import { covariancePca } from "../../src/numerics/sparse-pca.ts";
import { Random } from "../../src/numerics/random.ts";

test("tridiagonal: the path graph's Laplacian has eigenvalues 2 − 2cos(jπ/(m+1)) and orthonormal eigenvectors", () => {
  const m = 40;
  const d = new Float64Array(m).fill(2), e = new Float64Array(m - 1).fill(-1);
  const { values, vectors } = tridiagonalEigen(d, e, m);
  for (let j = 0; j < m; j++) assert.ok(Math.abs(values[j]! - (2 - 2 * Math.cos(((j + 1) * Math.PI) / (m + 1)))) < 1e-12, `λ${j}`);
  for (let a = 0; a < m; a += 7) {
    for (let b = 0; b < m; b += 5) {
      let s = 0;
      for (let r = 0; r < m; r++) s += vectors[a * m + r]! * vectors[b * m + r]!;
      assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-12, `v${a}·v${b} = ${s}`);
    }
    // T v = λ v
    for (let r = 0; r < m; r++) {
      const v = (i: number): number => (i < 0 || i >= m ? 0 : vectors[a * m + i]!);
      assert.ok(Math.abs(2 * v(r) - v(r - 1) - v(r + 1) - values[a]! * v(r)) < 1e-12);
    }
  }
  // the convergence test's variant: the same eigenvalues and each eigenvector's last component
  const last = tridiagonalEigen(d, e, m, true);
  for (let j = 0; j < m; j++) {
    assert.equal(last.values[j], values[j]);
    assert.ok(Math.abs(Math.abs(last.vectors[j * m + m - 1]!) - Math.abs(vectors[j * m + m - 1]!)) < 1e-12);
  }
});

/** Q diag(λ) Qᵀ with Q a product of random Householder reflections. */
function withSpectrum(lambda: number[], seed: number): Float64Array {
  const n = lambda.length;
  const rng = new Random(seed);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let h = 0; h < 4; h++) {
    const u = Float64Array.from({ length: n }, () => rng.next() - 0.5);
    const norm = Math.hypot(...u);
    for (let i = 0; i < n; i++) u[i] = u[i]! / norm;
    // Q ← (I − 2uuᵀ) Q
    for (let c = 0; c < n; c++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += u[r]! * q[r * n + c]!;
      for (let r = 0; r < n; r++) q[r * n + c] = q[r * n + c]! - 2 * u[r]! * s;
    }
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let l = 0; l < n; l++) s += q[i * n + l]! * lambda[l]! * q[j * n + l]!;
    a[i * n + j] = s;
  }
  return a;
}

test("Lanczos: the top eigenpairs of a matrix with a known spectrum, clustered and repeated eigenvalues included", () => {
  const n = 250, k = 20;
  // a few large eigenvalues, then a tail of close ones (as the PCs of expression data), one repeated
  const lambda = Array.from({ length: n }, (_, i) => (i < 5 ? 50 / (i + 1) : 3 - 0.004 * i));
  lambda[7] = lambda[8]!;
  const a = withSpectrum(lambda, 3);
  const { values, vectors } = topEigenpairs(a, n, k);
  const sorted = [...lambda].sort((x, y) => y - x);
  for (let j = 0; j < k; j++) {
    assert.ok(Math.abs(values[j]! - sorted[j]!) < 1e-9, `λ${j + 1} ${values[j]} vs ${sorted[j]}`);
    // ‖A v − λ v‖ small and ‖v‖ = 1
    let res = 0, norm = 0;
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += a[r * n + c]! * vectors[j * n + c]!;
      res += (s - values[j]! * vectors[j * n + r]!) ** 2;
      norm += vectors[j * n + r]! ** 2;
    }
    assert.ok(Math.sqrt(res) < 1e-8, `residual of pair ${j + 1}: ${Math.sqrt(res)}`);
    assert.ok(Math.abs(norm - 1) < 1e-12);
  }
  // the two vectors of the repeated eigenvalue are orthogonal
  let s = 0;
  for (let r = 0; r < n; r++) s += vectors[7 * n + r]! * vectors[8 * n + r]!;
  assert.ok(Math.abs(s) < 1e-9, `v8·v9 = ${s}`);
  // deterministic
  assert.deepEqual(topEigenpairs(a, n, k).vectors, vectors);
});

test("Lanczos: every eigenpair of a low-rank matrix (the Krylov space ends early) and k = n", () => {
  const n = 30;
  const lambda = Array.from({ length: n }, (_, i) => (i < 3 ? 3 - i : 0));
  const a = withSpectrum(lambda, 5);
  const all = topEigenpairs(a, n, n);
  assert.equal(all.values.length, n);
  assert.ok(Math.abs(all.values[0]! - 3) < 1e-12 && Math.abs(all.values[2]! - 1) < 1e-12);
  for (let j = 3; j < n; j++) assert.ok(Math.abs(all.values[j]!) < 1e-12, `λ${j + 1} = ${all.values[j]}`);
  assert.throws(() => topEigenpairs(a, n, n + 1), RangeError);
});

test("sparse PCA: scores centred and uncorrelated, their variances the reported ones, the total every feature's variance", () => {
  const nF = 40, nCells = 500, k = 10;
  const rng = new Random(11);
  const indptr = new Int32Array(nF + 1);
  const cells: number[] = [], vals: number[] = [];
  const dense = new Float64Array(nF * nCells);
  for (let f = 0; f < nF; f++) {
    for (let c = 0; c < nCells; c++) {
      // a few correlated programmes plus noise, ~30 % non-zero
      if (rng.next() < 0.3) {
        const v = (c % 5 === f % 5 ? 3 : 1) * rng.next() + (f < 4 ? c / nCells : 0);
        cells.push(c); vals.push(v); dense[f * nCells + c] = v;
      }
    }
    indptr[f + 1] = cells.length;
  }
  const out = covariancePca(nF, nCells, indptr, Int32Array.from(cells), Float64Array.from(vals), k, { rotation: true });
  assert.equal(out.nPcs, k);
  let total = 0;
  const means = new Float64Array(nF);
  for (let f = 0; f < nF; f++) {
    let s = 0, ss = 0;
    for (let c = 0; c < nCells; c++) { s += dense[f * nCells + c]!; ss += dense[f * nCells + c]! ** 2; }
    means[f] = s / nCells;
    total += (ss - (s * s) / nCells) / (nCells - 1);
  }
  assert.ok(Math.abs(out.totalVariance - total) < 1e-9 * total);
  const col = (j: number): Float64Array => Float64Array.from({ length: nCells }, (_, c) => out.scores[c * k + j]!);
  for (let j = 0; j < k; j++) {
    const x = col(j);
    const mean = x.reduce((s, v) => s + v, 0) / nCells;
    assert.ok(Math.abs(mean) < 1e-10, `PC${j + 1} mean ${mean}`);
    const variance = x.reduce((s, v) => s + v * v, 0) / (nCells - 1);
    assert.ok(Math.abs(variance - out.varianceExplained[j]!) < 1e-9 * variance, `PC${j + 1} variance`);
    if (j > 0) assert.ok(out.varianceExplained[j]! <= out.varianceExplained[j - 1]!);
    for (let l = 0; l < j; l++) {
      const y = col(l);
      let s = 0;
      for (let c = 0; c < nCells; c++) s += x[c]! * y[c]!;
      assert.ok(Math.abs(s / (nCells - 1)) < 1e-9, `PC${j + 1} · PC${l + 1}`);
    }
    // scores are the centred data times the loadings (the PC's sign flipped as a whole, if at all)
    const projected = Float64Array.from({ length: nCells }, (_, c) => {
      let p = 0;
      for (let f = 0; f < nF; f++) p += (dense[f * nCells + c]! - means[f]!) * out.rotation![f + j * nF]!;
      return p;
    });
    const sign = Math.sign(projected[0]! * x[0]!);
    for (let c = 0; c < nCells; c++) assert.ok(Math.abs(sign * projected[c]! - x[c]!) < 1e-9, `cell ${c} PC${j + 1}`);
  }
  // each PC oriented: its largest-magnitude score is positive
  for (let j = 0; j < k; j++) {
    const x = col(j);
    const top = x.reduce((b, v) => (Math.abs(v) > Math.abs(b) ? v : b), 0);
    assert.ok(top > 0);
  }
});
