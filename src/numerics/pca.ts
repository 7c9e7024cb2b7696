/**
 * Seurat's ScaleData + RunPCA on the highly variable genes: each gene's log-normalised values
 * are centred, divided by their standard deviation (n - 1) and clipped above at 10, then the
 * dense genes x cells matrix goes to scran.js's PCA (IRLBA).
 */
import type { GeneMajorMatrix } from "../experiment/types.ts";
import { normalizedRow, type Normalizer } from "./normalize.ts";
import { pcaOfDense, type PcaOutput } from "./scran.ts";

export const SCALE_MAX = 10;

/** Scaled values of `genes`, column-major genes x cells (each cell's values contiguous). */
export function scaleGenes(m: GeneMajorMatrix, norm: Normalizer, genes: Int32Array, scaleMax = SCALE_MAX): Float64Array {
  const nG = genes.length;
  const n = m.nCells;
  const out = new Float64Array(nG * n);
  genes.forEach((g, f) => {
    const { cells, values } = normalizedRow(m, norm, g);
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i]!;
    const mean = sum / n;
    let ss = (n - values.length) * mean * mean;
    for (let i = 0; i < values.length; i++) { const d = values[i]! - mean; ss += d * d; }
    const sd = Math.sqrt(ss / (n - 1));
    const zero = sd > 0 ? Math.min(scaleMax, -mean / sd) : 0;
    for (let c = 0; c < n; c++) out[c * nG + f] = zero;
    if (sd > 0) for (let i = 0; i < values.length; i++) out[cells[i]! * nG + f] = Math.min(scaleMax, (values[i]! - mean) / sd);
  });
  return out;
}

/** PCA of the scaled HVGs: `nPcs` components (fewer if the data cannot support them). */
export function computePca(m: GeneMajorMatrix, norm: Normalizer, hvgs: Int32Array, nPcs: number): Promise<PcaOutput> {
  const scaled = scaleGenes(m, norm, hvgs);
  return pcaOfDense(hvgs.length, m.nCells, scaled, nPcs);
}
