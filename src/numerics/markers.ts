/**
 * Marker genes, one group against the rest (reference spec §5.13): the kernel behind
 * MarkerHeatmap and DotPlot (tasks/shared/markers.ts turns cell classes into groups and keeps
 * the results with the experiment). Groups are cell-INDEX sets that may overlap; the
 * "universe" is their union, and each group is tested against the universe minus the group
 * (cells in no group take no part). Arrays in, arrays out: the gene-major matrix and its
 * normaliser.
 *
 * Statistics (presto's wilcoxauc, on log-normalised values):
 *  - W: Mann–Whitney statistic of the group's values against the rest's, ranks over the
 *    universe with ties averaged; p: R's `wilcox.test(exact = FALSE, correct = TRUE)` formula
 *    (tie and continuity corrections), two-sided, with R's `pnorm` underflow: p = 0 when
 *    |z| ≥ 37.5193, where R returns exactly 0. That matters: several groups of one gene can
 *    tie at p = 0, and the tie is then broken by group order as in the original;
 *  - auc = W / (n_in · n_out); logFC = mean(in) − mean(out) (natural log values);
 *  - pct_in / pct_out: percent of cells with a non-zero value, in / out of the group.
 *
 * Selection (`rankMarkers`, the original's getTopMarkerGenes): keep (gene, group) with
 * logFC > 0, auc ≥ 0.3, pct_in ≥ 20, pct_out ≤ 70; each gene stays in the group where its p is
 * lowest (ties: the earlier group); each group's genes by decreasing logFC (ties: lower p,
 * then gene order). `topMarkerGenes` takes the first n per group, groups in order.
 *
 * Speed: one pass per gene over its stored non-zeros. The gene's universe values are sorted
 * once to get their average ranks (see `forEachGeneOneVsRest`), and every group's rank sum,
 * sum and non-zero count are accumulated together, each cell adding to the groups it belongs
 * to (a CSR cell → groups map); zeros are one tie block whose rank is added per group in O(1);
 * p-values are computed only where needed. No per-group copy of the matrix is made. Cost
 * O(nnz + nnzU · log nnzU) per gene (nnzU = non-zeros inside the universe).
 *
 * Down-sampling (`sampleGroups`): at most MAX_CELLS_PER_GROUP cells drawn per group with a
 * fixed seed (each group's draw depends only on that group). With overlapping groups, a group
 * then holds the cells of the group that are in the union of the draws (the rest of a group
 * is never ranked as "out").
 */
import type { GeneMajorMatrix } from "./sparse.ts";
import { normalizedValue, type Normalizer } from "./normalize.ts";
import { twoSidedP } from "./stats/wilcoxon.ts";
import { Random } from "./random.ts";

/** The original's marker filters (getTopMarkerGenes defaults). */
export const MARKER_FILTERS = { minAuc: 0.3, minPctIn: 20, maxPctOut: 70 } as const;
/** Cells drawn per group before the tests (the original's downsample_n). */
export const MAX_CELLS_PER_GROUP = 1000;
export const MARKER_SEED = 0;
/** |z| from which R's pnorm returns exactly 0 in the tail (pnorm_both's cut-off). */
const R_PNORM_CUTOFF = 37.5193;

/**
 * Statistics of one gene for every group (index = group); NaN where a group has no test.
 * `z` is the continuity-corrected z score; the p-value is `pValue(z)` (computed on demand:
 * it is the costly part and the marker search needs it only for the few passing groups).
 */
export interface GeneGroupStats {
  w: Float64Array;
  z: Float64Array;
  auc: Float64Array;
  logFC: Float64Array;
  pctIn: Float64Array;
  pctOut: Float64Array;
}

/** Two-sided p-value of a z score as R's pnorm gives it (0 beyond its tail cut-off; NaN stays NaN). */
export function pValue(z: number): number {
  if (Number.isNaN(z)) return NaN;
  return Math.abs(z) >= R_PNORM_CUTOFF ? 0 : twoSidedP(z);
}

/** Sizes of the groups inside the universe and of the universe. */
export interface GroupLayout {
  sizes: Int32Array;
  universe: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Runs the one-vs-rest test of every gene of `m` (values log-normalised by `norm`).
 * `visit(gene, stats)` is called for each gene in order; `stats` is reused between calls
 * (copy what you keep). Groups must hold valid cell indices; duplicates inside a group are
 * ignored.
 *
 * Ranking a gene: its universe values are sorted as 64-bit keys made of the value's IEEE bits
 * (positive doubles order like their bit patterns) with the low bits replaced by the value's
 * position, so one integer sort (much faster than sorting doubles, and it carries the
 * positions) gives the order. Values whose keys tie after that truncation are re-ordered by
 * their full value (rare: values closer than ~2^-32 relative), so ranks and ties are exact.
 * Negative values (possible only when the file held log-normalised data) take the general
 * path: sort the values, then find each one's rank by binary search.
 */
export function forEachGeneOneVsRest(
  m: GeneMajorMatrix,
  norm: Normalizer,
  groups: readonly Int32Array[],
  visit: (gene: number, stats: GeneGroupStats) => void,
  progress: (fraction: number) => void = () => {},
): GroupLayout {
  const k = groups.length;
  const mem = groupMembership(m.nCells, groups);
  const stats: GeneGroupStats = {
    w: new Float64Array(k), z: new Float64Array(k), auc: new Float64Array(k),
    logFC: new Float64Array(k), pctIn: new Float64Array(k), pctOut: new Float64Array(k),
  };
  const N = mem.universe;
  const s = geneScratch(N, k);
  const small = smallCountValues(norm, mem.inUniverse);
  for (let gene = 0; gene < m.nGenes; gene++) {
    if ((gene & 2047) === 2047) progress(gene / m.nGenes);
    const { n, sumAll, nNeg } = gatherGeneValues(m, norm, small, mem.inUniverse, gene, s);
    const nZero = N - n;
    let tieSum = nZero * nZero * nZero - nZero;
    s.rankSum.fill(0);
    s.sum.fill(0);
    s.nnz.fill(0);
    if (n > 0 && nNeg === 0 && LITTLE_ENDIAN) tieSum = rankPositiveValues(n, nZero, tieSum, s, mem);
    else if (n > 0) tieSum = rankAnyValues(n, nZero, tieSum, s, mem);
    groupStatistics(stats, mem.sizes, N, n, nNeg, nZero, tieSum, sumAll, s);
    visit(gene, stats);
  }
  progress(1);
  return { sizes: mem.sizes, universe: mem.universe };
}

/** Which groups each cell belongs to: a CSR cell → groups map, duplicates inside a group counted once. */
interface Membership {
  /** cells per group (distinct) */
  sizes: Int32Array;
  /** cells in at least one group */
  universe: number;
  /** cell c's groups are groups[start[c] .. start[c + 1]) */
  start: Int32Array;
  groups: Int32Array;
  /** 1 for cells in the universe */
  inUniverse: Uint8Array;
  /** each universe cell's first group (its only one when `disjoint`), -1 elsewhere */
  groupOf: Int32Array;
  /** no cell is in two groups */
  disjoint: boolean;
}

function groupMembership(nCells: number, groups: readonly Int32Array[]): Membership {
  const k = groups.length;
  // cell → groups (CSR over cell indices); membership marks let duplicates count once
  const count = new Int32Array(nCells + 1);
  const mark = new Int32Array(nCells).fill(-1);
  const sizes = new Int32Array(k);
  groups.forEach((cells, g) => {
    for (const c of cells) {
      if (mark[c] === g) continue;
      mark[c] = g;
      count[c + 1]!++;
      sizes[g]!++;
    }
  });
  let universe = 0;
  for (let c = 0; c < nCells; c++) if (count[c + 1]! > 0) universe++;
  for (let c = 0; c < nCells; c++) count[c + 1]! += count[c]!;
  const start = count;
  const memGroups = new Int32Array(start[nCells]!);
  const fill = start.slice(0, nCells);
  mark.fill(-1);
  groups.forEach((cells, g) => {
    for (const c of cells) {
      if (mark[c] === g) continue;
      mark[c] = g;
      memGroups[fill[c]!++] = g;
    }
  });
  // cells in the universe; with disjoint groups, each cell's one group
  const inUniverse = new Uint8Array(nCells);
  const groupOf = new Int32Array(nCells).fill(-1);
  for (let c = 0; c < nCells; c++) {
    const t = start[c]!;
    if (start[c + 1]! > t) { inUniverse[c] = 1; groupOf[c] = memGroups[t]!; }
  }
  return { sizes, universe, start, groups: memGroups, inUniverse, groupOf, disjoint: memGroups.length === universe };
}

/** Buffers for one gene's universe values (reused from gene to gene) and the per-group sums. */
interface GeneScratch {
  vals: Float64Array;
  valBits: Uint32Array;
  cellOf: Int32Array;
  keys: BigUint64Array;
  keyBits: Uint32Array;
  /** positions in increasing value */
  order: Int32Array;
  /** general path: the sorted values */
  sorted: Float64Array;
  radixTmp: Int32Array;
  radixCount: Int32Array;
  /** per group: rank sum, value sum and non-zero count of the gene */
  rankSum: Float64Array;
  sum: Float64Array;
  nnz: Float64Array;
}

function geneScratch(universe: number, k: number): GeneScratch {
  const vals = new Float64Array(universe);
  const keys = new BigUint64Array(universe);
  return {
    vals, valBits: new Uint32Array(vals.buffer), cellOf: new Int32Array(universe),
    keys, keyBits: new Uint32Array(keys.buffer), order: new Int32Array(universe),
    sorted: new Float64Array(universe), radixTmp: new Int32Array(universe), radixCount: new Int32Array(1 << RADIX_BITS),
    rankSum: new Float64Array(k), sum: new Float64Array(k), nnz: new Float64Array(k),
  };
}

/**
 * Most stored counts are 1 or 2: their normalised values, computed once per universe cell by
 * the same expression (so bit-identical), spare most log1p calls. Empty unless `norm` works
 * on counts.
 */
interface SmallCountValues {
  byCount: boolean;
  one: Float64Array;
  two: Float64Array;
}

function smallCountValues(norm: Normalizer, inUniverse: Uint8Array): SmallCountValues {
  const nCells = inUniverse.length;
  const byCount = norm.kind === "counts";
  const one = new Float64Array(byCount ? nCells : 0);
  const two = new Float64Array(byCount ? nCells : 0);
  if (byCount) {
    for (let c = 0; c < nCells; c++) {
      if (inUniverse[c] === 0) continue;
      one[c] = normalizedValue(norm, 1, c);
      two[c] = normalizedValue(norm, 2, c);
    }
  }
  return { byCount, one, two };
}

/**
 * The gene's non-zero normalised values inside the universe, into `s.vals` / `s.cellOf`
 * (positions 0..n-1, cell order): how many, their sum and how many are negative. NaN values
 * are left out (no value: counted with the zeros).
 */
function gatherGeneValues(
  m: GeneMajorMatrix, norm: Normalizer, small: SmallCountValues, inUniverse: Uint8Array, gene: number, s: GeneScratch,
): { n: number; sumAll: number; nNeg: number } {
  const { indptr, indices, values } = m;
  const { byCount, one, two } = small;
  const { vals, cellOf } = s;
  let n = 0;
  let sumAll = 0;
  let nNeg = 0;
  for (let q = indptr[gene]!, end = indptr[gene + 1]!; q < end; q++) {
    const c = indices[q]!;
    if (inUniverse[c] === 0) continue;
    const raw = values[q]!;
    if (raw === 0) continue;
    const v = byCount && raw === 1 ? one[c]! : byCount && raw === 2 ? two[c]! : normalizedValue(norm, raw, c);
    if (v === 0 || Number.isNaN(v)) continue; // NaN: no value, counted with the zeros
    if (v < 0) nNeg++;
    vals[n] = v;
    cellOf[n] = c;
    sumAll += v;
    n++;
  }
  return { n, sumAll, nNeg };
}

/** Adds rank r of the value at position e to every group of its cell. */
function addRank(s: GeneScratch, mem: Membership, e: number, r: number): void {
  const c = s.cellOf[e]!;
  const v = s.vals[e]!;
  const { rankSum, sum, nnz } = s;
  if (mem.disjoint) {
    const g = mem.groupOf[c]!;
    rankSum[g]! += r;
    sum[g]! += v;
    nnz[g]!++;
    return;
  }
  for (let t = mem.start[c]!, tEnd = mem.start[c + 1]!; t < tEnd; t++) {
    const g = mem.groups[t]!;
    rankSum[g]! += r;
    sum[g]! += v;
    nnz[g]!++;
  }
}

/**
 * Ranks n positive values (little-endian platforms) after the nZero zeros, ties averaged,
 * adding each rank to its cell's groups; returns `tieSum` plus Σ(t³ − t) over the tie blocks.
 */
function rankPositiveValues(n: number, nZero: number, tieSum: number, s: GeneScratch, mem: Membership): number {
  const { vals, valBits, keys, keyBits, order } = s;
  if (n >= RADIX_FROM) radixOrderByHighWord(n, valBits, order, s.radixTmp, s.radixCount);
  else {
    // packed keys: value bits with the low `bits` bits replaced by the position
    const bits = Math.max(1, Math.ceil(Math.log2(n)));
    const mask = 2 ** bits - 1;
    for (let e = 0; e < n; e++) {
      keyBits[2 * e] = (valBits[2 * e]! & ~mask) | e;
      keyBits[2 * e + 1] = valBits[2 * e + 1]!;
    }
    keys.subarray(0, n).sort();
    for (let p = 0; p < n; p++) order[p] = keyBits[2 * p]! & mask;
  }
  // The order is right up to values sharing their high word: sort each such run by the
  // full value, then rank it (zeros take ranks 1 … nZero; ties averaged; equal values
  // always share their high word, so no tie crosses a run).
  for (let p = 0; p < n;) {
    const hi = valBits[2 * order[p]! + 1]!;
    let q = p + 1;
    while (q < n && valBits[2 * order[q]! + 1] === hi) q++;
    if (q - p > 1) insertionSortByValue(order, p, q, vals);
    for (let i = p; i < q;) {
      const v = vals[order[i]!]!;
      let j = i + 1;
      while (j < q && vals[order[j]!] === v) j++;
      const t = j - i;
      const r = nZero + (i + 1 + j) / 2;
      for (let u = i; u < j; u++) addRank(s, mem, order[u]!, r);
      if (t > 1) tieSum += t * t * t - t;
      i = j;
    }
    p = q;
  }
  return tieSum;
}

/**
 * The general path (negative values, or big-endian): sorts the n values, then ranks each by
 * binary search; the zero block sits after the negative values. Returns `tieSum` plus
 * Σ(t³ − t) over the non-zero tie blocks.
 */
function rankAnyValues(n: number, nZero: number, tieSum: number, s: GeneScratch, mem: Membership): number {
  const { vals } = s;
  const sorted = s.sorted.subarray(0, n);
  sorted.set(vals.subarray(0, n));
  sorted.sort();
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && sorted[j] === sorted[i]) j++;
    if (j - i > 1) tieSum += (j - i) ** 3 - (j - i);
    i = j;
  }
  for (let e = 0; e < n; e++) {
    const v = vals[e]!;
    let lo = 0;
    let hi = n;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (sorted[mid]! < v) lo = mid + 1; else hi = mid; }
    let up = lo;
    while (up < n && sorted[up] === v) up++;
    addRank(s, mem, e, lo + (up - lo + 1) / 2 + (v > 0 ? nZero : 0));
  }
  return tieSum;
}

/** Every group's statistics of one gene from its accumulated sums (see the file header). */
function groupStatistics(
  stats: GeneGroupStats, sizes: Int32Array, N: number, n: number, nNeg: number, nZero: number, tieSum: number, sumAll: number, s: GeneScratch,
): void {
  const { rankSum, sum, nnz } = s;
  const zeroRank = nNeg + (nZero + 1) / 2;
  for (let g = 0; g < sizes.length; g++) {
    const n1 = sizes[g]!;
    const n2 = N - n1;
    if (n1 === 0 || n2 === 0) {
      stats.w[g] = NaN; stats.z[g] = NaN; stats.auc[g] = NaN;
      stats.logFC[g] = NaN; stats.pctIn[g] = NaN; stats.pctOut[g] = NaN;
      continue;
    }
    const w = rankSum[g]! + (n1 - nnz[g]!) * zeroRank - (n1 * (n1 + 1)) / 2;
    const d = w - (n1 * n2) / 2;
    const sigma = Math.sqrt(((n1 * n2) / 12) * ((N + 1) - tieSum / (N * (N - 1))));
    stats.w[g] = w;
    stats.z[g] = (d - Math.sign(d) * 0.5) / sigma;
    stats.auc[g] = w / (n1 * n2);
    stats.logFC[g] = sum[g]! / n1 - (sumAll - sum[g]!) / n2;
    stats.pctIn[g] = 100 * (nnz[g]! / n1);
    stats.pctOut[g] = 100 * ((n - nnz[g]!) / n2);
  }
}

/** From this many values on, a gene's values are ordered by radix passes rather than a sort. */
const RADIX_FROM = 2048;
const RADIX_BITS = 11;
const RADIX_MASK = (1 << RADIX_BITS) - 1;

/**
 * Positions 0..n-1 ordered by the high 32 bits of their (positive) values: stable counting
 * passes of 11 bits over (high word − smallest high word), as many as its range needs.
 * Values with equal high words stay in position order.
 */
function radixOrderByHighWord(n: number, valBits: Uint32Array, order: Int32Array, tmp: Int32Array, count: Int32Array): void {
  let min = 0xffffffff;
  let max = 0;
  for (let e = 0; e < n; e++) {
    const h = valBits[2 * e + 1]!;
    if (h < min) min = h;
    if (h > max) max = h;
  }
  const range = max - min;
  let src = order;
  let dst = tmp;
  for (let e = 0; e < n; e++) src[e] = e;
  for (let shift = 0; shift === 0 || (shift < 32 && range >>> shift > 0); shift += RADIX_BITS) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[((valBits[2 * src[i]! + 1]! - min) >>> shift) & RADIX_MASK]!++;
    for (let b = 0, acc = 0; b <= RADIX_MASK; b++) { const c = count[b]!; count[b] = acc; acc += c; }
    for (let i = 0; i < n; i++) {
      const e = src[i]!;
      dst[count[((valBits[2 * e + 1]! - min) >>> shift) & RADIX_MASK]!++] = e;
    }
    const t = src; src = dst; dst = t;
  }
  if (src !== order) order.set(src.subarray(0, n));
}

/** Sorts order[from, to) by vals[order[i]] (short runs only). */
function insertionSortByValue(order: Int32Array, from: number, to: number, vals: Float64Array): void {
  for (let i = from + 1; i < to; i++) {
    const e = order[i]!;
    const v = vals[e]!;
    let j = i - 1;
    while (j >= from && vals[order[j]!]! > v) { order[j + 1] = order[j]!; j--; }
    order[j + 1] = e;
  }
}

/** Every gene × group statistic, group-major (`[group * nGenes + gene]`). */
export interface OneVsRestTable extends GroupLayout {
  nGenes: number;
  w: Float64Array;
  p: Float64Array;
  auc: Float64Array;
  logFC: Float64Array;
  pctIn: Float64Array;
  pctOut: Float64Array;
}

/** The full table (k × genes doubles per statistic; for tests and small k). */
export function oneVsRestTable(m: GeneMajorMatrix, norm: Normalizer, groups: readonly Int32Array[]): OneVsRestTable {
  const G = m.nGenes;
  const k = groups.length;
  const make = () => new Float64Array(k * G);
  const out = { nGenes: G, w: make(), p: make(), auc: make(), logFC: make(), pctIn: make(), pctOut: make() };
  const keys = ["w", "auc", "logFC", "pctIn", "pctOut"] as const;
  const layout = forEachGeneOneVsRest(m, norm, groups, (gene, s) => {
    for (const key of keys) for (let g = 0; g < k; g++) out[key][g * G + gene] = s[key][g]!;
    for (let g = 0; g < k; g++) out.p[g * G + gene] = pValue(s.z[g]!);
  });
  return { ...out, ...layout };
}

/** Per group (input order), its marker genes by decreasing logFC, each gene in one group at most. */
export interface RankedMarkers {
  byGroup: Int32Array[];
  layout: GroupLayout;
}

/** True when a (gene, group) passes the marker filters (NaN never passes). */
export function passesMarkerFilters(s: GeneGroupStats, g: number): boolean {
  return s.logFC[g]! > 0 && s.auc[g]! >= MARKER_FILTERS.minAuc && s.pctIn[g]! >= MARKER_FILTERS.minPctIn && s.pctOut[g]! <= MARKER_FILTERS.maxPctOut;
}

/** Filters, keeps each gene in its lowest-p group and ranks each group's genes (no sampling). */
export function rankMarkers(m: GeneMajorMatrix, norm: Normalizer, groups: readonly Int32Array[], progress?: (fraction: number) => void): RankedMarkers {
  const genes: number[] = [];
  const groupOf: number[] = [];
  const pOf: number[] = [];
  const fcOf: number[] = [];
  const layout = forEachGeneOneVsRest(m, norm, groups, (gene, s) => {
    let best = -1;
    let bestP = NaN;
    for (let g = 0; g < groups.length; g++) {
      if (!passesMarkerFilters(s, g)) continue;
      const p = pValue(s.z[g]!);
      if (best < 0 || p < bestP) { best = g; bestP = p; }
    }
    if (best < 0) return;
    genes.push(gene);
    groupOf.push(best);
    pOf.push(bestP);
    fcOf.push(s.logFC[best]!);
  }, progress);
  const lists: number[][] = groups.map(() => []);
  genes.forEach((_, i) => lists[groupOf[i]!]!.push(i));
  const byGroup = lists.map((rows) => {
    rows.sort((a, b) => fcOf[b]! - fcOf[a]! || pOf[a]! - pOf[b]! || genes[a]! - genes[b]!);
    return Int32Array.from(rows, (i) => genes[i]!);
  });
  return { byGroup, layout };
}

/** The first `n` genes of each group, groups in order. */
export function topMarkerGenes(ranked: RankedMarkers, n: number): number[] {
  const out: number[] = [];
  for (const list of ranked.byGroup) for (let i = 0; i < Math.min(n, list.length); i++) out.push(list[i]!);
  return out;
}

/**
 * At most `cap` cells per group, drawn with a fixed seed per group; then each group keeps
 * its cells that are in the union of the draws. Groups at or under the cap are unchanged
 * when no group was cut.
 */
export function sampleGroups(groups: readonly Int32Array[], cap = MAX_CELLS_PER_GROUP, seed = MARKER_SEED): Int32Array[] {
  if (groups.every((cells) => cells.length <= cap)) return groups.slice();
  const drawn = new Set<number>();
  for (const cells of groups) {
    const pick = new Random(seed).sampleIndices(cells.length, Math.min(cap, cells.length));
    for (const i of pick) drawn.add(cells[i]!);
  }
  return groups.map((cells) => cells.filter((c) => drawn.has(c)));
}
