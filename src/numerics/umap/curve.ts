/**
 * UMAP's low-dimensional similarity 1 / (1 + a d^(2b)), with a and b chosen (as the UMAP paper
 * and umap-learn describe) by least squares against the target curve
 *   f(d) = 1 for d < minDist, exp(-(d - minDist) / spread) beyond,
 * sampled at 300 points evenly over [0, 3 spread].
 */
export interface CurveParams {
  a: number;
  b: number;
}

const memo = new Map<string, CurveParams>();

/** a, b for min_dist (and spread, 1 unless given): a 1.577, b 0.895 for min_dist 0.1; a 0.992, b 1.112 for 0.3. */
export function fitCurve(minDist: number, spread = 1): CurveParams {
  const key = `${minDist}:${spread}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const n = 300;
  const xs = new Float64Array(n), ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = (3 * spread * i) / (n - 1);
    xs[i] = x;
    ys[i] = x < minDist ? 1 : Math.exp(-(x - minDist) / spread);
  }
  // Levenberg–Marquardt on the two parameters, from a = b = 1
  let a = 1, b = 1;
  let lambda = 1e-3;
  let sse = sumSquares(xs, ys, a, b);
  for (let iter = 0; iter < 200; iter++) {
    // normal equations J'J and J'r of the residuals r = model - y
    let jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
    for (let i = 0; i < n; i++) {
      const x = xs[i]!;
      if (x === 0) continue; // the model is 1 = the target there, whatever a and b
      const x2b = Math.pow(x, 2 * b);
      const den = 1 + a * x2b;
      const model = 1 / den;
      const r = model - ys[i]!;
      const da = -x2b / (den * den);
      const db = (-a * x2b * 2 * Math.log(x)) / (den * den);
      jaa += da * da; jab += da * db; jbb += db * db;
      ga += da * r; gb += db * r;
    }
    let improved = false;
    for (let tries = 0; tries < 30; tries++) {
      const A = jaa * (1 + lambda), D = jbb * (1 + lambda), B = jab;
      const det = A * D - B * B;
      if (!(det > 0)) { lambda *= 10; continue; }
      const stepA = -(D * ga - B * gb) / det;
      const stepB = -(A * gb - B * ga) / det;
      const na = a + stepA, nb = b + stepB;
      const nsse = na > 0 && nb > 0 ? sumSquares(xs, ys, na, nb) : Infinity;
      if (nsse < sse) {
        const done = sse - nsse < 1e-14 * Math.max(1, sse);
        a = na; b = nb; sse = nsse; lambda = Math.max(lambda / 10, 1e-12);
        improved = !done;
        break;
      }
      lambda *= 10;
    }
    if (!improved) break;
  }
  const out = { a, b };
  memo.set(key, out);
  return out;
}

function sumSquares(xs: Float64Array, ys: Float64Array, a: number, b: number): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) {
    const r = 1 / (1 + a * Math.pow(xs[i]!, 2 * b)) - ys[i]!;
    s += r * r;
  }
  return s;
}
