import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { loadH5ad } from "../../src/experiment/load/h5ad.ts";
import type { GeneMajorMatrix, LoadedData, ObsColumn } from "../../src/experiment/types.ts";
import { H5_FIXTURES, PBMC_SMALL, tempDir, rejectsNamingFile } from "../helpers.ts";

const GENERATED = join(H5_FIXTURES, "generated");
const fixture = (name: string): string => join(H5_FIXTURES, name);

// --- the 10x Matrix Market original, read here without the project's loaders ---------------

interface Reference {
  nGenes: number;
  nCells: number;
  /** dense genes x cells, gene g / cell c at g * nCells + c */
  counts: Float64Array;
  total: number;
  ids: string[];
  symbols: string[];
  barcodes: string[];
  annotations: Map<string, string[]>;
}

function readReference(): Reference {
  const lines = gunzipSync(readFileSync(join(PBMC_SMALL, "matrix.mtx.gz"))).toString("utf8").split("\n");
  let i = 0;
  while (lines[i]!.startsWith("%")) i++;
  const [nGenes, nCells] = lines[i++]!.trim().split(/\s+/).map(Number) as [number, number, number];
  const counts = new Float64Array(nGenes * nCells);
  let total = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const [g, c, v] = line.split(/\s+/).map(Number) as [number, number, number];
    counts[(g - 1) * nCells + (c - 1)]! += v;
    total += v;
  }
  const tsv = (name: string): string[][] =>
    gunzipSync(readFileSync(join(PBMC_SMALL, name))).toString("utf8").split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
  const features = tsv("features.tsv.gz");
  const csv = readFileSync(join(PBMC_SMALL, "annotations.csv"), "utf8").split(/\r?\n/).filter((l) => l !== "").map((l) => l.split(","));
  const header = csv[0]!;
  const annotations = new Map(header.map((h, j) => [h, csv.slice(1).map((row) => row[j]!)]));
  return {
    nGenes, nCells, counts, total,
    ids: features.map((f) => f[0]!),
    symbols: features.map((f) => f[1]!),
    barcodes: tsv("barcodes.tsv.gz").map((b) => b[0]!),
    annotations,
  };
}

const REF = readReference();

/** Stored value at (gene, cell), 0 when not stored. */
function valueAt(m: GeneMajorMatrix, g: number, c: number): number {
  for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) if (m.indices[p] === c) return m.values[p]!;
  return 0;
}

function checkGeneMajor(m: GeneMajorMatrix): void {
  assert.equal(m.indptr.length, m.nGenes + 1);
  assert.equal(m.indptr[m.nGenes], m.indices.length);
  assert.equal(m.values.length, m.indices.length);
  for (let g = 0; g < m.nGenes; g++) {
    for (let p = m.indptr[g]! + 1; p < m.indptr[g + 1]!; p++) assert.ok(m.indices[p - 1]! < m.indices[p]!, "cells ascending within a gene");
  }
}

/** Every (gene, cell) of the matrix equals the 10x original (counts) or its LogNormalize (lognorm). */
function checkAgainstReference(d: LoadedData): void {
  const m = d.matrix;
  checkGeneMajor(m);
  assert.equal(m.nCells, 80);
  assert.equal(m.nGenes, 230);
  assert.equal(m.indices.length, 4456, "same non-zero pattern as matrix.mtx.gz");
  if (d.matrixKind === "counts") {
    let total = 0;
    for (const v of m.values) total += v;
    assert.equal(total, 19633);
    assert.equal(total, REF.total);
    assert.equal(valueAt(m, 3, 64), 138); // HLA-DRA in GACATTCTCCACCT, the largest count
    assert.equal(valueAt(m, 1, 0), 1); // CD79B in the first cell
    assert.equal(valueAt(m, 0, 0), 0); // MS4A1 not detected in the first cell
  }
  const cellTotals = new Float64Array(REF.nCells);
  for (let k = 0; k < REF.counts.length; k++) cellTotals[k % REF.nCells]! += REF.counts[k]!;
  for (let g = 0; g < REF.nGenes; g++) {
    for (let c = 0; c < REF.nCells; c++) {
      const count = REF.counts[g * REF.nCells + c]!;
      const got = valueAt(m, g, c);
      if (d.matrixKind === "counts") {
        if (got !== count) assert.fail(`${d.matrixSource} (${g}, ${c}) = ${got}, expected ${count}`);
      } else {
        const expected = count === 0 ? 0 : Math.log1p((count / cellTotals[c]!) * 1e4);
        if (Math.abs(got - expected) > 1e-4) assert.fail(`${d.matrixSource} (${g}, ${c}) = ${got}, expected ${expected}`);
      }
    }
  }
}

function column(d: LoadedData, name: string): ObsColumn {
  const col = d.obs.find((c) => c.name === name);
  assert.ok(col, `obs column ${name} present (have ${d.obs.map((c) => c.name).join(", ")})`);
  return col;
}

/** A categorical column whose per-cell labels equal annotations.csv's column. */
function checkCategorical(d: LoadedData, name: string, categories: string[]): void {
  const col = column(d, name);
  assert.equal(col.kind, "categorical");
  if (col.kind !== "categorical") return;
  assert.deepEqual([...col.categories].sort(), categories);
  const labels = Array.from(col.codes, (c) => col.categories[c]);
  assert.deepEqual(labels, REF.annotations.get(name));
}

function checkGenesAndCells(d: LoadedData): void {
  assert.equal(d.format, "h5ad");
  assert.deepEqual(d.genes.ids, REF.ids);
  assert.deepEqual(d.genes.symbols, REF.symbols);
  assert.deepEqual(d.barcodes, REF.barcodes);
}

const iota = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

const rejectsWith = rejectsNamingFile;

// --- the four copied fixtures ------------------------------------------------------------------

test("anndata07_seed_layout: no counts anywhere → raw/X as lognorm with a note, legacy categoricals", async () => {
  const d = await loadH5ad(fixture("anndata07_seed_layout.h5ad"));
  checkGenesAndCells(d);
  assert.equal(d.matrixKind, "lognorm");
  assert.equal(d.matrixSource, "raw/X");
  checkAgainstReference(d);
  assert.equal(d.notes.length, 1);
  assert.match(d.notes[0]!, /no raw counts/i);
  assert.match(d.notes[0]!, /raw\/X/);
  assert.match(d.notes[0]!, /pseudobulk/);
  // cell_ids → cellIds, not an obs column
  assert.deepEqual(Array.from(d.cellIds), iota(80));
  assert.ok(!d.obs.some((c) => c.name === "cell_ids"));
  // categories come through the object-reference attribute
  assert.deepEqual(d.obs.map((c) => c.name), ["letter.idents", "groups", "RNA_snn_res.0.8"]);
  checkCategorical(d, "groups", ["g1", "g2"]);
  checkCategorical(d, "letter.idents", ["A", "B"]);
  checkCategorical(d, "RNA_snn_res.0.8", ["0", "1"]);
  // obsm/X_tsne equals the annotations' tSNE columns
  const tsne = d.embeddings["X_tsne"];
  assert.ok(tsne);
  assert.equal(tsne.dims, 2);
  assert.equal(tsne.values.length, 160);
  const t1 = REF.annotations.get("tSNE_1")!.map(Number);
  const t2 = REF.annotations.get("tSNE_2")!.map(Number);
  for (let c = 0; c < 80; c++) {
    assert.ok(Math.abs(tsne.values[2 * c]! - t1[c]!) < 1e-4);
    assert.ok(Math.abs(tsne.values[2 * c + 1]! - t2[c]!) < 1e-4);
  }
  // var dispersions / highly_variable, same genes as raw/var
  const stats = d.storedGeneStats;
  assert.ok(stats?.dispersions && stats.highlyVariable);
  assert.equal(stats.means, undefined);
  assert.equal(stats.dispersions.length, 230);
  assert.ok(Math.abs(stats.dispersions[0]! - 4.663112640380859) < 1e-12); // MS4A1
  assert.deepEqual(Array.from(stats.highlyVariable.slice(0, 6)), [1, 0, 1, 0, 1, 0]);
});

test("anndata08_counts_csc: X as CSC counts", async () => {
  const d = await loadH5ad(fixture("anndata08_counts_csc.h5ad"));
  checkGenesAndCells(d);
  assert.equal(d.matrixKind, "counts");
  assert.equal(d.matrixSource, "X");
  checkAgainstReference(d);
  assert.deepEqual(Array.from(d.cellIds), iota(80));
  checkCategorical(d, "groups", ["g1", "g2"]);
  checkCategorical(d, "letter.idents", ["A", "B"]);
  assert.deepEqual(d.embeddings, {});
  assert.deepEqual(d.notes, []);
  assert.equal(d.storedGeneStats, undefined);
});

test("anndata08_dense_lognorm_layers_counts: layers/counts wins over the dense lognorm X", async () => {
  const d = await loadH5ad(fixture("anndata08_dense_lognorm_layers_counts.h5ad"));
  checkGenesAndCells(d);
  assert.equal(d.matrixKind, "counts");
  assert.equal(d.matrixSource, "layers/counts");
  checkAgainstReference(d);
  checkCategorical(d, "RNA_snn_res.0.8", ["0", "1"]);
  assert.deepEqual(d.notes, []);
});

// --- generated fixtures (scripts/fixtures/make-h5ad.py) ---------------------------------------

test("csr_counts: CSR counts, every obs column kind, non-contiguous cells_id, obsm, var stats", async () => {
  const d = await loadH5ad(join(GENERATED, "pbmc_small_csr_counts.h5ad"));
  checkGenesAndCells(d);
  assert.equal(d.matrixKind, "counts");
  assert.equal(d.matrixSource, "X");
  checkAgainstReference(d);

  assert.deepEqual(Array.from(d.cellIds), iota(80).map((i) => (i < 40 ? i : i + 1)));
  assert.ok(!d.obs.some((c) => c.name === "cells_id"), "cells_id is not an obs column");
  assert.deepEqual(d.obs.map((c) => `${c.name}:${c.kind}`), [
    "letter.idents:categorical", "groups:categorical", "RNA_snn_res.0.8:categorical", "seurat_clusters_ident:categorical",
    "nCount_RNA:numeric", "nFeature_RNA:numeric", "tSNE_1:numeric", "is_g1:boolean", "cell_label:string",
    "letter_if_cluster0:categorical", "nFeature_nullable:numeric", "is_g2_nullable:boolean",
  ]);
  checkCategorical(d, "groups", ["g1", "g2"]);
  checkCategorical(d, "letter.idents", ["A", "B"]);
  checkCategorical(d, "seurat_clusters_ident", ["0", "1", "2"]);

  const nCount = column(d, "nCount_RNA");
  assert.ok(nCount.kind === "numeric");
  assert.deepEqual(Array.from(nCount.values), REF.annotations.get("nCount_RNA")!.map(Number));
  const tsne1 = column(d, "tSNE_1");
  assert.ok(tsne1.kind === "numeric");
  assert.deepEqual(Array.from(tsne1.values), REF.annotations.get("tSNE_1")!.map(Number));

  const groups = REF.annotations.get("groups")!;
  const isG1 = column(d, "is_g1");
  assert.ok(isG1.kind === "boolean");
  assert.deepEqual(Array.from(isG1.values), groups.map((g) => (g === "g1" ? 1 : 0)));

  const label = column(d, "cell_label");
  assert.ok(label.kind === "string");
  assert.equal(label.values[0], "cellule-00-é-ATGCCAGAACGACT"); // vlen UTF-8
  assert.equal(new Set(label.values).size, 80);

  // categorical with missing values: only cluster-0 cells have a letter
  const partial = column(d, "letter_if_cluster0");
  assert.ok(partial.kind === "categorical");
  const cluster = REF.annotations.get("RNA_snn_res.0.8")!;
  const letters = REF.annotations.get("letter.idents")!;
  assert.deepEqual(Array.from(partial.codes, (c) => (c < 0 ? null : partial.categories[c])), cluster.map((k, i) => (k === "0" ? letters[i] : null)));
  assert.ok(partial.codes.includes(-1));

  // nullable integer: NaN where masked (every 10th cell from 3); nullable boolean: masked → false, noted
  const nullableInt = column(d, "nFeature_nullable");
  assert.ok(nullableInt.kind === "numeric");
  const nFeature = REF.annotations.get("nFeature_RNA")!.map(Number);
  nullableInt.values.forEach((v, i) => (i % 10 === 3 ? assert.ok(Number.isNaN(v)) : assert.equal(v, nFeature[i])));
  const nullableBool = column(d, "is_g2_nullable");
  assert.ok(nullableBool.kind === "boolean");
  nullableBool.values.forEach((v, i) => assert.equal(v, i % 10 === 7 ? 0 : groups[i] === "g2" ? 1 : 0));
  assert.ok(d.notes.some((n) => /is_g2_nullable.*missing/.test(n)), d.notes.join(" | "));

  assert.deepEqual(Object.keys(d.embeddings).sort(), ["X_pca", "X_umap"]);
  const umap = d.embeddings["X_umap"]!;
  assert.equal(umap.dims, 2);
  assert.equal(umap.values.length, 160);
  const t1 = REF.annotations.get("tSNE_1")!.map(Number);
  assert.ok(Math.abs(umap.values[0]! - (t1[0]! / 4 + 1)) < 1e-5, "X_umap = tSNE / 4 + (1, -1), row-major");
  assert.equal(d.embeddings["X_pca"]!.dims, 5);
  assert.equal(d.embeddings["X_pca"]!.values.length, 400);

  const stats = d.storedGeneStats;
  assert.ok(stats?.dispersions && stats.means && stats.highlyVariable);
  assert.equal(stats.means.length, 230);
  assert.equal(stats.highlyVariable.reduce((a, b) => a + b, 0), 50);
  assert.ok(stats.means.every((v) => Number.isFinite(v)));
});

test("dense_counts: dense integer X; ids from the var index, symbols from feature_name", async () => {
  const d = await loadH5ad(join(GENERATED, "pbmc_small_dense_counts.h5ad"));
  checkGenesAndCells(d);
  assert.equal(d.matrixKind, "counts");
  assert.equal(d.matrixSource, "X");
  checkAgainstReference(d);
  checkCategorical(d, "groups", ["g1", "g2"]);
  assert.equal(d.embeddings["X_tsne"]?.dims, 2);
  assert.deepEqual(d.notes, []);
});

test("lognorm_raw_counts: raw/X counts with raw/var's 230 genes; var stats (200 genes) aligned by name", async () => {
  const d = await loadH5ad(join(GENERATED, "pbmc_small_lognorm_raw_counts.h5ad"));
  checkGenesAndCells(d);
  assert.equal(d.matrixKind, "counts");
  assert.equal(d.matrixSource, "raw/X");
  checkAgainstReference(d);
  const stats = d.storedGeneStats;
  assert.ok(stats?.dispersions && stats.means && stats.highlyVariable);
  assert.equal(stats.means.length, 230);
  // var holds genes g with g % 23 != 5, first 200 of them
  const inVar = iota(230).filter((g) => g % 23 !== 5).slice(0, 200);
  const inVarSet = new Set(inVar);
  for (let g = 0; g < 230; g++) {
    assert.equal(Number.isNaN(stats.means[g]!), !inVarSet.has(g), `gene ${g}`);
    assert.equal(Number.isNaN(stats.dispersions[g]!), !inVarSet.has(g), `gene ${g}`);
    if (!inVarSet.has(g)) assert.equal(stats.highlyVariable[g], 0);
  }
  assert.ok(d.notes.some((n) => /30 of the 230 genes/.test(n)), d.notes.join(" | "));
});

test("layers_counts_csc: CSC layers/counts over a CSR lognorm X; cell_ids column", async () => {
  const d = await loadH5ad(join(GENERATED, "pbmc_small_layers_counts_csc.h5ad"));
  checkGenesAndCells(d);
  assert.equal(d.matrixKind, "counts");
  assert.equal(d.matrixSource, "layers/counts");
  checkAgainstReference(d);
  assert.deepEqual(Array.from(d.cellIds), iota(80).map((i) => i + 1000));
  assert.ok(!d.obs.some((c) => c.name === "cell_ids"));
  checkCategorical(d, "letter.idents", ["A", "B"]);
});

test("lognorm_only: non-integer X and no raw → X as lognorm with a note", async () => {
  const d = await loadH5ad(join(GENERATED, "pbmc_small_lognorm_only.h5ad"));
  checkGenesAndCells(d);
  assert.equal(d.matrixKind, "lognorm");
  assert.equal(d.matrixSource, "X");
  checkAgainstReference(d);
  assert.equal(d.notes.length, 1);
  assert.match(d.notes[0]!, /no raw counts.*X.*cannot run/i);
  assert.equal(d.embeddings["X_umap"]?.dims, 2);
});

test("legacy_h5sparse: h5sparse_format X, reference categoricals, compound (record array) obsm, byte-string var", async () => {
  const d = await loadH5ad(join(GENERATED, "pbmc_small_legacy_h5sparse.h5ad"));
  checkGenesAndCells(d);
  assert.equal(d.matrixKind, "counts");
  assert.equal(d.matrixSource, "X");
  checkAgainstReference(d);
  checkCategorical(d, "groups", ["g1", "g2"]);
  checkCategorical(d, "letter.idents", ["A", "B"]);
  assert.equal(column(d, "nCount_RNA").kind, "numeric");
  assert.deepEqual(Object.keys(d.embeddings).sort(), ["X_pca", "X_umap"]);
  assert.equal(d.embeddings["X_umap"]!.dims, 2);
  assert.equal(d.embeddings["X_pca"]!.dims, 5);
  const t1 = REF.annotations.get("tSNE_1")!.map(Number);
  const t2 = REF.annotations.get("tSNE_2")!.map(Number);
  assert.ok(Math.abs(d.embeddings["X_umap"]!.values[2 * 79 + 1]! - (t2[79]! / 4 - 1)) < 1e-5);
  assert.ok(Math.abs(d.embeddings["X_umap"]!.values[0]! - (t1[0]! / 4 + 1)) < 1e-5);
  assert.ok(d.storedGeneStats?.highlyVariable && d.storedGeneStats.means && d.storedGeneStats.dispersions);
});

test("byte_strings: UTF-8 text in fixed- and variable-length strings flagged ASCII is decoded", async () => {
  const d = await loadH5ad(join(GENERATED, "pbmc_small_byte_strings.h5ad"));
  checkGenesAndCells(d);
  const groups = REF.annotations.get("groups")!;
  for (const name of ["site", "site_vlen_ascii"]) {
    const col = column(d, name);
    assert.ok(col.kind === "string");
    assert.deepEqual(col.values, groups.map((g) => (g === "g1" ? "Zürich" : "São Paulo")));
  }
});

// --- errors -------------------------------------------------------------------------------------

test("duplicate cells_id → DATA_INVALID naming the column and the value", async () => {
  await rejectsWith(loadH5ad(join(GENERATED, "pbmc_small_duplicate_cells_id.h5ad")), "DATA_INVALID", "pbmc_small_duplicate_cells_id.h5ad", /cells_id.*duplicated value 10/);
});

test("X shape attribute disagreeing with var → DATA_INVALID naming X", async () => {
  await rejectsWith(loadH5ad(join(GENERATED, "pbmc_small_bad_shape.h5ad")), "DATA_INVALID", "pbmc_small_bad_shape.h5ad", /X has shape 80 x 231.*230 genes/);
});

test("indptr of the wrong length → DATA_INVALID naming X/indptr", async () => {
  await rejectsWith(loadH5ad(join(GENERATED, "pbmc_small_bad_indptr.h5ad")), "DATA_INVALID", "pbmc_small_bad_indptr.h5ad", /X\/indptr has length 80, expected 81/);
});

test("scaled X (negative values) and no raw → DATA_UNSUPPORTED", async () => {
  await rejectsWith(loadH5ad(join(GENERATED, "pbmc_small_scaled_no_raw.h5ad")), "DATA_UNSUPPORTED", "pbmc_small_scaled_no_raw.h5ad", /no raw counts and no non-negative log-normalised matrix/);
});

test("missing file → DATA_NOT_FOUND", async (t) => {
  const dir = tempDir(t);
  await rejectsWith(loadH5ad(join(dir, "nope.h5ad")), "DATA_NOT_FOUND", "nope.h5ad");
});

test("truncated copy → DATA_INVALID saying it is truncated", async (t) => {
  const dir = tempDir(t);
  const bytes = readFileSync(fixture("anndata08_counts_csc.h5ad"));
  for (const keep of [20_000, bytes.length - 1]) {
    const path = join(dir, `truncated-${keep}.h5ad`);
    writeFileSync(path, bytes.subarray(0, keep));
    await rejectsWith(loadH5ad(path), "DATA_INVALID", `truncated-${keep}.h5ad`, /truncated/);
  }
  // the superblock itself cut short
  const tiny = join(dir, "tiny.h5ad");
  writeFileSync(tiny, bytes.subarray(0, 40));
  await rejectsWith(loadH5ad(tiny), "DATA_INVALID", "tiny.h5ad");
});

test("non-HDF5, empty and folder inputs → DATA_INVALID", async (t) => {
  const dir = tempDir(t);
  const text = join(dir, "notes.h5ad");
  writeFileSync(text, "barcode,groups\nAAAC,g1\n");
  await rejectsWith(loadH5ad(text), "DATA_INVALID", "notes.h5ad", /not an HDF5 file/);
  const empty = join(dir, "empty.h5ad");
  writeFileSync(empty, "");
  await rejectsWith(loadH5ad(empty), "DATA_INVALID", "empty.h5ad");
  await rejectsWith(loadH5ad(GENERATED), "DATA_INVALID", "generated");
});

test("a Cell Ranger .h5 given as h5ad → DATA_INVALID, and loading still works afterwards", async () => {
  await rejectsWith(loadH5ad(fixture("cellranger_v3.h5")), "DATA_INVALID", "cellranger_v3.h5", /not an AnnData file/);
  const d = await loadH5ad(fixture("anndata08_counts_csc.h5ad"));
  assert.equal(d.matrix.nCells, 80);
});
