/**
 * Seurat objects saved with saveRDS (`r.rds`): SeuratObject 4 (`Assay` with `counts` / `data`
 * dgCMatrix slots) and 5 (`Assay5` with `layers` and LogMap cell / feature maps), parsed in
 * TypeScript with scran.js's RDS reader (no R at run time). What is read is what the Cellenics
 * tasks rely on (reference spec §4.1):
 *   - `assays$RNA` counts (required, non-negative integers) and data (log-normalised);
 *   - `meta.data`: `cells_id` (required: the cell id), every other column as an obs column
 *     (factors and character columns as categorical: `samples` becomes the sample class,
 *     `seurat_clusters` a categorical), `percent.mt`, `nFeature_RNA`, `nCount_RNA`,
 *     `doublet_scores` as numbers;
 *   - `reductions`: each one's cell embeddings as the embedding `X_<name>` (X_pca, X_umap, X_tsne),
 *     with its `stdev` (standard deviation of each component) when stored;
 *   - `misc`: `gene_annotations` (`input` → `name` is the gene symbol), `gene_dispersion` (stored
 *     gene statistics), `numPCs`, `active.reduction`, `color_pool`.
 * The counts are the worker's matrix when the object's `data` is Seurat's LogNormalize (scale
 * factor 1e4) of them, which the worker's normaliser then reproduces; when `data` is something
 * else (another scale factor, SCTransform) `data` itself is used, as log-normalised values.
 * Files must be gzip-compressed (saveRDS's default) or uncompressed; xz and bzip2 are refused
 * with the way to re-save them.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { readRds, type RAttributes, type RValue } from "../../numerics/scran.ts";
import { geneMajorFromCompressed, geneMajorFromDense } from "../../numerics/sparse.ts";
import { ErrorCode, WorkerError } from "../../result/errors.ts";
import type { Embedding, GeneMajorMatrix, LoadedData, MatrixKind, ObsColumn, SeuratMisc, StoredGeneStats } from "../types.ts";
import { firstNonCount, firstNonFinite } from "./values.ts";

const SCALE_FACTOR = 1e4;
/** R's NA_integer_ (and NA for logicals). */
const NA_INTEGER = -2147483648;
/** `data` counts as LogNormalize of the counts when every value is within this (relative) of it. */
const LOGNORM_TOLERANCE = 1e-9;

/** Reads a Seurat .rds. Throws WorkerError (DATA_NOT_FOUND / DATA_INVALID / DATA_UNSUPPORTED). */
export async function loadRds(path: string): Promise<LoadedData> {
  return (await loadRdsDetails(path)).data;
}

/**
 * loadRds, and how far the object's RNA data is from LogNormalize of its counts (the largest
 * relative difference; null when there is no data; Infinity when the non-zero entries differ).
 */
export async function loadRdsDetails(path: string): Promise<{ data: LoadedData; lognormDifference: number | null }> {
  const name = basename(path);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new WorkerError(ErrorCode.DATA_NOT_FOUND, `${name}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  checkMagic(name, bytes);
  let root: RValue;
  try {
    root = (await readRds(bytes, skipUnused)).value;
  } catch (err) {
    throw new WorkerError(ErrorCode.DATA_INVALID, `${name}: not a readable RDS file (${oneLine((err as Error).message)})`, { cause: err });
  }
  return readSeurat(new Reader(name, path), root);
}

/** Compression and serialisation format from the first bytes. */
function checkMagic(name: string, b: Uint8Array): void {
  const resave = "re-save it in R with saveRDS(object, file) (gzip, the default)";
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return; // gzip
  if (b.length >= 2 && b[0] === 0x58 && b[1] === 0x0a) return; // "X\n": uncompressed XDR
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0x00) {
    throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, `${name}: xz-compressed RDS files cannot be read; ${resave}`);
  }
  if (b.length >= 3 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) {
    throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, `${name}: bzip2-compressed RDS files cannot be read; ${resave}`);
  }
  if (b.length >= 2 && (b[0] === 0x41 || b[0] === 0x42) && b[1] === 0x0a) {
    throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, `${name}: ASCII or native-binary RDS files cannot be read; ${resave}`);
  }
  throw new WorkerError(ErrorCode.DATA_INVALID, `${name}: not an RDS file (it does not start as a gzip or uncompressed RDS file does)`);
}

/**
 * Parts of a Seurat object no task reads, not copied out of the parser: other assays,
 * scale.data, graphs, neighbours, images, the command log, tools, loadings and JackStraw.
 */
function skipUnused(path: readonly string[]): boolean {
  const [top, second] = path;
  if (path.length === 1 && (top === "@graphs" || top === "@neighbors" || top === "@images" || top === "@commands" || top === "@tools")) return true;
  if (top === "@assays" && path.length === 2 && second !== "RNA" && !second?.startsWith("@")) return true;
  const last = path[path.length - 1];
  if (last === "@scale.data" || (path[path.length - 2] === "@layers" && last === "scale.data")) return true;
  if (top === "@reductions" && (last === "@feature.loadings" || last === "@feature.loadings.projected" || last === "@jackstraw")) return true;
  return false;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** Error helpers naming the file. */
class Reader {
  readonly name: string;
  readonly path: string;
  constructor(name: string, path: string) {
    this.name = name;
    this.path = path;
  }
  invalid(message: string): WorkerError {
    return new WorkerError(ErrorCode.DATA_INVALID, `${this.name}: ${message}`);
  }
  unsupported(message: string): WorkerError {
    return new WorkerError(ErrorCode.DATA_UNSUPPORTED, `${this.name}: ${message}`);
  }
}

// --- R value helpers ---------------------------------------------------------------------------

function attrs(v: RValue): RAttributes {
  return "attributes" in v ? v.attributes : {};
}

function strings(v: RValue | undefined): (string | null)[] | undefined {
  return v?.type === "string" ? v.values : undefined;
}

/** The class attribute of a vector, or the S4 class name. */
function classOf(v: RValue): string[] {
  if (v.type === "S4") return [v.className];
  return (strings(attrs(v)["class"]) ?? []).filter((c): c is string => c !== null);
}

function listElement(v: RValue | undefined, name: string): RValue | undefined {
  if (v?.type !== "list") return undefined;
  const i = (strings(v.attributes["names"]) ?? []).indexOf(name);
  return i < 0 ? undefined : v.values[i];
}

function namesOf(v: RValue | undefined): string[] {
  return (strings(v === undefined ? undefined : attrs(v)["names"]) ?? []).map((n) => n ?? "");
}

/** A data.frame's row names: strings, or 1..n for R's compact form c(NA, -n). */
function rowNames(v: RValue): string[] | undefined {
  const rn = attrs(v)["row.names"];
  if (rn === undefined) return undefined;
  if (rn.type === "string") return rn.values.map((s) => s ?? "NA");
  if (rn.type === "integer") {
    if (rn.values.length === 2 && rn.values[0] === NA_INTEGER) return Array.from({ length: Math.abs(rn.values[1]!) }, (_, i) => String(i + 1));
    return Array.from(rn.values, String);
  }
  return undefined;
}

function describe(v: RValue): string {
  switch (v.type) {
    case "S4": return `an S4 object of class ${v.className}${v.packageName ? ` (package ${v.packageName})` : ""}`;
    case "list": {
      const cls = classOf(v);
      if (cls.includes("data.frame")) return "a data.frame";
      const names = namesOf(v).slice(0, 5);
      return `an R list${names.length ? ` (elements ${names.join(", ")})` : ""}`;
    }
    case "null": return "NULL";
    case "other": return `an R ${v.rType}`;
    case "skipped": return "an unread value";
    default: return `a ${v.type} vector${classOf(v).length ? ` of class ${classOf(v).join("/")}` : ""}`;
  }
}

function numbersOf(v: RValue | undefined): Float64Array | undefined {
  if (v?.type === "double") return v.values;
  if (v?.type === "integer" || v?.type === "logical") return Float64Array.from(v.values, (x) => (x === NA_INTEGER ? NaN : x));
  return undefined;
}

// --- matrices ------------------------------------------------------------------------------------

/** A genes x cells matrix as stored: compressed sparse columns (dgCMatrix) or a dense R matrix. */
type RMatrix =
  | { kind: "csc"; nRows: number; nCols: number; p: Int32Array; i: Int32Array; x: Float64Array; rownames?: string[]; colnames?: string[] }
  | { kind: "dense"; nRows: number; nCols: number; x: Float64Array; rownames?: string[]; colnames?: string[] };

function dimnamesOf(v: RValue | undefined): { rownames?: string[]; colnames?: string[] } {
  if (v?.type !== "list") return {};
  const out: { rownames?: string[]; colnames?: string[] } = {};
  const r = strings(v.values[0]);
  const c = strings(v.values[1]);
  if (r) out.rownames = r.map((s) => s ?? "NA");
  if (c) out.colnames = c.map((s) => s ?? "NA");
  return out;
}

/** A matrix slot or layer, or undefined when it is absent or empty (0 x 0). */
function readMatrix(r: Reader, v: RValue | undefined, where: string): RMatrix | undefined {
  if (v === undefined || v.type === "null" || v.type === "skipped") return undefined;
  if (v.type === "S4") {
    if (v.className !== "dgCMatrix") {
      const hint = v.packageName === "BPCells" ? " (a BPCells on-disk matrix: convert it with as(x, \"dgCMatrix\") before saving)" : "";
      throw r.unsupported(`${where} is a ${v.className}${hint}; only dgCMatrix and dense matrices are read`);
    }
    const a = v.attributes;
    const dim = a["Dim"];
    const p = a["p"];
    const i = a["i"];
    const x = a["x"];
    if (dim?.type !== "integer" || dim.values.length !== 2 || p?.type !== "integer" || i?.type !== "integer" || x?.type !== "double") {
      throw r.invalid(`${where} is a malformed dgCMatrix (Dim, p, i or x missing or of the wrong type)`);
    }
    const [nRows, nCols] = [dim.values[0]!, dim.values[1]!];
    if (nRows === 0 && nCols === 0) return undefined;
    if (p.values.length !== nCols + 1 || i.values.length !== x.values.length || p.values[nCols] !== x.values.length) {
      throw r.invalid(`${where} is a malformed dgCMatrix (p has ${p.values.length} entries for ${nCols} columns, i ${i.values.length}, x ${x.values.length})`);
    }
    return { kind: "csc", nRows, nCols, p: p.values, i: i.values, x: x.values, ...dimnamesOf(a["Dimnames"]) };
  }
  if (v.type === "double" || v.type === "integer") {
    const dim = v.attributes["dim"];
    if (dim?.type !== "integer" || dim.values.length !== 2) throw r.invalid(`${where} is a ${v.type} vector, not a matrix`);
    const [nRows, nCols] = [dim.values[0]!, dim.values[1]!];
    if (nRows === 0 || nCols === 0) return undefined;
    return { kind: "dense", nRows, nCols, x: numbersOf(v)!, ...dimnamesOf(v.attributes["dimnames"]) };
  }
  throw r.unsupported(`${where} is ${describe(v)}, not a matrix`);
}

/** Gene-major form of a genes x cells matrix. */
function geneMajorOf(r: Reader, m: RMatrix, where: string): GeneMajorMatrix {
  const bad = firstNonFinite(m.x);
  if (bad !== undefined) throw r.invalid(`${where} has ${m.x[bad]} at entry ${bad}: values must be finite numbers that fit a 32-bit float`);
  // R's column-major genes x cells is row-major cells x genes
  if (m.kind === "dense") return geneMajorFromDense(m.nCols, m.nRows, m.x);
  try {
    return geneMajorFromCompressed({ major: "cell", nGenes: m.nRows, nCells: m.nCols, indptr: m.p, indices: m.i, values: m.x });
  } catch (err) {
    if (err instanceof RangeError) throw r.invalid(`${where} is malformed (${err.message})`);
    throw err;
  }
}

/**
 * Largest difference between `data` and Seurat's LogNormalize of `counts` (log1p(count / total
 * * 1e4), totals = column sums of counts, in that order of operations), relative to
 * max(1, |value|); Infinity when the shapes or the sets of non-zero entries differ.
 */
function logNormalizeDifference(counts: RMatrix, data: RMatrix): number {
  if (counts.nRows !== data.nRows || counts.nCols !== data.nCols) return Infinity;
  const dense = (m: RMatrix, g: number, c: number): number => (m.kind === "dense" ? m.x[c * m.nRows + g]! : NaN);
  const totals = new Float64Array(counts.nCols);
  if (counts.kind === "csc") {
    for (let c = 0; c < counts.nCols; c++) for (let k = counts.p[c]!; k < counts.p[c + 1]!; k++) totals[c]! += counts.x[k]!;
  } else {
    for (let c = 0; c < counts.nCols; c++) for (let g = 0; g < counts.nRows; g++) totals[c]! += counts.x[c * counts.nRows + g]!;
  }
  const expected = (count: number, c: number): number => Math.log1p((count / totals[c]!) * SCALE_FACTOR);
  let worst = 0;
  const compare = (want: number, got: number): void => {
    const d = Math.abs(want - got) / Math.max(1, Math.abs(want));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  };
  if (counts.kind === "csc" && data.kind === "csc") {
    for (let c = 0; c <= counts.nCols; c++) if (counts.p[c] !== data.p[c]) return Infinity;
    for (let k = 0; k < counts.i.length; k++) if (counts.i[k] !== data.i[k]) return Infinity;
    for (let c = 0; c < counts.nCols; c++) {
      for (let k = counts.p[c]!; k < counts.p[c + 1]!; k++) compare(expected(counts.x[k]!, c), data.x[k]!);
    }
    return worst;
  }
  // a dense side: compare every entry
  const at = (m: RMatrix, g: number, c: number): number => {
    if (m.kind === "dense") return dense(m, g, c);
    for (let k = m.p[c]!; k < m.p[c + 1]!; k++) if (m.i[k] === g) return m.x[k]!;
    return 0;
  };
  for (let c = 0; c < counts.nCols; c++) for (let g = 0; g < counts.nRows; g++) compare(expected(at(counts, g, c), c), at(data, g, c));
  return worst;
}

// --- the Seurat object ---------------------------------------------------------------------------

interface AssayMatrices {
  counts?: RMatrix;
  data?: RMatrix;
  /** the assay's feature ids and cell names (of the counts, else the data) */
  features: string[];
  cells: string[];
  /** v4 Assay var.features */
  variableFeatures?: string[];
}

function readSeurat(r: Reader, root: RValue): { data: LoadedData; lognormDifference: number | null } {
  if (root.type !== "S4" || root.className !== "Seurat") {
    if (root.type === "S4" && root.className === "seurat") {
      throw r.unsupported("a Seurat v2 object (class \"seurat\"); update it in R with UpdateSeuratObject() and save it again");
    }
    throw r.unsupported(`not a Seurat object: it holds ${describe(root)}`);
  }
  const notes: string[] = [];
  const slots = root.attributes;
  const misc = slots["misc"];
  const objectVersion = readVersion(slots["version"]);

  const assays = slots["assays"];
  const rna = listElement(assays, "RNA");
  if (rna === undefined) throw r.invalid(`the Seurat object has no RNA assay (assays: ${namesOf(assays).join(", ") || "none"})`);
  const am = readAssay(r, rna);
  if (am.counts === undefined) throw r.invalid("the RNA assay has no counts (assays$RNA counts is missing or empty)");
  const counts = am.counts;
  const nGenes = counts.nRows;
  const nCells = counts.nCols;

  // --- cells: meta.data row names, cells_id ---
  const meta = slots["meta.data"];
  if (meta?.type !== "list" || !classOf(meta).includes("data.frame")) throw r.invalid("meta.data is missing or not a data.frame");
  const metaRows = rowNames(meta) ?? [];
  if (metaRows.length !== nCells) throw r.invalid(`meta.data has ${metaRows.length} rows but the RNA counts have ${nCells} cells`);
  if (am.cells.length === nCells && am.cells.some((c, i) => c !== metaRows[i])) {
    throw r.invalid("meta.data row names differ from the RNA counts' cell names (cells in another order or other cells)");
  }
  const barcodes = am.cells.length === nCells ? am.cells : metaRows;
  const columnNames = namesOf(meta);
  const idIndex = columnNames.indexOf("cells_id");
  if (idIndex < 0) throw r.invalid("meta.data has no cells_id column (the Cellenics cell id of each cell)");
  const cellIds = readCellIds(r, meta.values[idIndex]!, nCells);
  const obs: ObsColumn[] = [];
  meta.values.forEach((col, k) => {
    if (k === idIndex) return;
    const c = readObsColumn(r, columnNames[k]!, col, nCells, notes);
    if (c !== undefined) obs.push(c);
  });

  // --- the matrix: counts, unless data is not their LogNormalize ---
  const countValues = firstNonCount(counts.x);
  if (countValues !== undefined) {
    throw r.invalid(`the RNA counts should hold raw counts (non-negative integers) but have ${counts.x[countValues]} at entry ${countValues}`);
  }
  let matrix: GeneMajorMatrix;
  let matrixKind: MatrixKind = "counts";
  let matrixSource = "assays$RNA counts";
  let lognormDifference: number | null = null;
  if (am.data === undefined) {
    notes.push("The RNA assay has no data (log-normalised values): they are computed from the counts with LogNormalize (scale factor 1e4).");
    matrix = geneMajorOf(r, counts, "the RNA counts");
  } else {
    const diff = logNormalizeDifference(counts, am.data);
    lognormDifference = diff;
    if (diff <= LOGNORM_TOLERANCE) {
      matrix = geneMajorOf(r, counts, "the RNA counts");
    } else {
      if (am.data.nRows !== nGenes || am.data.nCols !== nCells) {
        throw r.invalid(`the RNA data is ${am.data.nRows} x ${am.data.nCols} but the counts are ${nGenes} x ${nCells}`);
      }
      matrix = geneMajorOf(r, am.data, "the RNA data");
      matrixKind = "lognorm";
      matrixSource = "assays$RNA data";
      notes.push(
        "The RNA data is not LogNormalize (scale factor 1e4) of the counts (another normalisation, e.g. SCTransform): it is used as " +
          "the log-normalised expression as stored; tasks that need raw counts (e.g. pseudobulk differential expression) cannot run.",
      );
    }
  }

  // --- genes ---
  const ids = am.features.length === nGenes ? am.features : Array.from({ length: nGenes }, (_, g) => String(g + 1));
  const genes = { ids, symbols: geneSymbols(ids, listElement(misc, "gene_annotations"), notes) };

  // --- reductions, misc ---
  const embeddings = readReductions(slots["reductions"], barcodes, notes);
  const seuratMisc = readMisc(misc, objectVersion);
  const storedGeneStats = readGeneStats(ids, listElement(misc, "gene_dispersion"), am.variableFeatures);

  const data: LoadedData = {
    format: "rds",
    path: r.path,
    matrix,
    matrixKind,
    matrixSource,
    genes,
    barcodes,
    cellIds,
    obs,
    embeddings,
    seuratMisc,
    notes,
  };
  if (storedGeneStats !== undefined) data.storedGeneStats = storedGeneStats;
  return { data, lognormDifference };
}

function readVersion(v: RValue | undefined): string | undefined {
  // package_version: a list holding one integer vector
  if (v?.type !== "list" || v.values[0]?.type !== "integer") return undefined;
  return Array.from(v.values[0].values).join(".");
}

/** counts and data of an Assay (v4 slots) or Assay5 (v5 layers). */
function readAssay(r: Reader, a: RValue): AssayMatrices {
  if (a.type !== "S4") throw r.invalid(`assays$RNA is ${describe(a)}, not a Seurat assay`);
  if (a.className === "Assay") {
    const counts = readMatrix(r, a.attributes["counts"], "assays$RNA counts");
    const data = readMatrix(r, a.attributes["data"], "assays$RNA data");
    const ref = counts ?? data;
    const out: AssayMatrices = { features: ref?.rownames ?? [], cells: ref?.colnames ?? [] };
    if (counts) out.counts = counts;
    if (data) out.data = data;
    const vf = strings(a.attributes["var.features"]);
    if (vf) out.variableFeatures = vf.filter((s): s is string => s !== null);
    return out;
  }
  if (a.className === "Assay5") {
    const layers = a.attributes["layers"];
    const names = namesOf(layers);
    const split = names.filter((n) => /^(counts|data)\./.test(n));
    if (split.length > 0) {
      throw r.unsupported(`the RNA assay's layers are split (${split.slice(0, 3).join(", ")}); join them in R with JoinLayers() and save again`);
    }
    const out: AssayMatrices = { features: [], cells: [] };
    for (const layer of ["counts", "data"] as const) {
      const m = readMatrix(r, listElement(layers, layer), `assays$RNA layer ${layer}`);
      if (m === undefined) continue;
      // v5 layers carry no dimnames: the LogMaps say which features and cells each layer has
      const features = logMapNames(a.attributes["features"], layer) ?? m.rownames;
      const cells = logMapNames(a.attributes["cells"], layer) ?? m.colnames;
      if (features && features.length !== m.nRows) throw r.invalid(`assays$RNA layer ${layer} has ${m.nRows} rows but its feature map lists ${features.length}`);
      if (cells && cells.length !== m.nCols) throw r.invalid(`assays$RNA layer ${layer} has ${m.nCols} columns but its cell map lists ${cells.length}`);
      if (features) m.rownames = features;
      if (cells) m.colnames = cells;
      out[layer] = m;
    }
    const ref = out.counts ?? out.data;
    out.features = ref?.rownames ?? [];
    out.cells = ref?.colnames ?? [];
    if (out.counts && out.data && !(sameNames(out.counts.rownames, out.data.rownames) && sameNames(out.counts.colnames, out.data.colnames))) {
      throw r.unsupported("the RNA counts and data layers cover different features or cells");
    }
    return out;
  }
  throw r.unsupported(`assays$RNA is a ${a.className}; only Seurat's Assay (v3/v4) and Assay5 (v5) are read`);
}

function sameNames(a: string[] | undefined, b: string[] | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Row names of a LogMap (logical matrix, rows = names, columns = layers) where `layer` is TRUE. */
function logMapNames(map: RValue | undefined, layer: string): string[] | undefined {
  if (map?.type !== "logical") return undefined;
  const dim = map.attributes["dim"];
  if (dim?.type !== "integer" || dim.values.length !== 2) return undefined;
  const { rownames, colnames } = dimnamesOf(map.attributes["dimnames"]);
  const j = colnames?.indexOf(layer) ?? -1;
  if (rownames === undefined || j < 0) return undefined;
  const n = dim.values[0]!;
  return rownames.filter((_, i) => map.values[j * n + i] === 1);
}

function readCellIds(r: Reader, v: RValue, nCells: number): Int32Array {
  const values = numbersOf(v);
  if (values === undefined || classOf(v).includes("factor")) {
    throw r.invalid(`meta.data column cells_id must hold integer cell ids (it holds ${describe(v)})`);
  }
  if (values.length !== nCells) throw r.invalid(`meta.data column cells_id has ${values.length} values for ${nCells} cells`);
  const ids = new Int32Array(nCells);
  const seen = new Map<number, number>();
  for (let i = 0; i < nCells; i++) {
    const id = values[i]!;
    if (!(Number.isInteger(id) && id >= 0 && id <= 0x7fffffff)) throw r.invalid(`meta.data column cells_id must hold integers >= 0, but cell ${i + 1} has ${Number.isNaN(id) ? "NA" : id}`);
    const before = seen.get(id);
    if (before !== undefined) throw r.invalid(`meta.data column cells_id has duplicated value ${id} (cells ${before + 1} and ${i + 1})`);
    seen.set(id, i);
    ids[i] = id;
  }
  return ids;
}

/** A meta.data column as an obs column; undefined (with a note) for types that are not read. */
function readObsColumn(r: Reader, name: string, v: RValue, nCells: number, notes: string[]): ObsColumn | undefined {
  if (v.type === "integer" || v.type === "double" || v.type === "logical" || v.type === "string") {
    if (v.values.length !== nCells) throw r.invalid(`meta.data column ${name} has ${v.values.length} values for ${nCells} cells`);
  }
  if (v.type === "integer" && classOf(v).includes("factor")) {
    const categories = (strings(v.attributes["levels"]) ?? []).map((s) => s ?? "NA");
    const codes = Int32Array.from(v.values, (x) => (x === NA_INTEGER ? -1 : x - 1));
    const bad = codes.findIndex((c) => c < -1 || c >= categories.length);
    if (bad >= 0) throw r.invalid(`meta.data column ${name} has code ${v.values[bad]} at cell ${bad + 1}, outside its ${categories.length} levels`);
    return { name, kind: "categorical", categories, codes };
  }
  if (v.type === "integer" || v.type === "double") return { name, kind: "numeric", values: numbersOf(v)! };
  if (v.type === "logical") {
    let missing = 0;
    const values = Uint8Array.from(v.values, (x) => { if (x === NA_INTEGER) { missing++; return 0; } return x ? 1 : 0; });
    if (missing > 0) notes.push(`meta.data column "${name}" has ${missing} missing values, read as false.`);
    return { name, kind: "boolean", values };
  }
  if (v.type === "string") {
    // character columns (e.g. the pipeline's `samples`) as categorical, levels in order of appearance
    const categories: string[] = [];
    const index = new Map<string, number>();
    const codes = Int32Array.from(v.values, (s) => {
      if (s === null) return -1;
      let c = index.get(s);
      if (c === undefined) { c = categories.length; categories.push(s); index.set(s, c); }
      return c;
    });
    return { name, kind: "categorical", categories, codes };
  }
  notes.push(`meta.data column "${name}" was skipped: it is ${describe(v)}.`);
  return undefined;
}

/** Gene symbols: misc$gene_annotations `name` by `input` (= the matrix's feature ids), else the ids. */
function geneSymbols(ids: string[], annotations: RValue | undefined, notes: string[]): string[] {
  if (annotations === undefined) {
    notes.push("misc$gene_annotations is missing: genes are named by the matrix's feature ids.");
    return ids;
  }
  const cols = namesOf(annotations);
  const col = (n: string): (string | null)[] | undefined => {
    const i = cols.indexOf(n);
    return i < 0 || annotations.type !== "list" ? undefined : strings(annotations.values[i]);
  };
  const input = col("input") ?? rowNames(annotations);
  const name = col("name");
  if (input === undefined || name === undefined || input.length !== name.length) {
    notes.push("misc$gene_annotations has no input and name columns: genes are named by the matrix's feature ids.");
    return ids;
  }
  const byId = new Map<string, string>();
  input.forEach((id, k) => {
    const symbol = name[k];
    if (id === null || symbol === null || symbol === undefined || byId.has(id)) return;
    byId.set(id, symbol);
    // Seurat turns "_" in feature names into "-"
    if (id.includes("_")) byId.set(id.replaceAll("_", "-"), symbol);
  });
  let missing = 0;
  const symbols = ids.map((id) => {
    const s = byId.get(id);
    if (s === undefined) { missing++; return id; }
    return s;
  });
  if (missing > 0) notes.push(`${missing} of ${ids.length} genes are not in misc$gene_annotations: they are named by their feature ids.`);
  return symbols;
}

/** Each reduction's cell embeddings as `X_<name>`, cells in the matrix's order, row-major. */
function readReductions(reductions: RValue | undefined, cells: string[], notes: string[]): Record<string, Embedding> {
  const out: Record<string, Embedding> = {};
  if (reductions?.type !== "list") return out;
  const position = new Map(cells.map((c, i) => [c, i]));
  namesOf(reductions).forEach((name, k) => {
    const red = reductions.values[k]!;
    if (red.type !== "S4" || red.className !== "DimReduc") {
      notes.push(`reduction "${name}" was skipped: it is ${describe(red)}, not a DimReduc.`);
      return;
    }
    const emb = red.attributes["cell.embeddings"];
    const dim = emb === undefined ? undefined : attrs(emb)["dim"];
    if (emb === undefined || (emb.type !== "double" && emb.type !== "integer") || dim?.type !== "integer" || dim.values.length !== 2) {
      notes.push(`reduction "${name}" was skipped: its cell.embeddings are not a numeric matrix.`);
      return;
    }
    const [rows, dims] = [dim.values[0]!, dim.values[1]!];
    const values = numbersOf(emb)!;
    const { rownames } = dimnamesOf(attrs(emb)["dimnames"]);
    let order: Int32Array; // source row of each cell
    if (rownames === undefined) {
      if (rows !== cells.length) { notes.push(`reduction "${name}" was skipped: it has ${rows} rows for ${cells.length} cells and no cell names.`); return; }
      order = Int32Array.from({ length: rows }, (_, i) => i);
    } else {
      order = new Int32Array(cells.length).fill(-1);
      rownames.forEach((c, i) => { const p = position.get(c); if (p !== undefined) order[p] = i; });
      const missing = order.reduce((n, v) => n + (v < 0 ? 1 : 0), 0);
      if (missing > 0) { notes.push(`reduction "${name}" was skipped: ${missing} of ${cells.length} cells have no coordinates in it.`); return; }
    }
    if (dims === 0) return;
    const rowMajor = new Float64Array(cells.length * dims);
    for (let i = 0; i < cells.length; i++) for (let j = 0; j < dims; j++) rowMajor[i * dims + j] = values[j * rows + order[i]!]!;
    const embedding: Embedding = { dims, values: rowMajor };
    // the DimReduc's stdev (standard deviation of each component), kept when it covers every dim
    const stdev = numbersOf(red.attributes["stdev"]);
    if (stdev !== undefined && stdev.length === dims && stdev.every((x) => Number.isFinite(x) && x >= 0)) embedding.stdev = Float64Array.from(stdev);
    out[`X_${name}`] = embedding;
  });
  if (reductions.values.length > 0 && Object.keys(out).length === 0) {
    notes.push("No reduction of the object could be used.");
  }
  return out;
}

function readMisc(misc: RValue | undefined, objectVersion: string | undefined): SeuratMisc {
  const out: SeuratMisc = {};
  const numPCs = numbersOf(listElement(misc, "numPCs"))?.[0];
  if (numPCs !== undefined && Number.isInteger(numPCs) && numPCs > 0) out.numPCs = numPCs;
  const active = strings(listElement(misc, "active.reduction"))?.[0];
  if (active) out.activeReduction = active;
  const pool = strings(listElement(misc, "color_pool"));
  if (pool) out.colorPool = pool.filter((c): c is string => c !== null);
  if (objectVersion) out.objectVersion = objectVersion;
  return out;
}

/**
 * misc$gene_dispersion (HVFInfo: mean, variance, variance.standardized; or SCT's
 * residual_variance) as stored gene statistics aligned with the genes; legacy tables whose
 * third and fourth columns are named (variance.standardized, NA) hold the standardized
 * variance in the fourth (reference spec §4.1). Highly variable: the assay's var.features.
 */
function readGeneStats(ids: string[], table: RValue | undefined, variableFeatures: string[] | undefined): StoredGeneStats | undefined {
  const stats: StoredGeneStats = {};
  const position = new Map(ids.map((id, g) => [id, g]));
  if (table?.type === "list") {
    const cols = namesOf(table);
    const rows = rowNames(table);
    const column = (i: number): Float64Array | undefined => (i < 0 ? undefined : numbersOf(table.values[i]));
    let dispIndex = cols.indexOf("variance.standardized");
    if (dispIndex === 2 && (cols[3] === "" || cols[3] === "NA")) dispIndex = 3;
    if (dispIndex < 0) dispIndex = cols.indexOf("residual_variance");
    const disp = column(dispIndex);
    const means = column(cols.indexOf("mean")) ?? column(cols.indexOf("gmean"));
    if (rows !== undefined && (disp !== undefined || means !== undefined)) {
      const align = (values: Float64Array): Float64Array => {
        const out = new Float64Array(ids.length).fill(NaN);
        rows.forEach((id, k) => { const g = position.get(id); if (g !== undefined) out[g] = values[k]!; });
        return out;
      };
      if (disp !== undefined) stats.dispersions = align(disp);
      if (means !== undefined) stats.means = align(means);
    }
  }
  if (variableFeatures !== undefined && variableFeatures.length > 0) {
    const hv = new Uint8Array(ids.length);
    for (const id of variableFeatures) { const g = position.get(id); if (g !== undefined) hv[g] = 1; }
    stats.highlyVariable = hv;
  }
  return Object.keys(stats).length > 0 ? stats : undefined;
}
