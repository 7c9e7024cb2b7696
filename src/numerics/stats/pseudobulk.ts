/**
 * Pseudobulk counts: the raw counts of the selected cells summed per sample, as the original
 * worker's `makePseudobulkMatrix` does (presto `sumGroups` / BPCells `pseudobulk_matrix`).
 * Works on the gene-major CSR matrix in one pass over the non-zeros; the result is dense and
 * gene-major (gene g's sums for samples 0..nSamples-1 at [g·nSamples, (g+1)·nSamples)), the
 * layout edger.ts, voom.ts and linear-model.ts use. Counts are integers, so float64 sums are exact.
 */

/** The CSR arrays this needs (a GeneMajorMatrix fits). */
export interface CsrCounts {
  nGenes: number;
  indptr: ArrayLike<number>;
  indices: ArrayLike<number>;
  values: ArrayLike<number>;
}

/**
 * Per-gene, per-sample sums. `sampleOfCell[c]` is the sample (0..nSamples-1) that cell c's
 * counts go to, or -1 for cells that are not used.
 */
export function sumCountsPerSample(m: CsrCounts, sampleOfCell: Int32Array, nSamples: number): Float64Array {
  const out = new Float64Array(m.nGenes * nSamples);
  const { indptr, indices, values } = m;
  for (let g = 0; g < m.nGenes; g++) {
    const row = g * nSamples;
    for (let q = indptr[g]!, end = indptr[g + 1]!; q < end; q++) {
      const s = sampleOfCell[indices[q]!]!;
      if (s >= 0) out[row + s]! += values[q]!;
    }
  }
  return out;
}

/** Column sums of a gene-major dense matrix (the library sizes). */
export function librarySizes(counts: Float64Array, nGenes: number, nSamples: number): Float64Array {
  const lib = new Float64Array(nSamples);
  for (let g = 0; g < nGenes; g++) for (let s = 0; s < nSamples; s++) lib[s]! += counts[g * nSamples + s]!;
  return lib;
}
