/**
 * AnnData (.h5ad) files written by anndata 0.7 – 0.10 (plus the older h5sparse attributes).
 *
 * AnnData is cells x genes. The matrix is taken, in order of preference, from
 *   layers/counts (must hold counts) → raw/X if counts → X if counts → raw/X as log-normalised →
 *   X as log-normalised if non-negative,
 * and converted once to the gene-major layout. Genes come from raw/var when the matrix is raw/X,
 * from var otherwise.
 */
import { geneMajorFromCompressed, geneMajorFromDense, isIntegerValued } from "../../numerics/sparse.ts";
import type { WorkerError } from "../../result/errors.ts";
import type { Embedding, GeneMajorMatrix, LoadedData, MatrixKind, ObsColumn, StoredGeneStats } from "../types.ts";
import { type H5File, type NumericArray, withH5File } from "./hdf5.ts";
import { firstNonCount, firstNonFinite } from "./values.ts";

const CELL_ID_COLUMNS = ["cells_id", "cell_ids"];
const GENE_ID_COLUMNS = ["gene_ids", "gene_id", "id"];
const GENE_SYMBOL_COLUMNS = ["gene_names", "gene_symbols", "feature_name"];

/** Reads an AnnData file. Throws WorkerError (DATA_NOT_FOUND / DATA_INVALID / DATA_UNSUPPORTED). */
export async function loadH5ad(path: string): Promise<LoadedData> {
  return withH5File(path, (f) => readH5ad(f));
}

function readH5ad(f: H5File): LoadedData {
  if (!f.has("obs") || !f.has("var")) {
    throw f.invalid("not an AnnData file (no obs and var groups)");
  }
  const notes: string[] = [];
  const obs = readFrame(f, "obs", notes);
  const variables = readFrame(f, "var", notes);
  const nCells = obs.index.length;

  // --- the matrix ---
  const rawVar = f.has("raw/X") ? readFrame(f, "raw/var", notes) : undefined;
  const genesFor = (source: string): Frame => (source === "raw/X" ? rawVar! : variables);
  const load = (source: string): GeneMajorMatrix => readMatrix(f, source, nCells, genesFor(source));

  let chosen: { source: string; kind: MatrixKind; matrix: GeneMajorMatrix } | undefined;
  if (f.has("layers/counts")) {
    const m = readMatrix(f, "layers/counts", nCells, variables, { counts: true });
    chosen = { source: "layers/counts", kind: "counts", matrix: m };
  }
  let rawX: GeneMajorMatrix | undefined;
  let x: GeneMajorMatrix | undefined;
  if (chosen === undefined && rawVar !== undefined) {
    rawX = load("raw/X");
    if (isIntegerValued(rawX.values)) chosen = { source: "raw/X", kind: "counts", matrix: rawX };
  }
  if (chosen === undefined && f.has("X")) {
    x = load("X");
    if (isIntegerValued(x.values)) chosen = { source: "X", kind: "counts", matrix: x };
  }
  if (chosen === undefined && rawX !== undefined && isNonNegative(rawX.values)) {
    chosen = { source: "raw/X", kind: "lognorm", matrix: rawX };
  }
  if (chosen === undefined && x !== undefined && isNonNegative(x.values)) {
    chosen = { source: "X", kind: "lognorm", matrix: x };
  }
  if (chosen === undefined) {
    throw f.unsupported("no raw counts and no non-negative log-normalised matrix (looked at layers/counts, raw/X and X)");
  }
  if (chosen.kind === "lognorm") {
    notes.push(
      `No raw counts were found (no layers/counts, and neither raw/X nor X holds integer counts): ` +
        `using the log-normalised matrix ${chosen.source}. Tasks that need raw counts (e.g. pseudobulk ` +
        `differential expression, UMI counts) cannot run on this file.`,
    );
  }

  // --- genes ---
  const geneFrame = genesFor(chosen.source);
  const genes = readGenes(f, geneFrame, notes);

  // --- obs ---
  const { cellIds, idColumn } = readCellIds(f, obs, nCells, notes);
  const columns: ObsColumn[] = [];
  for (const name of obs.columns) {
    if (name === idColumn) continue;
    const col = readColumn(f, obs, name, notes);
    if (col !== undefined) columns.push(col);
  }

  const storedGeneStats = readGeneStats(f, variables, geneFrame, notes);
  const data: LoadedData = {
    format: "h5ad",
    path: f.path,
    matrix: chosen.matrix,
    matrixKind: chosen.kind,
    matrixSource: chosen.source,
    genes,
    barcodes: obs.index,
    cellIds,
    obs: columns,
    embeddings: readEmbeddings(f, nCells, notes),
    notes,
  };
  if (storedGeneStats !== undefined) data.storedGeneStats = storedGeneStats;
  return data;
}

// --- dataframes (obs, var, raw/var) ---------------------------------------------------------

interface Frame {
  path: string;
  index: string[];
  indexName: string;
  /** data columns in order, without the index */
  columns: string[];
}

function readFrame(f: H5File, p: string, notes: string[]): Frame {
  const kind = f.kind(p);
  if (kind === null) throw f.invalid(`${p} is missing`);
  if (kind === "dataset") {
    throw f.unsupported(`${p} is stored as a record array (anndata before 0.7); re-save the file with anndata 0.7 or later`);
  }
  const declared = f.attrString(p, "_index");
  const indexName = [declared, "_index", "index"].find((n) => n !== undefined && f.kind(`${p}/${n}`) === "dataset");
  if (indexName === undefined) {
    throw f.invalid(`${p} has no index (${declared === undefined ? "no _index attribute" : `attribute _index names "${declared}", which is missing`})`);
  }
  const index = columnStrings(f, readColumnAt(f, p, indexName, undefined, notes), `${p}/${indexName}`);
  let columns: string[];
  if (f.attrNames(p).includes("column-order")) {
    // an empty column-order is written as an empty float array, so anything not strings means none
    columns = f.attrStrings(p, "column-order") ?? [];
  } else {
    columns = f.keys(p).filter((k) => k !== indexName && k !== "__categories");
  }
  return { path: p, index, indexName, columns: columns.filter((c) => c !== indexName) };
}

/** A column of a frame, or undefined (with a note) when its encoding is not supported. */
function readColumn(f: H5File, frame: Frame, name: string, notes: string[]): ObsColumn | undefined {
  return readColumnAt(f, frame.path, name, frame.index.length, notes);
}

function readColumnAt(f: H5File, framePath: string, name: string, n: number | undefined, notes: string[]): ObsColumn | undefined {
  const p = `${framePath}/${name}`;
  const kind = f.kind(p);
  const skip = (why: string): undefined => {
    notes.push(`${framePath} column "${name}" was skipped: ${why}.`);
    return undefined;
  };
  const checkLength = (len: number): void => {
    if (n !== undefined && len !== n) throw f.invalid(`${p} has ${len} values but ${framePath} has ${n} rows`);
  };
  if (kind === null) return skip("it is listed in column-order but missing");

  if (kind === "group") {
    const encoding = f.attrString(p, "encoding-type");
    if (encoding === "categorical") {
      const categories = columnStrings(f, readColumnAt(f, p, "categories", undefined, notes), `${p}/categories`);
      const codes = toCodes(f, f.readNumbers(`${p}/codes`), categories.length, `${p}/codes`);
      checkLength(codes.length);
      return { name, kind: "categorical", categories, codes };
    }
    if (encoding === "nullable-integer" || encoding === "nullable-boolean" || encoding === "nullable-string-array") {
      const mask = f.has(`${p}/mask`) ? f.readNumbers(`${p}/mask`) : undefined;
      if (encoding === "nullable-string-array") {
        const values = f.readStrings(`${p}/values`);
        checkLength(values.length);
        return { name, kind: "string", values: values.map((v, i) => (mask !== undefined && mask[i] ? "" : v)) };
      }
      const raw = f.readNumbers(`${p}/values`);
      checkLength(raw.length);
      if (mask !== undefined && mask.length !== raw.length) throw f.invalid(`${p}/mask has ${mask.length} values but ${p}/values has ${raw.length}`);
      if (encoding === "nullable-integer") {
        const values = Float64Array.from(raw);
        if (mask !== undefined) for (let i = 0; i < values.length; i++) if (mask[i]) values[i] = NaN;
        return { name, kind: "numeric", values };
      }
      const values = new Uint8Array(raw.length);
      let missing = 0;
      for (let i = 0; i < raw.length; i++) {
        if (mask !== undefined && mask[i]) missing++;
        else values[i] = raw[i] ? 1 : 0;
      }
      if (missing > 0) notes.push(`${framePath} column "${name}" has ${missing} missing values, read as false.`);
      return { name, kind: "boolean", values };
    }
    return skip(`its encoding "${encoding ?? "unknown"}" is not supported`);
  }

  const info = f.info(p);
  if (info.shape.length !== 1) return skip(`it has ${info.shape.length} dimensions`);
  checkLength(info.shape[0]!);
  // anndata 0.7: integer codes with an object-reference attribute to __categories/<name>
  const legacyCategories = legacyCategoriesPath(f, framePath, name);
  if (legacyCategories !== undefined && (info.kind === "integer" || info.kind === "enum")) {
    const cut = legacyCategories.lastIndexOf("/");
    const categoriesColumn = readColumnAt(f, legacyCategories.slice(0, cut), legacyCategories.slice(cut + 1), undefined, notes);
    const categories = columnStrings(f, categoriesColumn, legacyCategories);
    const codes = toCodes(f, f.readNumbers(p), categories.length, p);
    return { name, kind: "categorical", categories, codes };
  }
  switch (info.kind) {
    case "string":
      return { name, kind: "string", values: f.readStrings(p) };
    case "boolean":
      return { name, kind: "boolean", values: Uint8Array.from(f.readNumbers(p), (v) => (v ? 1 : 0)) };
    case "integer":
    case "float":
    case "enum":
      return { name, kind: "numeric", values: Float64Array.from(f.readNumbers(p)) };
    default:
      return skip(`its type (${info.kind}) is not supported`);
  }
}

/** Where a legacy categorical's categories are: the dereferenced attribute, else __categories/<name>. */
function legacyCategoriesPath(f: H5File, framePath: string, name: string): string | undefined {
  const p = `${framePath}/${name}`;
  const hasAttr = f.attrNames(p).includes("categories");
  if (hasAttr) {
    const target = f.attrReferenceTarget(p, "categories");
    if (target !== undefined && f.kind(target) === "dataset") return target.replace(/^\//, "");
  }
  const fallback = `${framePath}/__categories/${name}`;
  if (f.kind(fallback) === "dataset") return fallback;
  if (hasAttr) throw f.invalid(`${p} is a categorical whose categories cannot be found (attribute categories and ${fallback})`);
  return undefined;
}

function toCodes(f: H5File, raw: NumericArray, nCategories: number, p: string): Int32Array {
  const codes = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (!(Number.isInteger(c) && c >= -1 && c < nCategories)) {
      throw f.invalid(`${p} has code ${c} at row ${i}, outside the ${nCategories} categories`);
    }
    codes[i] = c;
  }
  return codes;
}

/** A column's values as strings (categorical: its category, "" when missing). */
function columnStrings(f: H5File, col: ObsColumn | undefined, p: string): string[] {
  if (col === undefined) throw f.invalid(`${p} could not be read as labels`);
  switch (col.kind) {
    case "string":
      return col.values;
    case "categorical":
      return Array.from(col.codes, (c) => (c < 0 ? "" : col.categories[c]!));
    case "numeric":
      return Array.from(col.values, (v) => (Number.isNaN(v) ? "" : String(v)));
    case "boolean":
      return Array.from(col.values, (v) => (v ? "True" : "False"));
  }
}

// --- genes, cells, stats ----------------------------------------------------------------------

function readGenes(f: H5File, frame: Frame, notes: string[]): { ids: string[]; symbols: string[] } {
  const pick = (candidates: string[]): string[] | undefined => {
    const name = candidates.find((c) => frame.columns.includes(c) && f.has(`${frame.path}/${c}`));
    if (name === undefined) return undefined;
    const col = readColumn(f, frame, name, notes);
    return col === undefined ? undefined : columnStrings(f, col, `${frame.path}/${name}`);
  };
  const fill = (values: string[] | undefined): string[] => (values ?? frame.index).map((v, g) => (v === "" ? frame.index[g]! : v));
  return { ids: fill(pick(GENE_ID_COLUMNS)), symbols: fill(pick(GENE_SYMBOL_COLUMNS)) };
}

function readCellIds(f: H5File, obs: Frame, nCells: number, notes: string[]): { cellIds: Int32Array; idColumn?: string } {
  const idColumn = CELL_ID_COLUMNS.find((c) => obs.columns.includes(c) || f.has(`obs/${c}`));
  if (idColumn === undefined) return { cellIds: Int32Array.from({ length: nCells }, (_, i) => i) };
  const col = readColumnAt(f, "obs", idColumn, nCells, notes);
  if (col === undefined || col.kind !== "numeric") {
    throw f.invalid(`obs column ${idColumn} must hold integer cell ids (it holds ${col?.kind ?? "an unsupported type"})`);
  }
  const cellIds = new Int32Array(nCells);
  const seen = new Map<number, number>();
  for (let i = 0; i < nCells; i++) {
    const v = col.values[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v <= 0x7fffffff)) {
      throw f.invalid(`obs column ${idColumn} must hold integers >= 0, but row ${i} has ${v}`);
    }
    const before = seen.get(v);
    if (before !== undefined) {
      throw f.invalid(`obs column ${idColumn} has duplicated value ${v} (rows ${before} and ${i})`);
    }
    seen.set(v, i);
    cellIds[i] = v;
  }
  return { cellIds, idColumn };
}

function readGeneStats(f: H5File, variables: Frame, geneFrame: Frame, notes: string[]): StoredGeneStats | undefined {
  const numeric = (name: string): Float64Array | undefined => {
    if (!variables.columns.includes(name) || !f.has(`var/${name}`)) return undefined;
    const col = readColumn(f, variables, name, notes);
    if (col === undefined) return undefined;
    if (col.kind === "numeric") return col.values;
    if (col.kind === "boolean") return Float64Array.from(col.values);
    return undefined;
  };
  const dispersions = numeric("dispersions") ?? numeric("dispersions_norm");
  const means = numeric("means");
  const hv = numeric("highly_variable");
  if (dispersions === undefined && means === undefined && hv === undefined) return undefined;

  // Align var rows to the genes in use: identity when they are the same frame / same names,
  // else by name (var index ↔ raw/var index), NaN (or not-highly-variable) for genes not in var.
  let order: Int32Array;
  const same = geneFrame === variables ||
    (geneFrame.index.length === variables.index.length && geneFrame.index.every((g, i) => g === variables.index[i]));
  if (same) {
    order = Int32Array.from({ length: geneFrame.index.length }, (_, i) => i);
  } else {
    const position = new Map<string, number>();
    variables.index.forEach((g, i) => { if (!position.has(g)) position.set(g, i); });
    order = Int32Array.from(geneFrame.index, (g) => position.get(g) ?? -1);
    const missing = order.reduce((n, v) => n + (v < 0 ? 1 : 0), 0);
    if (missing > 0) {
      notes.push(`${missing} of the ${order.length} genes in ${geneFrame.path} are not in var: their stored dispersions and means are NaN and they are not highly variable.`);
    }
  }
  const align = (values: Float64Array): Float64Array => Float64Array.from(order, (i) => (i < 0 ? NaN : values[i]!));
  const stats: StoredGeneStats = {};
  if (dispersions !== undefined) stats.dispersions = align(dispersions);
  if (means !== undefined) stats.means = align(means);
  if (hv !== undefined) stats.highlyVariable = Uint8Array.from(order, (i) => (i >= 0 && hv[i] ? 1 : 0));
  return stats;
}

// --- matrices -----------------------------------------------------------------------------

/**
 * X, raw/X or a layer (cells x genes; CSR, CSC or dense) as a gene-major matrix. Every value
 * must be finite as a 32-bit float, and with `counts` a non-negative integer: else DATA_INVALID
 * naming the dataset and the entry.
 */
function readMatrix(f: H5File, p: string, nCells: number, genes: Frame, opts: { counts?: boolean } = {}): GeneMajorMatrix {
  const nGenes = genes.index.length;
  const shapeMismatch = (shape: readonly number[]): WorkerError =>
    f.invalid(`${p} has shape ${shape.join(" x ")} but obs has ${nCells} cells and ${genes.path} has ${nGenes} genes`);
  const kind = f.kind(p);
  if (kind === "dataset") {
    const info = f.info(p);
    if (info.shape.length !== 2 || info.shape[0] !== nCells || info.shape[1] !== nGenes) throw shapeMismatch(info.shape);
    if (info.kind !== "integer" && info.kind !== "float") throw f.invalid(`${p} should hold numbers but holds ${info.kind} values`);
    const dense = f.readNumbers(p);
    checkValues(f, p, dense, opts.counts === true, (i) => `cell ${Math.floor(i / nGenes)}, gene ${i % nGenes}`);
    return geneMajorFromDense(nCells, nGenes, dense);
  }
  if (kind !== "group") throw f.invalid(`${p} is missing`);

  const encoding = f.attrString(p, "encoding-type");
  const legacy = f.attrString(p, "h5sparse_format");
  let major: "cell" | "gene";
  if (encoding === "csr_matrix" || (encoding === undefined && legacy === "csr")) major = "cell";
  else if (encoding === "csc_matrix" || (encoding === undefined && legacy === "csc")) major = "gene";
  else throw f.unsupported(`${p} is stored as "${encoding ?? legacy ?? "an unknown encoding"}", not a CSR/CSC sparse matrix or a dense array`);

  const shape = f.attrNumbers(p, "shape") ?? f.attrNumbers(p, "h5sparse_shape");
  if (shape !== undefined && (shape.length !== 2 || shape[0] !== nCells || shape[1] !== nGenes)) throw shapeMismatch(shape);
  for (const part of ["data", "indices", "indptr"]) {
    if (f.kind(`${p}/${part}`) !== "dataset") throw f.invalid(`${p}/${part} is missing`);
  }
  const values = f.readNumbers(`${p}/data`);
  const indices = f.readNumbers(`${p}/indices`);
  const indptr = f.readNumbers(`${p}/indptr`);
  const nMajor = major === "cell" ? nCells : nGenes;
  if (indptr.length !== nMajor + 1) {
    throw f.invalid(`${p}/indptr has length ${indptr.length}, expected ${nMajor + 1} (${nMajor} ${major === "cell" ? "cells" : "genes"} + 1)`);
  }
  if (indices.length !== values.length) {
    throw f.invalid(`${p}/indices has ${indices.length} entries but ${p}/data has ${values.length}`);
  }
  checkValues(f, `${p}/data`, values, opts.counts === true, (i) => `entry ${i}`);
  try {
    return geneMajorFromCompressed({ major, nGenes, nCells, indptr, indices, values });
  } catch (err) {
    if (err instanceof RangeError) throw f.invalid(`${p} is malformed (${err.message})`, err);
    throw err;
  }
}

/** Throws DATA_INVALID at the first non-finite value (or, for counts, the first non-count). */
function checkValues(f: H5File, p: string, values: NumericArray, counts: boolean, where: (i: number) => string): void {
  const bad = firstNonFinite(values);
  if (bad !== undefined) throw f.invalid(`${p} has ${values[bad]} at ${where(bad)}: values must be finite numbers that fit a 32-bit float`);
  if (!counts) return;
  const notCount = firstNonCount(values);
  if (notCount !== undefined) {
    throw f.invalid(`${p} should hold raw counts (non-negative integers) but has ${values[notCount]} at ${where(notCount)}`);
  }
}

function isNonNegative(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!(values[i]! >= 0)) return false;
  return true;
}

// --- obsm -----------------------------------------------------------------------------------

function readEmbeddings(f: H5File, nCells: number, notes: string[]): Record<string, Embedding> {
  const embeddings: Record<string, Embedding> = {};
  const kind = f.kind("obsm");
  if (kind === null) return embeddings;
  if (kind === "dataset") {
    // anndata < 0.7 stored obsm as one record array with a fixed-size array field per embedding
    const info = f.info("obsm");
    if (info.kind !== "compound") {
      notes.push(`obsm was skipped: it is a ${info.kind} dataset, not a group or record array.`);
      return embeddings;
    }
    const { rows, columns, skipped } = f.readCompoundColumns("obsm");
    if (rows !== nCells) throw f.invalid(`obsm has ${rows} rows but obs has ${nCells} cells`);
    for (const col of columns) embeddings[col.name] = { dims: col.dims, values: col.values };
    for (const name of skipped) notes.push(`obsm field "${name}" was skipped: it is not numeric.`);
    return embeddings;
  }
  for (const name of f.keys("obsm")) {
    const p = `obsm/${name}`;
    if (f.kind(p) !== "dataset") {
      const encoding = f.attrString(p, "encoding-type");
      notes.push(`${p} was skipped: it is stored as ${encoding ?? "a group"}, not a dense array.`);
      continue;
    }
    const info = f.info(p);
    if (info.shape.length !== 2 || (info.kind !== "float" && info.kind !== "integer")) {
      notes.push(`${p} was skipped: it is not a 2-D numeric array.`);
      continue;
    }
    const [rows, dims] = info.shape as [number, number];
    if (rows !== nCells) throw f.invalid(`${p} has ${rows} rows but obs has ${nCells} cells`);
    embeddings[name] = { dims, values: Float64Array.from(f.readNumbers(p)) };
  }
  return embeddings;
}
