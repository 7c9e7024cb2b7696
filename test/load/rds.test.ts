import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadRds, loadRdsDetails } from "../../src/experiment/load/rds.ts";
import { loadTenxMtx } from "../../src/experiment/load/tenx-mtx.ts";
import { detectFormat, loadData } from "../../src/experiment/load/index.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { dataPathOf, type SyncFiles } from "../../src/experiment/source/s3-sync.ts";
import { computeCellQc, mitoMask } from "../../src/numerics/normalize.ts";
import type { LoadedData, ObsColumn } from "../../src/experiment/types.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { PBMC3K, PBMC_SMALL, ROOT, rejectsNamingFile, tempDir } from "../helpers.ts";

const RDS = join(ROOT, "test", "fixtures", "rds");
const fixture = (name: string): string => join(RDS, name);

/** What R held (scripts/reference/seurat-rds.R; doubles as %.17g strings). */
interface Expected {
  cells_id: number[];
  barcodes: string[];
  samples: string[];
  seurat_clusters: string[];
  doublet_scores: string[];
  percent_mt: string[];
  nCount_RNA: string[];
  nFeature_RNA: number[];
  pca: string[][];
  umap: string[][];
  tsne: string[][];
  variable_features: string[];
  dispersion_ids: string[];
  variance_standardized: string[];
}
const expected = JSON.parse(readFileSync(fixture("pbmc_small_v4_expected.json"), "utf8")) as Expected;
const nums = (xs: string[]): number[] => xs.map(Number);

function column(d: LoadedData, name: string): ObsColumn {
  const c = d.obs.find((o) => o.name === name);
  assert.ok(c, `obs column ${name}`);
  return c;
}
const labels = (c: ObsColumn): string[] => {
  assert.equal(c.kind, "categorical");
  return Array.from(c.codes, (k) => (k < 0 ? "" : c.categories[k]!));
};
const categories = (c: ObsColumn): string[] => {
  assert.equal(c.kind, "categorical");
  return c.kind === "categorical" ? c.categories : [];
};
const numeric = (c: ObsColumn): number[] => {
  assert.equal(c.kind, "numeric");
  return Array.from(c.values);
};
/** Column j of a cells x dims row-major embedding. */
const embeddingColumn = (d: LoadedData, name: string, j: number): number[] => {
  const e = d.embeddings[name];
  assert.ok(e, `embedding ${name}`);
  return Array.from({ length: d.matrix.nCells }, (_, i) => e.values[i * e.dims + j]!);
};

function assertSameMatrix(a: LoadedData, b: LoadedData): void {
  assert.equal(a.matrix.nGenes, b.matrix.nGenes);
  assert.equal(a.matrix.nCells, b.matrix.nCells);
  assert.deepEqual(a.matrix.indptr, b.matrix.indptr);
  assert.deepEqual(a.matrix.indices, b.matrix.indices);
  assert.deepEqual(a.matrix.values, b.matrix.values);
}

test("a Seurat v4 .rds: counts, genes, cells, meta.data, reductions and misc as R wrote them", async () => {
  const { data: d, lognormDifference } = await loadRdsDetails(fixture("pbmc_small_v4.rds"));
  const tenx = await loadTenxMtx(PBMC_SMALL);
  assert.equal(d.format, "rds");
  assert.equal(d.matrixKind, "counts");
  assert.equal(d.matrixSource, "assays$RNA counts");
  assertSameMatrix(d, tenx);
  assert.deepEqual(d.genes, tenx.genes, "ids from the row names, symbols from misc$gene_annotations");
  assert.deepEqual(d.barcodes, expected.barcodes);
  assert.deepEqual(d.barcodes, tenx.barcodes);
  // cells_id is the cell id (here 7, 10, 13, ...: not the column positions)
  assert.deepEqual(Array.from(d.cellIds), expected.cells_id);
  assert.equal(d.cellIds[1], 10);
  assert.ok(!d.obs.some((c) => c.name === "cells_id"), "cells_id is the id, not an obs column");
  assert.ok(lognormDifference !== null && lognormDifference <= 1e-12, `data = LogNormalize(counts): ${lognormDifference}`);

  assert.deepEqual(labels(column(d, "samples")), expected.samples);
  assert.deepEqual(categories(column(d, "samples")), ["sampleA", "sampleB"]);
  assert.deepEqual(labels(column(d, "seurat_clusters")), expected.seurat_clusters);
  assert.deepEqual(numeric(column(d, "doublet_scores")), nums(expected.doublet_scores));
  assert.deepEqual(numeric(column(d, "percent.mt")), nums(expected.percent_mt));
  assert.deepEqual(numeric(column(d, "nCount_RNA")), nums(expected.nCount_RNA));
  assert.deepEqual(numeric(column(d, "nFeature_RNA")), expected.nFeature_RNA);
  // R's QC columns agree with the worker's own
  const qc = computeCellQc(d.matrix, mitoMask(d.genes.symbols));
  assert.deepEqual(Array.from(qc.totalCounts), nums(expected.nCount_RNA));
  numeric(column(d, "percent.mt")).forEach((v, i) => assert.ok(Math.abs(v - qc.percentMito[i]!) < 1e-12, `percent.mt of cell ${i}`));

  assert.deepEqual(Object.keys(d.embeddings).sort(), ["X_pca", "X_tsne", "X_umap"]);
  assert.equal(d.embeddings["X_pca"]!.dims, 10);
  for (const [name, cols] of [["X_pca", expected.pca], ["X_umap", expected.umap], ["X_tsne", expected.tsne]] as const) {
    cols.forEach((col, j) => assert.deepEqual(embeddingColumn(d, name, j), nums(col), `${name} column ${j}`));
  }
  // the PCA's stdev as R stored it (stored_results.json: Stdev(object, "pca")); none for UMAP / t-SNE
  const stored = JSON.parse(readFileSync(fixture("stored_results.json"), "utf8")) as { pbmc_small: { pca_stdev: string[] } };
  assert.deepEqual(Array.from(d.embeddings["X_pca"]!.stdev ?? []), nums(stored.pbmc_small.pca_stdev));
  assert.equal(d.embeddings["X_umap"]!.stdev, undefined);
  assert.deepEqual(d.seuratMisc, {
    numPCs: 10, activeReduction: "pca", objectVersion: "4.1.3",
    colorPool: d.seuratMisc?.colorPool,
  });
  assert.deepEqual(d.seuratMisc?.colorPool?.slice(0, 5), ["#77aadd", "#ee8866", "#eedd88", "#ffaabb", "#99ddff"]);

  // misc$gene_dispersion and var.features as stored gene statistics, aligned by gene id
  const position = new Map(d.genes.ids.map((id, g) => [id, g]));
  const disp = d.storedGeneStats?.dispersions;
  assert.ok(disp);
  expected.dispersion_ids.forEach((id, k) => assert.equal(disp[position.get(id)!], Number(expected.variance_standardized[k])));
  const hv = d.storedGeneStats?.highlyVariable;
  assert.ok(hv);
  assert.deepEqual(d.genes.ids.filter((_, g) => hv[g] === 1).sort(), [...expected.variable_features].sort());
});

test("the uncompressed file reads the same as the gzip one; format detection routes .rds", async () => {
  const gz = await loadRds(fixture("pbmc_small_v4.rds"));
  const plain = await loadRds(fixture("pbmc_small_v4_uncompressed.rds"));
  assert.deepEqual({ ...plain, path: "" }, { ...gz, path: "" });
  const detected = detectFormat(fixture("pbmc_small_v4.rds"));
  assert.equal(detected.format, "rds");
  const viaIndex = await loadData(detected.format, detected.path);
  assert.deepEqual(viaIndex.cellIds, gz.cellIds);
});

test("the processed-state cache keeps what the .rds gave (misc, obs, embeddings, cell ids)", async (t) => {
  const cacheDir = tempDir(t);
  const path = fixture("pbmc_small_v4.rds");
  const built = await openExperiment({ path, cacheDir });
  const hit = await openExperiment({ path, cacheDir });
  assert.equal(built.cache.status, "built");
  assert.equal(hit.cache.status, "hit");
  assert.equal(hit.data.format, "rds");
  assert.deepEqual(hit.data.seuratMisc, built.data.seuratMisc);
  assert.deepEqual(hit.data.cellIds, built.data.cellIds);
  assert.deepEqual(hit.data.obs, built.data.obs);
  assert.deepEqual(hit.data.embeddings, built.data.embeddings);
  assert.deepEqual(hit.data.storedGeneStats, built.data.storedGeneStats);
  // and the state made from the object's stored results, with what came from where (the
  // value order is read after the open, in the background)
  await hit.valueOrderReady();
  assert.deepEqual(hit.state, built.state);
  assert.deepEqual(hit.state.stored, { pca: true, genes: true, clusters: true });
  assert.equal(hit.state.pcsUsed, 10);
  assert.deepEqual(hit.cellSets, built.cellSets);
});

test("a v5-layout object (Assay5 layers + LogMaps) reads the same as the v4 object it was made from", async () => {
  const v4 = await loadRds(fixture("pbmc_small_v4.rds"));
  const v5 = await loadRds(fixture("pbmc_small_v5.rds"));
  assertSameMatrix(v5, v4);
  assert.deepEqual(v5.genes, v4.genes);
  assert.deepEqual(v5.barcodes, v4.barcodes);
  assert.deepEqual(v5.cellIds, v4.cellIds);
  assert.deepEqual(v5.obs, v4.obs);
  assert.deepEqual(v5.embeddings, v4.embeddings);
  assert.equal(v5.seuratMisc?.objectVersion, "5.0.1");
  assert.deepEqual(v5.storedGeneStats?.dispersions, v4.storedGeneStats?.dispersions);
  // Assay5 has no var.features slot: no stored highly-variable flags
  assert.equal(v5.storedGeneStats?.highlyVariable, undefined);
});

test("data that is not LogNormalize with scale factor 1e4 is used as stored (log-normalised), with a note", async () => {
  const { data: d, lognormDifference } = await loadRdsDetails(fixture("pbmc_small_v4_sf1e6.rds"));
  assert.ok(lognormDifference !== null && lognormDifference > 1e-3);
  assert.equal(d.matrixKind, "lognorm");
  assert.equal(d.matrixSource, "assays$RNA data");
  assert.ok(d.notes.some((n) => /not LogNormalize/.test(n)));
  const tenx = await loadTenxMtx(PBMC_SMALL);
  const totals = computeCellQc(tenx.matrix, new Uint8Array(tenx.matrix.nGenes)).totalCounts;
  assert.deepEqual(d.matrix.indices, tenx.matrix.indices);
  for (let p = 0; p < tenx.matrix.values.length; p++) {
    const want = Math.fround(Math.log1p((tenx.matrix.values[p]! / totals[tenx.matrix.indices[p]!]!) * 1e6));
    assert.equal(d.matrix.values[p], want, `entry ${p}`);
  }
});

test("pbmc3k as a Seurat v4 .rds: the 10x folder's counts, genes and cells; data = LogNormalize(counts) to 1e-12", async () => {
  const { data: d, lognormDifference } = await loadRdsDetails(fixture("pbmc3k_v4.rds"));
  const tenx = await loadTenxMtx(PBMC3K);
  assertSameMatrix(d, tenx);
  assert.deepEqual(d.genes, tenx.genes);
  assert.deepEqual(d.barcodes, tenx.barcodes);
  assert.deepEqual(d.cellIds, tenx.cellIds, "cells_id 0..2699 in column order, as the 10x folder's ids");
  assert.equal(d.matrixKind, "counts");
  assert.ok(lognormDifference !== null && lognormDifference <= 1e-12, `largest relative difference ${lognormDifference}`);
  assert.deepEqual(Object.keys(d.embeddings).sort(), ["X_pca", "X_umap"]);
  assert.equal(d.embeddings["X_pca"]!.dims, 30);
  assert.equal(d.seuratMisc?.numPCs, 30);
  assert.equal(column(d, "seurat_clusters").kind, "categorical");
  assert.deepEqual(categories(column(d, "samples")), ["pbmc3k"]);
});

// --- bad input ---------------------------------------------------------------------------------

test("bad .rds files give one-line errors with codes, naming the file and what is missing", async (t) => {
  await rejectsNamingFile(loadRds(fixture("bad_list.rds")), ErrorCode.DATA_UNSUPPORTED, "bad_list.rds", /not a Seurat object: it holds an R list \(elements a, b\)/);
  await rejectsNamingFile(loadRds(fixture("bad_no_counts.rds")), ErrorCode.DATA_INVALID, "bad_no_counts.rds", /RNA assay has no counts/);
  await rejectsNamingFile(loadRds(fixture("bad_no_cells_id.rds")), ErrorCode.DATA_INVALID, "bad_no_cells_id.rds", /no cells_id column/);
  await rejectsNamingFile(loadRds(fixture("bad_xz.rds")), ErrorCode.DATA_UNSUPPORTED, "bad_xz.rds", /xz-compressed.*saveRDS/);

  const dir = tempDir(t);
  const text = join(dir, "text.rds");
  writeFileSync(text, "cells_id,samples\n0,a\n");
  await rejectsNamingFile(loadRds(text), ErrorCode.DATA_INVALID, "text.rds", /not an RDS file/);
  // a truncated download: the gzip stream ends early
  const whole = readFileSync(fixture("pbmc_small_v4.rds"));
  const truncated = join(dir, "truncated.rds");
  writeFileSync(truncated, whole.subarray(0, whole.length >> 1));
  await rejectsNamingFile(loadRds(truncated), ErrorCode.DATA_INVALID, "truncated.rds", /not a readable RDS file/);
  // gzip of something that is not R's serialisation
  const notXdr = join(dir, "not-xdr.rds");
  writeFileSync(notXdr, gzipSync(Buffer.from("hello")));
  await rejectsNamingFile(loadRds(notXdr), ErrorCode.DATA_INVALID, "not-xdr.rds", /not a readable RDS file/);
  await rejectsNamingFile(loadRds(join(dir, "absent.rds")), ErrorCode.DATA_NOT_FOUND, "absent.rds");

  // Seurat's qs files: refused at format detection, with the way out
  const qs = join(dir, "r.qs");
  writeFileSync(qs, "qs");
  assert.throws(() => detectFormat(qs), (err: Error & { code?: string }) => {
    assert.equal(err.code, ErrorCode.DATA_UNSUPPORTED);
    assert.match(err.message, /^r\.qs: .*re-save it in R as \.rds/);
    assert.ok(!err.message.includes("\n"));
    return true;
  });
});

test("S3 prefix: python.h5ad wins over a (2021 pagoda2) r.rds; r.rds over r.qs and .h5", () => {
  const pick = (files: string[]): string | null => dataPathOf({ dir: "/d", files } satisfies SyncFiles);
  assert.equal(pick(["python.h5ad", "r.rds"]), "/d/python.h5ad");
  assert.equal(pick(["r.qs", "r.rds"]), "/d/r.rds");
  assert.equal(pick(["r.qs", "matrix_dir.tar.zst"]), "/d/r.qs");
  assert.equal(pick(["r.rds", "raw.h5"]), "/d/r.rds");
});
