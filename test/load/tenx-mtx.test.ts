import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, gunzipSync } from "node:zlib";
import { loadTenxMtx } from "../../src/experiment/load/tenx-mtx.ts";
import { WorkerError } from "../../src/result/errors.ts";
import { PBMC_SMALL, PBMC3K, tempDir } from "../helpers.ts";

const copyFolder = (dir: string): void => {
  for (const f of ["matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz"]) copyFileSync(join(PBMC_SMALL, f), join(dir, f));
};

async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof WorkerError, `expected WorkerError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), "one line");
    return true;
  });
}

test("pbmc_small: dimensions, totals and annotations match SOURCE.md", async () => {
  const d = await loadTenxMtx(PBMC_SMALL);
  assert.equal(d.format, "10x-mtx");
  assert.equal(d.matrixKind, "counts");
  assert.equal(d.matrix.nCells, 80);
  assert.equal(d.matrix.nGenes, 230);
  assert.equal(d.matrix.indices.length, 4456);
  assert.equal(d.matrix.values.reduce((a, b) => a + b, 0), 19633);
  assert.equal(Math.max(...d.matrix.values), 138);
  assert.equal(d.barcodes[0], "ATGCCAGAACGACT");
  assert.deepEqual(Array.from(d.cellIds.slice(0, 3)), [0, 1, 2]);
  const groups = d.obs.find((c) => c.name === "groups");
  assert.ok(groups && groups.kind === "categorical");
  assert.deepEqual([...groups.categories].sort(), ["g1", "g2"]);
  assert.equal(groups.categories[groups.codes[0]!], "g2"); // first row of annotations.csv
  const ncount = d.obs.find((c) => c.name === "nCount_RNA");
  assert.ok(ncount && ncount.kind === "numeric");
  // nCount_RNA of each cell equals its column sum
  const sums = new Float64Array(80);
  for (let p = 0; p < d.matrix.indices.length; p++) sums[d.matrix.indices[p]!]! += d.matrix.values[p]!;
  assert.deepEqual(Array.from(sums), Array.from(ncount.values));
});

test("gene-major rows are sorted by cell and hold the file's entries", async () => {
  const d = await loadTenxMtx(PBMC_SMALL);
  const m = d.matrix;
  for (let g = 0; g < m.nGenes; g++) {
    for (let p = m.indptr[g]! + 1; p < m.indptr[g + 1]!; p++) assert.ok(m.indices[p - 1]! < m.indices[p]!);
  }
  // compare against the raw triplets
  const lines = gunzipSync(readFileSync(join(PBMC_SMALL, "matrix.mtx.gz"))).toString().split("\n").filter((l) => l && !l.startsWith("%"));
  const entries = lines.slice(1).map((l) => l.split(" ").map(Number));
  for (const [r, c, v] of entries.slice(0, 200)) {
    const g = r! - 1;
    const row = Array.from(m.indices.subarray(m.indptr[g]!, m.indptr[g + 1]!));
    const k = row.indexOf(c! - 1);
    assert.ok(k >= 0);
    assert.equal(m.values[m.indptr[g]! + k], v);
  }
});

test("pbmc3k loads with its published size", async () => {
  const d = await loadTenxMtx(PBMC3K);
  assert.equal(d.matrix.nCells, 2700);
  assert.equal(d.matrix.nGenes, 32738);
  assert.equal(d.matrix.indices.length, 2286884);
  assert.equal(d.genes.ids[0], "ENSG00000243485");
  assert.equal(d.genes.symbols.filter((s) => s.startsWith("MT-")).length, 13);
});

test("missing files are named", async (t) => {
  const dir = tempDir(t);
  copyFolder(dir);
  writeFileSync(join(dir, "barcodes.tsv.gz"), "");
  await rejectsWith(loadTenxMtx(join(dir, "nope")), "DATA_NOT_FOUND", /matrix\.mtx/);
});

test("a truncated gzip matrix is reported, not crashed on", async (t) => {
  const dir = tempDir(t);
  copyFolder(dir);
  const bytes = readFileSync(join(PBMC_SMALL, "matrix.mtx.gz"));
  writeFileSync(join(dir, "matrix.mtx.gz"), bytes.subarray(0, Math.floor(bytes.length / 2)));
  await rejectsWith(loadTenxMtx(dir), "DATA_INVALID", /matrix\.mtx\.gz.*truncated/);
});

test("barcode and feature counts must match the matrix", async (t) => {
  const dir = tempDir(t);
  copyFolder(dir);
  const barcodes = gunzipSync(readFileSync(join(PBMC_SMALL, "barcodes.tsv.gz"))).toString().split("\n").filter(Boolean);
  writeFileSync(join(dir, "barcodes.tsv.gz"), gzipSync(barcodes.slice(1).join("\n") + "\n"));
  await rejectsWith(loadTenxMtx(dir), "DATA_INVALID", /barcodes\.tsv\.gz: has 79 barcodes but .* has 80 columns/);

  const dir2 = tempDir(t);
  copyFolder(dir2);
  const features = gunzipSync(readFileSync(join(PBMC_SMALL, "features.tsv.gz"))).toString();
  writeFileSync(join(dir2, "features.tsv"), features + "ENSGX\tEXTRA\tGene Expression\n");
  writeFileSync(join(dir2, "features.tsv.gz"), gzipSync(features + "ENSGX\tEXTRA\tGene Expression\n"));
  await rejectsWith(loadTenxMtx(dir2), "DATA_INVALID", /features\.tsv\.gz: has more than 230 lines, but .*matrix\.mtx\.gz has 230 rows/);
});

test("non-integer counts, out-of-range entries and short files are rejected", async (t) => {
  const cases: [string, RegExp][] = [
    ["%%MatrixMarket matrix coordinate real general\n3 2 2\n1 1 1.5\n2 2 3\n", /non-integer/],
    ["%%MatrixMarket matrix coordinate integer general\n3 2 2\n1 1 1\n4 2 3\n", /outside the 3 x 2 matrix/],
    ["%%MatrixMarket matrix coordinate integer general\n3 2 3\n1 1 1\n2 2 3\n", /declares 3 entries but holds 2/],
    ["not a matrix\n", /not a Matrix Market coordinate file/],
  ];
  for (const [text, pattern] of cases) {
    const dir = tempDir(t);
    writeFileSync(join(dir, "matrix.mtx"), text);
    writeFileSync(join(dir, "features.tsv"), "g1\tA\tGene Expression\ng2\tB\tGene Expression\ng3\tC\tGene Expression\n");
    writeFileSync(join(dir, "barcodes.tsv"), "c1\nc2\n");
    await rejectsWith(loadTenxMtx(dir), "DATA_INVALID", pattern);
  }
});

test("plain-text genes.tsv (Cell Ranger 2 layout) is accepted", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "matrix.mtx"), "%%MatrixMarket matrix coordinate integer general\n%comment\n3 2 3\n1 1 1\n3 1 2\n2 2 5\n");
  writeFileSync(join(dir, "genes.tsv"), "g1\tA\ng2\tB\ng3\tC\n");
  writeFileSync(join(dir, "barcodes.tsv"), "c1\nc2\n");
  const d = await loadTenxMtx(dir);
  assert.deepEqual(d.genes.symbols, ["A", "B", "C"]);
  assert.deepEqual(Array.from(d.matrix.indptr), [0, 1, 2, 3]);
  assert.deepEqual(Array.from(d.matrix.values), [1, 5, 2]);
});
