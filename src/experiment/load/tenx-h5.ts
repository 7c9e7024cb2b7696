/**
 * Cell Ranger feature-barcode matrices in HDF5 (`filtered_feature_bc_matrix.h5`).
 *
 * v3+: `matrix/{data,indices,indptr,shape,barcodes}` and `matrix/features/{id,name,feature_type}`.
 * v2 (one group per genome, e.g. `GRCh38/{data,indices,indptr,shape,barcodes,genes,gene_names}`)
 * is read the same way. The matrix is genes x cells stored CSC, i.e. one compressed slice per cell.
 */
import { geneMajorFromCompressed } from "../../numerics/sparse.ts";
import type { GeneMajorMatrix, LoadedData } from "../types.ts";
import { type H5File, withH5File } from "./hdf5.ts";
import { firstNonCount } from "./values.ts";

const GENE_EXPRESSION = "Gene Expression";

/** Reads a Cell Ranger HDF5 matrix. Throws WorkerError (DATA_NOT_FOUND / DATA_INVALID / DATA_UNSUPPORTED). */
export async function loadTenxH5(path: string): Promise<LoadedData> {
  return withH5File(path, (f) => readTenx(f));
}

interface Layout {
  group: string;
  ids: string;
  names: string;
  featureType?: string;
}

function findLayout(f: H5File): Layout {
  if (f.kind("matrix") === "group") {
    const ft = "matrix/features/feature_type";
    return {
      group: "matrix",
      ids: "matrix/features/id",
      names: "matrix/features/name",
      ...(f.has(ft) ? { featureType: ft } : {}),
    };
  }
  const genomes = f.keys("/").filter((k) => f.kind(`${k}/genes`) === "dataset" && f.kind(`${k}/data`) === "dataset");
  if (genomes.length === 1) {
    const g = genomes[0]!;
    return { group: g, ids: `${g}/genes`, names: `${g}/gene_names` };
  }
  if (genomes.length > 1) {
    throw f.unsupported(`holds matrices for several genomes (${genomes.join(", ")}); only single-genome Cell Ranger v2 files are supported`);
  }
  if (f.has("X") && f.has("obs")) throw f.invalid("looks like an AnnData (.h5ad) file, not a Cell Ranger HDF5 matrix");
  throw f.invalid("not a Cell Ranger HDF5 matrix (no matrix group)");
}

function readTenx(f: H5File): LoadedData {
  const layout = findLayout(f);
  const g = layout.group;
  for (const part of ["data", "indices", "indptr", "shape", "barcodes"]) {
    if (f.kind(`${g}/${part}`) !== "dataset") throw f.invalid(`${g}/${part} is missing`);
  }
  for (const p of [layout.ids, layout.names]) if (f.kind(p) !== "dataset") throw f.invalid(`${p} is missing`);

  const shape = f.readNumbers(`${g}/shape`);
  if (shape.length !== 2) throw f.invalid(`${g}/shape has ${shape.length} values, expected 2 (features, barcodes)`);
  const nFeatures = shape[0]!;
  const nCells = shape[1]!;
  const barcodes = f.readStrings(`${g}/barcodes`);
  const ids = f.readStrings(layout.ids);
  const names = f.readStrings(layout.names);
  const types = layout.featureType === undefined ? undefined : f.readStrings(layout.featureType);
  if (barcodes.length !== nCells) throw f.invalid(`${g}/barcodes has ${barcodes.length} entries but ${g}/shape says ${nCells} barcodes`);
  for (const [p, list] of [[layout.ids, ids], [layout.names, names], [layout.featureType, types]] as const) {
    if (p !== undefined && list !== undefined && list.length !== nFeatures) {
      throw f.invalid(`${p} has ${list.length} entries but ${g}/shape says ${nFeatures} features`);
    }
  }

  // read in slices straight into 4-byte arrays: the counts are checked as read
  const data = f.readNumbersInto(`${g}/data`, Float32Array, (values, at) => {
    const bad = firstNonCount(values);
    if (bad !== undefined) {
      throw f.invalid(`${g}/data should hold non-negative integer counts (finite as 32-bit floats) but has ${values[bad]} at entry ${at + bad}`);
    }
  });
  const indices = f.readNumbersInto(`${g}/indices`, Int32Array);
  const indptr = f.readNumbers(`${g}/indptr`);
  if (indptr.length !== nCells + 1) throw f.invalid(`${g}/indptr has length ${indptr.length}, expected ${nCells + 1} (${nCells} barcodes + 1)`);
  if (indices.length !== data.length) throw f.invalid(`${g}/indices has ${indices.length} entries but ${g}/data has ${data.length}`);
  let matrix: GeneMajorMatrix;
  try {
    matrix = geneMajorFromCompressed({ major: "cell", nGenes: nFeatures, nCells, indptr, indices, values: data });
  } catch (err) {
    if (err instanceof RangeError) throw f.invalid(`${g} is malformed (${err.message})`, err);
    throw err;
  }

  const notes: string[] = [];
  let keep: number[] | undefined;
  if (types !== undefined && types.some((t) => t !== GENE_EXPRESSION)) {
    const other = new Map<string, number>();
    keep = [];
    types.forEach((t, i) => {
      if (t === GENE_EXPRESSION) keep!.push(i);
      else other.set(t, (other.get(t) ?? 0) + 1);
    });
    const summary = [...other].map(([t, n]) => `${n} ${t}`).join(", ");
    if (keep.length === 0) throw f.unsupported(`has no ${GENE_EXPRESSION} features (found ${summary})`);
    notes.push(`Kept the ${keep.length} ${GENE_EXPRESSION} features; left out ${summary} features.`);
    matrix = selectGenes(matrix, keep);
  }

  return {
    format: "10x-h5",
    path: f.path,
    matrix,
    matrixKind: "counts",
    matrixSource: g,
    genes: {
      ids: keep === undefined ? ids : keep.map((i) => ids[i]!),
      symbols: keep === undefined ? names : keep.map((i) => names[i]!),
    },
    barcodes,
    cellIds: Int32Array.from({ length: nCells }, (_, i) => i),
    obs: [],
    embeddings: {},
    notes,
  };
}

/** The rows `keep` (ascending gene indices) of a gene-major matrix. */
function selectGenes(m: GeneMajorMatrix, keep: number[]): GeneMajorMatrix {
  const indptr = new Float64Array(keep.length + 1);
  for (let k = 0; k < keep.length; k++) {
    const g = keep[k]!;
    indptr[k + 1] = indptr[k]! + (m.indptr[g + 1]! - m.indptr[g]!);
  }
  const nnz = indptr[keep.length]!;
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  for (let k = 0; k < keep.length; k++) {
    const g = keep[k]!;
    const start = m.indptr[g]!;
    const end = m.indptr[g + 1]!;
    indices.set(m.indices.subarray(start, end), indptr[k]!);
    values.set(m.values.subarray(start, end), indptr[k]!);
  }
  return { nGenes: keep.length, nCells: m.nCells, indptr, indices, values };
}
