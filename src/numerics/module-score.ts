/**
 * Seurat's module scores (`AddModuleScore`) and cell-cycle phases (`CellCycleScoring`),
 * reimplemented from Seurat 4.3.0's documented behaviour and checked against it on PBMC 3k
 * (test/tasks/cell-cycle-scoring.test.ts, fixture scripts/reference/seurat-cellcycle.R).
 *
 * For a list of feature genes, a cell's score is the mean of the features' log-normalised
 * values minus the mean over a set of control genes with similar average expression:
 * 1. every gene's average log-normalised value over all cells, genes ordered by it (stable);
 * 2. 24 bins of about equal size: R's `cut_number` on the ordered averages plus `rnorm/1e30`
 *    (the noise only separates genes with equal averages, e.g. the never-expressed ones), i.e.
 *    breaks at the type-7 quantiles 0, 1/24, …, 1, intervals closed on the left, the last
 *    closed on both sides;
 * 3. for each feature, `ctrl` genes drawn without replacement from its bin (R's `sample`), the
 *    draws of all features of a list pooled and made unique (first occurrence kept);
 * 4. score = mean over the features − mean over the unique control genes, per cell.
 * The random numbers are R's own (r-random.ts) seeded as `set.seed(1)`, drawn in R's order
 * (the noise for all genes first, then the samples list by list, feature by feature), so the
 * control genes, and with them the scores, are Seurat's.
 *
 * Arrays in, arrays out: a gene-major matrix and its normaliser, gene indices for the lists.
 */
import type { GeneMajorMatrix } from "./sparse.ts";
import { normalizedRow, type Normalizer } from "./normalize.ts";
import { quantile7 } from "./stats/r-base.ts";
import { RRandom } from "./r-random.ts";

/** Seurat's AddModuleScore defaults as CellCycleScoring uses them. */
export const MODULE_SCORE_DEFAULTS = { nbin: 24, seed: 1 } as const;

/** The data cannot be scored the way Seurat would (Seurat stops with an error there too). */
export class ModuleScoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModuleScoreError";
  }
}

export interface ModuleScoreInput {
  matrix: GeneMajorMatrix;
  normalizer: Normalizer;
  /** gene indices of each feature list, without repeats, in the order Seurat would see them */
  features: readonly (readonly number[])[];
  /** control genes drawn per feature */
  ctrl: number;
  nbin?: number;
  seed?: number;
  /** control gene sets to use instead of drawing them (one per list; tests inject R's) */
  controls?: readonly (readonly number[])[];
}

export interface ModuleScoreResult {
  /** per list, the score of each cell */
  scores: Float64Array[];
  /** per list, the unique control genes in first-draw order */
  controls: Int32Array[];
  /** per gene, its expression bin (1-based, as R's `cut(labels = FALSE)`) */
  bins: Int32Array;
}

/** Per-gene mean of the log-normalised values over all cells (Matrix::rowMeans on `data`). */
export function geneAverages(matrix: GeneMajorMatrix, normalizer: Normalizer): Float64Array {
  const avg = new Float64Array(matrix.nGenes);
  for (let g = 0; g < matrix.nGenes; g++) {
    const { values } = normalizedRow(matrix, normalizer, g);
    let s = 0;
    for (let i = 0; i < values.length; i++) s += values[i]!;
    avg[g] = s / matrix.nCells;
  }
  return avg;
}

/** R's `.bincode(x, breaks, right = FALSE, include.lowest = TRUE)`: 1-based bin, 0 outside. */
function binOf(x: number, breaks: readonly number[]): number {
  let lo = 0;
  let hi = breaks.length - 1;
  if (x < breaks[lo]! || breaks[hi]! < x) return 0;
  while (hi - lo >= 2) {
    const mid = (hi + lo) >> 1;
    if (x >= breaks[mid]!) lo = mid;
    else hi = mid;
  }
  return lo + 1;
}

/**
 * Expression bins as AddModuleScore makes them; consumes the noise draws from `rng`.
 * Returns each gene's bin and, per bin, its genes in order of increasing average.
 */
function expressionBins(avg: Float64Array, nbin: number, rng: RRandom): { bins: Int32Array; members: Int32Array[] } {
  const n = avg.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => avg[a]! - avg[b]!); // stable
  const noisy = new Float64Array(n);
  for (let i = 0; i < n; i++) noisy[i] = avg[order[i]!]! + rng.normRand() / 1e30;
  const probs = [0];
  for (let i = 1; i < nbin; i++) probs.push(i * (1 / nbin)); // R's seq(0, 1, length.out = nbin + 1)
  probs.push(1);
  const breaks = quantile7(noisy, probs);
  for (let i = 1; i < breaks.length; i++) {
    if (breaks[i] === breaks[i - 1]) throw new ModuleScoreError(`too few distinct gene averages to make ${nbin} expression bins`);
  }
  const bins = new Int32Array(n);
  const lists: number[][] = Array.from({ length: nbin + 1 }, () => []);
  for (let i = 0; i < n; i++) {
    const b = binOf(noisy[i]!, breaks);
    bins[order[i]!] = b;
    lists[b]!.push(order[i]!);
  }
  return { bins, members: lists.map((l) => Int32Array.from(l)) };
}

/** Per-cell mean of the log-normalised values over `genes`. */
function meanOver(matrix: GeneMajorMatrix, normalizer: Normalizer, genes: ArrayLike<number>): Float64Array {
  const sum = new Float64Array(matrix.nCells);
  for (let k = 0; k < genes.length; k++) {
    const { cells, values } = normalizedRow(matrix, normalizer, genes[k]!);
    for (let i = 0; i < cells.length; i++) sum[cells[i]!]! += values[i]!;
  }
  for (let c = 0; c < sum.length; c++) sum[c]! /= genes.length;
  return sum;
}

/** Seurat's AddModuleScore over several feature lists at once (they share the draws). */
export function moduleScores(input: ModuleScoreInput): ModuleScoreResult {
  const { matrix, normalizer, features, ctrl } = input;
  const nbin = input.nbin ?? MODULE_SCORE_DEFAULTS.nbin;
  const rng = new RRandom(input.seed ?? MODULE_SCORE_DEFAULTS.seed);
  features.forEach((f, i) => {
    if (f.length === 0) throw new ModuleScoreError(`feature list ${i + 1} has no genes in the data`);
  });
  const { bins, members } = expressionBins(geneAverages(matrix, normalizer), nbin, rng);
  const controls = features.map((list, i) => {
    if (input.controls) return Int32Array.from(input.controls[i]!);
    const drawn: number[] = [];
    for (const g of list) {
      const pool = members[bins[g]!]!;
      if (pool.length < ctrl) {
        throw new ModuleScoreError(`an expression bin holds ${pool.length} genes, fewer than the ${ctrl} control genes to draw from it`);
      }
      // R's sample(x) of a single number would sample 1:x; a one-gene bin cannot occur with ctrl ≥ 2
      for (const j of rng.sampleInt(pool.length, ctrl)) drawn.push(pool[j]!);
    }
    return Int32Array.from(new Set(drawn));
  });
  const scores = features.map((list, i) => {
    const f = meanOver(matrix, normalizer, list);
    const c = meanOver(matrix, normalizer, controls[i]!);
    for (let k = 0; k < f.length; k++) f[k]! -= c[k]!;
    return f;
  });
  return { scores, controls, bins };
}

export type CellCyclePhase = "S" | "G2M" | "G1" | "Undecided";

/**
 * CellCycleScoring's assignment: G1 when both scores are negative, else the phase with the
 * higher score, "Undecided" when they are equal.
 */
export function cellCyclePhase(s: number, g2m: number): CellCyclePhase {
  if (s < 0 && g2m < 0) return "G1";
  if (s === g2m) return "Undecided";
  return s > g2m ? "S" : "G2M";
}
