/**
 * Writes an AnnData file (.h5ad) in the anndata 0.8+ on-disk layout (encoding-type and
 * encoding-version attributes on every element), readable by anndata ≥ 0.8, scanpy and our own
 * loader (load/h5ad.ts).
 *
 * The matrix comes from the experiment's gene-major store (compressed rows per gene, cell
 * indices ascending) and is written cells x genes as CSR (encoding csr_matrix 0.1.0, `shape`
 * attribute, int32 indices, int64 indptr), in blocks of cells (cell-major.ts) appended to chunked,
 * gzip-compressed datasets, so the transposed matrix never exists whole in memory. `X` holds `x(value, cell)` of each
 * stored value (e.g. log-normalised values) as float64 and, when given, `layers/<name>` the stored
 * values themselves (e.g. raw counts) as float32, sharing the same sparsity.
 *
 * Frames (obs, var) are dataframe 0.2.0 with an `_index` string column and `column-order`;
 * columns are numeric arrays, booleans (h5py's FALSE/TRUE enum, so numpy bool), string arrays or
 * categoricals (codes + categories, `ordered` false). obsm holds dense cells x dims float64 arrays; uns holds strings and string
 * arrays.
 */
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { GeneMajorMatrix } from "../types.ts";
import { type H5Appender, type H5AttrValue, type H5Writer, type WritableNumbers, withH5Writer } from "../load/hdf5.ts";
import { cellMajorBlocks, cellRowCounts } from "./cell-major.ts";

export type H5adColumn =
  | { name: string; kind: "numeric"; values: Float64Array | Float32Array | Int32Array }
  | { name: string; kind: "boolean"; values: Uint8Array }
  | { name: string; kind: "string"; values: string[] }
  /** codes: index into categories, -1 = missing */
  | { name: string; kind: "categorical"; categories: string[]; codes: Int32Array };

export interface H5adFrame {
  /** row names (obs_names / var_names) */
  index: string[];
  columns: H5adColumn[];
}

export interface H5adContent {
  /** genes x cells, gene-major with ascending cell indices per gene */
  matrix: GeneMajorMatrix;
  /** the value written to X for a stored value of a cell */
  x: (value: number, cell: number) => number;
  /** also write the stored values as this layer (e.g. "counts") */
  storedAsLayer?: string;
  obs: H5adFrame;
  var: H5adFrame;
  /** cells x dims, row-major */
  obsm: Record<string, { dims: number; values: Float64Array }>;
  uns: Record<string, string | string[]>;
}

export interface H5adWriteOptions {
  /** fraction of the matrix written, in [0, 1] */
  progress?: (fraction: number) => void;
  /** checked between blocks: true stops writing (an Error "cancelled" is thrown) */
  cancelled?: () => boolean;
}

const enc = (type: string, version: string): Record<string, H5AttrValue> => ({ "encoding-type": type, "encoding-version": version });

/** Writes `content` to `path` (replacing it). Throws an Error when the content is inconsistent or a write fails. */
export async function writeH5ad(path: string, content: H5adContent, opts: H5adWriteOptions = {}): Promise<void> {
  const { matrix: m } = content;
  if (content.obs.index.length !== m.nCells) throw new Error(`h5ad: obs has ${content.obs.index.length} rows for ${m.nCells} cells`);
  if (content.var.index.length !== m.nGenes) throw new Error(`h5ad: var has ${content.var.index.length} rows for ${m.nGenes} genes`);
  if (opts.cancelled?.()) throw new Error("h5ad: writing cancelled");
  await withH5Writer(path, async (w) => {
    w.attrs("", enc("anndata", "0.1.0"));
    writeFrame(w, "obs", content.obs);
    writeFrame(w, "var", content.var);
    w.group("obsm", enc("dict", "0.1.0"));
    for (const [name, e] of Object.entries(content.obsm)) {
      if (e.values.length !== m.nCells * e.dims) throw new Error(`h5ad: obsm ${name} has ${e.values.length} values for ${m.nCells} x ${e.dims}`);
      w.numbers(`obsm/${name}`, e.values, { shape: [m.nCells, e.dims], attrs: enc("array", "0.2.0") });
    }
    for (const g of ["varm", "obsp", "varp", "layers"]) w.group(g, enc("dict", "0.1.0"));
    w.group("uns", enc("dict", "0.1.0"));
    for (const [name, value] of Object.entries(content.uns)) {
      if (typeof value === "string") w.string(`uns/${name}`, value, enc("string", "0.2.0"));
      else w.strings(`uns/${name}`, value, enc("string-array", "0.2.0"));
    }
    await writeCsr(w, content, opts);
  });
}

function writeFrame(w: H5Writer, p: string, frame: H5adFrame): void {
  const names = new Set<string>(["_index"]);
  for (const c of frame.columns) {
    if (names.has(c.name) || c.name === "" || c.name.includes("/")) throw new Error(`h5ad: ${p} column name ${JSON.stringify(c.name)} is empty, repeated, reserved or holds "/"`);
    names.add(c.name);
  }
  w.group(p, { ...enc("dataframe", "0.2.0"), _index: "_index", "column-order": frame.columns.map((c) => c.name) });
  w.strings(`${p}/_index`, frame.index, enc("string-array", "0.2.0"));
  const n = frame.index.length;
  for (const c of frame.columns) {
    const at = `${p}/${c.name}`;
    const length = c.kind === "categorical" ? c.codes.length : c.values.length;
    if (length !== n) throw new Error(`h5ad: ${at} has ${length} values for ${n} rows`);
    switch (c.kind) {
      case "numeric":
        w.numbers(at, c.values, { attrs: enc("array", "0.2.0") });
        break;
      case "boolean":
        w.booleans(at, c.values, enc("array", "0.2.0"));
        break;
      case "string":
        w.strings(at, c.values, enc("string-array", "0.2.0"));
        break;
      case "categorical": {
        if (new Set(c.categories).size !== c.categories.length) throw new Error(`h5ad: ${at} has repeated categories`);
        for (const code of c.codes) if (!(code >= -1 && code < c.categories.length)) throw new Error(`h5ad: ${at} has code ${code} outside its ${c.categories.length} categories`);
        w.group(at, { ...enc("categorical", "0.2.0"), ordered: false });
        w.strings(`${at}/categories`, c.categories, enc("string-array", "0.2.0"));
        w.numbers(`${at}/codes`, smallestCodes(c.codes, c.categories.length), { attrs: enc("array", "0.2.0") });
        break;
      }
    }
  }
}

/** Codes in the smallest signed integer type that holds them (as pandas stores them). */
function smallestCodes(codes: Int32Array, nCategories: number): WritableNumbers {
  if (nCategories <= 127) return Int8Array.from(codes);
  if (nCategories <= 32767) return Int16Array.from(codes);
  return codes;
}

/** X (and the stored-values layer) as CSR, block of cells by block of cells. */
async function writeCsr(w: H5Writer, content: H5adContent, opts: H5adWriteOptions): Promise<void> {
  const { matrix: m } = content;
  const rowNnz = cellRowCounts(m);
  const csrPtr = new BigInt64Array(m.nCells + 1);
  let total = 0;
  for (let c = 0; c < m.nCells; c++) { total += rowNnz[c]!; csrPtr[c + 1] = BigInt(total); }

  const shape = BigInt64Array.of(BigInt(m.nCells), BigInt(m.nGenes));
  const csr = (p: string): void => w.group(p, { ...enc("csr_matrix", "0.1.0"), shape });
  csr("X");
  w.numbers("X/indptr", csrPtr);
  const xIndices = w.appendable("X/indices", "i4");
  const xData = w.appendable("X/data", "f8");
  let layer: { indices: H5Appender; data: H5Appender } | undefined;
  if (content.storedAsLayer !== undefined) {
    const p = `layers/${content.storedAsLayer}`;
    csr(p);
    w.numbers(`${p}/indptr`, csrPtr);
    layer = { indices: w.appendable(`${p}/indices`, "i4"), data: w.appendable(`${p}/data`, "f4") };
  }
  let done = 0;
  for (const block of cellMajorBlocks(m, content.x, rowNnz)) {
    if (opts.cancelled?.()) throw new Error("h5ad: writing cancelled");
    xIndices.append(block.indices);
    xData.append(block.x);
    if (layer) { layer.indices.append(block.indices); layer.data.append(block.stored); }
    done += block.indices.length;
    opts.progress?.(total === 0 ? 1 : done / total);
    await yieldToLoop();
  }
  if (xData.length !== total) throw new Error(`h5ad: wrote ${xData.length} values of ${total}`);
  opts.progress?.(1);
}
