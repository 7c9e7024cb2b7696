/**
 * Building the gene-major sparse layout from what files hold.
 * Arrays in, arrays out; no I/O.
 */
/**
 * A sparse matrix in compressed sparse row form, genes as rows and cells as columns
 * ("gene-major"): row g holds the cells in which gene g is non-zero, cell indices ascending.
 * Gene-major is the layout every consumer wants (per-gene statistics, GeneExpression,
 * rank-sum tests), so loaders convert to it once.
 */
export interface GeneMajorMatrix {
  nGenes: number;
  nCells: number;
  /** length nGenes + 1; row g spans [indptr[g], indptr[g+1]) */
  indptr: Float64Array;
  /** cell index (0-based, file order) of each stored value */
  indices: Int32Array;
  /** stored values (counts, or log-normalised values when no counts exist) */
  values: Float32Array;
}


type IndexArray = ArrayLike<number>;

/**
 * Gene-major matrix from a compressed sparse matrix whose major axis is either genes
 * (rows = genes: already gene-major, indices are cells) or cells (must be transposed).
 * Indices within a major slice need not be sorted; the output's are.
 * Throws RangeError on out-of-range indices or a malformed indptr (callers turn it into a
 * user error naming the file).
 */
export function geneMajorFromCompressed(input: {
  major: "gene" | "cell";
  nGenes: number;
  nCells: number;
  indptr: IndexArray;
  indices: IndexArray;
  values: IndexArray;
}): GeneMajorMatrix {
  const { major, nGenes, nCells, indptr, indices, values } = input;
  const nMajor = major === "gene" ? nGenes : nCells;
  const nMinor = major === "gene" ? nCells : nGenes;
  checkIndptr(indptr, nMajor, indices.length);
  const nnz = indices.length;
  if (values.length !== nnz) throw new RangeError(`data has ${values.length} values but indices has ${nnz}`);
  if (major === "cell") return geneMajorFromCells(nGenes, nCells, indptr, indices, values);
  // Expand to triplets (gene, cell) and bucket by gene with a counting sort; a stable pass
  // over cells in ascending order keeps cell indices sorted within each gene.
  const genes = new Int32Array(nnz);
  const cells = new Int32Array(nnz);
  for (let m = 0; m < nMajor; m++) {
    for (let p = indptr[m]!; p < indptr[m + 1]!; p++) {
      const minor = indices[p]!;
      if (!(minor >= 0 && minor < nMinor)) throw new RangeError(`index ${minor} out of range 0..${nMinor - 1}`);
      if (major === "gene") { genes[p] = m; cells[p] = minor; } else { genes[p] = minor; cells[p] = m; }
    }
  }
  return geneMajorFromTriplets(nGenes, nCells, genes, cells, values);
}

/**
 * Transposes a cell-major compressed matrix by a counting sort over genes: walking cells in
 * ascending order keeps each gene's cell indices sorted, with no triplet arrays (8 bytes per
 * non-zero less than the general path).
 */
function geneMajorFromCells(nGenes: number, nCells: number, indptr: IndexArray, indices: IndexArray, values: IndexArray): GeneMajorMatrix {
  const nnz = indices.length;
  const perGene = new Float64Array(nGenes + 1);
  for (let p = 0; p < nnz; p++) {
    const g = indices[p]!;
    if (!(g >= 0 && g < nGenes)) throw new RangeError(`index ${g} out of range 0..${nGenes - 1}`);
    perGene[g + 1]! += 1;
  }
  for (let g = 0; g < nGenes; g++) perGene[g + 1]! += perGene[g]!;
  const fill = perGene.slice(0, nGenes);
  const outIdx = new Int32Array(nnz);
  const outVal = new Float32Array(nnz);
  for (let c = 0; c < nCells; c++) {
    for (let p = indptr[c]!, end = indptr[c + 1]!; p < end; p++) {
      const at = fill[indices[p]!]!++;
      outIdx[at] = c;
      outVal[at] = values[p]!;
    }
  }
  return compact({ nGenes, nCells, indptr: perGene, indices: outIdx, values: outVal });
}

/** Gene-major matrix from coordinate triplets (duplicates are summed, zeros dropped). */
export function geneMajorFromTriplets(
  nGenes: number,
  nCells: number,
  genes: Int32Array,
  cells: Int32Array,
  values: IndexArray,
): GeneMajorMatrix {
  const nnz = genes.length;
  // Order triplets by cell first (counting sort), then by gene, so each gene row ends up
  // with ascending cell indices. Files written cell by cell (10x Matrix Market) are already
  // in cell order: then the triplets' own order serves, without an index array of 4 bytes
  // per entry.
  const byCell = inCellOrder(cells) ? null : countingOrder(cells, nCells);
  const perGene = new Float64Array(nGenes + 1);
  for (let t = 0; t < nnz; t++) {
    const g = genes[t]!;
    if (!(g >= 0 && g < nGenes)) throw new RangeError(`gene index ${g} out of range 0..${nGenes - 1}`);
    const c = cells[t]!;
    if (!(c >= 0 && c < nCells)) throw new RangeError(`cell index ${c} out of range 0..${nCells - 1}`);
    perGene[g + 1]! += 1;
  }
  for (let g = 0; g < nGenes; g++) perGene[g + 1]! += perGene[g]!;
  const fill = perGene.slice(0, nGenes);
  const outIdx = new Int32Array(nnz);
  const outVal = new Float32Array(nnz);
  for (let k = 0; k < nnz; k++) {
    const t = byCell === null ? k : byCell[k]!;
    const g = genes[t]!;
    const pos = fill[g]!++;
    outIdx[pos] = cells[t]!;
    outVal[pos] = values[t]!;
  }
  return compact({ nGenes, nCells, indptr: perGene, indices: outIdx, values: outVal });
}

function inCellOrder(cells: Int32Array): boolean {
  for (let i = 1; i < cells.length; i++) if (cells[i]! < cells[i - 1]!) return false;
  return true;
}

/** Indices 0..n-1 ordered by key (stable counting sort over keys in [0, nKeys)). */
function countingOrder(keys: Int32Array, nKeys: number): Int32Array {
  const start = new Float64Array(nKeys + 1);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (!(k >= 0 && k < nKeys)) throw new RangeError(`index ${k} out of range 0..${nKeys - 1}`);
    start[k + 1]! += 1;
  }
  for (let k = 0; k < nKeys; k++) start[k + 1]! += start[k]!;
  const order = new Int32Array(keys.length);
  for (let i = 0; i < keys.length; i++) order[start[keys[i]!]!++] = i;
  return order;
}

/** Sums duplicate (gene, cell) entries and drops explicit zeros. Rows must be sorted. */
function compact(m: GeneMajorMatrix): GeneMajorMatrix {
  const { indptr, indices, values } = m;
  let w = 0;
  const newPtr = new Float64Array(m.nGenes + 1);
  for (let g = 0; g < m.nGenes; g++) {
    const rowStart = w;
    for (let p = indptr[g]!; p < indptr[g + 1]!; p++) {
      if (w > rowStart && indices[w - 1] === indices[p]) {
        values[w - 1]! += values[p]!;
      } else {
        indices[w] = indices[p]!;
        values[w] = values[p]!;
        w++;
      }
    }
    // drop zeros produced by the file or by cancelling duplicates
    let z = rowStart;
    for (let p = rowStart; p < w; p++) {
      if (values[p] !== 0) { indices[z] = indices[p]!; values[z] = values[p]!; z++; }
    }
    w = z;
    newPtr[g + 1] = w;
  }
  if (w === indices.length) return { ...m, indptr: newPtr };
  return { ...m, indptr: newPtr, indices: indices.slice(0, w), values: values.slice(0, w) };
}

/** Gene-major matrix from a dense row-major cells x genes array (AnnData dense X). */
export function geneMajorFromDense(nCells: number, nGenes: number, dense: IndexArray): GeneMajorMatrix {
  if (dense.length !== nCells * nGenes) throw new RangeError(`dense matrix has ${dense.length} values, expected ${nCells}x${nGenes}`);
  const perGene = new Float64Array(nGenes + 1);
  for (let c = 0; c < nCells; c++) {
    const base = c * nGenes;
    for (let g = 0; g < nGenes; g++) if (dense[base + g] !== 0) perGene[g + 1]! += 1;
  }
  for (let g = 0; g < nGenes; g++) perGene[g + 1]! += perGene[g]!;
  const nnz = perGene[nGenes]!;
  const fill = perGene.slice(0, nGenes);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  for (let c = 0; c < nCells; c++) {
    const base = c * nGenes;
    for (let g = 0; g < nGenes; g++) {
      const v = dense[base + g]!;
      if (v !== 0) { const p = fill[g]!++; indices[p] = c; values[p] = v; }
    }
  }
  return { nGenes, nCells, indptr: perGene, indices, values };
}

function checkIndptr(indptr: IndexArray, nMajor: number, nnz: number): void {
  if (indptr.length !== nMajor + 1) throw new RangeError(`indptr has length ${indptr.length}, expected ${nMajor + 1}`);
  if (indptr[0] !== 0 || indptr[nMajor] !== nnz) throw new RangeError(`indptr must run from 0 to ${nnz}`);
  for (let i = 0; i < nMajor; i++) if (indptr[i + 1]! < indptr[i]!) throw new RangeError("indptr is not non-decreasing");
}

/** True when every stored value is a non-negative integer (raw counts). */
export function isIntegerValued(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < 0 || v !== Math.round(v)) return false;
  }
  return true;
}
