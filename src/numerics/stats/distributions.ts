/**
 * R's distribution functions that limma's eBayes uses, with R's nmath branch choices (e.g. qf
 * with df2 > 4e5 uses the chi-square limit): `pt`, `pchisq` and `pf` (log scale), `qchisq`,
 * `qf` and the F density `df`. Built on special-functions.ts; the normal tail is
 * wilcoxon.ts's `normalUpperTail`.
 */
import { lbeta, lgamma, pbetaLog, pgammaLog } from "./special-functions.ts";
import { normalUpperTail } from "./wilcoxon.ts";

/** P(N(0,1) ≤ z). */
function pnorm(z: number): number {
  return normalUpperTail(-z);
}

/** R's `pt(x, df)` (lower tail), with R's branches. */
export function pt(x: number, n: number): number {
  if (Number.isNaN(x) || Number.isNaN(n) || n <= 0) return NaN;
  if (!Number.isFinite(x)) return x < 0 ? 0 : 1;
  if (!Number.isFinite(n)) return pnorm(x);
  const nx = 1 + (x / n) * x;
  let val: number;
  if (nx > 1e100) {
    const lval = -0.5 * n * (2 * Math.log(Math.abs(x)) - Math.log(n)) - lbeta(0.5 * n, 0.5) - Math.log(0.5 * n);
    val = Math.exp(lval);
  } else {
    val = n > x * x
      ? Math.exp(pbetaLog((x * x) / (n + x * x), 0.5, n / 2, false))
      : Math.exp(pbetaLog(1 / nx, n / 2, 0.5, true));
  }
  val /= 2;
  return x <= 0 ? val : 0.5 - val + 0.5;
}

/** R's `pchisq(x, df, lower.tail, log.p = TRUE)`. */
export function pchisqLog(x: number, df: number, lowerTail: boolean): number {
  return pgammaLog(x / 2, df / 2, lowerTail);
}

/** R's `pf(x, df1, df2, lower.tail, log.p = TRUE)`, R's branches. */
export function pfLog(x: number, df1: number, df2: number, lowerTail: boolean): number {
  if (x <= 0) return lowerTail ? -Infinity : 0;
  if (x === Infinity) return lowerTail ? 0 : -Infinity;
  if (df2 === Infinity) {
    if (df1 === Infinity) return x < 1 ? (lowerTail ? -Infinity : 0) : x > 1 ? (lowerTail ? 0 : -Infinity) : -Math.LN2;
    return pchisqLog(x * df1, df1, lowerTail);
  }
  if (df1 === Infinity) return pchisqLog(df2 / x, df2, !lowerTail);
  if (df1 * x > df2) return pbetaLog(df2 / (df2 + df1 * x), df2 / 2, df1 / 2, !lowerTail);
  return pbetaLog((df1 * x) / (df2 + df1 * x), df1 / 2, df2 / 2, lowerTail);
}

/**
 * x in (lo, hi) with cdf(x) = p for an increasing cdf: Newton steps, bisection (or doubling
 * when hi is infinite) whenever a step leaves the bracket.
 */
function invertCdf(p: number, cdf: (x: number) => number, density: (x: number) => number, lo: number, hi: number, x0: number): number {
  let x = x0;
  for (let it = 0; it < 1000; it++) {
    const f = cdf(x) - p;
    if (f === 0) return x;
    if (f < 0) lo = x; else hi = x;
    let next = x - f / density(x);
    if (!(next > lo && next < hi)) next = Number.isFinite(hi) ? lo + (hi - lo) / 2 : Math.max(2 * x, x + 1);
    if (Math.abs(next - x) <= 2e-16 * Math.abs(x) || next === lo || next === hi) return next;
    x = next;
  }
  return x;
}

/** R's `qgamma(p, shape)` (scale 1, lower tail). */
function qgamma(p: number, a: number): number {
  if (p <= 0) return 0;
  if (p >= 1) return Infinity;
  const la = lgamma(a);
  return invertCdf(p, (x) => Math.exp(pgammaLog(x, a, true)), (x) => Math.exp((a - 1) * Math.log(x) - x - la), 0, Infinity, a);
}

/** R's `qchisq(p, df)` (lower tail). */
export function qchisq(p: number, df: number): number {
  return 2 * qgamma(p, df / 2);
}

/**
 * R's `qbeta(p, a, b, lower.tail = FALSE)`: x with P(X > x) = p, solved on the upper tail
 * itself so that an x near 0 keeps its relative accuracy.
 */
function qbetaUpper(p: number, a: number, b: number): number {
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const lb = lbeta(a, b);
  return invertCdf(-p, (x) => -Math.exp(pbetaLog(x, a, b, false)), (x) => Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - lb), 0, 1, a / (a + b));
}

/** R's `qf(p, df1, df2)` (lower tail), with R's chi-square branches for df > 4e5. */
export function qf(p: number, df1: number, df2: number): number {
  if (df1 <= df2 && df2 > 4e5) {
    if (!Number.isFinite(df1)) return 1;
    return qchisq(p, df1) / df1;
  }
  if (df1 > 4e5) return df2 / qchisq(1 - p, df2);
  return (1 / qbetaUpper(p, df2 / 2, df1 / 2) - 1) * (df2 / df1);
}

/** R's `df(x, df1, df2)` (the F density). */
export function dF(x: number, m: number, n: number): number {
  if (x < 0) return 0;
  if (x === 0) return m > 2 ? 0 : m === 2 ? 1 : Infinity;
  if (n === Infinity) {
    // dgamma(x, shape = m/2, scale = 2/m)
    const k = m / 2;
    const s = 2 / m;
    return Math.exp((k - 1) * Math.log(x) - x / s - lgamma(k) - k * Math.log(s));
  }
  return Math.exp((m / 2) * Math.log(m / n) + (m / 2 - 1) * Math.log(x) - ((m + n) / 2) * Math.log1p((m * x) / n) - lbeta(m / 2, n / 2));
}
