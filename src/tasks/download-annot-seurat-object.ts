/**
 * DownloadAnnotSeuratObject (reference spec §5.21): the annotated experiment as a file. The
 * original answers with a Seurat object (`saveRDS`); this worker answers with an AnnData file
 * (.h5ad, anndata 0.8+ layout, experiment/export/h5ad-writer.ts), content type
 * application/x-hdf5, readable by anndata (checked with 0.8.0) and so scanpy. What is in it:
 *
 * - X: the log-normalised values (Seurat's `data`: LogNormalize, scale factor 10 000, natural
 *   log), CSR float64; layers/counts: the raw counts, CSR float32 (absent when the experiment
 *   only has log-normalised values; X is then those values).
 * - obs (index = cell barcodes): `cells_id` (Cellenics cell ids), `nCount_RNA`, `nFeature_RNA`,
 *   `percent.mt` (the first and last only with counts), the file's own obs columns, and one
 *   column per cell class, named as the original names its Seurat metadata: `samples` (class
 *   `sample`), `seurat_clusters` (class `louvain`), one boolean column `custom_cellset-{set name}`
 *   per scratchpad set, and every other class under its name — a categorical whose categories
 *   are the class's set names in order (sets with the same name merged). A cell in several sets
 *   of one class gets the first of them (uns `cellworker_notes` says how many cells that was);
 *   a cell in none is missing (NaN). A class column replaces a file column of the same name.
 *   Names holding "/" (not allowed in HDF5 names) have it replaced by "_"; repeated names get
 *   "_2", "_3"….
 * - var (index = gene ids): `gene_symbols`, `means`, `dispersions`, `highly_variable` (boolean).
 * - obsm: `X_pca` (all PCs) and `X_umap` or `X_tsne` (embeddingMethod), plus any other embedding
 *   the file had. The embedding is the one GetEmbedding computes with its defaults (memoised,
 *   so a layout the UI already asked for is reused); the original fetched the UI's by
 *   `embeddingETag`, which this worker accepts and does not use. With `isObj2s` the file's saved
 *   obsm embedding is used when it has one.
 * - uns: `cellenics_cell_sets` (the cell-set tree as JSON), `{column}_colors` (scanpy's colour
 *   convention, from the sets' colours), `cellworker_notes`.
 *
 * By default (as the original, whose UI saves a Seurat object) the content is a Seurat v4 object,
 * the original's `saveRDS` bytes (experiment/export/rds-writer.ts; read back with readRDS and
 * Seurat::UpdateSeuratObject), content type application/octet-stream; `format: "h5ad"` (an
 * addition to the original's body) asks for the AnnData file described above instead.
 *
 * Expected errors are thrown by `run` (the embedding is computed there); the file is written to a
 * temporary folder when the result is opened, streamed from disk, and deleted when the stream
 * ends or is destroyed.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, pipeline as pipe, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { z } from "zod";
import { defineTask, type FileResult } from "./task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { computeEmbedding, nonFiniteCells } from "../experiment/embeddings.ts";
import { normalizedValue, SCALE_FACTOR } from "../numerics/normalize.ts";
import { type H5adColumn, type H5adContent, writeH5ad } from "../experiment/export/h5ad-writer.ts";
import { seuratRdsChunks } from "../experiment/export/rds-writer.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";

export const CONTENT_TYPE = "application/x-hdf5";
export const RDS_CONTENT_TYPE = "application/octet-stream";

const Body = z.object({
  name: z.literal("DownloadAnnotSeuratObject"),
  embeddingMethod: z.enum(["umap", "tsne"]),
  isObj2s: z.boolean().optional(),
  embeddingETag: z.string().max(1000).optional(),
  /** not in the original's body: "h5ad" asks for AnnData instead of the Seurat v4 object (saveRDS bytes, the default) */
  format: z.enum(["h5ad", "rds"]).optional(),
}).strict();

export default defineTask({
  name: "DownloadAnnotSeuratObject",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "whole",
  example: { name: "DownloadAnnotSeuratObject", embeddingMethod: "umap", isObj2s: false },
  async run(body, { experiment: exp, progress }): Promise<FileResult> {
    const notes: string[] = [];
    const embedding = await embeddingOf(exp, body.embeddingMethod, body.isObj2s === true, notes, progress);
    const content = annotatedContent(exp, body.embeddingMethod, embedding, notes);
    if ((body.format ?? "rds") === "rds") {
      if (exp.data.matrix.values.length > 0x7fffffff) {
        throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, "This experiment has more than 2^31 - 1 non-zero values, which this worker cannot write as an R matrix; download it with format h5ad.");
      }
      return { kind: "file", contentType: RDS_CONTENT_TYPE, contentEncoding: "binary", open: () => rdsStream(content) };
    }
    return { kind: "file", contentType: CONTENT_TYPE, contentEncoding: "binary", open: () => h5adStream(content, progress) };
  },
});

/** cells x 2 coordinates of the requested embedding (see the file header). */
async function embeddingOf(
  exp: Experiment,
  method: "umap" | "tsne",
  isObj2s: boolean,
  notes: string[],
  progress: (fraction: number) => void,
): Promise<Float64Array> {
  const key = method === "umap" ? "X_umap" : "X_tsne";
  const saved = exp.data.embeddings[key];
  if (isObj2s) {
    if (saved && saved.dims >= 2 && nonFiniteCells(saved.values, exp.nCells, saved.dims) === 0) {
      return saved.dims === 2 ? saved.values : Float64Array.from({ length: exp.nCells * 2 }, (_, i) => saved.values[Math.floor(i / 2) * saved.dims + (i % 2)]!);
    }
    notes.push(`isObj2s: the experiment has no usable saved obsm ${key}, so ${key} was computed.`);
  }
  return computeEmbedding(
    exp,
    method === "umap" ? { type: "umap", minDist: 0.3, metric: "euclidean" } : { type: "tsne", perplexity: 30, learningRate: 200 },
    progress,
  );
}

/** What goes into the file (see the file header). */
export function annotatedContent(exp: Experiment, method: "umap" | "tsne", embedding: Float64Array, notes: string[]): H5adContent {
  const { data, state } = exp;
  const counts = data.matrixKind === "counts";
  const used = new Set<string>(["_index"]); // the frame's index dataset
  const claim = (name: string): string => {
    const base = name.replaceAll("/", "_") || "unnamed";
    let out = base;
    for (let i = 2; used.has(out); i++) out = `${base}_${i}`;
    used.add(out);
    return out;
  };

  const fixed: H5adColumn[] = [{ name: claim("cells_id"), kind: "numeric", values: data.cellIds }];
  if (counts) fixed.push({ name: claim("nCount_RNA"), kind: "numeric", values: state.qc.totalCounts });
  fixed.push({ name: claim("nFeature_RNA"), kind: "numeric", values: state.qc.genesDetected });
  if (counts) fixed.push({ name: claim("percent.mt"), kind: "numeric", values: state.qc.percentMito });

  const { columns: classColumns, colors } = cellSetColumns(exp, claim, notes);
  const fileColumns: H5adColumn[] = [];
  for (const col of data.obs) {
    const name = col.name.replaceAll("/", "_") || "unnamed";
    if (used.has(name)) continue; // a column written above (QC or a cell class) replaces it
    used.add(name);
    fileColumns.push(col.kind === "categorical"
      ? { name, kind: "categorical", categories: col.categories, codes: col.codes }
      : col.kind === "numeric" ? { name, kind: "numeric", values: col.values }
        : col.kind === "boolean" ? { name, kind: "boolean", values: col.values }
          : { name, kind: "string", values: col.values });
  }
  dedupeCategories(fileColumns);

  const obsm: H5adContent["obsm"] = {};
  for (const [name, e] of Object.entries(data.embeddings)) if (!name.includes("/")) obsm[name] = { dims: e.dims, values: e.values };
  obsm["X_pca"] = { dims: state.pca.nPcs, values: state.pca.scores };
  obsm[method === "umap" ? "X_umap" : "X_tsne"] = { dims: 2, values: embedding };

  const uns: H5adContent["uns"] = { cellenics_cell_sets: JSON.stringify(exp.cellSets) };
  for (const [column, palette] of colors) uns[`${column}_colors`] = palette;
  uns["cellworker_notes"] = [
    counts
      ? `X: log-normalised values (LogNormalize, scale factor ${SCALE_FACTOR}, natural log); layers/counts: raw counts (from ${data.matrixSource}).`
      : `X: the log-normalised values of ${data.matrixSource} as they were (the experiment has no raw counts).`,
    `obsm X_${method}: ${method} layout; X_pca: ${state.pca.nPcs} principal components of the scaled highly variable genes.`,
    ...notes,
  ];

  const m = data.matrix;
  const norm = exp.normalizer;
  const content: H5adContent = {
    matrix: m,
    x: (value, cell) => normalizedValue(norm, value, cell),
    obs: { index: data.barcodes, columns: [...fixed, ...fileColumns, ...classColumns] },
    var: {
      index: data.genes.ids,
      columns: [
        { name: "gene_symbols", kind: "string", values: data.genes.symbols },
        { name: "means", kind: "numeric", values: state.gene.means },
        { name: "dispersions", kind: "numeric", values: state.gene.dispersions },
        { name: "highly_variable", kind: "boolean", values: state.gene.highlyVariable },
      ],
    },
    obsm,
    uns,
  };
  if (counts) content.storedAsLayer = "counts";
  return content;
}

/** One column per cell class (boolean columns for the scratchpad's sets), and scanpy colour lists. */
function cellSetColumns(exp: Experiment, claim: (name: string) => string, notes: string[]): { columns: H5adColumn[]; colors: Map<string, string[]> } {
  const columns: H5adColumn[] = [];
  const colors = new Map<string, string[]>();
  const n = exp.nCells;
  for (const cls of exp.cellSets) {
    if (cls.children.length === 0) continue;
    if (cls.key === "scratchpad") {
      for (const set of cls.children) {
        const values = new Uint8Array(n);
        for (const id of set.cellIds) { const c = exp.cellIndex(id); if (c >= 0) values[c] = 1; }
        columns.push({ name: claim(`custom_cellset-${set.name}`), kind: "boolean", values });
      }
      continue;
    }
    const name = claim(cls.key === "louvain" ? "seurat_clusters" : cls.key === "sample" ? "samples" : cls.name);
    const categories: string[] = [];
    const palette: (string | undefined)[] = [];
    const codeOf = new Map<string, number>();
    const codes = new Int32Array(n).fill(-1);
    let overlapping = 0;
    for (const set of cls.children) {
      let code = codeOf.get(set.name);
      if (code === undefined) {
        code = categories.length;
        codeOf.set(set.name, code);
        categories.push(set.name);
        palette.push(set.color);
      }
      for (const id of set.cellIds) {
        const c = exp.cellIndex(id);
        if (c < 0) continue;
        if (codes[c] === -1) codes[c] = code;
        else if (codes[c] !== code) overlapping++;
      }
    }
    if (overlapping > 0) notes.push(`obs ${name}: ${overlapping} cells are in more than one set of class "${cls.name}"; each got the first of them.`);
    columns.push({ name, kind: "categorical", categories, codes });
    if (palette.every((c) => c !== undefined)) colors.set(name, palette as string[]);
  }
  return { columns, colors };
}

/** pandas needs distinct categories: a file column with repeated ones gets its codes merged. */
function dedupeCategories(columns: H5adColumn[]): void {
  columns.forEach((col, i) => {
    if (col.kind !== "categorical" || new Set(col.categories).size === col.categories.length) return;
    const first = new Map<string, number>();
    const categories: string[] = [];
    const remap = col.categories.map((c) => {
      let k = first.get(c);
      if (k === undefined) { k = categories.length; first.set(c, k); categories.push(c); }
      return k;
    });
    columns[i] = { ...col, categories, codes: col.codes.map((c) => (c < 0 ? c : remap[c]!)) };
  });
}

/**
 * The h5ad bytes: written to a temporary folder (h5wasm writes files, not streams), then read
 * from disk as the consumer pulls; the folder is removed when the stream ends or is destroyed.
 */
function h5adStream(content: H5adContent, progress: (fraction: number) => void): Readable {
  const out = new PassThrough();
  void (async () => {
    let dir: string | undefined;
    try {
      await Promise.resolve(); // a stream destroyed as soon as it is opened writes nothing
      if (out.destroyed) return;
      dir = await mkdtemp(join(tmpdir(), "cellworker-h5ad-"));
      const path = join(dir, "experiment.h5ad");
      await writeH5ad(path, content, { progress, cancelled: () => out.destroyed });
      await pipeline(createReadStream(path), out);
    } catch (err) {
      out.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    }
  })();
  return out;
}

/** The .rds bytes (gzip, as saveRDS writes them), serialized and compressed as the consumer reads. */
function rdsStream(content: H5adContent): Readable {
  const gzip = createGzip();
  pipe(Readable.from(seuratRdsChunks(content), { highWaterMark: 2 }), gzip, () => {});
  return gzip;
}
