/**
 * The special functions limma's empirical Bayes needs, mirroring R's nmath where it matters
 * with ~1e-14 relative accuracy (rather than R's TOMS 708 code): log Γ and log B (R's
 * large-argument forms), the digamma / trigamma / tetragamma functions, limma's
 * `trigammaInverse`, and the logs of the regularised incomplete beta and gamma functions
 * (continued fractions and series). The distributions built on them are in distributions.ts.
 */

const LN_SQRT_2PI = 0.918938533204672741780329736406;

/** lgamma(x) − Stirling's approximation, for x ≥ 10. */
function stirlingRemainder(x: number): number {
  const x2 = 1 / (x * x);
  return (1 / 12 + x2 * (-1 / 360 + x2 * (1 / 1260 + x2 * (-1 / 1680 + x2 * (1 / 1188 + x2 * (-691 / 360360 + x2 / 156)))))) / x;
}

/** log Γ(x), x > 0. */
export function lgamma(x: number): number {
  if (x >= 10) return (x - 0.5) * Math.log(x) - x + LN_SQRT_2PI + stirlingRemainder(x);
  let prod = 1;
  let z = x;
  while (z < 10) { prod *= z; z += 1; }
  return (z - 0.5) * Math.log(z) - z + LN_SQRT_2PI + stirlingRemainder(z) - Math.log(prod);
}

/** log B(a, b), with R's large-argument forms (no cancellation of big lgammas). */
export function lbeta(a: number, b: number): number {
  const p = Math.min(a, b);
  const q = Math.max(a, b);
  if (p >= 10) {
    const corr = stirlingRemainder(p) + stirlingRemainder(q) - stirlingRemainder(p + q);
    return -0.5 * Math.log(q) + LN_SQRT_2PI + corr + (p - 0.5) * Math.log(p / (p + q)) + q * Math.log1p(-p / (p + q));
  }
  if (q >= 10) {
    const corr = stirlingRemainder(q) - stirlingRemainder(p + q);
    return lgamma(p) + corr + p - p * Math.log(p + q) + (q - 0.5) * Math.log1p(-p / (p + q));
  }
  return lgamma(p) + lgamma(q) - lgamma(p + q);
}

const SHIFT = 15;

/** ψ(x) = d/dx log Γ(x), x > 0. */
export function digamma(x: number): number {
  let r = 0;
  while (x < SHIFT) { r -= 1 / x; x += 1; }
  const x2 = 1 / (x * x);
  return r + Math.log(x) - 0.5 / x
    - x2 * (1 / 12 - x2 * (1 / 120 - x2 * (1 / 252 - x2 * (1 / 240 - x2 * (1 / 132 - x2 * (691 / 32760 - x2 / 12))))));
}

/** ψ′(x), x > 0. */
export function trigamma(x: number): number {
  let r = 0;
  while (x < SHIFT) { r += 1 / (x * x); x += 1; }
  const x2 = 1 / (x * x);
  return r + 1 / x + x2 / 2
    + (x2 / x) * (1 / 6 - x2 * (1 / 30 - x2 * (1 / 42 - x2 * (1 / 30 - x2 * (5 / 66 - x2 * (691 / 2730 - (x2 * 7) / 6))))));
}

/** ψ″(x) (R's `psigamma(x, deriv = 2)`), x > 0. */
export function tetragamma(x: number): number {
  let r = 0;
  while (x < SHIFT) { r -= 2 / (x * x * x); x += 1; }
  const x2 = 1 / (x * x);
  return r - x2 - x2 / x
    - x2 * x2 * (1 / 2 - x2 * (1 / 6 - x2 * (1 / 6 - x2 * (3 / 10 - x2 * (5 / 6 - x2 * (691 / 210 - (x2 * 35) / 2))))));
}

/** limma's `trigammaInverse`: y with trigamma(y) = x (Newton, as limma). */
export function trigammaInverse(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return NaN;
  if (x > 1e7) return 1 / Math.sqrt(x);
  if (x < 1e-6) return 1 / x;
  let y = 0.5 + 1 / x;
  for (let iter = 1; ; iter++) {
    const tri = trigamma(y);
    const dif = (tri * (1 - tri / x)) / tetragamma(y);
    y += dif;
    if (-dif / y < 1e-8 || iter > 50) break;
  }
  return y;
}

/** log(1 − e^l) for l ≤ 0, accurately. */
function log1mexp(l: number): number {
  return l > -Math.LN2 ? Math.log(-Math.expm1(l)) : Math.log1p(-Math.exp(l));
}

const FPMIN = 1e-300;

/**
 * Continued fraction for I_x(a, b) (modified Lentz); converges fast for x < (a+1)/(a+b+2).
 * `xc` = 1 − x exactly, for the first term when x is near 1.
 */
function betaCF(x: number, xc: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = x > 0.5 ? (1 - b + qab * xc) / qap : 1 - (qab * x) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** log of the regularised incomplete beta I_x(a, b) (lower) or 1 − I_x(a, b) (upper). */
export function pbetaLog(x: number, a: number, b: number, lowerTail: boolean): number {
  if (x <= 0) return lowerTail ? -Infinity : 0;
  if (x >= 1) return lowerTail ? 0 : -Infinity;
  const y = 0.5 - x + 0.5;
  const front = a * Math.log(x) + b * Math.log1p(-x) - lbeta(a, b);
  let logLower: number;
  let logUpper: number;
  if (x < (a + 1) / (a + b + 2)) {
    logLower = front + Math.log(betaCF(x, y, a, b) / a);
    logUpper = log1mexp(logLower);
  } else {
    logUpper = front + Math.log(betaCF(y, x, b, a) / b);
    logLower = log1mexp(logUpper);
  }
  return lowerTail ? logLower : logUpper;
}

/** log of the regularised incomplete gamma P(a, x) (lower) or Q(a, x) (upper). */
export function pgammaLog(x: number, a: number, lowerTail: boolean): number {
  if (x <= 0) return lowerTail ? -Infinity : 0;
  if (x === Infinity) return lowerTail ? 0 : -Infinity;
  const front = a * Math.log(x) - x - lgamma(a);
  let logLower: number;
  let logUpper: number;
  if (x < a + 1) {
    let ap = a;
    let term = 1 / a;
    let sum = term;
    for (let i = 0; i < 100000; i++) {
      ap += 1;
      term *= x / ap;
      sum += term;
      if (term < sum * 1e-17) break;
    }
    logLower = front + Math.log(sum);
    logUpper = log1mexp(logLower);
  } else {
    let b = x + 1 - a;
    let c = 1 / FPMIN;
    let d = 1 / b;
    let h = d;
    for (let i = 1; i <= 100000; i++) {
      const an = -i * (i - a);
      b += 2;
      d = an * d + b;
      if (Math.abs(d) < FPMIN) d = FPMIN;
      c = b + an / c;
      if (Math.abs(c) < FPMIN) c = FPMIN;
      d = 1 / d;
      const del = d * c;
      h *= del;
      if (Math.abs(del - 1) < 1e-16) break;
    }
    logUpper = front + Math.log(h);
    logLower = log1mexp(logUpper);
  }
  return lowerTail ? logLower : logUpper;
}
