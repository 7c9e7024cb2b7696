/**
 * limma's estimation of the prior of the gene variances: `fitFDist` (moments of the
 * log-variances) and `fitFDistRobustly` (Winsorised log-variances, the prior df solved with
 * R's Brent `uniroot` on 128-point Gauss–Legendre moments, per-gene shrunk prior df for
 * outliers). No covariate; df1 the same for every value.
 */
import { dF, pchisqLog, pfLog, qf } from "./distributions.ts";
import { gaussLegendreUnit } from "./gauss-legendre.ts";
import { meanR, medianR, quantile7, rankAverage, sumR } from "./r-base.ts";
import { digamma, trigamma, trigammaInverse } from "./special-functions.ts";
import { zeroin } from "./uniroot.ts";

const GL128 = gaussLegendreUnit(128);

export interface FDistFit {
  /** prior variance s0² */
  scale: number;
  /** prior df d0 */
  df2: number;
  /** per-gene prior df after outlier shrinkage (robust fit only; = df2 otherwise) */
  df2Shrunk: Float64Array;
}

/** limma `fitFDist(x, df1)` (no covariate), df1 the same for every value. */
export function fitFDist(xIn: ArrayLike<number>, df1: number): FDistFit {
  const n = xIn.length;
  const shrunk = (df2: number): Float64Array => new Float64Array(n).fill(df2);
  if (n === 0) return { scale: NaN, df2: NaN, df2Shrunk: shrunk(NaN) };
  if (n === 1) return { scale: xIn[0]!, df2: 0, df2Shrunk: shrunk(0) };
  if (!(Number.isFinite(df1) && df1 > 1e-15)) return { scale: NaN, df2: NaN, df2Shrunk: shrunk(NaN) };
  const x: number[] = [];
  for (let i = 0; i < n; i++) { const v = xIn[i]!; if (Number.isFinite(v) && v > -1e-15) x.push(v); }
  const nok = x.length;
  if (nok === 1) return { scale: x[0]!, df2: 0, df2Shrunk: shrunk(0) };
  for (let i = 0; i < nok; i++) x[i] = Math.max(x[i]!, 0);
  let m = medianR(x);
  if (m === 0) m = 1; // limma warns: "More than half of residual variances are exactly zero"
  for (let i = 0; i < nok; i++) x[i] = Math.max(x[i]!, 1e-5 * m);
  const dg = digamma(df1 / 2);
  const lg = Math.log(df1 / 2);
  const e = x.map((v) => Math.log(v) - dg + lg);
  const emean = meanR(e);
  let evar = sumR(e.map((v) => (v - emean) * (v - emean))) / (nok - 1);
  evar -= trigamma(df1 / 2);
  if (evar > 0) {
    const df2 = 2 * trigammaInverse(evar);
    return { scale: Math.exp(emean + digamma(df2 / 2) - Math.log(df2 / 2)), df2, df2Shrunk: shrunk(df2) };
  }
  return { scale: meanR(x), df2: Infinity, df2Shrunk: shrunk(Infinity) };
}

/** R's `mean(x, trim)`. */
function trimmedMean(x: ArrayLike<number>, trim: number): number {
  const n = x.length;
  if (trim >= 0.5) return medianR(x);
  const lo = Math.floor(n * trim) + 1;
  const hi = n + 1 - lo;
  const s = Float64Array.from(x).sort();
  return sumR(s, lo - 1, hi) / (hi - lo + 1);
}

/** R's `order(x)` (stable, ascending). */
function orderAsc(x: ArrayLike<number>): Int32Array {
  return Int32Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || a - b);
}

/**
 * limma `fitFDistRobustly(x, df1, winsor.tail.p = c(0.05, 0.1))` (no covariate), df1 the
 * same for every value.
 */
export function fitFDistRobustly(xIn: ArrayLike<number>, df1: number, winsorTailP: readonly [number, number] = [0.05, 0.1]): FDistFit {
  const n = xIn.length;
  if (n < 2) return { scale: NaN, df2: NaN, df2Shrunk: new Float64Array(n).fill(NaN) };
  if (n === 2) return fitFDist(xIn, df1);
  if (!(Number.isFinite(df1) && df1 > 1e-6)) throw new Error("fitFDistRobustly: df1 must be finite and positive");
  const okIdx: number[] = [];
  for (let i = 0; i < n; i++) if (!Number.isNaN(xIn[i]!)) okIdx.push(i);
  if (okIdx.length < n) {
    const fit = fitFDistRobustly(okIdx.map((i) => xIn[i]!), df1, winsorTailP);
    const df2Shrunk = new Float64Array(n).fill(fit.df2);
    okIdx.forEach((i, k) => { df2Shrunk[i] = fit.df2Shrunk[k]!; });
    return { scale: fit.scale, df2: fit.df2, df2Shrunk };
  }
  const x = Float64Array.from(xIn);
  const m = medianR(x);
  if (m <= 0) throw new Error("fitFDistRobustly: variances are mostly <= 0");
  for (let i = 0; i < n; i++) if (x[i]! < m * 1e-12) x[i] = m * 1e-12;
  const nonRobust = fitFDist(x, df1);
  const [p1, p2] = winsorTailP;
  if (p1 < 1 / n && p2 < 1 / n) return nonRobust;
  const z = x.map(Math.log);
  const ztrend = trimmedMean(z, p2);
  const zresid = z.map((v) => v - ztrend);
  const [zq1, zq2] = quantile7(zresid, [p1, 1 - p2]) as [number, number];
  const zwins = zresid.map((v) => Math.min(Math.max(v, zq1), zq2));
  const zwmean = meanR(zwins);
  const zwvar = (meanR(zwins.map((v) => (v - zwmean) * (v - zwmean))) * n) / (n - 1);

  const linkfun = (v: number): number => v / (1 + v);
  const linkinv = (v: number): number => v / (1 - v);
  const moments = (d2: number): { mean: number; var: number } => winsorizedMoments(df1, d2, p1, p2);

  const momInf = moments(Infinity);
  const funvalInf = Math.log(zwvar / momInf.var);
  if (funvalInf <= 0) {
    // the prior df is infinite; outliers still get a finite shrunk df
    const ztc = ztrend + zwmean - momInf.mean;
    const s20 = Math.exp(ztc);
    const fstat = z.map((v) => Math.exp(v - ztc));
    const tailP = fstat.map((f) => Math.exp(pchisqLog(f * df1, df1, false)));
    const r = rankAverage(fstat);
    const dfPooled = n * df1;
    const df2Shrunk = new Float64Array(n).fill(Infinity);
    let any = false;
    for (let i = 0; i < n; i++) {
      const pno = Math.min(tailP[i]! / ((n - r[i]! + 0.5) / n), 1);
      if (pno < 1) { df2Shrunk[i] = pno * dfPooled; any = true; }
    }
    if (any) cummaxInOrder(df2Shrunk, orderAsc(tailP));
    return { scale: s20, df2: Infinity, df2Shrunk };
  }
  if (nonRobust.df2 === Infinity) return nonRobust;

  const fun = (v: number): number => Math.log(zwvar / moments(linkinv(v)).var);
  const rbx = linkfun(nonRobust.df2);
  const funvalLow = fun(rbx);
  const df2 = funvalLow >= 0 ? nonRobust.df2 : linkinv(zeroin(fun, rbx, 1, funvalLow, funvalInf, 1e-8));
  const mom = moments(df2);
  const ztc = ztrend + zwmean - mom.mean;
  const s20 = Math.exp(ztc);
  const fstat = z.map((v) => Math.exp(v - ztc));
  const logTailP = fstat.map((f) => pfLog(f, df1, df2, false));
  const r = rankAverage(fstat);
  const logNotOutlier = new Float64Array(n);
  let anyOutlier = false;
  for (let i = 0; i < n; i++) {
    const logEmp = Math.log(n - r[i]! + 0.5) - Math.log(n);
    logNotOutlier[i] = Math.min(logTailP[i]! - logEmp, 0);
    if (logNotOutlier[i]! < 0) anyOutlier = true;
  }
  const df2Shrunk = new Float64Array(n).fill(df2);
  if (anyOutlier) {
    let minLogTailP = Infinity;
    let maxF = -Infinity;
    for (let i = 0; i < n; i++) { minLogTailP = Math.min(minLogTailP, logTailP[i]!); maxF = Math.max(maxF, fstat[i]!); }
    if (minLogTailP === -Infinity) {
      for (let i = 0; i < n; i++) df2Shrunk[i] = Math.exp(logNotOutlier[i]!) * df2;
    } else {
      let df2Outlier = (Math.log(0.5) / minLogTailP) * df2;
      const newLogTailP = pfLog(maxF, df1, df2Outlier, false);
      df2Outlier = (Math.log(0.5) / newLogTailP) * df2Outlier;
      for (let i = 0; i < n; i++) {
        const l = logNotOutlier[i]!;
        df2Shrunk[i] = Math.exp(l) * df2 + -Math.expm1(l) * df2Outlier;
      }
    }
    const o = orderAsc(logTailP);
    const ordered = Float64Array.from(o, (i) => df2Shrunk[i]!);
    // running means of the ordered values; everything up to the smallest takes that mean
    let acc = 0;
    let comp = 0;
    let imin = 0;
    let mmin = Infinity;
    for (let k = 0; k < n; k++) {
      const v = ordered[k]!;
      const t = acc + v;
      comp += Math.abs(acc) >= Math.abs(v) ? (acc - t) + v : (v - t) + acc;
      acc = t;
      const mk = (acc + comp) / (k + 1);
      if (mk < mmin) { mmin = mk; imin = k; }
    }
    for (let k = 0; k <= imin; k++) ordered[k] = mmin;
    let run = -Infinity;
    for (let k = 0; k < n; k++) { run = Math.max(run, ordered[k]!); df2Shrunk[o[k]!] = run; }
  }
  return { scale: s20, df2, df2Shrunk };
}

/** values[order[k]] = cummax over k (in place). */
function cummaxInOrder(values: Float64Array, order: Int32Array): void {
  let run = -Infinity;
  for (const i of order) { run = Math.max(run, values[i]!); values[i] = run; }
}

/** Mean and variance of log F(df1, df2) Winsorised at the given tail probabilities (limma's inner function). */
function winsorizedMoments(df1: number, df2: number, p1: number, p2: number): { mean: number; var: number } {
  const fq1 = qf(p1, df1, df2);
  const fq2 = qf(1 - p2, df1, df2);
  const zq1 = Math.log(fq1);
  const zq2 = Math.log(fq2);
  const q1 = fq1 / (1 + fq1);
  const q2 = fq2 / (1 + fq2);
  const q21 = q2 - q1;
  const { nodes, weights } = GL128;
  const k = nodes.length;
  const f = new Float64Array(k);
  const zn = new Float64Array(k);
  const terms = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const node = q1 + q21 * nodes[i]!;
    const fnode = node / (1 - node);
    zn[i] = Math.log(fnode);
    f[i] = dF(fnode, df1, df2) / ((1 - node) * (1 - node));
    terms[i] = weights[i]! * f[i]! * zn[i]!;
  }
  const mean = q21 * sumR(terms) + sumR([zq1 * p1, zq2 * p2]);
  for (let i = 0; i < k; i++) terms[i] = weights[i]! * f[i]! * (zn[i]! - mean) * (zn[i]! - mean);
  const variance = q21 * sumR(terms) + sumR([(zq1 - mean) * (zq1 - mean) * p1, (zq2 - mean) * (zq2 - mean) * p2]);
  return { mean, var: variance };
}
