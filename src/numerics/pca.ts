/**
 * Seurat's ScaleData + RunPCA on the highly variable genes. Seurat scales each gene to
 * z = (x − mean) / sd (sd with n − 1), clips z above at 10, and runs IRLBA on the dense result.
 *
 * The same matrix is handed to scran.js in sparse form: with a = min(x / sd, 10 + mean / sd)
 * on the non-zeros (and 0 elsewhere), z = a − mean / sd exactly, clipping included — zeros have
 * z = −mean/sd < 10 and are never clipped. scran centres a per gene, which equals z up to a
 * per-gene constant that is non-zero only where clipping happened (Seurat does not re-centre
 * after clipping); the PCs agree with Seurat's to the precision checked in the science tests,
 * at the cost of the non-zeros instead of genes x cells.
 */
import type { GeneMajorMatrix } from "./sparse.ts";
import { normalizedRow, type Normalizer } from "./normalize.ts";
import { pcaOfSparseRows, type PcaOutput } from "./scran.ts";

export const SCALE_MAX = 10;

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
    let sum = 0;
    for (let i = 0; i < x.length; i++) sum += x[i]!;
    const mean = sum / n;
    let ss = (n - x.length) * mean * mean;
    for (let i = 0; i < x.length; i++) { const d = x[i]! - mean; ss += d * d; }
    const sd = Math.sqrt(ss / (n - 1));
    const cap = scaleMax + mean / sd;
    const base = indptr[f]!;
    indices.set(cells, base);
    for (let i = 0; i < x.length; i++) values[base + i] = sd > 0 ? Math.min(x[i]! / sd, cap) : 0;
  });
  return { indptr, indices, values };
}

/** PCA of the scaled HVGs: `nPcs` components (fewer if the data cannot support them). */
export function computePca(m: GeneMajorMatrix, norm: Normalizer, hvgs: Int32Array, nPcs: number): Promise<PcaOutput> {
  const rows = shiftedScaledRows(m, norm, hvgs);
  return pcaOfSparseRows(hvgs.length, m.nCells, rows.indptr, rows.indices, rows.values, nPcs);
}
