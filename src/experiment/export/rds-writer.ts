/**
 * Writes the annotated experiment as an R data file (.rds, what `saveRDS` writes: R's
 * serialization format version 3, XDR, native encoding UTF-8, gzip-compressed) holding a Seurat v4 object
 * (SeuratObject 4.1 slots), from the same content as the .h5ad (H5adContent):
 *
 * - assay `RNA`: `counts` = the stored values (raw counts) and `data` = X (log-normalised), both
 *   dgCMatrix genes x cells (a Seurat matrix's columns are cells: the CSC arrays of genes x cells
 *   are the CSR arrays of cells x genes, written in blocks of cells as for the .h5ad);
 *   `var.features` = the highly variable genes, `meta.features` = var's columns;
 * - `meta.data` = obs's columns (categoricals as factors, booleans as logicals), row names = the
 *   cell barcodes; `active.ident` = `seurat_clusters` when present;
 * - `reductions`: obsm `X_pca` → `pca` (key `PC_`), `X_umap` → `umap` (`UMAP_`), `X_tsne` →
 *   `tsne` (`tSNE_`), any other `X_name` → `name`;
 * - `misc$cellenics_cell_sets` = the cell-set tree as JSON; `misc$gene_annotations` = Cellenics'
 *   gene table (`input` = feature id, `name` = gene symbol, `original_name`).
 *
 * The bytes are produced as they are read (a generator of chunks), so neither the serialized
 * object nor a transposed matrix is ever whole in memory.
 */
import type { H5adColumn, H5adContent } from "./h5ad-writer.ts";
import { cellMajorBlocks, cellRowCounts } from "./cell-major.ts";

// SEXP types and flags of R's serialization format (src/main/serialize.c)
const NILVALUE = 254;
const SYMSXP = 1;
const LISTSXP = 2;
const CHARSXP = 9;
const LGLSXP = 10;
const INTSXP = 13;
const REALSXP = 14;
const STRSXP = 16;
const VECSXP = 19;
const S4SXP = 25;
const IS_OBJECT = 1 << 8;
const HAS_ATTR = 1 << 9;
const HAS_TAG = 1 << 10;
const S4_OBJECT_LEVEL = 1 << 4;
const UTF8_LEVEL = 1 << 3;
const ASCII_LEVEL = 1 << 6;
const NA_INTEGER = -2147483648;
/** R 4.2.2 wrote it; R 3.5.0 can read it (format version 3, what saveRDS writes by default) */
const WRITER_VERSION = (4 << 16) | (2 << 8) | 2;
const MIN_READER_VERSION = (3 << 16) | (5 << 8) | 0;
const CHUNK = 1 << 16;

/** An R value to serialize. `lazy` vectors produce their elements as they are written. */
type RValue =
  | { t: "null" }
  | { t: "lgl" | "int"; v: ArrayLike<number>; attrs?: Attrs }
  | { t: "real"; v: ArrayLike<number>; attrs?: Attrs }
  | { t: "str"; v: readonly (string | null)[]; attrs?: Attrs }
  | { t: "list"; v: RValue[]; attrs?: Attrs }
  | { t: "s4"; cls: string; pkg: string; slots: Attrs }
  | { t: "lazy"; type: "int" | "real"; length: number; chunks: () => Iterable<ArrayLike<number>>; attrs?: Attrs };
type Attrs = [string, RValue][];

const NULL: RValue = { t: "null" };
const str = (...v: (string | null)[]): RValue => ({ t: "str", v });
const int = (...v: number[]): RValue => ({ t: "int", v });
const lgl = (v: boolean): RValue => ({ t: "lgl", v: [v ? 1 : 0] });
const list = (v: RValue[], names?: string[]): RValue => ({ t: "list", v, ...(names ? { attrs: [["names", { t: "str", v: names }]] } : {}) });
const emptyMatrix = (): RValue => ({ t: "real", v: [], attrs: [["dim", int(0, 0)]] });

/** Serialized bytes, drained in chunks. */
class Out {
  #buf = Buffer.alloc(CHUNK * 2);
  #used = 0;
  #ready: Buffer[] = [];

  #room(n: number): void {
    if (this.#used + n <= this.#buf.length) return;
    this.#ready.push(Buffer.from(this.#buf.subarray(0, this.#used)));
    this.#used = 0;
    if (n > this.#buf.length) this.#buf = Buffer.alloc(n);
  }

  int(v: number): void {
    this.#room(4);
    this.#buf.writeInt32BE(v, this.#used);
    this.#used += 4;
  }

  real(v: number): void {
    this.#room(8);
    if (Number.isNaN(v)) { this.#buf.writeUInt32BE(0x7ff00000, this.#used); this.#buf.writeUInt32BE(1954, this.#used + 4); } // NA_real_
    else this.#buf.writeDoubleBE(v, this.#used);
    this.#used += 8;
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.#used);
    this.#used += b.length;
  }

  *drain(all = false): Generator<Buffer> {
    if (all || this.#used >= CHUNK) { this.#ready.push(Buffer.from(this.#buf.subarray(0, this.#used))); this.#used = 0; }
    while (this.#ready.length > 0) yield this.#ready.shift()!;
  }
}

const encoder = new TextEncoder();

function writeChars(out: Out, s: string | null): void {
  if (s === null) { out.int(CHARSXP); out.int(-1); return; }
  const b = encoder.encode(s);
  const ascii = b.length === s.length && !/[^\x00-\x7f]/.test(s);
  out.int(CHARSXP | ((ascii ? ASCII_LEVEL : UTF8_LEVEL) << 12));
  out.int(b.length);
  out.bytes(b);
}

function writeAttrs(out: Out, attrs: Attrs): Generator<Buffer> {
  return (function* () {
    for (const [name, value] of attrs) {
      out.int(LISTSXP | HAS_TAG);
      out.int(SYMSXP);
      writeChars(out, name);
      yield* writeValue(out, value);
    }
    out.int(NILVALUE);
  })();
}

function* writeValue(out: Out, x: RValue): Generator<Buffer> {
  if (x.t === "null") { out.int(NILVALUE); return; }
  if (x.t === "s4") {
    const attrs: Attrs = [...x.slots, ["class", { t: "str", v: [x.cls], attrs: [["package", str(x.pkg)]] }]];
    out.int(S4SXP | IS_OBJECT | HAS_ATTR | (S4_OBJECT_LEVEL << 12));
    yield* writeAttrs(out, attrs);
    return;
  }
  const attrs = x.attrs ?? [];
  const flags = (attrs.length > 0 ? HAS_ATTR : 0) | (attrs.some(([n]) => n === "class") ? IS_OBJECT : 0);
  switch (x.t) {
    case "lgl":
    case "int":
      out.int((x.t === "lgl" ? LGLSXP : INTSXP) | flags);
      out.int(x.v.length);
      for (let i = 0; i < x.v.length; i++) out.int(x.v[i]!);
      break;
    case "real":
      out.int(REALSXP | flags);
      out.int(x.v.length);
      for (let i = 0; i < x.v.length; i++) out.real(x.v[i]!);
      break;
    case "str":
      out.int(STRSXP | flags);
      out.int(x.v.length);
      for (const s of x.v) { writeChars(out, s); yield* out.drain(); }
      break;
    case "list":
      out.int(VECSXP | flags);
      out.int(x.v.length);
      for (const item of x.v) yield* writeValue(out, item);
      break;
    case "lazy": {
      out.int((x.type === "int" ? INTSXP : REALSXP) | flags);
      out.int(x.length);
      let n = 0;
      for (const chunk of x.chunks()) {
        if (x.type === "int") for (let i = 0; i < chunk.length; i++) out.int(chunk[i]!);
        else for (let i = 0; i < chunk.length; i++) out.real(chunk[i]!);
        n += chunk.length;
        yield* out.drain();
      }
      if (n !== x.length) throw new Error(`rds: a vector of length ${x.length} produced ${n} values`);
      break;
    }
  }
  yield* out.drain();
  if (attrs.length > 0) yield* writeAttrs(out, attrs);
}

/** The uncompressed .rds bytes of the Seurat object, in chunks. */
export function* seuratRdsChunks(content: H5adContent): Generator<Buffer> {
  const out = new Out();
  out.bytes(encoder.encode("X\n"));
  out.int(3);
  out.int(WRITER_VERSION);
  out.int(MIN_READER_VERSION);
  const nativeEncoding = encoder.encode("UTF-8");
  out.int(nativeEncoding.length);
  out.bytes(nativeEncoding);
  yield* writeValue(out, seuratObject(content));
  yield* out.drain(true);
}

function seuratObject(content: H5adContent): RValue {
  const { matrix: m } = content;
  const cells = content.obs.index;
  const genes = content.var.index;
  const rowNnz = cellRowCounts(m);
  let total = 0;
  const p = new Int32Array(m.nCells + 1);
  for (let c = 0; c < m.nCells; c++) { total += rowNnz[c]!; p[c + 1] = total; }
  if (total > 0x7fffffff) throw new Error("rds: more than 2^31 - 1 stored values (long vectors are not written)");
  const dgc = (values: "stored" | "x"): RValue => ({
    t: "s4", cls: "dgCMatrix", pkg: "Matrix", slots: [
      ["i", { t: "lazy", type: "int", length: total, chunks: () => mapBlocks(content, (b) => b.indices) }],
      ["p", { t: "int", v: p }],
      ["Dim", int(m.nGenes, m.nCells)],
      ["Dimnames", list([str(...genes), str(...cells)])],
      ["x", { t: "lazy", type: "real", length: total, chunks: () => mapBlocks(content, (b) => (values === "x" ? b.x : b.stored)) }],
      ["factors", list([])],
    ],
  });
  const hv = content.var.columns.find((c) => c.name === "highly_variable");
  const varFeatures = hv?.kind === "boolean" ? genes.filter((_, g) => hv.values[g]) : [];
  const assay: RValue = {
    t: "s4", cls: "Assay", pkg: "SeuratObject", slots: [
      ["counts", content.storedAsLayer !== undefined ? dgc("stored") : dgc("x")],
      ["data", dgc("x")],
      ["scale.data", emptyMatrix()],
      ["key", str("rna_")],
      ["assay.orig", NULL],
      ["var.features", str(...varFeatures)],
      ["meta.features", dataFrame(content.var.columns, genes)],
      ["misc", list([])],
    ],
  };
  const reductions: [string, RValue][] = Object.entries(content.obsm).map(([name, e]) => {
    const short = name.replace(/^X_/, "");
    const key = short === "pca" ? "PC_" : short === "umap" ? "UMAP_" : short === "tsne" ? "tSNE_" : `${short.replace(/[^A-Za-z0-9]/g, "")}_`;
    const colMajor = new Float64Array(e.values.length);
    for (let c = 0; c < m.nCells; c++) for (let d = 0; d < e.dims; d++) colMajor[d * m.nCells + c] = e.values[c * e.dims + d]!;
    const embeddings: RValue = { t: "real", v: colMajor, attrs: [
      ["dim", int(m.nCells, e.dims)],
      ["dimnames", list([str(...cells), str(...Array.from({ length: e.dims }, (_, d) => `${key}${d + 1}`))])],
    ] };
    return [short, {
      t: "s4", cls: "DimReduc", pkg: "SeuratObject", slots: [
        ["cell.embeddings", embeddings],
        ["feature.loadings", emptyMatrix()],
        ["feature.loadings.projected", emptyMatrix()],
        ["assay.used", str("RNA")],
        ["global", lgl(short !== "pca")],
        ["stdev", { t: "real", v: [] }],
        ["key", str(key)],
        ["jackstraw", { t: "s4", cls: "JackStrawData", pkg: "SeuratObject", slots: [
          ["empirical.p.values", emptyMatrix()], ["fake.reduction.scores", emptyMatrix()],
          ["empirical.p.values.full", emptyMatrix()], ["overall.p.values", emptyMatrix()],
        ] }],
        ["misc", list([])],
      ],
    }];
  });
  const clusters = content.obs.columns.find((c) => c.name === "seurat_clusters");
  const ident: RValue = clusters?.kind === "categorical"
    ? factor(clusters.categories, clusters.codes, cells)
    : factor(["SeuratProject"], new Int32Array(m.nCells), cells);
  const misc: [string, RValue][] = Object.entries(content.uns).flatMap(([k, v]) => (typeof v === "string" ? [[k, str(v)] as [string, RValue]] : []));
  // Cellenics' gene table: feature id (the matrix's row names) → gene symbol
  const symbols = content.var.columns.find((c) => c.name === "gene_symbols");
  if (symbols?.kind === "string") {
    misc.push(["gene_annotations", dataFrame([
      { name: "input", kind: "string", values: genes },
      { name: "name", kind: "string", values: symbols.values },
      { name: "original_name", kind: "string", values: genes },
    ], genes)]);
  }
  return {
    t: "s4", cls: "Seurat", pkg: "SeuratObject", slots: [
      ["assays", list([assay], ["RNA"])],
      ["meta.data", dataFrame(content.obs.columns, cells)],
      ["active.assay", str("RNA")],
      ["active.ident", ident],
      ["graphs", list([])],
      ["neighbors", list([])],
      ["reductions", list(reductions.map(([, r]) => r), reductions.map(([n]) => n))],
      ["images", list([])],
      ["project.name", str("SeuratProject")],
      ["misc", list(misc.map(([, v]) => v), misc.map(([k]) => k))],
      ["version", { t: "list", v: [int(4, 1, 3)], attrs: [["class", str("package_version", "numeric_version")]] }],
      ["commands", list([])],
      ["tools", list([])],
    ],
  };
}

function* mapBlocks(content: H5adContent, pick: (b: { indices: Int32Array; x: Float64Array; stored: Float32Array }) => ArrayLike<number>): Generator<ArrayLike<number>> {
  for (const b of cellMajorBlocks(content.matrix, content.x)) yield pick(b);
}

function factor(levels: string[], codes: Int32Array, names: string[] | null): RValue {
  const attrs: Attrs = [["levels", str(...levels)], ["class", str("factor")]];
  if (names) attrs.unshift(["names", str(...names)]);
  return { t: "int", v: Int32Array.from(codes, (k) => (k < 0 ? NA_INTEGER : k + 1)), attrs };
}

function column(c: H5adColumn): RValue {
  switch (c.kind) {
    case "numeric": return c.values instanceof Int32Array ? { t: "int", v: c.values } : { t: "real", v: c.values };
    case "boolean": return { t: "lgl", v: c.values };
    case "string": return { t: "str", v: c.values };
    case "categorical": return factor(c.categories, c.codes, null);
  }
}

function dataFrame(columns: H5adColumn[], rowNames: string[]): RValue {
  return {
    t: "list",
    v: columns.map(column),
    attrs: [["names", str(...columns.map((c) => c.name))], ["class", str("data.frame")], ["row.names", str(...rowNames)]],
  };
}
