/**
 * limma `squeezeVar` and `eBayes` for one contrast (no covariate, no `trend`): the gene
 * variances are shrunk towards the prior fitted by f-dist-fit.ts (robust = TRUE:
 * fitFDistRobustly), then moderated t and p = 2·pt(−|t|, df.total).
 */
import { pt } from "./distributions.ts";
import { fitFDist, fitFDistRobustly } from "./f-dist-fit.ts";
import type { ContrastFit } from "./linear-model.ts";

export interface SqueezeVarResult {
  dfPrior: Float64Array;
  varPrior: number;
  varPost: Float64Array;
}

/** limma `squeezeVar(var, df, robust)` (no covariate), df the same for every gene. */
export function squeezeVar(variances: ArrayLike<number>, df: number, robust: boolean): SqueezeVarResult {
  const n = variances.length;
  if (n === 0) throw new Error("squeezeVar: var is empty");
  if (n === 1) return { dfPrior: new Float64Array(1), varPrior: variances[0]!, varPost: Float64Array.from(variances) };
  const v = Float64Array.from(variances);
  if (df === 0) v.fill(0);
  const fit = robust ? fitFDistRobustly(v, df) : fitFDist(v, df);
  const dfPrior = robust ? fit.df2Shrunk : new Float64Array(n).fill(fit.df2);
  if (dfPrior.some(Number.isNaN)) throw new Error("squeezeVar: could not estimate prior df");
  const varPost = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d0 = dfPrior[i]!;
    varPost[i] = Number.isFinite(d0) ? (df * v[i]! + d0 * fit.scale) / (df + d0) : fit.scale;
  }
  return { dfPrior, varPrior: fit.scale, varPost };
}

export interface EBayesResult {
  t: Float64Array;
  pValue: Float64Array;
  dfPrior: Float64Array;
  s2Prior: number;
  s2Post: Float64Array;
  dfTotal: Float64Array;
}

/** limma `eBayes(fit, robust)` for one contrast: moderated t and its two-sided p-value. */
export function eBayes(fit: ContrastFit, robust: boolean): EBayesResult {
  const n = fit.coefficient.length;
  if (fit.dfResidual <= 0) throw new Error("eBayes: no residual degrees of freedom in linear model fits");
  const sq = squeezeVar(fit.sigma.map((s) => s * s), fit.dfResidual, robust);
  const t = new Float64Array(n);
  const pValue = new Float64Array(n);
  const dfTotal = new Float64Array(n);
  const dfPooled = fit.dfResidual * n;
  for (let g = 0; g < n; g++) {
    t[g] = fit.coefficient[g]! / fit.stdevUnscaled[g]! / Math.sqrt(sq.varPost[g]!);
    dfTotal[g] = Math.min(fit.dfResidual + sq.dfPrior[g]!, dfPooled);
    pValue[g] = 2 * pt(-Math.abs(t[g]!), dfTotal[g]!);
  }
  return { t, pValue, dfPrior: sq.dfPrior, s2Prior: sq.varPrior, s2Post: sq.varPost, dfTotal };
}
