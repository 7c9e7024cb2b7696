/**
 * The two edgeR (3.40) steps of the original worker's pseudobulk DE, with edgeR's defaults:
 *  - `filterByExpr(y, group)`: keep a gene when its CPM reaches min.count / median(lib.size)
 *    · 1e6 in at least as many samples as the smallest group (min.count = 10; groups larger
 *    than large.n = 10 count as 10 + (n − 10) · min.prop), and its total count is ≥ 15;
 *  - `calcNormFactors(method = "TMM")`: trimmed mean of M-values against the reference
 *    sample whose upper-quartile-scaled library is closest to the mean (logratioTrim 0.3,
 *    sumTrim 0.05, doWeighting, Acutoff −1e10), factors scaled to multiply to one.
 * Same arithmetic order as edgeR's R code (CPM = count · (1e6 / lib), as its C++ does), so the
 * kept set and the factors agree with R to the last bits (ties in the ranks included). The
 * base-R helpers it shares with the limma files (median, quantile type 7, average ranks,
 * long-double-like sums) are in r-base.ts.
 *
 * Matrices are dense gene-major Float64Arrays: gene g, sample s at [g·nSamples + s].
 */
import { meanR, medianR, quantile7, rankAverage, sumR } from "./r-base.ts";

// ---------------------------------------------------------------- filterByExpr

export interface FilterByExprOptions {
  minCount?: number;
  minTotalCount?: number;
  largeN?: number;
  minProp?: number;
}

/**
 * edgeR `filterByExpr(y, group = group)` with `lib.size` = the given library sizes (for a
 * DGEList, lib.size × norm.factors; the worker calls it before normalising, so the column
 * totals). `group[s]` is any label per sample. Returns keep flags per gene.
 */
export function filterByExpr(
  counts: Float64Array, nGenes: number, nSamples: number, libSize: ArrayLike<number>,
  group: ArrayLike<number>, opts: FilterByExprOptions = {},
): Uint8Array {
  const minCount = opts.minCount ?? 10;
  const minTotalCount = opts.minTotalCount ?? 15;
  const largeN = opts.largeN ?? 10;
  const minProp = opts.minProp ?? 0.7;
  const sizes = new Map<number, number>();
  for (let s = 0; s < nSamples; s++) sizes.set(group[s]!, (sizes.get(group[s]!) ?? 0) + 1);
  let minSampleSize = Math.min(...sizes.values());
  if (minSampleSize > largeN) minSampleSize = largeN + (minSampleSize - largeN) * minProp;
  const cpmCutoff = (minCount / medianR(libSize)) * 1e6;
  const scale = Float64Array.from({ length: nSamples }, (_, s) => 1e6 / libSize[s]!);
  const tol = 1e-14;
  const keep = new Uint8Array(nGenes);
  for (let g = 0; g < nGenes; g++) {
    let nAbove = 0;
    let total = 0;
    for (let s = 0; s < nSamples; s++) {
      const c = counts[g * nSamples + s]!;
      total += c;
      if (c * scale[s]! >= cpmCutoff) nAbove++;
    }
    keep[g] = nAbove >= minSampleSize - tol && total >= minTotalCount - tol ? 1 : 0;
  }
  return keep;
}

// ---------------------------------------------------------------- calcNormFactors (TMM)

export interface TmmResult {
  /** normalisation factors (product 1) */
  normFactors: Float64Array;
  /** 0-based reference sample */
  refColumn: number;
}

/**
 * edgeR `calcNormFactors(y, method = "TMM")` with its defaults. Genes with no count in any
 * sample are left out first, as edgeR does.
 */
export function calcNormFactorsTMM(counts: Float64Array, nGenes: number, nSamples: number, libSize: ArrayLike<number>): TmmResult {
  const rows: number[] = [];
  for (let g = 0; g < nGenes; g++) {
    for (let s = 0; s < nSamples; s++) if (counts[g * nSamples + s]! > 0) { rows.push(g); break; }
  }
  const column = (s: number): Float64Array => Float64Array.from(rows, (g) => counts[g * nSamples + s]!);
  if (rows.length === 0 || nSamples === 1) return { normFactors: new Float64Array(nSamples).fill(1), refColumn: 0 };
  const f75 = Float64Array.from({ length: nSamples }, (_, s) => quantile7(column(s), [0.75])[0]! / libSize[s]!);
  let refColumn = 0;
  if (medianR(f75) < 1e-20) {
    let best = -Infinity;
    for (let s = 0; s < nSamples; s++) {
      const v = sumR(column(s).map(Math.sqrt));
      if (v > best) { best = v; refColumn = s; }
    }
  } else {
    const m = meanR(f75);
    let best = Infinity;
    for (let s = 0; s < nSamples; s++) {
      const d = Math.abs(f75[s]! - m);
      if (d < best) { best = d; refColumn = s; }
    }
  }
  const ref = column(refColumn);
  const f = Float64Array.from({ length: nSamples }, (_, s) => tmmFactor(column(s), ref, libSize[s]!, libSize[refColumn]!));
  const logs = f.map(Math.log);
  const geo = Math.exp(meanR(logs));
  return { normFactors: f.map((v) => v / geo), refColumn };
}

/** edgeR's `.calcFactorTMM(obs, ref, libsize.obs, libsize.ref)` with the default trims. */
export function tmmFactor(obs: Float64Array, ref: Float64Array, nO: number, nR: number, logratioTrim = 0.3, sumTrim = 0.05, aCutoff = -1e10): number {
  const logR: number[] = [];
  const absE: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < obs.length; i++) {
    const o = obs[i]!;
    const r = ref[i]!;
    const lr = Math.log2((o / nO) / (r / nR));
    const ae = (Math.log2(o / nO) + Math.log2(r / nR)) / 2;
    if (!Number.isFinite(lr) || !Number.isFinite(ae) || !(ae > aCutoff)) continue;
    logR.push(lr);
    absE.push(ae);
    v.push((nO - o) / nO / o + (nR - r) / nR / r);
  }
  let maxAbs = 0;
  for (const x of logR) maxAbs = Math.max(maxAbs, Math.abs(x));
  if (maxAbs < 1e-6) return 1;
  const n = logR.length;
  const loL = Math.floor(n * logratioTrim) + 1;
  const hiL = n + 1 - loL;
  const loS = Math.floor(n * sumTrim) + 1;
  const hiS = n + 1 - loS;
  const rankR = rankAverage(logR);
  const rankE = rankAverage(absE);
  const num: number[] = [];
  const den: number[] = [];
  for (let i = 0; i < n; i++) {
    if (rankR[i]! >= loL && rankR[i]! <= hiL && rankE[i]! >= loS && rankE[i]! <= hiS) {
      num.push(logR[i]! / v[i]!);
      den.push(1 / v[i]!);
    }
  }
  let f = sumR(num) / sumR(den);
  if (Number.isNaN(f)) f = 0;
  return 2 ** f;
}
