/**
 * One-predictor LOESS (local quadratic regression with tricube weights), the smoother Seurat's
 * `vst` uses (`loess(log10(var) ~ log10(mean), span = 0.3)`, degree 2).
 *
 * R evaluates the local fits at the vertices of a k-d tree and interpolates between them
 * (`surface = "interpolate"`); this computes the local fit exactly at every point, which
 * differs from R's interpolated surface only in the far decimals (see the science tests).
 */

/**
 * Fitted values at each x. `span` is the fraction of points in each neighbourhood.
 * Runs in O(n · q) with q = floor(n · span): the q nearest neighbours of a point are a
 * contiguous window of the sorted x, found by sliding.
 */
export function loessFit(x: Float64Array, y: Float64Array, span = 0.3): Float64Array {
  const n = x.length;
  const fitted = new Float64Array(n);
  if (n === 0) return fitted;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const xs = Float64Array.from(order, (i) => x[i]!);
  const ys = Float64Array.from(order, (i) => y[i]!);
  const q = Math.max(Math.min(Math.floor(n * span), n), Math.min(3, n));
  let lo = 0;
  for (let i = 0; i < n; i++) {
    const x0 = xs[i]!;
    // slide the window [lo, lo+q) right while that brings it closer to x0
    while (lo + q < n && x0 - xs[lo]! > xs[lo + q]! - x0) lo++;
    const hi = lo + q - 1;
    let h = Math.max(x0 - xs[lo]!, xs[hi]! - x0);
    if (h <= 0) h = 1e-12;
    fitted[order[i]!] = localQuadratic(xs, ys, lo, hi, x0, h);
  }
  return fitted;
}

/** Weighted least squares of y on (1, u, u²), u = (x - x0)/h, over [lo, hi]; returns the intercept. */
function localQuadratic(xs: Float64Array, ys: Float64Array, lo: number, hi: number, x0: number, h: number): number {
  // normal equations: sums of w·u^k (k = 0..4) and w·u^k·y (k = 0..2)
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, t0 = 0, t1 = 0, t2 = 0;
  for (let j = lo; j <= hi; j++) {
    const u = (xs[j]! - x0) / h;
    const a = Math.abs(u);
    if (a >= 1) continue;
    const c = 1 - a * a * a;
    const w = c * c * c;
    const u2 = u * u;
    const yj = ys[j]!;
    s0 += w; s1 += w * u; s2 += w * u2; s3 += w * u2 * u; s4 += w * u2 * u2;
    t0 += w * yj; t1 += w * u * yj; t2 += w * u2 * yj;
  }
  const coef = solve3(s0, s1, s2, s1, s2, s3, s2, s3, s4, t0, t1, t2);
  if (coef !== null) return coef;
  // degenerate neighbourhood (all x equal): local linear, then local mean
  const det2 = s0 * s2 - s1 * s1;
  if (Math.abs(det2) > 1e-12 * Math.max(1, s0 * s2)) return (t0 * s2 - s1 * t1) / det2;
  return s0 > 0 ? t0 / s0 : ys[lo]!;
}

/** First unknown of a symmetric 3x3 system by Cramer's rule, or null when near-singular. */
function solve3(
  a: number, b: number, c: number,
  d: number, e: number, f: number,
  g: number, h: number, i: number,
  r0: number, r1: number, r2: number,
): number | null {
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  const scale = Math.abs(a * e * i) + Math.abs(b * f * g) + Math.abs(c * d * h) + 1e-300;
  if (Math.abs(det) <= 1e-10 * scale) return null;
  return (r0 * (e * i - f * h) - b * (r1 * i - f * r2) + c * (r1 * h - e * r2)) / det;
}
