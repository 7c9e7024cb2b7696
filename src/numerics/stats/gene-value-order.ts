/**
 * The rank-sum test of every gene in time linear in the non-zeros, from a per-gene value order
 * computed once per experiment (`buildGeneValueOrder`) and reused by every comparison
 * (`rankSumPerGeneOrdered`). The results are bit-identical to `rankSumPerGene`
 * (wilcoxon.ts): the same doubles are ranked, tie blocks are the same runs of `===` values,
 * the rank and tie sums are accumulated in the same order with the same operations, and the
 * group sums behind logFC are taken in cell order as there.
 *
 * The order: for each gene, its stored entries sorted by log-normalised value, NaN last; each
 * entry holds its cell index, or `~cell` (negative) when its value equals the next entry's
 * (a tie block is a run of negative entries and the non-negative one that ends it). Ranking a gene for two groups is then one pass over that order
 * with a group lookup per entry: the cells of neither group are skipped, the implicit zeros of
 * each group form one block placed where the non-negative values start (merged with a block
 * of stored zeros, as wilcoxon.ts does).
 *
 * When every cell is in one of the two groups (a cluster against the rest), the ranks do not
 * depend on the groups: each entry's mid-rank among all cells, computed with the order, makes
 * the comparison a single pass in cell order (group 1's rank sum is the sum of its entries'
 * mid-ranks plus its implicit zeros' one; every term is a half-integer, so the sum is exact in
 * any order and equals the value-order walk's bit for bit), and the value order is not read.
 *
 * Memory: 8 bytes per non-zero (an Int32 per stored entry for the order and a float32
 * mid-rank: 680 MB for the 84 M non-zeros of the 100k-cell benchmark set), 25 bytes per gene,
 * and 64 bytes per cell for the table of log-normalised values of counts 1..8 (6.4 MB at 100k
 * cells), which spares the log1p of most entries in the cell-order pass. Building it sorts
 * every gene once (the entries of counts 1..8 of long rows by integer rank, with a radix
 * sort), with scratch buffers of about 50 bytes per cell.
 */
import type { GeneMajorMatrix } from "../sparse.ts";
import { normalizedValue, type Normalizer } from "../normalize.ts";
import { emptyRankSums, rankSumFromSums, summarizeGroups, type GeneRankSums } from "./wilcoxon.ts";

/** Counts 1..SMALL_COUNTS have their log-normalised value per cell in a table. */
const SMALL_COUNTS = 8;
/** cells per tile of the cell-order pass (the count-1 slice of the table: 128 kB) */
const CELL_TILE = 16384;

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

export interface GeneValueOrder {
  /** per stored entry, row by row (aligned with the matrix's indptr): cell, or ~cell when tied with the next entry */
  cells: Int32Array;
  /** per gene: offset in its row of the first entry whose value is ≥ 0 and not NaN (row length when none) */
  nonNegativeFrom: Int32Array;
  /** per gene: 1 when the entry at `nonNegativeFrom` is ±0 (stored zeros, which join the implicit zeros) */
  storedZeros: Uint8Array;
  /** per gene: offset in its row of the first NaN entry (row length when none) */
  nanFrom: Int32Array;
  /** `[(k - 1) * nCells + cell]` = log-normalised value of count k in that cell (count-major: the count-1 values, most lookups, stay in cache); null for the identity normaliser */
  smallCounts: Float64Array | null;
  /**
   * The ranks when every cell is in one of the two groups (a cluster against the rest, the
   * common comparison), absent above MAX_RANKED_CELLS cells. Ranks then do not depend on the
   * groups: with them a comparison is one pass in cell order (see rankSumPerGeneOrdered).
   */
  ranks?: AllCellRanks;
}

/** Ranks of each gene's values among all cells (implicit zeros included, no NaN). */
export interface AllCellRanks {
  /** per stored entry, aligned with the matrix (cell order): its mid-rank among all cells (a half-integer, exact in float32) */
  midrank: Float32Array;
  /** per gene: the mid-rank of its implicit zeros (their tie block, with any stored zeros) */
  zeroMidrank: Float64Array;
  /** per gene: Σ (t³ − t) over its tie blocks, added in value order as rankSumPerGene adds it; NaN when the gene has a NaN value (no all-cell ranks) */
  tieSum: Float64Array;
}

/** Above this many cells a mid-rank (≤ cells + 0.5, in halves) is not exact in float32. */
const MAX_RANKED_CELLS = 2 ** 23 - 1;

/** The per-gene value order of `m` under `norm` (see the file header). */
export function buildGeneValueOrder(m: GeneMajorMatrix, norm: Normalizer, progress: (fraction: number) => void = () => {}): GeneValueOrder {
  const steps = valueOrderSteps(m, norm, progress);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same, built a slice of genes at a time with `pause()` awaited between slices (tens of
 * milliseconds each): built in the background, it leaves the event loop free for requests.
 */
export async function buildGeneValueOrderInSlices(m: GeneMajorMatrix, norm: Normalizer, pause: () => Promise<void>): Promise<GeneValueOrder> {
  const steps = valueOrderSteps(m, norm, () => {});
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await pause();
  }
}

/** Genes per slice of valueOrderSteps. */
const GENES_PER_SLICE = 256;

function* valueOrderSteps(m: GeneMajorMatrix, norm: Normalizer, progress: (fraction: number) => void): Generator<void, GeneValueOrder> {
  const { nGenes, nCells, indptr, indices, values } = m;
  const cells = new Int32Array(indices.length);
  const nonNegativeFrom = new Int32Array(nGenes);
  const storedZeros = new Uint8Array(nGenes);
  const nanFrom = new Int32Array(nGenes);
  const smallCounts = smallCountTable(norm, nCells);
  const ranked = smallCounts === null ? null : rankTable(smallCounts);
  let maxRow = 0;
  for (let g = 0; g < nGenes; g++) maxRow = Math.max(maxRow, indptr[g + 1]! - indptr[g]!);
  const keys = new Float64Array(maxRow);
  const ids = new Int32Array(maxRow);
  const scratch = new SortScratch(maxRow);
  const small = ranked === null ? null : new RankSort(maxRow, ranked.values.length);
  const ranks: AllCellRanks | null = nCells <= MAX_RANKED_CELLS
    ? { midrank: new Float32Array(indices.length), zeroMidrank: new Float64Array(nGenes), tieSum: new Float64Array(nGenes) }
    : null;
  for (let g = 0; g < nGenes; g++) {
    if (g % GENES_PER_SLICE === GENES_PER_SLICE - 1) {
      progress(g / nGenes);
      yield;
    }
    const start = indptr[g]!;
    const end = indptr[g + 1]!;
    // values in, NaN to the back; small whole counts (most entries) by the rank of their
    // value, the rest by value
    let front = 0;
    let back = end - start;
    let nSmall = 0;
    if (small !== null && end - start >= small.minRow) {
      const rank = ranked!.rank;
      const sk = small.keyBuffer;
      const si = small.idBuffer;
      for (let q = start; q < end; q++) {
        const cell = indices[q]!;
        const raw = values[q]!;
        const k = raw - 1;
        if (k >= 0 && k < SMALL_COUNTS && (k | 0) === k) { sk[nSmall] = rank[k * nCells + cell]!; si[nSmall] = q - start; nSmall++; continue; }
        const v = normalizedValue(norm, raw, cell);
        if (Number.isNaN(v)) { back--; keys[back] = v; ids[back] = q - start; } else { keys[front] = v; ids[front] = q - start; front++; }
      }
    } else {
      for (let q = start; q < end; q++) {
        const cell = indices[q]!;
        const raw = values[q]!;
        const k = raw - 1;
        const v = smallCounts !== null && k >= 0 && k < SMALL_COUNTS && (k | 0) === k ? smallCounts[k * nCells + cell]! : normalizedValue(norm, raw, cell);
        if (Number.isNaN(v)) { back--; keys[back] = v; ids[back] = q - start; } else { keys[front] = v; ids[front] = q - start; front++; }
      }
    }
    if (front <= 64 || !LITTLE_ENDIAN) sortByKey(keys, ids, 0, front - 1); else scratch.sort(keys, ids, front);
    if (nSmall > 0) {
      small!.sort(nSmall);
      small!.mergeInto(keys, ids, front, nSmall, ranked!.values);
      front += nSmall;
    }
    let nonNeg = front;
    for (let i = 0; i < front; i++) if (keys[i]! >= 0) { nonNeg = i; break; }
    nonNegativeFrom[g] = nonNeg;
    storedZeros[g] = nonNeg < front && keys[nonNeg] === 0 ? 1 : 0;
    nanFrom[g] = front;
    const n = end - start;
    for (let i = 0; i < n; i++) {
      const cell = indices[start + ids[i]!]!;
      cells[start + i] = i + 1 < front && keys[i] === keys[i + 1] ? ~cell : cell;
    }
    if (ranks === null) continue;
    if (front < n) { ranks.tieSum[g] = NaN; ranks.zeroMidrank[g] = NaN; continue; } // NaN values: no all-cell ranks
    // mid-ranks among all cells: the walk rankSumPerGeneOrdered makes when every cell is in a
    // group (same blocks, same order of the tie sum's terms)
    const { midrank, zeroMidrank } = ranks;
    const zeros = nCells - n;
    let pos = 0;
    let ties = 0;
    let blockStart = 0;
    let pendingZeros = 0; // implicit zeros joining the block of stored zeros
    for (let i = 0; i < front; i++) {
      if (i === nonNeg) {
        if (storedZeros[g] === 1) pendingZeros = zeros;
        else {
          zeroMidrank[g] = pos + (zeros + 1) / 2;
          if (zeros > 1) ties += zeros * zeros * zeros - zeros;
          pos += zeros;
        }
      }
      if (i + 1 < front && keys[i] === keys[i + 1]) continue;
      const size = i + 1 - blockStart + pendingZeros;
      const mid = pos + (size + 1) / 2;
      for (let r = blockStart; r <= i; r++) midrank[start + ids[r]!] = mid;
      if (pendingZeros > 0) { zeroMidrank[g] = mid; pendingZeros = 0; }
      if (size > 1) ties += size * size * size - size;
      pos += size;
      blockStart = i + 1;
    }
    if (nonNeg === front) { // no value ≥ 0: the zeros come last
      zeroMidrank[g] = pos + (zeros + 1) / 2;
      if (zeros > 1) ties += zeros * zeros * zeros - zeros;
    }
    ranks.tieSum[g] = ties;
  }
  const order: GeneValueOrder = { cells, nonNegativeFrom, storedZeros, nanFrom, smallCounts };
  if (ranks !== null) order.ranks = ranks;
  return order;
}

/**
 * The distinct values of the small-count table in ascending order, and each table entry's
 * position among them (equal doubles, equal rank), so that entries of small counts sort as
 * integers; null when the table holds a NaN (negative totals), which then sorts by value.
 */
function rankTable(table: Float64Array): { values: Float64Array; rank: Int32Array } | null {
  const sorted = table.slice().sort();
  if (sorted.length > 0 && Number.isNaN(sorted[sorted.length - 1]!)) return null;
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i]!;
  const values = sorted.slice(0, n);
  const rank = new Int32Array(table.length);
  for (let i = 0; i < table.length; i++) {
    const v = table[i]!;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (values[mid]! < v) lo = mid + 1; else hi = mid; }
    rank[i] = lo;
  }
  return { values, rank };
}

/** A least-significant-digit radix sort of (rank, cell) pairs by rank, with its buffers. */
class RankSort {
  private keys: Int32Array;
  private ids: Int32Array;
  private keys2: Int32Array;
  private ids2: Int32Array;
  private readonly counts: Int32Array;
  private readonly passes: number;
  private readonly bits: number;
  /** rows shorter than this sort by value instead (the bucket sweeps would dominate) */
  readonly minRow: number;

  constructor(n: number, nRanks: number) {
    this.keys = new Int32Array(n);
    this.ids = new Int32Array(n);
    this.keys2 = new Int32Array(n);
    this.ids2 = new Int32Array(n);
    // two passes of half the rank's bits each (three above 2 x 12 bits)
    const keyBits = 32 - Math.clz32(Math.max(1, nRanks - 1));
    this.passes = keyBits <= 24 ? 2 : 3;
    this.bits = Math.max(4, Math.ceil(keyBits / this.passes));
    this.counts = new Int32Array(1 << this.bits);
    this.minRow = 4 << this.bits;
  }

  /** the buffers pairs are written to before `sort` (valid until the next sort) */
  get keyBuffer(): Int32Array { return this.keys; }
  get idBuffer(): Int32Array { return this.ids; }

  sort(n: number): void {
    const bits = this.bits;
    const mask = (1 << bits) - 1;
    const counts = this.counts;
    for (let pass = 0, shift = 0; pass < this.passes; pass++, shift += bits) {
      const { keys, ids, keys2, ids2 } = this;
      counts.fill(0);
      for (let i = 0; i < n; i++) counts[(keys[i]! >>> shift) & mask]!++;
      let sum = 0;
      for (let b = 0; b <= mask; b++) { const c = counts[b]!; counts[b] = sum; sum += c; }
      for (let i = 0; i < n; i++) {
        const key = keys[i]!;
        const at = counts[(key >>> shift) & mask]!++;
        keys2[at] = key;
        ids2[at] = ids[i]!;
      }
      this.keys = keys2; this.keys2 = keys;
      this.ids = ids2; this.ids2 = ids;
    }
  }

  /**
   * Merges the n sorted pairs (as values) into keys/ids, whose first `front` entries are
   * sorted values: from the back, so the result fills keys[0, front + n) in place.
   */
  mergeInto(keys: Float64Array, ids: Int32Array, front: number, n: number, rankValues: Float64Array): void {
    const sk = this.keys;
    const si = this.ids;
    let i = front - 1;
    let j = n - 1;
    let w = front + n - 1;
    while (j >= 0) {
      const v = rankValues[sk[j]!]!;
      if (i >= 0 && keys[i]! > v) { keys[w] = keys[i]!; ids[w] = ids[i]!; i--; } else { keys[w] = v; ids[w] = si[j]!; j--; }
      w--;
    }
  }
}

/** The `smallCounts` table of a value order (see GeneValueOrder); null for the identity normaliser. */
export function smallCountTable(norm: Normalizer, nCells: number): Float64Array | null {
  if (norm.kind !== "counts") return null;
  const table = new Float64Array(nCells * SMALL_COUNTS);
  for (let c = 0; c < nCells; c++) {
    for (let k = 1; k <= SMALL_COUNTS; k++) table[(k - 1) * nCells + c] = normalizedValue(norm, k, c);
  }
  return table;
}

/**
 * Sorting n > 64 keys (no NaN) with their ids by the engine's native sort of 64-bit integers:
 * each key's bits, made order-preserving (sign bit flipped for ≥ 0, all bits for < 0), with
 * the lowest ⌈log2 n⌉ bits replaced by the entry's position, so the integers sort by value
 * (up to those low bits) and carry their entry along. An insertion sort on the full values
 * then puts in order the rare entries whose values differ only in the bits given up.
 */
class SortScratch {
  private readonly words: BigUint64Array;
  private readonly halves: Uint32Array;
  private readonly keyHalves: Uint32Array;
  private readonly keyCopy: Float64Array;
  private readonly idCopy: Int32Array;

  constructor(n: number) {
    this.words = new BigUint64Array(n);
    this.halves = new Uint32Array(this.words.buffer);
    this.keyCopy = new Float64Array(n);
    this.keyHalves = new Uint32Array(this.keyCopy.buffer);
    this.idCopy = new Int32Array(n);
  }

  sort(keys: Float64Array, ids: Int32Array, n: number): void {
    const { words, halves, keyCopy, keyHalves, idCopy } = this;
    keyCopy.set(keys.subarray(0, n));
    idCopy.set(ids.subarray(0, n));
    const bits = 32 - Math.clz32(n - 1);
    const low = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
    // halves[2i] is the low word: typed arrays use the platform's byte order, little-endian
    // wherever this runs (LITTLE_ENDIAN; buildGeneValueOrder uses sortByKey otherwise)
    for (let i = 0; i < n; i++) {
      let hi = keyHalves[2 * i + 1]!;
      let lo = keyHalves[2 * i]!;
      if (hi >>> 31 === 1) { hi = ~hi; lo = ~lo; } else hi |= 0x80000000;
      halves[2 * i + 1] = hi;
      halves[2 * i] = (lo & ~low) | i;
    }
    words.subarray(0, n).sort();
    for (let r = 0; r < n; r++) {
      const i = halves[2 * r]! & low;
      keys[r] = keyCopy[i]!;
      ids[r] = idCopy[i]!;
    }
    insertionSort(keys, ids, 0, n - 1);
  }
}

/** Sorts keys[lo..hi] ascending (no NaN) and moves ids with them; equal keys end up adjacent. */
function sortByKey(keys: Float64Array, ids: Int32Array, lo: number, hi: number): void {
  while (hi - lo > 16) {
    // median of three as pivot, Hoare partition (stops on equal keys, so ties split evenly)
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < keys[lo]!) swap(keys, ids, mid, lo);
    if (keys[hi]! < keys[lo]!) swap(keys, ids, hi, lo);
    if (keys[hi]! < keys[mid]!) swap(keys, ids, hi, mid);
    const pivot = keys[mid]!;
    let i = lo - 1;
    let j = hi + 1;
    for (;;) {
      do i++; while (keys[i]! < pivot);
      do j--; while (pivot < keys[j]!);
      if (i >= j) break;
      swap(keys, ids, i, j);
    }
    // recurse into the smaller side, loop on the larger
    if (j - lo < hi - j) { sortByKey(keys, ids, lo, j); lo = j + 1; } else { sortByKey(keys, ids, j + 1, hi); hi = j; }
  }
  insertionSort(keys, ids, lo, hi);
}

/** Insertion sort of keys[lo..hi] with their ids: linear when they are nearly in order. */
function insertionSort(keys: Float64Array, ids: Int32Array, lo: number, hi: number): void {
  for (let i = lo + 1; i <= hi; i++) {
    const k = keys[i]!;
    const id = ids[i]!;
    let j = i - 1;
    while (j >= lo && k < keys[j]!) { keys[j + 1] = keys[j]!; ids[j + 1] = ids[j]!; j--; }
    keys[j + 1] = k;
    ids[j + 1] = id;
  }
}

function swap(keys: Float64Array, ids: Int32Array, a: number, b: number): void {
  const k = keys[a]!; keys[a] = keys[b]!; keys[b] = k;
  const i = ids[a]!; ids[a] = ids[b]!; ids[b] = i;
}

/**
 * `rankSumPerGene` (wilcoxon.ts) with the value order of {@link buildGeneValueOrder} built
 * from the same matrix and normaliser: the same results, bit for bit, in time linear in the
 * stored entries. Where rankSumPerGene skips a tie block without cells of either group, this
 * adds `0 · (pos + (t + 1)/2)` (= +0) to the rank sum and 0 to the position, which changes
 * no bit and spares a branch per entry.
 */
export function rankSumPerGeneOrdered(
  m: GeneMajorMatrix, norm: Normalizer, order: GeneValueOrder, labels: Int8Array, n1: number, n2: number,
  progress: (fraction: number) => void = () => {},
): GeneRankSums {
  const nGenes = m.nGenes;
  const out = emptyRankSums(nGenes);
  const { p, auc } = out;
  const { indptr, indices, values, nCells } = m;
  const { cells, nonNegativeFrom, storedZeros, nanFrom, smallCounts } = order;
  // cell order: group sums (added in the order rankSumPerGene adds them) and non-zero counts,
  // over tiles of CELL_TILE cells (every gene's part in one tile, then the next tile), so the
  // table lookups stay within the tile's slice of the small-count table
  const sums1 = new Float64Array(nGenes);
  const sums2 = new Float64Array(nGenes);
  const counts = new Int32Array(4 * nGenes); // k1, k2, nz1, nz2 per gene
  // every cell in a group: group 1's rank sum from the all-cell mid-ranks, in the same pass
  // (exact: half-integers below 2^52, whatever the order of addition)
  const ranks = n1 + n2 === nCells ? order.ranks : undefined;
  const midrank = ranks?.midrank ?? new Float32Array(0);
  const rankSums1 = new Float64Array(ranks ? nGenes : 0);
  const cursor = indptr.slice(0, nGenes);
  for (let tileEnd = CELL_TILE; ; tileEnd += CELL_TILE) {
    for (let g = 0; g < nGenes; g++) {
      let q = cursor[g]!;
      const end = indptr[g + 1]!;
      if (q === end) continue;
      let k1 = counts[4 * g]!;
      let k2 = counts[4 * g + 1]!;
      let nz1 = counts[4 * g + 2]!;
      let nz2 = counts[4 * g + 3]!;
      let sum1 = sums1[g]!;
      let sum2 = sums2[g]!;
      if (ranks) {
        let rs1 = rankSums1[g]!;
        for (; q < end; q++) {
          const cell = indices[q]!;
          if (cell >= tileEnd) break;
          const label = labels[cell]!;
          const raw = values[q]!;
          const k = raw - 1;
          const v = smallCounts !== null && k >= 0 && k < SMALL_COUNTS && (k | 0) === k
            ? smallCounts[k * nCells + cell]!
            : normalizedValue(norm, raw, cell);
          if (label === 1) { k1++; sum1 += v; if (v !== 0) nz1++; rs1 += midrank[q]!; } else { k2++; sum2 += v; if (v !== 0) nz2++; }
        }
        rankSums1[g] = rs1;
      } else {
        for (; q < end; q++) {
          const cell = indices[q]!;
          if (cell >= tileEnd) break;
          const label = labels[cell]!;
          if (label === 0) continue;
          const raw = values[q]!;
          const k = raw - 1;
          const v = smallCounts !== null && k >= 0 && k < SMALL_COUNTS && (k | 0) === k
            ? smallCounts[k * nCells + cell]!
            : normalizedValue(norm, raw, cell);
          if (label === 1) { k1++; sum1 += v; if (v !== 0) nz1++; } else { k2++; sum2 += v; if (v !== 0) nz2++; }
        }
      }
      cursor[g] = q;
      counts[4 * g] = k1;
      counts[4 * g + 1] = k2;
      counts[4 * g + 2] = nz1;
      counts[4 * g + 3] = nz2;
      sums1[g] = sum1;
      sums2[g] = sum2;
    }
    if (tileEnd >= nCells) break;
  }
  progress(0.5);
  for (let g = 0; g < nGenes; g++) {
    if ((g & 4095) === 4095) progress(0.5 + 0.5 * (g / nGenes));
    const start = indptr[g]!;
    const end = indptr[g + 1]!;
    const k1 = counts[4 * g]!;
    const k2 = counts[4 * g + 1]!;
    const nz1 = counts[4 * g + 2]!;
    const nz2 = counts[4 * g + 3]!;
    const sum1 = sums1[g]!;
    const sum2 = sums2[g]!;
    if (!summarizeGroups(out, g, sum1, sum2, nz1, nz2, n1, n2, k1 + k2)) continue;
    if (ranks && !Number.isNaN(ranks.tieSum[g]!)) {
      const r = rankSumFromSums(rankSums1[g]! + (n1 - k1) * ranks.zeroMidrank[g]!, ranks.tieSum[g]!, n1, n2);
      p[g] = r.p;
      auc[g] = r.auc;
      continue;
    }
    // value order: NaN are dropped as R does (they leave the group sizes)
    const nanStart = start + nanFrom[g]!;
    let nan1 = 0;
    let nan2 = 0;
    for (let q = nanStart; q < end; q++) {
      const label = labels[cells[q]!]!; // NaN entries are never tied
      nan1 += label & 1;
      nan2 += label >> 1;
    }
    const g1 = n1 - nan1;
    const g2 = n2 - nan2;
    if (g1 <= 0 || g2 <= 0) { p[g] = NaN; auc[g] = NaN; continue; }
    const zeros1 = g1 - (k1 - nan1);
    const zeros2 = g2 - (k2 - nan2);
    const zeroAt = start + nonNegativeFrom[g]!;
    let pos = 0;
    let rankSum1 = 0;
    let tieSum = 0;
    let c1 = 0; // group cells in the tie block being read
    let c2 = 0;
    for (let q = start; q < nanStart; q++) {
      if (q === zeroAt) {
        // the implicit zeros: one block with the stored zeros if any, else a block of their own
        c1 = zeros1;
        c2 = zeros2;
        if (storedZeros[g] !== 1) {
          const t = c1 + c2;
          rankSum1 += c1 * (pos + (t + 1) / 2);
          if (t > 1) tieSum += t * t * t - t;
          pos += t;
          c1 = 0;
          c2 = 0;
        }
      }
      const cell = cells[q]!;
      if (cell < 0) { // tied with the next entry
        const label = labels[~cell]!;
        c1 += label & 1;
        c2 += label >> 1;
        continue;
      }
      const label = labels[cell]!;
      c1 += label & 1;
      c2 += label >> 1;
      const t = c1 + c2;
      rankSum1 += c1 * (pos + (t + 1) / 2);
      if (t > 1) tieSum += t * t * t - t;
      pos += t;
      c1 = 0;
      c2 = 0;
    }
    if (zeroAt === nanStart) { // no value ≥ 0: the zeros come last
      const t = zeros1 + zeros2;
      rankSum1 += zeros1 * (pos + (t + 1) / 2);
      if (t > 1) tieSum += t * t * t - t;
    }
    const r = rankSumFromSums(rankSum1, tieSum, g1, g2);
    p[g] = r.p;
    auc[g] = r.auc;
  }
  return out;
}
