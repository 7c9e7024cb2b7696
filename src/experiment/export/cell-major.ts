/**
 * The experiment's gene-major matrix (compressed rows per gene, cell indices ascending) read
 * cell by cell, as the exports need it (CSR of cells x genes for AnnData, CSC of genes x cells
 * for a dgCMatrix: the same arrays), in blocks of cells transposed one at a time, so the
 * transposed matrix never exists whole in memory (peak: one block of about BLOCK_NNZ values).
 */
import type { GeneMajorMatrix } from "../types.ts";

/** values per transposed block (about 20 MiB of work memory) */
export const BLOCK_NNZ = 1 << 20;

export interface CellBlock {
  /** the block's cells: [start, end) */
  start: number;
  end: number;
  /** gene index of each value, ascending within each cell */
  indices: Int32Array;
  /** `x(value, cell)` of each stored value */
  x: Float64Array;
  /** the stored values */
  stored: Float32Array;
}

/** Stored values per cell; throws an Error when a gene's cell indices are out of order or range. */
export function cellRowCounts(m: GeneMajorMatrix): Float64Array {
  const rowNnz = new Float64Array(m.nCells);
  for (let g = 0; g < m.nGenes; g++) {
    let last = -1;
    for (let q = m.indptr[g]!, end = m.indptr[g + 1]!; q < end; q++) {
      const c = m.indices[q]!;
      if (!(c > last && c < m.nCells)) throw new Error(`matrix export: gene ${g} has cell indices out of order or range`);
      last = c;
      rowNnz[c]! += 1;
    }
  }
  return rowNnz;
}

/** The blocks in cell order; `rowNnz` from cellRowCounts (computed when not given). */
export function* cellMajorBlocks(m: GeneMajorMatrix, x: (value: number, cell: number) => number, rowNnz: Float64Array = cellRowCounts(m)): Generator<CellBlock> {
  const { nCells, nGenes, indptr, indices, values } = m;
  const cursor = Float64Array.from(indptr.subarray(0, nGenes));
  const fill = new Float64Array(nCells);
  for (let c0 = 0; c0 < nCells;) {
    // cells [c0, c1) with at most BLOCK_NNZ stored values (at least one cell)
    let c1 = c0;
    let blockNnz = 0;
    while (c1 < nCells && (c1 === c0 || blockNnz + rowNnz[c1]! <= BLOCK_NNZ)) blockNnz += rowNnz[c1++]!;
    let at = 0;
    for (let c = c0; c < c1; c++) { fill[c] = at; at += rowNnz[c]!; }
    const block: CellBlock = { start: c0, end: c1, indices: new Int32Array(blockNnz), x: new Float64Array(blockNnz), stored: new Float32Array(blockNnz) };
    // genes in ascending order: each cell's values get their gene indices sorted
    for (let g = 0; g < nGenes; g++) {
      let q = cursor[g]!;
      const end = indptr[g + 1]!;
      while (q < end) {
        const c = indices[q]!;
        if (c >= c1) break;
        const k = fill[c]!++;
        block.indices[k] = g;
        block.x[k] = x(values[q]!, c);
        block.stored[k] = values[q]!;
        q++;
      }
      cursor[g] = q;
    }
    yield block;
    c0 = c1;
  }
}
