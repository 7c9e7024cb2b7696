import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import task, { MITO_COLUMNS } from "../../src/tasks/get-mitochondrial-content.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { ObsColumn } from "../../src/experiment/types.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { H5_FIXTURES, PBMC3K, PBMC_SMALL } from "../helpers.ts";
import { runBody, rejectsWith as rejects } from "../task-helpers.ts";

const CACHE = join(tmpdir(), "cellworker-test-cache");
const exp = await openExperiment({ path: PBMC3K, cacheDir: CACHE });

async function run(on: Experiment, body: Record<string, unknown> = {}): Promise<(number | null)[]> {
  return (await runBody(task, on, { name: "GetMitochondrialContent", ...body })) as (number | null)[];
}


test("percent of each cell's counts in MT- genes, indexed by cell id", async () => {
  const out = await run(exp);
  assert.equal(out.length, exp.nCells);
  // independent reference: dense sums per cell over all genes and over the 13 MT- genes
  const m = exp.data.matrix;
  const mitoGenes = exp.data.genes.symbols.flatMap((s, g) => (s.startsWith("MT-") ? [g] : []));
  assert.equal(mitoGenes.length, 13);
  const total = new Float64Array(exp.nCells);
  const mito = new Float64Array(exp.nCells);
  for (let g = 0; g < exp.nGenes; g++) {
    for (let q = m.indptr[g]!; q < m.indptr[g + 1]!; q++) total[m.indices[q]!]! += m.values[q]!;
  }
  for (const g of mitoGenes) for (let q = m.indptr[g]!; q < m.indptr[g + 1]!; q++) mito[m.indices[q]!]! += m.values[q]!;
  for (let c = 0; c < exp.nCells; c++) {
    const expected = (100 * mito[c]!) / total[c]!;
    assert.ok(Math.abs(out[c]! - expected) <= 1e-12 * Math.max(1, expected), `cell ${c}: ${out[c]} vs ${expected}`);
  }
  const values = out as number[];
  assert.ok(values.every((v) => v >= 0 && v <= 100));
  assert.ok(values.some((v) => v > 5));
});

test("no mitochondrial gene: 0 for every cell; ids not in the data are null", async () => {
  const small = await openExperiment({ path: PBMC_SMALL, cacheDir: CACHE });
  assert.deepEqual(await run(small), new Array(80).fill(0));
  const gappy = new Experiment({ ...small.data, cellIds: Int32Array.from({ length: 80 }, (_, i) => (i < 40 ? i : i + 5)) }, small.state, small.cellSets, small.cache);
  const out = await run(gappy);
  assert.equal(out.length, 85);
  assert.deepEqual(out.slice(38, 47), [0, 0, null, null, null, null, null, 0, 0]);
});

test("log-normalised-only data: from an obs column, else COLUMN_NOT_FOUND", async () => {
  const lognorm = await openExperiment({ path: join(H5_FIXTURES, "anndata07_seed_layout.h5ad"), cacheDir: CACHE });
  await rejects(run(lognorm), ErrorCode.COLUMN_NOT_FOUND, /^percent\.mt is not computed for this experiment\. .*log-normalised/);
  const values = Float64Array.from({ length: 80 }, (_, i) => i / 10);
  values[2] = NaN;
  const col: ObsColumn = { name: "pct_counts_mt", kind: "numeric", values };
  const out = await run(new Experiment({ ...lognorm.data, obs: [...lognorm.data.obs, col] }, lognorm.state, lognorm.cellSets, lognorm.cache));
  out.forEach((v, i) => assert.equal(v, i === 2 ? null : i / 10));
  assert.deepEqual([...MITO_COLUMNS], ["percent.mt", "pct_counts_mt", "percent_mito", "percent.mito"]);
});

test("the body is only the name", async () => {
  await rejects(run(exp, { prefix: "mt-" }), ErrorCode.INVALID_INPUT, /prefix/);
  assert.equal(task.cacheable, true);
});
