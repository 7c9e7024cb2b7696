/**
 * limma (3.54) `voom` and `voomWithQualityWeights`:
 *  voom: log2-CPM E = log2((count + 0.5) / (lib + 1) · 1e6), a linear fit per gene, the trend
 *  sqrt(sigma) ~ average log-count fitted by R's `lowess(f = 0.5, iter = 3)` (lowess.ts) and
 *  read back by `approxfun(rule = 2)`; weights 1 / trend(fitted log-count)⁴.
 *  voomWithQualityWeights: voom → arrayWeights → voom(weights) → arrayWeights
 *  (array-weights.ts); final weights = voom weights × sample weights.
 * Matrices are dense gene-major Float64Arrays (gene g, sample s at [g·n + s]).
 */
import { arrayWeightsGeneByGene } from "./array-weights.ts";
import { lmFit, type Design } from "./linear-model.ts";
import { lowess } from "./lowess.ts";
import { approxOrdered, meanR } from "./r-base.ts";

export interface VoomResult {
  /** log2-CPM, gene-major nGenes × n */
  E: Float64Array;
  /** precision weights, gene-major nGenes × n */
  weights: Float64Array;
}

/**
 * limma `voom(counts, design, lib.size, weights, span)`. `libSize` is the effective library
 * size (lib.size × norm.factors for a DGEList); `arrayWeights` (per sample) are passed to
 * the fit of the mean-variance trend, as voomWithQualityWeights does.
 */
export function voom(counts: Float64Array, nGenes: number, design: Design, libSize: ArrayLike<number>, arrayWeights: Float64Array | null = null, span = 0.5): VoomResult {
  const n = design.n;
  if (nGenes < 2) throw new Error("voom: need at least two genes to fit a mean-variance trend");
  const E = new Float64Array(nGenes * n);
  for (let g = 0; g < nGenes; g++) {
    for (let s = 0; s < n; s++) E[g * n + s] = Math.log2(((counts[g * n + s]! + 0.5) / (libSize[s]! + 1)) * 1e6);
  }
  const fit = lmFit(E, nGenes, design, arrayWeights);
  const weights = new Float64Array(nGenes * n);
  if (fit.dfResidual <= 0) {
    // "The experimental design has no replication. Setting weights to 1."
    weights.fill(1);
    return { E, weights };
  }
  const meanLogLib = meanR(Float64Array.from({ length: n }, (_, s) => Math.log2(libSize[s]! + 1)));
  const sx: number[] = [];
  const sy: number[] = [];
  for (let g = 0; g < nGenes; g++) {
    let total = 0;
    for (let s = 0; s < n; s++) total += counts[g * n + s]!;
    if (total === 0) continue;
    sx.push(fit.Amean[g]! + meanLogLib - Math.log2(1e6));
    sy.push(Math.sqrt(fit.sigma[g]!));
  }
  const l = lowess(sx, sy, span);
  const trend = approxOrdered(l.x, l.y);
  const { p, x } = design;
  for (let g = 0; g < nGenes; g++) {
    for (let s = 0; s < n; s++) {
      let fitted = 0;
      for (let k = 0; k < p; k++) fitted += fit.coefficients[g * p + k]! * x[k * n + s]!;
      const fittedCount = 1e-6 * (2 ** fitted * (libSize[s]! + 1));
      const t = trend(Math.log2(fittedCount));
      weights[g * n + s] = 1 / t ** 4;
    }
  }
  return { E, weights };
}

export interface VoomQwResult extends VoomResult {
  /** the sample weights (v$targets$sample.weights) */
  sampleWeights: Float64Array;
}

/**
 * limma `voomWithQualityWeights(counts, design, lib.size, span = 0.5, method = "genebygene")`:
 * final weights = voom weights × sample weights.
 */
export function voomWithQualityWeights(counts: Float64Array, nGenes: number, design: Design, libSize: ArrayLike<number>, span = 0.5): VoomQwResult {
  const n = design.n;
  let v = voom(counts, nGenes, design, libSize, null, span);
  let aw = arrayWeightsGeneByGene(v.E, nGenes, design, v.weights);
  v = voom(counts, nGenes, design, libSize, aw, span);
  aw = arrayWeightsGeneByGene(v.E, nGenes, design, v.weights);
  const weights = new Float64Array(nGenes * n);
  for (let g = 0; g < nGenes; g++) for (let s = 0; s < n; s++) weights[g * n + s] = aw[s]! * v.weights[g * n + s]!;
  return { E: v.E, weights, sampleWeights: aw };
}
