/**
 * Per-cell QC metrics and Seurat's LogNormalize: value = log1p(count / total * scaleFactor)
 * (natural log), computed on the fly from the gene-major counts and the per-cell totals, so the
 * stored matrix stays the counts. The operations run in Seurat's order (divide, then multiply):
 * `count * (1e4 / total)` differs in the last bit for some cells, which is enough to break ties
 * between cells in rank-based tests.
 */
import type { GeneMajorMatrix } from "./sparse.ts";

export const SCALE_FACTOR = 1e4;

export interface CellQc {
  /** total counts per cell */
  totalCounts: Float64Array;
  /** genes with a non-zero count per cell */
  genesDetected: Int32Array;
  /** percent of counts from mitochondrial genes (0..100) */
  percentMito: Float64Array;
}

/** QC metrics per cell. `mito[g]` marks mitochondrial genes. */
export function computeCellQc(m: GeneMajorMatrix, mito: Uint8Array): CellQc {
  const totalCounts = new Float64Array(m.nCells);
  const genesDetected = new Int32Array(m.nCells);
  const mitoCounts = new Float64Array(m.nCells);
  for (let g = 0; g < m.nGenes; g++) {
    const isMito = mito[g] === 1;
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) {
      const c = m.indices[p]!;
      const v = m.values[p]!;
      totalCounts[c]! += v;
      genesDetected[c]! += 1;
      if (isMito) mitoCounts[c]! += v;
    }
  }
  const percentMito = new Float64Array(m.nCells);
  for (let c = 0; c < m.nCells; c++) percentMito[c] = totalCounts[c]! > 0 ? (100 * mitoCounts[c]!) / totalCounts[c]! : 0;
  return { totalCounts, genesDetected, percentMito };
}

/** Mitochondrial genes: symbols starting with `MT-` or `mt-`. */
export function mitoMask(symbols: readonly string[]): Uint8Array {
  const out = new Uint8Array(symbols.length);
  symbols.forEach((s, i) => { if (s.startsWith("MT-") || s.startsWith("mt-")) out[i] = 1; });
  return out;
}

/**
 * How to turn a stored value into its log-normalised value: with counts, log1p(v * factor[cell]);
 * when the file only held log-normalised values, the identity.
 */
export type Normalizer = { kind: "counts"; totals: Float64Array; scaleFactor: number } | { kind: "identity" };

export function normalizedValue(n: Normalizer, value: number, cell: number): number {
  return n.kind === "counts" ? Math.log1p((value / n.totals[cell]!) * n.scaleFactor) : value;
}

/**
 * Log-normalised non-zero values of gene g (aligned with its stored cell indices); written into
 * the start of `into` when given (at least as long as the row), else into a new array.
 */
export function normalizedRow(m: GeneMajorMatrix, n: Normalizer, g: number, into?: Float64Array): { cells: Int32Array; values: Float64Array } {
  const start = m.indptr[g]!;
  const end = m.indptr[g + 1]!;
  const cells = m.indices.subarray(start, end);
  const values = into ? into.subarray(0, end - start) : new Float64Array(end - start);
  if (n.kind === "counts") {
    const { totals, scaleFactor } = n;
    for (let p = start; p < end; p++) values[p - start] = Math.log1p((m.values[p]! / totals[m.indices[p]!]!) * scaleFactor);
  } else {
    for (let p = start; p < end; p++) values[p - start] = m.values[p]!;
  }
  return { cells, values };
}
