import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { loadTenxH5 } from "../../src/experiment/load/tenx-h5.ts";
import type { GeneMajorMatrix, LoadedData } from "../../src/experiment/types.ts";
import { H5_FIXTURES, PBMC_SMALL, tempDir, rejectsNamingFile } from "../helpers.ts";

const GENERATED = join(H5_FIXTURES, "generated");

// --- the 10x Matrix Market original, read here without the project's loaders ---------------

function readReference(): { nGenes: number; nCells: number; counts: Float64Array; ids: string[]; symbols: string[]; barcodes: string[] } {
  const lines = gunzipSync(readFileSync(join(PBMC_SMALL, "matrix.mtx.gz"))).toString("utf8").split("\n");
  let i = 0;
  while (lines[i]!.startsWith("%")) i++;
  const [nGenes, nCells] = lines[i++]!.trim().split(/\s+/).map(Number) as [number, number];
  const counts = new Float64Array(nGenes * nCells);
  for (; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const [g, c, v] = line.split(/\s+/).map(Number) as [number, number, number];
    counts[(g - 1) * nCells + (c - 1)]! += v;
  }
  const tsv = (name: string): string[][] =>
    gunzipSync(readFileSync(join(PBMC_SMALL, name))).toString("utf8").split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
  const features = tsv("features.tsv.gz");
  return {
    nGenes, nCells, counts,
    ids: features.map((f) => f[0]!),
    symbols: features.map((f) => f[1]!),
    barcodes: tsv("barcodes.tsv.gz").map((b) => b[0]!),
  };
}

const REF = readReference();

function valueAt(m: GeneMajorMatrix, g: number, c: number): number {
  for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) if (m.indices[p] === c) return m.values[p]!;
  return 0;
}

/** Counts, genes and cells equal the 10x Matrix Market original. */
function checkPbmcSmall(d: LoadedData, barcodeSuffix = ""): void {
  const m = d.matrix;
  assert.equal(d.format, "10x-h5");
  assert.equal(d.matrixKind, "counts");
  assert.equal(m.nGenes, 230);
  assert.equal(m.nCells, 80);
  assert.equal(m.indptr.length, 231);
  assert.equal(m.indices.length, 4456);
  assert.deepEqual(d.genes.ids, REF.ids);
  assert.deepEqual(d.genes.symbols, REF.symbols);
  assert.deepEqual(d.barcodes, REF.barcodes.map((b) => b + barcodeSuffix));
  assert.deepEqual(Array.from(d.cellIds), Array.from({ length: 80 }, (_, i) => i));
  assert.deepEqual(d.obs, []);
  assert.deepEqual(d.embeddings, {});
  let total = 0;
  for (const v of m.values) total += v;
  assert.equal(total, 19633);
  assert.equal(valueAt(m, 3, 64), 138); // HLA-DRA in GACATTCTCCACCT
  assert.equal(valueAt(m, 1, 0), 1); // CD79B in the first cell
  for (let g = 0; g < m.nGenes; g++) {
    for (let p = m.indptr[g]! + 1; p < m.indptr[g + 1]!; p++) assert.ok(m.indices[p - 1]! < m.indices[p]!);
    for (let c = 0; c < m.nCells; c++) {
      const expected = REF.counts[g * REF.nCells + c]!;
      const got = valueAt(m, g, c);
      if (got !== expected) assert.fail(`(${g}, ${c}) = ${got}, expected ${expected}`);
    }
  }
}

const rejectsWith = rejectsNamingFile;

test("cellranger_v3.h5: counts, genes, barcodes equal the 10x mtx", async () => {
  const d = await loadTenxH5(join(H5_FIXTURES, "cellranger_v3.h5"));
  checkPbmcSmall(d);
  assert.equal(d.matrixSource, "matrix");
  assert.equal(d.path, join(H5_FIXTURES, "cellranger_v3.h5"));
  assert.deepEqual(d.notes, []);
  assert.equal(d.storedGeneStats, undefined);
});

test("Antibody Capture features are left out, with a note", async () => {
  const d = await loadTenxH5(join(GENERATED, "pbmc_small_tenx_v3_antibody.h5"));
  checkPbmcSmall(d);
  assert.equal(d.notes.length, 1);
  assert.match(d.notes[0]!, /230 Gene Expression/);
  assert.match(d.notes[0]!, /3 Antibody Capture/);
});

test("Cell Ranger v2 layout (genome group, genes / gene_names)", async () => {
  const d = await loadTenxH5(join(GENERATED, "pbmc_small_tenx_v2.h5"));
  checkPbmcSmall(d, "-1");
  assert.equal(d.matrixSource, "hg19");
});

test("non-integer counts → DATA_INVALID naming matrix/data", async () => {
  await rejectsWith(loadTenxH5(join(GENERATED, "pbmc_small_tenx_v3_noninteger.h5")), "DATA_INVALID", "pbmc_small_tenx_v3_noninteger.h5", /matrix\/data.*0\.5/);
});

test("missing file → DATA_NOT_FOUND", async (t) => {
  await rejectsWith(loadTenxH5(join(tempDir(t), "filtered_feature_bc_matrix.h5")), "DATA_NOT_FOUND", "filtered_feature_bc_matrix.h5");
});

test("truncated copy → DATA_INVALID", async (t) => {
  const dir = tempDir(t);
  const bytes = readFileSync(join(H5_FIXTURES, "cellranger_v3.h5"));
  const path = join(dir, "cut.h5");
  writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await rejectsWith(loadTenxH5(path), "DATA_INVALID", "cut.h5", /truncated/);
});

test("not HDF5, or an AnnData file → DATA_INVALID; loading works afterwards", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "matrix.h5");
  writeFileSync(path, "%%MatrixMarket matrix coordinate integer general\n1 1 1\n1 1 5\n");
  await rejectsWith(loadTenxH5(path), "DATA_INVALID", "matrix.h5", /not an HDF5 file/);
  await rejectsWith(loadTenxH5(join(H5_FIXTURES, "anndata08_counts_csc.h5ad")), "DATA_INVALID", "anndata08_counts_csc.h5ad", /AnnData/);
  const d = await loadTenxH5(join(H5_FIXTURES, "cellranger_v3.h5"));
  assert.equal(d.matrix.nCells, 80);
});
