/**
 * The largest eigenvalues and their eigenvectors of a dense symmetric matrix: Lanczos with full
 * reorthogonalisation, the tridiagonal matrix solved by implicit QL. Used for the PCA of the
 * scaled HVGs (numerics/sparse-pca.ts), where the matrix is the genes x genes covariance and a
 * few dozen of its top eigenpairs are wanted.
 */
import { Random } from "./random.ts";

export interface Eigenpairs {
  /** the k largest eigenvalues, largest first */
  values: Float64Array;
  /** n x k, column-major: eigenvector j at [j * n, (j + 1) * n), unit length */
  vectors: Float64Array;
}

const EPS = 2 ** -52;

/**
 * Eigen-decomposition of the symmetric tridiagonal matrix with diagonal `d` (length m) and
 * sub-diagonal `e` (e[i] = T[i + 1][i], length ≥ m − 1), by the implicit QL method with shifts
 * (as EISPACK's tql2). Returns the eigenvalues ascending and the eigenvectors, eigenvector i at
 * [i * m, (i + 1) * m); with `lastRowOnly`, only each eigenvector's last component is computed
 * (the others are left 0): O(m²) instead of O(m³), enough for Lanczos's convergence test.
 */
export function tridiagonalEigen(diag: Float64Array, sub: Float64Array, m: number, lastRowOnly = false): { values: Float64Array; vectors: Float64Array } {
  const firstRow = lastRowOnly ? m - 1 : 0;
  const d = Float64Array.from(diag.subarray(0, m));
  const e = new Float64Array(m);
  for (let i = 0; i + 1 < m; i++) e[i] = sub[i]!;
  // vt[i * m + r]: row r of eigenvector i (each vector contiguous for the plane rotations)
  const vt = new Float64Array(m * m);
  for (let i = firstRow; i < m; i++) vt[i * m + i] = 1;
  let f = 0, tst1 = 0;
  for (let l = 0; l < m; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let k = l;
    while (k < m - 1 && Math.abs(e[k]!) > EPS * tst1) k++;
    if (k > l) {
      let iterations = 0;
      do {
        if (++iterations > 60) throw new Error("tridiagonal eigen-decomposition did not converge");
        // Wilkinson-type shift from the leading 2 x 2 block
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < m; i++) d[i] = d[i]! - h;
        f += h;
        // implicit QL sweep from k up to l
        p = d[k]!;
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1]!;
        for (let i = k - 1; i >= l; i--) {
          c3 = c2; c2 = c; s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          const a = i * m, b = (i + 1) * m;
          for (let row = firstRow; row < m; row++) {
            const hi = vt[b + row]!, lo = vt[a + row]!;
            vt[b + row] = s * lo + c * hi;
            vt[a + row] = c * lo - s * hi;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > EPS * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => d[a]! - d[b]!);
  const values = new Float64Array(m);
  const vectors = new Float64Array(m * m);
  order.forEach((src, dst) => {
    values[dst] = d[src]!;
    vectors.set(vt.subarray(src * m, (src + 1) * m), dst * m);
  });
  return { values, vectors };
}

function dot(a: Float64Array, b: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * w minus its components along the basis (classical Gram-Schmidt), repeated once when that
 * removed most of w's length (the DGKS criterion: the second pass restores orthogonality to
 * rounding).
 */
function orthogonalise(w: Float64Array, basis: Float64Array[], n: number): void {
  const coef = new Float64Array(basis.length);
  for (let pass = 0; pass < 2; pass++) {
    const before = Math.sqrt(dot(w, w, n));
    basis.forEach((q, i) => { coef[i] = dot(w, q, n); });
    basis.forEach((q, i) => {
      const c = coef[i]!;
      for (let t = 0; t < n; t++) w[t] = w[t]! - c * q[t]!;
    });
    if (Math.sqrt(dot(w, w, n)) > Math.SQRT1_2 * before) return;
  }
}

/** w = a q for the n x n row-major `a` (four rows at a time: q is read once per four rows). */
function multiply(a: Float64Array, q: Float64Array, w: Float64Array, n: number): void {
  let r = 0;
  for (; r + 4 <= n; r += 4) {
    const r0 = r * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let c = 0; c < n; c++) {
      const x = q[c]!;
      s0 += a[r0 + c]! * x;
      s1 += a[r1 + c]! * x;
      s2 += a[r2 + c]! * x;
      s3 += a[r3 + c]! * x;
    }
    w[r] = s0; w[r + 1] = s1; w[r + 2] = s2; w[r + 3] = s3;
  }
  for (; r < n; r++) {
    let s = 0;
    const row = r * n;
    for (let c = 0; c < n; c++) s += a[row + c]! * q[c]!;
    w[r] = s;
  }
}

/**
 * The k largest eigenpairs of the symmetric n x n matrix `a` (row-major, both triangles filled).
 * Lanczos steps are added until each of the k Ritz pairs has a residual ‖a y − θ y‖ at most
 * `tol` times the largest |θ| (at n steps the decomposition is exact). Deterministic: the start
 * vector comes from a seeded generator.
 */
export function topEigenpairs(a: Float64Array, n: number, k: number, opts: { tol?: number; seed?: number } = {}): Eigenpairs {
  if (k < 1 || k > n) throw new RangeError(`cannot take ${k} eigenpairs of a ${n} x ${n} matrix`);
  const tol = opts.tol ?? 1e-10;
  const rng = new Random(opts.seed ?? 1);
  const randomUnit = (basis: Float64Array[]): Float64Array | null => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = rng.next() - 0.5;
      orthogonalise(v, basis, n);
      const norm = Math.sqrt(dot(v, v, n));
      if (norm > 1e-8) { for (let i = 0; i < n; i++) v[i] = v[i]! / norm; return v; }
    }
    return null;
  };
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(a[i]!));
  const basis: Float64Array[] = [randomUnit([])!];
  const alpha: number[] = [];
  const beta: number[] = [];
  let check = Math.min(n, 2 * k + 10);
  const w = new Float64Array(n);
  const solveT = (steps: number, lastRowOnly = false) => tridiagonalEigen(Float64Array.from(alpha), Float64Array.from(beta), steps, lastRowOnly);
  for (let j = 0; ; j++) {
    const q = basis[j]!;
    multiply(a, q, w, n);
    const al = dot(w, q, n);
    alpha.push(al);
    // the three-term recurrence, then full reorthogonalisation against every earlier vector
    const prev = j > 0 ? basis[j - 1]! : null;
    const be = j > 0 ? beta[j - 1]! : 0;
    for (let i = 0; i < n; i++) w[i] = w[i]! - al * q[i]! - (prev ? be * prev[i]! : 0);
    orthogonalise(w, basis, n);
    const b = Math.sqrt(dot(w, w, n));
    const steps = j + 1;
    if (steps === check || steps === n) {
      const t = solveT(steps, true);
      let converged = true;
      for (let i = 0; i < k && converged; i++) {
        const col = steps - 1 - i;
        converged = b * Math.abs(t.vectors[col * steps + steps - 1]!) <= tol * Math.max(Math.abs(t.values[steps - 1]!), scale * EPS);
      }
      if (converged || steps === n) return ritzPairs(solveT(steps), basis, steps, n, k);
      check = Math.min(n, check + 10);
    }
    // an invariant subspace: continue from a fresh direction orthogonal to it (T splits there)
    if (b <= n * EPS * scale) {
      const fresh = randomUnit(basis);
      if (fresh === null) {
        return ritzPairs(solveT(steps), basis, steps, n, Math.min(k, steps));
      }
      beta.push(0);
      basis.push(fresh);
    } else {
      beta.push(b);
      const next = new Float64Array(n);
      for (let i = 0; i < n; i++) next[i] = w[i]! / b;
      basis.push(next);
    }
  }
}

function ritzPairs(t: { values: Float64Array; vectors: Float64Array }, basis: Float64Array[], steps: number, n: number, k: number): Eigenpairs {
  const values = new Float64Array(k);
  const vectors = new Float64Array(n * k);
  for (let j = 0; j < k; j++) {
    const col = steps - 1 - j;
    values[j] = t.values[col]!;
    const s = t.vectors.subarray(col * steps, (col + 1) * steps);
    const y = vectors.subarray(j * n, (j + 1) * n);
    for (let l = 0; l < steps; l++) {
      const c = s[l]!, q = basis[l]!;
      for (let i = 0; i < n; i++) y[i] = y[i]! + c * q[i]!;
    }
    const norm = Math.sqrt(dot(y, y, n));
    for (let i = 0; i < n; i++) y[i] = y[i]! / norm;
  }
  return { values, vectors };
}
