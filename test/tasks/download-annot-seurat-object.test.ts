/**
 * DownloadAnnotSeuratObject: the .h5ad file is read back by Debian's python3-anndata (a child
 * process printing what it read as JSON) and by our own h5ad loader, the .rds (the default) by
 * Debian's R with readRDS + Seurat::UpdateSeuratObject, and both are compared with the
 * experiment they were written from.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import task, { CONTENT_TYPE, RDS_CONTENT_TYPE } from "../../src/tasks/download-annot-seurat-object.ts";
import { isFileResult, type FileResult } from "../../src/tasks/task.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { computeEmbedding } from "../../src/experiment/embeddings.ts";
import { normalizedValue } from "../../src/numerics/normalize.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { H5_FIXTURES, PBMC3K, PBMC_SMALL, tempDir } from "../helpers.ts";
import { rejectsWith, runBody } from "../task-helpers.ts";

const CACHE = join(tmpdir(), "cellworker-test-cache");
const PYTHON = "/usr/bin/python3";

/** What python3-anndata reads from the file, as JSON. `genes`: var names whose X / counts columns are returned densely. */
const READER = String.raw`
import json, sys, anndata, numpy as np, scipy.sparse as sp
path, genes = sys.argv[1], json.loads(sys.argv[2])
a = anndata.read_h5ad(path)
X, C = a.X, a.layers["counts"] if "counts" in a.layers else None
def dense_col(M, g):
    j = a.var_names.get_loc(g)
    return np.asarray(M[:, j].todense()).ravel().tolist()
out = {
    "anndata": anndata.__version__,
    "shape": list(a.shape),
    "x_format": type(X).__name__, "x_dtype": str(X.dtype), "x_sorted": bool(X.has_sorted_indices), "x_nnz": int(X.nnz),
    "x_sum": float(X.sum()),
    "counts_sum": None if C is None else float(C.sum()),
    "counts_format": None if C is None else type(C).__name__,
    "obs_names": a.obs_names.tolist(), "var_names": a.var_names.tolist(),
    "obs": {c: {"dtype": str(a.obs[c].dtype)} for c in a.obs.columns},
    "var": {c: str(a.var[c].dtype) for c in a.var.columns},
    "gene_symbols": a.var["gene_symbols"].tolist(),
    "highly_variable": a.var["highly_variable"].astype(int).tolist(),
    "obsm": {k: list(v.shape) for k, v in a.obsm.items()},
    "obsm_values": {k: np.asarray(v)[:, :2].ravel().tolist() for k, v in a.obsm.items()},
    "uns": sorted(a.uns.keys()),
    "cell_sets": a.uns["cellenics_cell_sets"],
    "x_cols": {g: dense_col(X, g) for g in genes},
    "counts_cols": {} if C is None else {g: dense_col(C, g) for g in genes},
}
for c in a.obs.columns:
    s = a.obs[c]
    if str(s.dtype) == "category":
        out["obs"][c]["categories"] = s.cat.categories.tolist()
        out["obs"][c]["ordered"] = bool(s.cat.ordered)
        out["obs"][c]["values"] = [None if v != v else v for v in s.astype(object).tolist()]
    elif str(s.dtype) == "bool":
        out["obs"][c]["values"] = s.astype(int).tolist()
    elif s.dtype.kind in "if":
        out["obs"][c]["values"] = [None if v != v else v for v in s.astype(float).tolist()]
print(json.dumps(out))
`;

interface Read {
  anndata: string;
  shape: [number, number];
  x_format: string;
  x_dtype: string;
  x_sorted: boolean;
  x_nnz: number;
  x_sum: number;
  counts_sum: number | null;
  counts_format: string | null;
  obs_names: string[];
  var_names: string[];
  obs: Record<string, { dtype: string; categories?: string[]; ordered?: boolean; values?: (string | number | null)[] }>;
  var: Record<string, string>;
  gene_symbols: string[];
  highly_variable: number[];
  obsm: Record<string, number[]>;
  obsm_values: Record<string, number[]>;
  uns: string[];
  cell_sets: string;
  x_cols: Record<string, number[]>;
  counts_cols: Record<string, number[]>;
}

function readWithAnndata(path: string, genes: string[]): Read {
  let text: string;
  try {
    text = execFileSync(PYTHON, ["-c", READER, path, JSON.stringify(genes)], { encoding: "utf8", maxBuffer: 1 << 28 });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? err);
    if (/No module named 'anndata'/.test(stderr)) assert.fail("python3-anndata is not installed (apt-get install python3-anndata; .ci/run installs it)");
    throw err;
  }
  return JSON.parse(text) as Read;
}

async function download(exp: Experiment, dir: string, body: Record<string, unknown> = { embeddingMethod: "umap", format: "h5ad" }): Promise<string> {
  const out = await runBody(task, exp, body);
  assert.ok(isFileResult(out));
  const file: FileResult = out;
  const rds = (body["format"] ?? "rds") === "rds"; // a Seurat object unless told otherwise, as the original
  assert.equal(file.contentType, rds ? RDS_CONTENT_TYPE : CONTENT_TYPE);
  const path = join(dir, rds ? "experiment.rds" : "experiment.h5ad");
  await pipeline(file.open(), createWriteStream(path));
  return path;
}

/** Dense log-normalised and count column of gene g over all cells, from the experiment. */
function geneColumns(exp: Experiment, g: number): { x: number[]; counts: number[] } {
  const m = exp.data.matrix;
  const x = new Array<number>(exp.nCells).fill(0);
  const counts = new Array<number>(exp.nCells).fill(0);
  for (let q = m.indptr[g]!; q < m.indptr[g + 1]!; q++) {
    const c = m.indices[q]!;
    counts[c] = m.values[q]!;
    x[c] = normalizedValue(exp.normalizer, m.values[q]!, c);
  }
  return { x, counts };
}

/** Expected label per cell of a class: the name of the first set holding it, null for none. */
function labels(exp: Experiment, classKey: string): (string | null)[] {
  const out: (string | null)[] = new Array(exp.nCells).fill(null);
  for (const set of exp.cellSets.find((c) => c.key === classKey)!.children) {
    for (const id of set.cellIds) { const c = exp.cellIndex(id); if (c >= 0 && out[c] === null) out[c] = set.name; }
  }
  return out;
}

const sum = (xs: ArrayLike<number>): number => { let s = 0; for (let i = 0; i < xs.length; i++) s += xs[i]!; return s; };
const close = (a: number, b: number, tol = 1e-9): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

test("pbmc_small: anndata reads the matrix, cell sets as categoricals, QC, genes and embeddings", async (t) => {
  const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: CACHE });
  const ids = exp.data.cellIds;
  // a scratchpad set and a custom class whose two sets overlap (cells 0-9 are in both)
  exp.cellSets = [
    ...exp.cellSets.filter((c) => c.key !== "scratchpad"),
    { key: "scratchpad", name: "Custom cell sets", rootNode: true, type: "cellSets", children: [
      { key: "mine", name: "My cells", rootNode: false, type: "cellSets", color: "#123456", cellIds: [ids[3]!, ids[5]!, ids[7]!] },
    ] },
    { key: "annot", name: "Cell type/state", rootNode: true, type: "cellSets", children: [
      { key: "a1", name: "T", rootNode: false, type: "cellSets", color: "#aa0000", cellIds: Array.from(ids.slice(0, 20)) },
      { key: "a2", name: "B", rootNode: false, type: "cellSets", color: "#00aa00", cellIds: Array.from(ids.slice(0, 10)).concat(Array.from(ids.slice(40, 50))) },
    ] },
  ];
  const path = await download(exp, tempDir(t));
  const genes = ["ENSG00000156738", "ENSG00000105369", exp.data.genes.ids[exp.nGenes - 1]!];
  const r = readWithAnndata(path, genes);

  assert.deepEqual(r.shape, [exp.nCells, exp.nGenes]);
  assert.equal(r.x_format, "csr_matrix");
  assert.equal(r.x_dtype, "float64");
  assert.ok(r.x_sorted);
  assert.equal(r.x_nnz, exp.data.matrix.values.length);
  assert.equal(r.counts_format, "csr_matrix");
  assert.equal(r.counts_sum, sum(exp.data.matrix.values));
  assert.deepEqual(r.obs_names, exp.data.barcodes);
  assert.deepEqual(r.var_names, exp.data.genes.ids);
  assert.deepEqual(r.gene_symbols, exp.data.genes.symbols);
  assert.deepEqual(r.highly_variable, Array.from(exp.state.gene.highlyVariable));
  assert.equal(r.var["highly_variable"], "bool");

  for (const id of genes) {
    const g = exp.data.genes.ids.indexOf(id);
    const want = geneColumns(exp, g);
    assert.deepEqual(r.counts_cols[id], want.counts, `counts of ${id}`);
    assert.deepEqual(r.x_cols[id], want.x, `log-normalised values of ${id}`);
  }

  // QC and cell ids
  assert.deepEqual(r.obs["cells_id"]!.values, Array.from(ids));
  assert.deepEqual(r.obs["nCount_RNA"]!.values, Array.from(exp.state.qc.totalCounts));
  assert.deepEqual(r.obs["nFeature_RNA"]!.values, Array.from(exp.state.qc.genesDetected));
  assert.deepEqual(r.obs["percent.mt"]!.values, Array.from(exp.state.qc.percentMito));

  // cell sets: louvain → seurat_clusters, scratchpad → booleans, others by name ("/" → "_"), first set wins
  const clusters = r.obs["seurat_clusters"]!;
  assert.equal(clusters.dtype, "category");
  assert.equal(clusters.ordered, false);
  assert.deepEqual(clusters.categories, exp.cellSets.find((c) => c.key === "louvain")!.children.map((s) => s.name));
  assert.deepEqual(clusters.values, labels(exp, "louvain"));
  const mine = r.obs["custom_cellset-My cells"]!;
  assert.equal(mine.dtype, "bool");
  assert.deepEqual(mine.values, Array.from({ length: exp.nCells }, (_, c) => ([3, 5, 7].includes(c) ? 1 : 0)));
  const annot = r.obs["Cell type_state"]!;
  assert.deepEqual(annot.categories, ["T", "B"]);
  assert.deepEqual(annot.values, labels(exp, "annot"));
  assert.equal(annot.values!.filter((v) => v === "B").length, 10, "cells 0-9 are in T first");
  assert.equal(annot.values![45], "B");
  assert.equal(annot.values![30], null);
  // the file's metadata classes are categoricals too
  for (const cls of exp.cellSets.filter((c) => c.type === "metadataCategorical")) {
    assert.deepEqual(r.obs[cls.name]!.categories, cls.children.map((s) => s.name), cls.name);
  }

  // embeddings: X_pca = the stored PCA, X_umap = GetEmbedding's default layout
  assert.deepEqual(r.obsm["X_pca"], [exp.nCells, exp.state.pca.nPcs]);
  assert.deepEqual(r.obsm["X_umap"], [exp.nCells, 2]);
  const umap = await computeEmbedding(exp, { type: "umap", minDist: 0.3, metric: "euclidean" });
  assert.deepEqual(r.obsm_values["X_umap"], Array.from(umap));
  const pcs = exp.state.pca;
  assert.deepEqual(r.obsm_values["X_pca"], Array.from({ length: exp.nCells * 2 }, (_, i) => pcs.scores[Math.floor(i / 2) * pcs.nPcs + (i % 2)]!));

  assert.ok(r.uns.includes("seurat_clusters_colors"));
  assert.deepEqual(JSON.parse(r.cell_sets), exp.cellSets);

  // our own loader reads the same experiment back
  const back = await openExperiment({ path, cacheDir: null });
  assert.equal(back.data.matrixKind, "counts");
  assert.equal(back.data.matrixSource, "layers/counts");
  assert.deepEqual(Array.from(back.data.matrix.indptr), Array.from(exp.data.matrix.indptr));
  assert.deepEqual(back.data.matrix.indices, exp.data.matrix.indices);
  assert.deepEqual(back.data.matrix.values, exp.data.matrix.values);
  assert.deepEqual(back.data.cellIds, exp.data.cellIds);
  assert.deepEqual(back.data.barcodes, exp.data.barcodes);
  assert.deepEqual(back.data.genes, exp.data.genes);
  assert.deepEqual(Array.from(back.data.embeddings["X_umap"]!.values), Array.from(umap));
  const backClusters = back.data.obs.find((c) => c.name === "seurat_clusters");
  assert.ok(backClusters?.kind === "categorical");
  assert.deepEqual(Array.from(backClusters.codes, (k) => (k < 0 ? null : backClusters.categories[k])), labels(exp, "louvain"));
});

test("pbmc3k: anndata reads 2 700 x 32 738 with every count, t-SNE in obsm", async (t) => {
  const exp = await openExperiment({ path: PBMC3K, cacheDir: CACHE });
  const path = await download(exp, tempDir(t), { embeddingMethod: "tsne", isObj2s: false, embeddingETag: "etag-1", format: "h5ad" });
  const genes = ["ENSG00000105369", "ENSG00000167286", "ENSG00000163736"]; // CD79A, CD3D, PPBP
  const r = readWithAnndata(path, genes);
  assert.deepEqual(r.shape, [2700, 32738]);
  assert.equal(r.x_nnz, exp.data.matrix.values.length);
  assert.equal(r.counts_sum, sum(exp.data.matrix.values));
  let xSum = 0;
  for (let g = 0; g < exp.nGenes; g++) xSum += sum(geneColumns(exp, g).x.filter((v) => v !== 0));
  assert.ok(close(r.x_sum, xSum), `X sum ${r.x_sum} vs ${xSum}`);
  for (const id of genes) {
    const g = exp.data.genes.ids.indexOf(id);
    assert.ok(g >= 0, id);
    const want = geneColumns(exp, g);
    assert.deepEqual(r.counts_cols[id], want.counts, id);
    assert.deepEqual(r.x_cols[id], want.x, id);
  }
  assert.deepEqual(r.obs["seurat_clusters"]!.values, labels(exp, "louvain"));
  assert.deepEqual(r.obsm["X_tsne"], [2700, 2]);
  assert.equal(r.obsm["X_umap"], undefined);
  const tsne = await computeEmbedding(exp, { type: "tsne", perplexity: 30, learningRate: 200 });
  assert.deepEqual(r.obsm_values["X_tsne"], Array.from(tsne));
});

test("bodies are checked strictly", async () => {
  const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: CACHE });
  await rejectsWith(runBody(task, exp, { embeddingMethod: "pca" }), ErrorCode.INVALID_INPUT, /embeddingMethod/);
  await rejectsWith(runBody(task, exp, { embeddingMethod: "umap", extra: 1 }), ErrorCode.INVALID_INPUT, /extra/);
  await rejectsWith(runBody(task, exp, {}), ErrorCode.INVALID_INPUT, /embeddingMethod/);
  assert.ok(task.body.safeParse(task.example).success);
});

/** What R reads from the .rds: readRDS, then Seurat::UpdateSeuratObject, printed as JSON (doubles as "%.17g" text: exact). */
const R_READER = String.raw`
suppressMessages(library(Seurat))
args <- commandArgs(trailingOnly = TRUE)
s <- suppressMessages(UpdateSeuratObject(readRDS(args[1])))
genes <- jsonlite::fromJSON(args[2])
counts <- GetAssayData(s, slot = "counts"); data <- GetAssayData(s, slot = "data")
md <- s[[]]
out <- list(
  valid = validObject(s), class = class(counts)[1], dim = dim(s), cells = colnames(s), features = rownames(s),
  counts_sum = sum(counts), nnz = length(counts@x),
  counts_cols = lapply(setNames(genes, genes), function(g) as.numeric(counts[g, ])),
  data_cols = lapply(setNames(genes, genes), function(g) sprintf("%.17g", as.numeric(data[g, ]))),
  clusters = as.character(md$seurat_clusters), cluster_levels = levels(md$seurat_clusters),
  idents = as.character(Idents(s)), ncount = md$nCount_RNA, nfeature = md$nFeature_RNA,
  reductions = Reductions(s), umap = sprintf("%.17g", as.numeric(t(Embeddings(s, "umap")))), pca_dims = dim(Embeddings(s, "pca")),
  custom = as.integer(md[["custom_cellset-My cells"]]),
  var_features = length(VariableFeatures(s)),
  cell_sets = s@misc$cellenics_cell_sets
)
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, null = "null"))
`;

function readWithSeurat(path: string, genes: string[]): Record<string, unknown> {
  const text = execFileSync("Rscript", ["-e", R_READER, path, JSON.stringify(genes)], { encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "pipe"] });
  return JSON.parse(text) as Record<string, unknown>;
}

test("format rds: a Seurat v4 object that readRDS and UpdateSeuratObject accept, with every count and annotation", async (t) => {
  for (const data of [PBMC_SMALL, PBMC3K]) {
    const exp = await openExperiment({ path: data, cacheDir: CACHE });
    const ids = exp.data.cellIds;
    exp.cellSets = [
      ...exp.cellSets.filter((c) => c.key !== "scratchpad"),
      { key: "scratchpad", name: "Custom cell sets", rootNode: true, type: "cellSets", children: [
        { key: "mine", name: "My cells", rootNode: false, type: "cellSets", color: "#123456", cellIds: [ids[3]!, ids[5]!] },
      ] },
    ];
    const path = await download(exp, tempDir(t), { embeddingMethod: "umap" }); // the default: what the UI asks for
    const genes = [exp.data.genes.ids[0]!, "ENSG00000105369"];
    const r = readWithSeurat(path, genes);
    assert.equal(r["valid"], true);
    assert.equal(r["class"], "dgCMatrix");
    assert.deepEqual(r["dim"], [exp.nGenes, exp.nCells]);
    assert.deepEqual(r["cells"], exp.data.barcodes);
    assert.deepEqual(r["features"], exp.data.genes.ids);
    assert.equal(r["nnz"], exp.data.matrix.values.length);
    assert.equal(r["counts_sum"], sum(exp.data.matrix.values));
    for (const id of genes) {
      const want = geneColumns(exp, exp.data.genes.ids.indexOf(id));
      assert.deepEqual((r["counts_cols"] as Record<string, number[]>)[id], want.counts, id);
      assert.deepEqual((r["data_cols"] as Record<string, string[]>)[id]!.map(Number), want.x, id);
    }
    const louvain = labels(exp, "louvain");
    assert.deepEqual(r["clusters"], louvain);
    assert.deepEqual(r["idents"], louvain);
    assert.deepEqual(r["cluster_levels"], exp.cellSets.find((c) => c.key === "louvain")!.children.map((s) => s.name));
    assert.deepEqual(r["ncount"], Array.from(exp.state.qc.totalCounts));
    assert.deepEqual(r["nfeature"], Array.from(exp.state.qc.genesDetected));
    assert.deepEqual(r["custom"], Array.from({ length: exp.nCells }, (_, c) => (c === 3 || c === 5 ? 1 : 0)));
    assert.deepEqual(r["reductions"], ["pca", "umap"]);
    assert.deepEqual(r["pca_dims"], [exp.nCells, exp.state.pca.nPcs]);
    const umap = await computeEmbedding(exp, { type: "umap", minDist: 0.3, metric: "euclidean" });
    assert.deepEqual((r["umap"] as string[]).map(Number), Array.from(umap));
    assert.equal(r["var_features"], exp.state.gene.highlyVariable.reduce((a, b) => a + b, 0));
    assert.deepEqual(JSON.parse(String(r["cell_sets"])), exp.cellSets);

    // our own Seurat loader reads it back: the same counts, cells, genes and UMAP
    const back = await openExperiment({ path, cacheDir: null });
    assert.equal(back.data.matrixKind, "counts");
    assert.deepEqual(back.data.matrix.indices, exp.data.matrix.indices);
    assert.deepEqual(back.data.matrix.values, exp.data.matrix.values);
    assert.deepEqual(back.data.cellIds, exp.data.cellIds);
    assert.deepEqual(back.data.barcodes, exp.data.barcodes);
    assert.deepEqual(back.data.genes, exp.data.genes);
    assert.deepEqual(Array.from(back.data.embeddings["X_umap"]!.values), Array.from(umap));
  }
});

test("an h5ad with gaps in cell ids, non-ASCII strings, missing categories and a saved UMAP (isObj2s); a log-normalised-only file", async (t) => {
  const exp = await openExperiment({ path: join(H5_FIXTURES, "generated", "pbmc_small_csr_counts.h5ad"), cacheDir: CACHE });
  const path = await download(exp, tempDir(t), { embeddingMethod: "umap", isObj2s: true, format: "h5ad" });
  const r = readWithAnndata(path, []);
  assert.deepEqual(r.obs["cells_id"]!.values, Array.from(exp.data.cellIds));
  assert.ok(exp.data.cellIds.includes(41) && !exp.data.cellIds.includes(40));
  assert.deepEqual(r.obsm_values["X_umap"], Array.from(exp.data.embeddings["X_umap"]!.values, (v, i) => (i % exp.data.embeddings["X_umap"]!.dims < 2 ? v : NaN)).filter((v) => !Number.isNaN(v)));
  assert.equal(r.obs["is_g1"]!.dtype, "bool");
  const missing = r.obs["letter_if_cluster0"]!;
  assert.equal(missing.dtype, "category");
  const col = exp.data.obs.find((c) => c.name === "letter_if_cluster0");
  assert.ok(col?.kind === "categorical");
  assert.deepEqual(missing.values, Array.from(col.codes, (k) => (k < 0 ? null : col.categories[k])));
  assert.ok(r.obs["cell_label"] !== undefined);
  const back = await openExperiment({ path, cacheDir: null });
  const label = back.data.obs.find((c) => c.name === "cell_label");
  assert.ok(label?.kind === "string");
  assert.deepEqual(label.values, (exp.data.obs.find((c) => c.name === "cell_label") as { values: string[] }).values);
  assert.ok(label.values[0]!.includes("é"));

  const lognorm = await openExperiment({ path: join(H5_FIXTURES, "generated", "pbmc_small_lognorm_only.h5ad"), cacheDir: CACHE });
  const path2 = await download(lognorm, tempDir(t), { embeddingMethod: "umap", format: "h5ad" });
  const r2 = readWithAnndata(path2, []);
  assert.equal(r2.counts_sum, null);
  assert.equal(r2.obs["nCount_RNA"], undefined);
  assert.ok(close(r2.x_sum, sum(lognorm.data.matrix.values)));
  const back2 = await openExperiment({ path: path2, cacheDir: null });
  assert.equal(back2.data.matrixKind, "lognorm");
  assert.deepEqual(back2.data.matrix.values, lognorm.data.matrix.values);
});
