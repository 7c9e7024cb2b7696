/**
 * Values that are not finite (a count written `1e400`, NaN, a double too large for the matrix's
 * 32-bit floats) and negative counts are DATA_INVALID naming the file and the entry, in every
 * loader: 10x Matrix Market, 10x HDF5, h5ad (dense and sparse, X and layers/counts).
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import h5wasm from "h5wasm/node";
import { loadTenxMtx } from "../../src/experiment/load/tenx-mtx.ts";
import { loadTenxH5 } from "../../src/experiment/load/tenx-h5.ts";
import { loadH5ad } from "../../src/experiment/load/h5ad.ts";
import { rejectsNamingFile, tempDir } from "../helpers.ts";

before(async () => { await h5wasm.ready; });

const N_GENES = 3;
const N_CELLS = 4;

// --- 10x Matrix Market -------------------------------------------------------------------------

function mtxFolder(dir: string, thirdValue: string): string {
  writeFileSync(join(dir, "matrix.mtx"), `%%MatrixMarket matrix coordinate integer general\n${N_GENES} ${N_CELLS} 4\n1 1 2\n2 2 5\n3 3 ${thirdValue}\n1 4 1\n`);
  writeFileSync(join(dir, "features.tsv"), "g1\tA\tGene Expression\ng2\tB\tGene Expression\ng3\tC\tGene Expression\n");
  writeFileSync(join(dir, "barcodes.tsv"), "c1\nc2\nc3\nc4\n");
  return dir;
}

test("matrix.mtx: 1e400, a long digit string, 1e39 and negative counts name the entry", async (t) => {
  const cases: [string, RegExp][] = [
    ["1e400", /entry 3 \(3, 3\) is Infinity, not a finite number/],
    ["1" + "0".repeat(400), /entry 3 \(3, 3\) is Infinity, not a finite number/],
    ["1e39", /entry 3 \(3, 3\) is 1e\+39, not a finite number .*32-bit float/],
    ["-2", /entry 3 \(3, 3\) is -2; .*raw UMI counts, which are never negative/],
  ];
  for (const [value, pattern] of cases) {
    await rejectsNamingFile(loadTenxMtx(mtxFolder(tempDir(t), value)), "DATA_INVALID", "matrix.mtx", pattern);
  }
  // a non-integer names its entry too
  await rejectsNamingFile(loadTenxMtx(mtxFolder(tempDir(t), "2.5")), "DATA_INVALID", "matrix.mtx", /non-integer values \(entry 3 \(3, 3\) is 2\.5\)/);
  // the largest count a 32-bit float holds is still accepted
  const ok = await loadTenxMtx(mtxFolder(tempDir(t), "16777216"));
  assert.equal(Math.max(...ok.matrix.values), 16777216);
});

// --- writers for small HDF5 files ----------------------------------------------------------------

const barcodes = Array.from({ length: N_CELLS }, (_, i) => `CELL${i}`);
const geneIds = Array.from({ length: N_GENES }, (_, i) => `ENSG${i}`);

/** A Cell Ranger v3 HDF5 with these CSC values (one per cell, gene = cell % 3). */
function tenxH5(path: string, data: Float64Array): string {
  const f = new h5wasm.File(path, "w");
  try {
    const m = f.create_group("matrix");
    m.create_dataset({ name: "data", data });
    m.create_dataset({ name: "indices", data: Int32Array.from({ length: N_CELLS }, (_, c) => c % N_GENES) });
    m.create_dataset({ name: "indptr", data: Int32Array.from({ length: N_CELLS + 1 }, (_, i) => i) });
    m.create_dataset({ name: "shape", data: Int32Array.of(N_GENES, N_CELLS) });
    m.create_dataset({ name: "barcodes", data: barcodes });
    const feats = m.create_group("features");
    feats.create_dataset({ name: "id", data: geneIds });
    feats.create_dataset({ name: "name", data: geneIds.map((g) => `${g}-sym`) });
    feats.create_dataset({ name: "feature_type", data: geneIds.map(() => "Gene Expression") });
  } finally {
    f.close();
  }
  return path;
}

function frame(f: InstanceType<typeof h5wasm.File>, name: string, index: string[]): void {
  const g = f.create_group(name);
  g.create_attribute("_index", "_index");
  g.create_attribute("encoding-type", "dataframe");
  g.create_dataset({ name: "_index", data: index });
}

/** An h5ad whose `where` (X or layers/counts) is dense cells x genes, or CSR with one value per cell. */
function h5ad(path: string, where: "X" | "layers/counts", layout: "dense" | "csr", values: Float64Array): string {
  const f = new h5wasm.File(path, "w");
  try {
    frame(f, "obs", barcodes);
    frame(f, "var", geneIds);
    if (where === "layers/counts") f.create_group("layers");
    if (layout === "dense") {
      f.create_dataset({ name: where, data: values, shape: [N_CELLS, N_GENES] });
    } else {
      const g = f.create_group(where);
      g.create_attribute("encoding-type", "csr_matrix");
      g.create_attribute("shape", Int32Array.of(N_CELLS, N_GENES));
      g.create_dataset({ name: "data", data: values });
      g.create_dataset({ name: "indices", data: Int32Array.from({ length: N_CELLS }, (_, c) => c % N_GENES) });
      g.create_dataset({ name: "indptr", data: Int32Array.from({ length: N_CELLS + 1 }, (_, i) => i) });
    }
  } finally {
    f.close();
  }
  return path;
}

const dense = (at: number, v: number): Float64Array => {
  const a = Float64Array.from({ length: N_CELLS * N_GENES }, (_, i) => (i % 2) + 1);
  a[at] = v;
  return a;
};
const sparse = (at: number, v: number): Float64Array => {
  const a = Float64Array.from({ length: N_CELLS }, (_, i) => i + 1);
  a[at] = v;
  return a;
};

// --- 10x HDF5 ------------------------------------------------------------------------------------

test("10x HDF5: Infinity, NaN, 1e39 and negative counts name matrix/data and the entry", async (t) => {
  const dir = tempDir(t);
  const cases: [number, RegExp][] = [
    [Infinity, /matrix\/data .* has Infinity at entry 2/],
    [NaN, /matrix\/data .* has NaN at entry 2/],
    [1e39, /matrix\/data .*32-bit floats.* has 1e\+39 at entry 2/],
    [-1, /matrix\/data .* has -1 at entry 2/],
  ];
  for (const [i, [v, pattern]] of cases.entries()) {
    await rejectsNamingFile(loadTenxH5(tenxH5(join(dir, `bad${i}.h5`), sparse(2, v))), "DATA_INVALID", `bad${i}.h5`, pattern);
  }
  const ok = await loadTenxH5(tenxH5(join(dir, "ok.h5"), sparse(2, 7)));
  assert.deepEqual(Array.from(ok.matrix.values).sort(), [1, 2, 4, 7]);
});

// --- h5ad ----------------------------------------------------------------------------------------

test("h5ad: non-finite values in X (dense or sparse) name the dataset and the entry", async (t) => {
  const dir = tempDir(t);
  const cases: [string, "dense" | "csr", Float64Array, RegExp][] = [
    ["inf-dense.h5ad", "dense", dense(5, Infinity), /X has Infinity at cell 1, gene 2: values must be finite/],
    ["nan-dense.h5ad", "dense", dense(5, NaN), /X has NaN at cell 1, gene 2/],
    ["big-dense.h5ad", "dense", dense(0, 1e39), /X has 1e\+39 at cell 0, gene 0: .*32-bit float/],
    ["inf-csr.h5ad", "csr", sparse(3, -Infinity), /X\/data has -Infinity at entry 3/],
    ["big-csr.h5ad", "csr", sparse(1, 5e38), /X\/data has 5e\+38 at entry 1/],
  ];
  for (const [name, layout, values, pattern] of cases) {
    await rejectsNamingFile(loadH5ad(h5ad(join(dir, name), "X", layout, values)), "DATA_INVALID", name, pattern);
  }
  const ok = await loadH5ad(h5ad(join(dir, "ok.h5ad"), "X", "dense", dense(5, 3)));
  assert.equal(ok.matrixKind, "counts");
});

test("h5ad: layers/counts with a negative, fractional or infinite count names the entry", async (t) => {
  const dir = tempDir(t);
  const cases: [string, "dense" | "csr", Float64Array, RegExp][] = [
    ["neg-dense.h5ad", "dense", dense(7, -3), /layers\/counts should hold raw counts .* but has -3 at cell 2, gene 1/],
    ["frac-csr.h5ad", "csr", sparse(2, 0.5), /layers\/counts\/data should hold raw counts .* but has 0\.5 at entry 2/],
    ["inf-csr.h5ad", "csr", sparse(0, Infinity), /layers\/counts\/data has Infinity at entry 0/],
  ];
  for (const [name, layout, values, pattern] of cases) {
    await rejectsNamingFile(loadH5ad(h5ad(join(dir, name), "layers/counts", layout, values)), "DATA_INVALID", name, pattern);
  }
});
