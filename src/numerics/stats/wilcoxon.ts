/**
 * The Wilcoxon rank-sum (Mann–Whitney) test as R's `wilcox.test(x, y, exact = FALSE,
 * correct = TRUE)` computes it, for sparse data: a group is given by its non-zero values and
 * its size, the zeros are implicit and form one tie block. Only the non-zeros are sorted, so
 * a gene costs O(nnz log nnz) whatever the number of cells.
 *
 * With W = (rank sum of x) − n1(n1+1)/2, the normal approximation is
 *   z = (W − n1·n2/2 − 0.5·sign(W − n1·n2/2)) / σ,
 *   σ² = n1·n2/12 · ((n1+n2+1) − Σ(t³−t) / ((n1+n2)(n1+n2−1)))   (t = tie-block sizes),
 * p = 2·Q(|z|) with Q the upper normal tail, and auc = W/(n1·n2) (the share of (x, y) pairs
 * with x > y, ties counting one half). Arithmetic follows R's order of operations, so results
 * agree with R to a few ulps.
 *
 * Like R, NaN values are dropped (they reduce n1/n2; ±Infinity are ranked), and when every
 * value is tied (σ = 0, e.g. a gene with no non-zero in either group) the p-value is NaN:
 * this module reports what R reports. DifferentialExpression reports those genes with
 * p_val = p_val_adj = 1 and leaves them out of the Benjamini–Hochberg count
 * (src/tasks/differential-expression.ts).
 *
 * `rankSumPerGene` runs the test on every gene of a gene-major matrix (log-normalised on the
 * fly), two groups of cells given by a label per cell, with the per-gene logFC, percentages
 * of non-zero cells and AUC DifferentialExpression reports. It sorts each gene's values per
 * call; gene-value-order.ts computes the same numbers from a value order sorted once per
 * experiment (what DifferentialExpression uses), and its tests check the two agree bit for bit.
 *
 * `normalUpperTail` is accurate to ~1e-13 relative from 0 to the underflow near x = 38.5
 * (series for erf below x = 3, the Laplace continued fraction of the Mills ratio above), so
 * p-values keep their relative precision down to ~1e-300.
 */
import type { GeneMajorMatrix } from "../sparse.ts";
import { normalizedValue, type Normalizer } from "../normalize.ts";

export interface RankSumResult {
  /** the Mann–Whitney statistic W (R's `statistic`): group-1-greater pairs + half the ties */
  w: number;
  /** the continuity-corrected z score (positive when group 1 tends to be larger) */
  z: number;
  /** two-sided p-value; NaN when σ = 0 or a group is empty */
  p: number;
  /** W / (n1·n2) */
  auc: number;
}

const SQRT1_2PI = 0.3989422804014327; // 1/sqrt(2π)
const TWO_OVER_SQRTPI = 1.1283791670955126; // 2/sqrt(π)
const SERIES_BELOW = 3;

/** Q(x) = P(Z > x) for a standard normal Z. */
export function normalUpperTail(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 1 - normalUpperTail(-x);
  if (x < SERIES_BELOW) return 0.5 - 0.5 * erfSeries(x * Math.SQRT1_2);
  if (x > 40) return 0;
  return (SQRT1_2PI * Math.exp(-0.5 * x * x)) / millsDenominator(x);
}

/**
 * erf(y) = 2/√π · e^(−y²) · Σ_{n≥0} (2y²)ⁿ · y / (1·3·…·(2n+1)): all terms positive, so no
 * cancellation; used for y < 3/√2 where it converges in < 40 terms.
 */
function erfSeries(y: number): number {
  const y2 = 2 * y * y;
  let term = y;
  let sum = y;
  for (let n = 1; n < 200; n++) {
    term *= y2 / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRTPI * Math.exp(-y * y) * sum;
}

/**
 * x + 1/(x + 2/(x + 3/(x + …))), evaluated by the modified Lentz method; φ(x) divided by it
 * is Q(x). For x ≥ 3 it converges to double precision in at most a few hundred terms.
 */
function millsDenominator(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let i = 1; i < 2000; i++) {
    d = x + i * d;
    if (d === 0) d = tiny;
    d = 1 / d;
    c = x + i / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return f;
}

/** Two-sided normal p-value of a z score: 2·Q(|z|) (NaN stays NaN). */
export function twoSidedP(z: number): number {
  return 2 * normalUpperTail(Math.abs(z));
}

/**
 * The rank-sum test for one gene. `x`/`y` hold the non-zero values of groups 1 and 2 (any
 * order; they are SORTED IN PLACE), `n1`/`n2` the group sizes including the implicit zeros
 * (n1 ≥ x.length, n2 ≥ y.length). Explicit zeros in `x`/`y` join the zero tie block.
 */
export function rankSumSparse(x: Float64Array, n1: number, y: Float64Array, n2: number): RankSumResult {
  x.sort();
  y.sort();
  return rankSumSorted(x, n1, y, n2);
}

/** As {@link rankSumSparse}, for `x` and `y` already sorted ascending (NaN last, as TypedArray sort). */
export function rankSumSorted(x: ArrayLike<number>, n1: number, y: ArrayLike<number>, n2: number): RankSumResult {
  // drop NaN (R's NA) as R does; TypedArray sort puts NaN last. ±Infinity are ranked.
  let x1 = x.length;
  let y1 = y.length;
  while (x1 > 0 && Number.isNaN(x[x1 - 1]!)) x1--;
  while (y1 > 0 && Number.isNaN(y[y1 - 1]!)) y1--;
  n1 -= x.length - x1;
  n2 -= y.length - y1;
  if (n1 <= 0 || n2 <= 0) return { w: NaN, z: NaN, p: NaN, auc: NaN };

  const zeros1 = n1 - x1;
  const zeros2 = n2 - y1;
  let zeroBlockPending = zeros1 + zeros2 > 0;
  let i = 0;
  let j = 0;
  let pos = 0; // cells ranked so far
  let rankSum1 = 0;
  let tieSum = 0; // Σ (t³ − t) over tie blocks
  while (i < x1 || j < y1 || zeroBlockPending) {
    let v = Infinity;
    if (i < x1) v = x[i]!;
    if (j < y1 && y[j]! < v) v = y[j]!;
    let c1 = 0;
    let c2 = 0;
    if (zeroBlockPending && v >= 0) {
      v = 0;
      c1 = zeros1;
      c2 = zeros2;
      zeroBlockPending = false;
    }
    while (i < x1 && x[i] === v) { c1++; i++; }
    while (j < y1 && y[j] === v) { c2++; j++; }
    const t = c1 + c2;
    rankSum1 += c1 * (pos + (t + 1) / 2);
    if (t > 1) tieSum += t * t * t - t;
    pos += t;
  }
  return rankSumFromSums(rankSum1, tieSum, n1, n2);
}

/**
 * The test from the rank sum of group 1 (`rankSum1`, ties given their mean rank) and
 * Σ(t³ − t) over the tie blocks (`tieSum`), for groups of `n1` and `n2` values (NaN dropped).
 */
export function rankSumFromSums(rankSum1: number, tieSum: number, n1: number, n2: number): RankSumResult {
  const w = rankSum1 - (n1 * (n1 + 1)) / 2;
  let z = w - (n1 * n2) / 2;
  const n = n1 + n2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * ((n + 1) - tieSum / (n * (n - 1))));
  z = (z - Math.sign(z) * 0.5) / sigma;
  return { w, z, p: twoSidedP(z), auc: w / (n1 * n2) };
}

/** Per-gene results of `rankSumPerGene`, aligned with the matrix's genes. */
/**
 * Writes gene g's logFC and detection percentages from its group sums and non-zero counts;
 * when neither group has a stored value (`stored` = 0) the test is undefined: p = NaN, AUC 0.5,
 * and false is returned (nothing left to rank).
 */
export function summarizeGroups(out: GeneRankSums, g: number, sum1: number, sum2: number, nz1: number, nz2: number, n1: number, n2: number, stored: number): boolean {
  out.logFC[g] = sum1 / n1 - sum2 / n2;
  out.pct1[g] = (100 * nz1) / n1;
  out.pct2[g] = (100 * nz2) / n2;
  if (stored !== 0) return true;
  out.p[g] = NaN; // all zeros: σ = 0
  out.auc[g] = 0.5;
  return false;
}

/** Result arrays of a per-gene rank-sum pass, zero-filled. */
export function emptyRankSums(nGenes: number): GeneRankSums {
  return { p: new Float64Array(nGenes), logFC: new Float64Array(nGenes), pct1: new Float64Array(nGenes), pct2: new Float64Array(nGenes), auc: new Float64Array(nGenes) };
}

export interface GeneRankSums {
  /** two-sided p-value; NaN where the test is undefined (every value of both groups tied) */
  p: Float64Array;
  /** mean(group 1) − mean(group 2) of the normalised values */
  logFC: Float64Array;
  /** percent of group 1 / group 2 cells where the gene is non-zero */
  pct1: Float64Array;
  pct2: Float64Array;
  /** W / (n1·n2); 0.5 for a gene with no non-zero value in either group */
  auc: Float64Array;
}

/**
 * The rank-sum test of every gene of `m`, group 1 vs group 2, on the values `norm` gives.
 * `labels[cell]` is 1 or 2 for the cells of each group, 0 for cells in neither; `n1`/`n2`
 * are the group sizes. One pass over each gene's non-zeros: split by group into two scratch
 * buffers, sort each, merge. `progress` gets fractions below 1 along the genes.
 */
export function rankSumPerGene(
  m: GeneMajorMatrix, norm: Normalizer, labels: Int8Array, n1: number, n2: number,
  progress: (fraction: number) => void = () => {},
): GeneRankSums {
  const nGenes = m.nGenes;
  const out = emptyRankSums(nGenes);
  const { p, auc } = out;
  const x = new Float64Array(n1);
  const y = new Float64Array(n2);
  const { indptr, indices, values } = m;
  for (let g = 0; g < nGenes; g++) {
    if ((g & 4095) === 4095) progress(g / nGenes);
    let k1 = 0;
    let k2 = 0;
    let sum1 = 0;
    let sum2 = 0;
    let nz1 = 0;
    let nz2 = 0;
    for (let q = indptr[g]!, end = indptr[g + 1]!; q < end; q++) {
      const cell = indices[q]!;
      const label = labels[cell]!;
      if (label === 0) continue;
      const raw = values[q]!;
      const v = normalizedValue(norm, raw, cell);
      if (label === 1) { x[k1++] = v; sum1 += v; if (v !== 0) nz1++; } else { y[k2++] = v; sum2 += v; if (v !== 0) nz2++; }
    }
    if (!summarizeGroups(out, g, sum1, sum2, nz1, nz2, n1, n2, k1 + k2)) continue;
    const xs = x.subarray(0, k1).sort();
    const ys = y.subarray(0, k2).sort();
    const r = rankSumSorted(xs, n1, ys, n2);
    p[g] = r.p;
    auc[g] = r.auc;
  }
  return out;
}
