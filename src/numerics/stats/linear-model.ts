/**
 * limma's linear models, re-implemented from limma's documented algorithms and R's order of
 * operations: `model.matrix(~ 0 + group)`, one weighted least-squares fit per gene
 * (Householder QR as lm.wfit, sigma from the QR effects), `lmFit`, and `contrasts.fit` for
 * designs whose coefficients are orthogonal (~0 + group: estimate Σcₖβₖ, sd √(Σcₖ²sₖ²)).
 *
 * Supported: full-rank designs, every gene with the same residual df (all weights positive,
 * no missing values: always the case for voom on counts), no `block`/covariate. Matrices are
 * dense gene-major Float64Arrays (gene g, sample s at [g·n + s]); designs are column-major
 * n × p.
 */
import { sumR } from "./r-base.ts";

/** A design matrix, column-major n × p. */
export interface Design {
  n: number;
  p: number;
  x: Float64Array;
}

/** `model.matrix(~ 0 + group)`: one indicator column per group 0..nGroups-1. */
export function groupDesign(group: ArrayLike<number>, nGroups: number): Design {
  const n = group.length;
  const x = new Float64Array(n * nGroups);
  for (let s = 0; s < n; s++) x[group[s]! * n + s] = 1;
  return { n, p: nGroups, x };
}

/** One weighted least-squares fit (R's lm.wfit through LINPACK-style Householder QR). */
export interface WlsFit {
  coef: Float64Array;
  /** y − fitted (unweighted scale) */
  resid: Float64Array;
  /** mean of the squared effects beyond the rank: the weighted residual variance (NaN if df = 0) */
  s2: number;
  /** leverages of the weighted design (R's `hat(fit$qr)`) */
  hat: Float64Array;
  /** diag((X′WX)⁻¹) */
  unscaledVar: Float64Array;
}

/** Weighted least squares of y on the design (weights null = all 1). Throws on a rank-deficient design. */
export function wlsFit(design: Design, y: ArrayLike<number>, w: ArrayLike<number> | null): WlsFit {
  const { n, p } = design;
  const sw = new Float64Array(n);
  for (let i = 0; i < n; i++) sw[i] = w ? Math.sqrt(w[i]!) : 1;
  const a = new Float64Array(n * p);
  for (let j = 0; j < p; j++) for (let i = 0; i < n; i++) a[j * n + i] = design.x[j * n + i]! * sw[i]!;
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) b[i] = y[i]! * sw[i]!;
  const qraux = new Float64Array(p);
  for (let k = 0; k < p; k++) {
    const col = k * n;
    let ss = 0;
    for (let i = k; i < n; i++) ss += a[col + i]! * a[col + i]!;
    let nrm = Math.sqrt(ss);
    if (!(nrm > 0)) throw new Error("wlsFit: the design is rank-deficient");
    if (a[col + k] !== 0) nrm = a[col + k]! < 0 ? -nrm : nrm;
    const inv = 1 / nrm;
    for (let i = k; i < n; i++) a[col + i]! *= inv;
    a[col + k]! += 1;
    for (let j = k + 1; j < p; j++) {
      let t = 0;
      for (let i = k; i < n; i++) t -= a[col + i]! * a[j * n + i]!;
      t /= a[col + k]!;
      for (let i = k; i < n; i++) a[j * n + i]! += t * a[col + i]!;
    }
    qraux[k] = a[col + k]!;
    a[col + k] = -nrm;
  }
  // the k-th Householder reflection applied to v (in place)
  const reflect = (k: number, v: Float64Array): void => {
    const col = k * n;
    let t = -qraux[k]! * v[k]!;
    for (let i = k + 1; i < n; i++) t -= a[col + i]! * v[i]!;
    t /= qraux[k]!;
    v[k]! += t * qraux[k]!;
    for (let i = k + 1; i < n; i++) v[i]! += t * a[col + i]!;
  };
  for (let k = 0; k < p; k++) reflect(k, b); // b = Q′(√w·y): the effects
  const coef = new Float64Array(p);
  for (let j = p - 1; j >= 0; j--) {
    let s = b[j]!;
    for (let k = j + 1; k < p; k++) s -= a[k * n + j]! * coef[k]!;
    coef[j] = s / a[j * n + j]!;
  }
  const tail = new Float64Array(n - p);
  for (let i = p; i < n; i++) tail[i - p] = b[i]! * b[i]!;
  const s2 = n > p ? sumR(tail) / (n - p) : NaN;
  const r = new Float64Array(n);
  for (let i = p; i < n; i++) r[i] = b[i]!;
  for (let k = p - 1; k >= 0; k--) reflect(k, r);
  const resid = new Float64Array(n);
  for (let i = 0; i < n; i++) resid[i] = r[i]! / sw[i]!;
  const hat = new Float64Array(n);
  const e = new Float64Array(n);
  for (let j = 0; j < p; j++) {
    e.fill(0);
    e[j] = 1;
    for (let k = p - 1; k >= 0; k--) reflect(k, e);
    for (let i = 0; i < n; i++) hat[i]! += e[i]! * e[i]!;
  }
  // (R′R)⁻¹ diagonal via R⁻¹
  const rinv = new Float64Array(p * p); // row-major upper triangular
  for (let j = 0; j < p; j++) {
    rinv[j * p + j] = 1 / a[j * n + j]!;
    for (let i = j - 1; i >= 0; i--) {
      let s = 0;
      for (let k = i + 1; k <= j; k++) s += a[k * n + i]! * rinv[k * p + j]!;
      rinv[i * p + j] = -s / a[i * n + i]!;
    }
  }
  const unscaledVar = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = 0;
    for (let k = i; k < p; k++) s += rinv[i * p + k]! * rinv[i * p + k]!;
    unscaledVar[i] = s;
  }
  return { coef, resid, s2, hat, unscaledVar };
}

/** limma `lmFit` output (the parts used here). */
export interface LmFit {
  nGenes: number;
  design: Design;
  /** gene-major nGenes × p */
  coefficients: Float64Array;
  /** gene-major nGenes × p */
  stdevUnscaled: Float64Array;
  sigma: Float64Array;
  dfResidual: number;
  /** row means of E */
  Amean: Float64Array;
}

/**
 * limma `lmFit(E, design, weights)`: `weights` null, a per-sample vector (array weights,
 * length n) or a gene-major nGenes × n matrix.
 */
export function lmFit(E: Float64Array, nGenes: number, design: Design, weights: Float64Array | null): LmFit {
  const { n, p } = design;
  const perSample = weights !== null && weights.length === n && nGenes * n !== n;
  const coefficients = new Float64Array(nGenes * p);
  const stdevUnscaled = new Float64Array(nGenes * p);
  const sigma = new Float64Array(nGenes);
  const Amean = new Float64Array(nGenes);
  for (let g = 0; g < nGenes; g++) {
    const y = E.subarray(g * n, (g + 1) * n);
    const w = weights === null ? null : perSample ? weights : weights.subarray(g * n, (g + 1) * n);
    const fit = wlsFit(design, y, w);
    for (let k = 0; k < p; k++) {
      coefficients[g * p + k] = fit.coef[k]!;
      stdevUnscaled[g * p + k] = Math.sqrt(fit.unscaledVar[k]!);
    }
    sigma[g] = Math.sqrt(fit.s2);
    Amean[g] = sumR(y) / n;
  }
  return { nGenes, design, coefficients, stdevUnscaled, sigma, dfResidual: n - p, Amean };
}

/** A single contrast of an lmFit: estimate, its unscaled sd, and the fit's sigma/df/Amean. */
export interface ContrastFit {
  coefficient: Float64Array;
  stdevUnscaled: Float64Array;
  sigma: Float64Array;
  dfResidual: number;
  Amean: Float64Array;
}

/**
 * limma `contrasts.fit(fit, contrast)` for one contrast, for designs with orthogonal columns
 * (such as ~0 + group, where limma takes the same orthogonal shortcut). Throws otherwise.
 */
export function contrastsFit(fit: LmFit, contrast: readonly number[]): ContrastFit {
  const { n, p, x } = fit.design;
  if (contrast.length !== p) throw new Error("contrastsFit: one contrast entry per coefficient is needed");
  for (let j = 0; j < p; j++) {
    for (let k = j + 1; k < p; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[j * n + i]! * x[k * n + i]!;
      if (s !== 0) throw new Error("contrastsFit: only designs with orthogonal columns are supported");
    }
  }
  const coefficient = new Float64Array(fit.nGenes);
  const stdevUnscaled = new Float64Array(fit.nGenes);
  for (let g = 0; g < fit.nGenes; g++) {
    let c = 0;
    let v = 0;
    for (let k = 0; k < p; k++) {
      if (contrast[k] === 0) continue;
      c += fit.coefficients[g * p + k]! * contrast[k]!;
      const su = fit.stdevUnscaled[g * p + k]!;
      v += su * su * (contrast[k]! * contrast[k]!);
    }
    coefficient[g] = c;
    stdevUnscaled[g] = Math.sqrt(v);
  }
  return { coefficient, stdevUnscaled, sigma: fit.sigma, dfResidual: fit.dfResidual, Amean: fit.Amean };
}
