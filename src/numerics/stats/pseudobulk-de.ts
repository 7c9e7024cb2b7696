/**
 * Pseudobulk limma-voom, the arithmetic of the original worker's runPseudobulkDE (reference
 * spec §5.3), on samples already chosen (tasks/shared/pseudobulk-de.ts picks them from the
 * cell sets, checks them and words the result):
 *
 *  1. raw counts summed per sample (pseudobulk.ts); library sizes = the sample totals over
 *     all genes, kept after filtering as DGEList subsetting does;
 *  2. edgeR `filterByExpr(group)`, TMM `calcNormFactors` (edger.ts);
 *  3. limma, each step from limma 3.54's documented algorithms and its R code's order of
 *     operations:
 *       voomWithQualityWeights    voom → arrayWeights → voom(weights) → arrayWeights
 *                                 (voom.ts, array-weights.ts, lowess.ts)
 *       lmFit, design ~0 + group  weighted least squares per gene (linear-model.ts)
 *       contrasts.fit             base − background (linear-model.ts)
 *       eBayes(robust = TRUE)     squeezeVar with fitFDistRobustly, moderated t
 *                                 (ebayes.ts, f-dist-fit.ts; special-functions.ts and
 *                                 distributions.ts mirror R's nmath)
 *  4. ≥ 3 samples: p-values and Benjamini–Hochberg adjusted p-values, genes in topTable's
 *     order (ascending p). Exactly 2 samples (one per group, no replication): no test,
 *     genes by decreasing |logFC|. Genes removed by filterByExpr come after the others, in
 *     gene order.
 */
import { sumCountsPerSample, librarySizes, type CsrCounts } from "./pseudobulk.ts";
import { calcNormFactorsTMM, filterByExpr } from "./edger.ts";
import { contrastsFit, groupDesign, lmFit } from "./linear-model.ts";
import { voomWithQualityWeights } from "./voom.ts";
import { eBayes } from "./ebayes.ts";
import { adjustBH } from "./p-adjust.ts";

/** Genes that must pass filterByExpr (voom needs a trend). */
export const MIN_KEPT_GENES = 2;

export type PseudobulkFit =
  | {
    kind: "fit";
    /** per gene of the matrix; NaN for genes removed by filterByExpr */
    logFC: Float64Array;
    AveExpr: Float64Array;
    /** only with ≥ 3 samples; NaN for removed genes */
    pValue?: Float64Array;
    /** Benjamini–Hochberg over the kept genes (R's p.adjust, 0 stays 0) */
    pAdjusted?: Float64Array;
    /** every gene, in topTable's order (see the file header) */
    order: Int32Array;
    genesKept: number;
  }
  /** fewer than MIN_KEPT_GENES genes pass filterByExpr: nothing was fitted */
  | { kind: "too-few-genes"; genesKept: number };

/**
 * The pseudobulk comparison. `sampleOfCell[c]` is the sample (column 0..n-1) cell c's counts
 * go to, −1 for cells left out; `group[s]` is 1 for base samples, 0 for background ones (the
 * design's columns: background, base). `progress` gets 0.1, 0.2 and 0.7 along the steps.
 */
export function pseudobulkLimmaVoom(
  m: CsrCounts, sampleOfCell: Int32Array, group: Int32Array, progress: (fraction: number) => void = () => {},
): PseudobulkFit {
  const nSamples = group.length;
  const nGenes = m.nGenes;
  const sums = sumCountsPerSample(m, sampleOfCell, nSamples);
  const libSize = librarySizes(sums, nGenes, nSamples);
  progress(0.1);

  const keep = filterByExpr(sums, nGenes, nSamples, libSize, group);
  const kept: number[] = [];
  for (let g = 0; g < nGenes; g++) if (keep[g]) kept.push(g);
  if (kept.length < MIN_KEPT_GENES) return { kind: "too-few-genes", genesKept: kept.length };
  const nKept = kept.length;
  const counts = new Float64Array(nKept * nSamples);
  kept.forEach((g, r) => counts.set(sums.subarray(g * nSamples, (g + 1) * nSamples), r * nSamples));
  const { normFactors } = calcNormFactorsTMM(counts, nKept, nSamples, libSize);
  const effLib = Float64Array.from(libSize, (l, s) => l * normFactors[s]!);
  progress(0.2);

  const design = groupDesign(group, 2);
  const v = voomWithQualityWeights(counts, nKept, design, effLib);
  progress(0.7);
  const fit = contrastsFit(lmFit(v.E, nKept, design, v.weights), [-1, 1]);

  const logFC = new Float64Array(nGenes).fill(NaN);
  const aveExpr = new Float64Array(nGenes).fill(NaN);
  kept.forEach((g, r) => { logFC[g] = fit.coefficient[r]!; aveExpr[g] = fit.Amean[r]!; });
  const keptOrder = Int32Array.from({ length: nKept }, (_, r) => r);
  const discarded = Int32Array.from({ length: nGenes - nKept });
  { let j = 0; for (let g = 0; g < nGenes; g++) if (!keep[g]) discarded[j++] = g; }

  if (nSamples === 2) {
    // no replication: no test; rows by decreasing |logFC| (stable)
    keptOrder.sort((a, b) => Math.abs(fit.coefficient[b]!) - Math.abs(fit.coefficient[a]!) || a - b);
    return { kind: "fit", logFC, AveExpr: aveExpr, order: concatOrder(keptOrder, kept, discarded), genesKept: nKept };
  }
  const eb = eBayes(fit, true);
  const adj = adjustBH(eb.pValue);
  const pValue = new Float64Array(nGenes).fill(NaN);
  const pAdjusted = new Float64Array(nGenes).fill(NaN);
  kept.forEach((g, r) => { pValue[g] = eb.pValue[r]!; pAdjusted[g] = adj[r]!; });
  keptOrder.sort((a, b) => eb.pValue[a]! - eb.pValue[b]! || a - b);
  return { kind: "fit", logFC, AveExpr: aveExpr, pValue, pAdjusted, order: concatOrder(keptOrder, kept, discarded), genesKept: nKept };
}

/** Gene indices: the kept genes in `keptOrder` (positions into `kept`), then the discarded ones. */
function concatOrder(keptOrder: Int32Array, kept: number[], discarded: Int32Array): Int32Array {
  const out = new Int32Array(keptOrder.length + discarded.length);
  keptOrder.forEach((r, i) => { out[i] = kept[r]!; });
  out.set(discarded, keptOrder.length);
  return out;
}
