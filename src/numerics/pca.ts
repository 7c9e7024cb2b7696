/**
 * Seurat's ScaleData + RunPCA on the highly variable genes. Seurat scales each gene to
 * z = (x − mean) / sd (sd with n − 1), clips z above at 10, and runs IRLBA on the dense result.
 *
 * The same matrix is handed to the PCA in sparse form (see `fitPca` for the method): with
 * a = min(x / sd, 10 + mean / sd) on the non-zeros (and 0 elsewhere), z = a − mean / sd
 * exactly, clipping included — zeros have z = −mean/sd < 10 and are never clipped. The PCA
 * centres a per gene, which equals z up to a per-gene constant that is non-zero only where
 * clipping happened (Seurat does not re-centre after clipping); the PCs agree with Seurat's to
 * the precision checked in the science tests, at the cost of the non-zeros instead of genes x
 * cells.
 */
import type { GeneMajorMatrix } from "./sparse.ts";
import { normalizedRow, type Normalizer } from "./normalize.ts";
import { covariancePca, orientSigns, type PcaOutput } from "./sparse-pca.ts";
import { irlbaPca } from "./scran.ts";

export const SCALE_MAX = 10;

/** A gene's sd over all n cells (n − 1; its stored values `x`, zeros implicit) and the cap on x / sd that clips z at scaleMax. */
function geneScale(x: Float64Array, n: number, scaleMax: number): { sd: number; cap: number } {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]!;
  const mean = sum / n;
  let ss = (n - x.length) * mean * mean;
  for (let i = 0; i < x.length; i++) { const d = x[i]! - mean; ss += d * d; }
  const sd = Math.sqrt(ss / (n - 1));
  return { sd, cap: scaleMax + mean / sd };
}

/** Rows of `genes` as sparse a = min(x/sd, scaleMax + mean/sd) (see the header). */
export function shiftedScaledRows(
  m: GeneMajorMatrix, norm: Normalizer, genes: Int32Array, scaleMax = SCALE_MAX,
): { indptr: Int32Array; indices: Int32Array; values: Float64Array } {
  const n = m.nCells;
  const indptr = new Int32Array(genes.length + 1);
  genes.forEach((g, f) => { indptr[f + 1] = indptr[f]! + (m.indptr[g + 1]! - m.indptr[g]!); });
  const indices = new Int32Array(indptr[genes.length]!);
  const values = new Float64Array(indptr[genes.length]!);
  genes.forEach((g, f) => {
    const { cells, values: x } = normalizedRow(m, norm, g);
    const { sd, cap } = geneScale(x, n, scaleMax);
    const base = indptr[f]!;
    indices.set(cells, base);
    for (let i = 0; i < x.length; i++) values[base + i] = sd > 0 ? Math.min(x[i]! / sd, cap) : 0;
  });
  return { indptr, indices, values };
}

/**
 * Above this many cells the PCs come from the genes x genes covariance (numerics/sparse-pca.ts),
 * at or below it from scran.js's IRLBA. Both give the same PCs to rounding (every PC's scores
 * correlate at r ≥ 0.9999 between the two on pbmc3k and the 100k set; the variances agree to
 * 5 digits; bench/large-data-path.ts): the covariance costs Σ non-zeros² per cell plus about a
 * second for the top eigenpairs, IRLBA hundreds of sparse products, so at 100k cells on one CPU
 * the covariance takes 5 s where IRLBA takes 26 s, while at a few thousand cells they cost about
 * the same (pbmc3k: IRLBA 1.3–1.9 s, the covariance 1.8–1.9 s). Small data stays on IRLBA so that
 * its results stay bit for bit what they were: the embeddings that follow (UMAP from the PCs)
 * amplify even rounding differences.
 */
export const COVARIANCE_PCA_CELLS = 50_000;

export type PcaMethod = "irlba" | "covariance";

/** The PCA of the scaled rows of `nCells` cells, by `method` or else the one COVARIANCE_PCA_CELLS chooses. */
function fitPca(
  nFeatures: number, nCells: number, rows: { indptr: Int32Array; indices: Int32Array; values: Float64Array }, nPcs: number,
  opts: { rotation?: boolean; orient?: boolean; method?: PcaMethod | undefined } = {},
): Promise<PcaOutput> | PcaOutput {
  return (opts.method ?? (nCells > COVARIANCE_PCA_CELLS ? "covariance" : "irlba")) === "covariance"
    ? covariancePca(nFeatures, nCells, rows.indptr, rows.indices, rows.values, nPcs, opts)
    : irlbaPca(nFeatures, nCells, rows.indptr, rows.indices, rows.values, nPcs, opts);
}

/**
 * Up to this many cells the PCs are computed on every cell. Above it they are fitted on a random
 * sample of this many cells and every cell is projected onto them: the fit's cost (the
 * covariance, and the cell-by-cell copy of the scaled HVGs it is built from, about 1.4 GB at a
 * million cells) then stops growing with the cells, and the projection is one pass over the
 * HVGs' non-zeros. (The limit was set when scran.js's IRLBA did the fit, in 32-bit WebAssembly
 * that could not hold a million cells' scaled HVGs; it is kept so that results above it stay
 * as they were, up to the change of fitting method.)
 */
export const PCA_SAMPLE_CELLS = 200_000;
const PCA_SAMPLE_SEED = 1;

/**
 * PCA of the scaled HVGs: `nPcs` components (fewer if the data cannot support them). Above
 * `sampleCells` cells, fitted on a sample and projected (see PCA_SAMPLE_CELLS). `method` is for
 * tests; the worker lets the number of (fitted) cells choose (see COVARIANCE_PCA_CELLS).
 */
export async function computePca(
  m: GeneMajorMatrix, norm: Normalizer, hvgs: Int32Array, nPcs: number, sampleCells = PCA_SAMPLE_CELLS, method?: PcaMethod,
): Promise<PcaOutput> {
  if (m.nCells > sampleCells) return sampledPca(m, norm, hvgs, Math.min(nPcs, sampleCells - 1), sampleCells, method);
  const rows = shiftedScaledRows(m, norm, hvgs);
  return fitPca(hvgs.length, m.nCells, rows, nPcs, { method });
}

/**
 * Each cell's position in a uniform random sample of `size` of the `n` cells (in cell order),
 * -1 for cells not drawn. Seeded (xorshift32, partial Fisher-Yates): the same n, size and seed
 * give the same sample.
 */
export function sampleCellPositions(n: number, size: number, seed: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    const j = i + (state % (n - i));
    const t = order[i]!; order[i] = order[j]!; order[j] = t;
  }
  const drawn = order.subarray(0, size).sort();
  const pos = order; // reused: drawn is copied out first
  const cells = Int32Array.from(drawn);
  pos.fill(-1);
  cells.forEach((c, p) => { pos[c] = p; });
  return pos;
}

/**
 * PCA fitted on `sampleCells` sampled cells, every cell projected: the genes are scaled with
 * the means and sds of all cells (as without a sample), the sample's scaled rows are fitted
 * for the loadings, and each cell's scores are its scaled values times the loadings, centred on
 * all cells' mean. Variances explained are the sample's.
 */
async function sampledPca(m: GeneMajorMatrix, norm: Normalizer, hvgs: Int32Array, nPcs: number, sampleCells: number, method: PcaMethod | undefined): Promise<PcaOutput> {
  const n = m.nCells;
  const nF = hvgs.length;
  const pos = sampleCellPositions(n, sampleCells, PCA_SAMPLE_SEED);
  const sd = new Float64Array(nF), cap = new Float64Array(nF), meanA = new Float64Array(nF);
  const parts: { cells: Int32Array; values: Float64Array }[] = [];
  const indptr = new Int32Array(nF + 1);
  hvgs.forEach((g, f) => {
    const { cells, values: x } = normalizedRow(m, norm, g);
    const scale = geneScale(x, n, SCALE_MAX);
    sd[f] = scale.sd;
    cap[f] = scale.cap;
    let kept = 0, sumA = 0;
    for (let i = 0; i < x.length; i++) {
      const a = sd[f]! > 0 ? Math.min(x[i]! / sd[f]!, cap[f]!) : 0;
      x[i] = a;
      sumA += a;
      if (pos[cells[i]!]! >= 0) kept++;
    }
    meanA[f] = sumA / n;
    const pc = new Int32Array(kept), pv = new Float64Array(kept);
    for (let i = 0, t = 0; i < x.length; i++) {
      const p = pos[cells[i]!]!;
      if (p >= 0) { pc[t] = p; pv[t++] = x[i]!; }
    }
    parts.push({ cells: pc, values: pv });
    indptr[f + 1] = indptr[f]! + kept;
  });
  const indices = new Int32Array(indptr[nF]!), values = new Float64Array(indptr[nF]!);
  parts.forEach((p, f) => { indices.set(p.cells, indptr[f]!); values.set(p.values, indptr[f]!); });
  parts.length = 0;
  const fit = await fitPca(nF, sampleCells, { indptr, indices, values }, nPcs, { rotation: true, orient: false, method });
  const k = fit.nPcs;
  const rot = fit.rotation!;
  // loadings gene by gene (k consecutive values per gene)
  const load = new Float64Array(nF * k);
  for (let f = 0; f < nF; f++) for (let j = 0; j < k; j++) load[f * k + j] = rot[f + j * nF]!;
  const scores = new Float64Array(n * k);
  const offset = new Float64Array(k);
  // each gene's values are normalised again rather than kept from the first pass: keeping them
  // would hold every HVG non-zero of all cells (~2 GB at a million cells) through the fit
  hvgs.forEach((g, f) => {
    const { cells, values: x } = normalizedRow(m, norm, g);
    const l = f * k;
    for (let j = 0; j < k; j++) offset[j] = offset[j]! + meanA[f]! * load[l + j]!;
    if (!(sd[f]! > 0)) return;
    for (let i = 0; i < x.length; i++) {
      const a = Math.min(x[i]! / sd[f]!, cap[f]!);
      const base = cells[i]! * k;
      for (let j = 0; j < k; j++) scores[base + j] = scores[base + j]! + a * load[l + j]!;
    }
  });
  for (let c = 0; c < n; c++) for (let j = 0; j < k; j++) scores[c * k + j] = scores[c * k + j]! - offset[j]!;
  orientSigns(scores, n, k);
  return { scores, nPcs: k, varianceExplained: fit.varianceExplained, totalVariance: fit.totalVariance };
}
