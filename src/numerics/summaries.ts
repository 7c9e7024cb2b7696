/**
 * Summaries of one sparse vector of n values given only its stored entries: the other
 * n − stored.length values are implicit zeros. Used for GeneExpression's per-gene stats
 * (reference spec §5.5) without ever densifying a gene over all cells.
 * Conventions follow R: sample standard deviation (n − 1), quantile type 7.
 */

/** Mean and sample standard deviation (n − 1) of n values, zeros implicit (two-pass). */
export function meanSdWithZeros(stored: ArrayLike<number>, n: number): { mean: number; sd: number } {
  if (n <= 0) return { mean: NaN, sd: NaN };
  let sum = 0;
  for (let i = 0; i < stored.length; i++) sum += stored[i]!;
  const mean = sum / n;
  let ss = (n - stored.length) * mean * mean;
  for (let i = 0; i < stored.length; i++) {
    const d = stored[i]! - mean;
    ss += d * d;
  }
  return { mean, sd: n > 1 ? Math.sqrt(ss / (n - 1)) : NaN };
}

/** Minimum of n values, zeros implicit. */
export function minWithZeros(stored: ArrayLike<number>, n: number): number {
  let min = stored.length < n ? 0 : Infinity;
  for (let i = 0; i < stored.length; i++) if (stored[i]! < min) min = stored[i]!;
  return n > 0 ? min : NaN;
}

/**
 * The k-th smallest (0-based) of the stored values (sorted ascending) merged with nZeros zeros.
 */
function rankValue(sortedStored: ArrayLike<number>, negatives: number, nZeros: number, k: number): number {
  if (k < negatives) return sortedStored[k]!;
  if (k < negatives + nZeros) return 0;
  return sortedStored[k - nZeros]!;
}

function countNegatives(sortedStored: ArrayLike<number>): number {
  let lo = 0;
  let hi = sortedStored.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sortedStored[mid]! < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * R's quantile type 7 at probability p of the stored values (sorted ascending) plus nZeros
 * zeros: with h = (N − 1)·p, (1 − f)·x[⌊h⌋] + f·x[⌈h⌉], f = h − ⌊h⌋.
 */
export function quantileWithZeros(sortedStored: ArrayLike<number>, nZeros: number, p: number): number {
  const n = sortedStored.length + nZeros;
  if (n === 0) return NaN;
  const negatives = countNegatives(sortedStored);
  return quantileAt(sortedStored, negatives, nZeros, n, p);
}

function quantileAt(sortedStored: ArrayLike<number>, negatives: number, nZeros: number, n: number, p: number): number {
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const xlo = rankValue(sortedStored, negatives, nZeros, lo);
  if (hi === lo) return xlo;
  const xhi = rankValue(sortedStored, negatives, nZeros, hi);
  if (xhi === xlo) return xlo;
  const f = h - lo;
  return (1 - f) * xlo + f * xhi;
}

/**
 * GeneExpression's truncatedMax: the 95th percentile; while that is 0, the 96th, 97th, …
 * up to the 100th (the maximum). 0 when every try is 0.
 */
export function truncatedMaxWithZeros(sortedStored: ArrayLike<number>, nZeros: number): number {
  const n = sortedStored.length + nZeros;
  if (n === 0) return NaN;
  const negatives = countNegatives(sortedStored);
  let q = 0;
  for (let pct = 95; pct <= 100 && q === 0; pct++) q = quantileAt(sortedStored, negatives, nZeros, n, pct / 100);
  return q;
}

export interface SparseSummary {
  mean: number;
  sd: number;
  min: number;
  truncatedMax: number;
}

/**
 * truncatedMaxWithZeros of unsorted stored values without sorting them all: the percentiles it
 * tries (95th to 100th) only read the top ~5 % of the n values, so only the stored values that
 * can sit there are put in order (a selection, then a sort of that tail): linear in the stored
 * values instead of n log n. Same result as sorting everything. `work` is overwritten.
 */
function truncatedMaxOfUnsorted(work: Float64Array, nZeros: number): number {
  const s = work.length;
  const n = s + nZeros;
  if (n === 0) return NaN;
  let negatives = 0;
  for (let i = 0; i < s; i++) {
    const v = work[i]!;
    if (v !== v) return truncatedMaxWithZeros(work.sort(), nZeros); // NaN: the plain way (sorted last)
    if (v < 0) negatives++;
  }
  // the smallest merged rank read, and the first stored (sorted) position it or a later rank needs
  const k = Math.floor((n - 1) * 0.95);
  const from = Math.min(s, k < negatives ? k : Math.max(negatives, k - nZeros));
  if (from > 0 && from < s) selectInPlace(work, from);
  work.subarray(from).sort();
  // positions below `from` are not in order but are never read: countNegatives is not used here
  let q = 0;
  for (let pct = 95; pct <= 100 && q === 0; pct++) q = quantileAt(work, negatives, nZeros, n, pct / 100);
  return q;
}

/**
 * Rearranges a (no NaN) so that a[k] is the value a sorted copy has there, everything before it
 * is ≤ a[k] and everything after ≥ a[k] (Hoare's selection, median-of-three pivots).
 */
function selectInPlace(a: Float64Array, k: number): void {
  let lo = 0, hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three to a[mid]
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const pivot = a[mid]!;
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) { swap(a, i, j); i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!; a[i] = a[j]!; a[j] = t;
}

/**
 * All of the above for one vector of n values given its stored entries: not modified, unless
 * `reorder` is true and they are a Float64Array, which is then reordered in place (its values
 * kept) instead of copied: for a caller done with the order, one allocation less per vector.
 */
export function summarizeWithZeros(stored: ArrayLike<number>, n: number, reorder = false): SparseSummary {
  const { mean, sd } = meanSdWithZeros(stored, n);
  const min = minWithZeros(stored, n);
  const work = reorder && stored instanceof Float64Array ? stored : Float64Array.from(stored);
  return { mean, sd, min, truncatedMax: truncatedMaxOfUnsorted(work, n - stored.length) };
}
