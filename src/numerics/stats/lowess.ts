/** R's `lowess` smoother (a port of its C `clowess`), as voom fits its mean-variance trend. */

/**
 * R's `lowess(x, y, f, iter, delta)`: Cleveland's robust locally linear smoother, a port of
 * R's C `clowess` (tricube weights over the ns = max(2, min(n, ⌊f·n + 1e-7⌋)) nearest points,
 * points within `delta` of the last fitted x interpolated, `iter` bisquare robustness
 * iterations with 6 · median |residual|). Returns the sorted x and the fitted values.
 */
export function lowess(xIn: ArrayLike<number>, yIn: ArrayLike<number>, f = 2 / 3, iter = 3, delta?: number): { x: Float64Array; y: Float64Array } {
  const n = xIn.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => xIn[a]! - xIn[b]! || a - b);
  const x = Float64Array.from(order, (i) => xIn[i]!);
  const y = Float64Array.from(order, (i) => yIn[i]!);
  const d = delta ?? 0.01 * (n > 0 ? x[n - 1]! - x[0]! : 0);
  const ys = new Float64Array(n);
  if (n === 0) return { x, y: ys };
  if (n < 2) { ys[0] = y[0]!; return { x, y: ys }; }
  const rw = new Float64Array(n);
  const res = new Float64Array(n);
  const ns = Math.max(2, Math.min(n, Math.trunc(f * n + 1e-7)));
  for (let it = 1; it <= iter + 1; it++) {
    let nleft = 0;
    let nright = ns - 1;
    let last = -1;
    let i = 0;
    for (;;) {
      if (nright < n - 1) {
        const d1 = x[i]! - x[nleft]!;
        const d2 = x[nright + 1]! - x[i]!;
        if (d1 > d2) { nleft++; nright++; continue; }
      }
      const fit = lowest(x, y, n, x[i]!, nleft, nright, res, it > 1, rw);
      ys[i] = fit === null ? y[i]! : fit;
      if (last < i - 1) {
        const denom = x[i]! - x[last]!;
        for (let j = last + 1; j < i; j++) {
          const alpha = (x[j]! - x[last]!) / denom;
          ys[j] = alpha * ys[i]! + (1 - alpha) * ys[last]!;
        }
      }
      last = i;
      const cut = x[last]! + d;
      for (i = last + 1; i < n; i++) {
        if (x[i]! > cut) break;
        if (x[i] === x[last]) { ys[i] = ys[last]!; last = i; }
      }
      i = Math.max(last + 1, i - 1);
      if (last >= n - 1) break;
    }
    for (let k = 0; k < n; k++) res[k] = y[k]! - ys[k]!;
    let sc = 0;
    for (let k = 0; k < n; k++) sc += Math.abs(res[k]!);
    sc /= n;
    if (it > iter) break;
    for (let k = 0; k < n; k++) rw[k] = Math.abs(res[k]!);
    const sortedAbs = Float64Array.from(rw).sort();
    const m1 = n >> 1;
    const cmad = n % 2 === 0 ? 3 * (sortedAbs[m1]! + sortedAbs[n - m1 - 1]!) : 6 * sortedAbs[m1]!;
    if (cmad < 1e-7 * sc) break;
    const c9 = 0.999 * cmad;
    const c1 = 0.001 * cmad;
    for (let k = 0; k < n; k++) {
      const r = Math.abs(res[k]!);
      if (r <= c1) rw[k] = 1;
      else if (r <= c9) { const u = r / cmad; const v = 1 - u * u; rw[k] = v * v; } else rw[k] = 0;
    }
  }
  return { x, y: ys };
}

/** One local fit of clowess at xs over [nleft, nright] (ties on the right included); null when all weights are 0. */
function lowest(x: Float64Array, y: Float64Array, n: number, xs: number, nleft: number, nright: number, w: Float64Array, userw: boolean, rw: Float64Array): number | null {
  const range = x[n - 1]! - x[0]!;
  const h = Math.max(xs - x[nleft]!, x[nright]! - xs);
  const h9 = 0.999 * h;
  const h1 = 0.001 * h;
  let a = 0;
  let j = nleft;
  while (j < n) {
    w[j] = 0;
    const r = Math.abs(x[j]! - xs);
    if (r <= h9) {
      if (r <= h1) w[j] = 1;
      else { const u = r / h; const v = 1 - u * u * u; w[j] = v * v * v; }
      if (userw) w[j]! *= rw[j]!;
      a += w[j]!;
    } else if (x[j]! > xs) break;
    j++;
  }
  const nrt = j - 1;
  if (a <= 0) return null;
  for (j = nleft; j <= nrt; j++) w[j]! /= a;
  if (h > 0) {
    a = 0;
    for (j = nleft; j <= nrt; j++) a += w[j]! * x[j]!;
    let b = xs - a;
    let c = 0;
    for (j = nleft; j <= nrt; j++) c += w[j]! * (x[j]! - a) * (x[j]! - a);
    if (Math.sqrt(c) > 0.001 * range) {
      b /= c;
      for (j = nleft; j <= nrt; j++) w[j]! *= b * (x[j]! - a) + 1;
    }
  }
  let ys = 0;
  for (j = nleft; j <= nrt; j++) ys += w[j]! * y[j]!;
  return ys;
}
