/**
 * Data too small to analyse (0 cells, 0 genes, 1 cell, ...) is refused when opened, before
 * preprocessing, with DATA_UNSUPPORTED naming the minimum: in the library and on the CLI.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openExperiment } from "../../src/experiment/open.ts";
import { MIN_CELLS, MIN_GENES } from "../../src/experiment/preprocess.ts";
import { CLI, rejectsNamingFile, ROOT, tempDir } from "../helpers.ts";
import type { TestContext } from "node:test";

/** A 10x folder of nGenes x nCells with a deterministic sprinkle of counts. */
function tenx(t: TestContext, nCells: number, nGenes: number): string {
  const dir = tempDir(t);
  const entries: string[] = [];
  for (let c = 1; c <= nCells; c++) for (let g = 1; g <= nGenes; g++) if ((c * 7 + g * 3) % 4 !== 0) entries.push(`${g} ${c} ${1 + ((c + g) % 5)}`);
  writeFileSync(join(dir, "matrix.mtx"), `%%MatrixMarket matrix coordinate integer general\n${nGenes} ${nCells} ${entries.length}\n${entries.map((e) => `${e}\n`).join("")}`);
  writeFileSync(join(dir, "features.tsv"), Array.from({ length: nGenes }, (_, i) => `ENSG${i}\tGENE${i}\tGene Expression\n`).join(""));
  writeFileSync(join(dir, "barcodes.tsv"), Array.from({ length: nCells }, (_, i) => `CELL${i}-1\n`).join(""));
  return dir;
}

test("0 cells, 0 genes, 1 cell and just under the minimum are DATA_UNSUPPORTED naming the minimum", async (t) => {
  const cases: [number, number, RegExp][] = [
    [0, 50, new RegExp(`needs at least ${MIN_CELLS} cells \\(this file has 0\\)$`)],
    [50, 0, new RegExp(`needs at least ${MIN_GENES} genes \\(this file has 0\\)$`)],
    [1, 50, new RegExp(`needs at least ${MIN_CELLS} cells \\(this file has 1\\)$`)],
    [MIN_CELLS - 1, 50, new RegExp(`at least ${MIN_CELLS} cells \\(this file has ${MIN_CELLS - 1}\\)$`)],
    [0, 0, new RegExp(`at least ${MIN_CELLS} cells \\(this file has 0\\) and at least ${MIN_GENES} genes \\(this file has 0\\)$`)],
  ];
  for (const [nCells, nGenes, pattern] of cases) {
    const dir = tenx(t, nCells, nGenes);
    await rejectsNamingFile(openExperiment({ path: dir, cacheDir: tempDir(t) }), "DATA_UNSUPPORTED", "matrix.mtx", pattern);
  }
});

test("data of exactly the minimum size opens and is preprocessed", async (t) => {
  const exp = await openExperiment({ path: tenx(t, MIN_CELLS, MIN_GENES), cacheDir: null });
  assert.equal(exp.data.matrix.nCells, MIN_CELLS);
  assert.ok(exp.state.pca.nPcs >= 1);
  assert.equal(exp.state.louvain.length, MIN_CELLS);
});

test("the CLI answers a 1-cell file with one DATA_UNSUPPORTED line, no stack trace", (t) => {
  const dir = tenx(t, 1, 50);
  const r = spawnSync(join(ROOT, "node_modules", ".bin", "node"), [CLI, "inspect", "--data", dir, "--no-cache"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, "");
  // progress lines may come first; the answer is the last line, and nothing is a stack trace
  const lines = r.stderr.trimEnd().split("\n");
  assert.match(lines.at(-1)!, new RegExp(`^cellworker: DATA_UNSUPPORTED: matrix\\.mtx: too small to analyse: .*needs at least ${MIN_CELLS} cells \\(this file has 1\\)$`));
  assert.ok(lines.every((l) => !/^\s+at |Error\b/.test(l)), r.stderr);
});
