import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import task, { UMI_COLUMNS } from "../../src/tasks/get-n-umis.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { ObsColumn } from "../../src/experiment/types.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { H5_FIXTURES, PBMC_SMALL } from "../helpers.ts";
import { runBody, rejectsWith as rejects } from "../task-helpers.ts";

const CACHE = join(tmpdir(), "cellworker-test-cache");
const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: CACHE });
const lognorm = await openExperiment({ path: join(H5_FIXTURES, "anndata07_seed_layout.h5ad"), cacheDir: CACHE });

async function run(on: Experiment, body: Record<string, unknown> = {}): Promise<(number | null)[]> {
  return (await runBody(task, on, { name: "GetNUmis", ...body })) as (number | null)[];
}


const withObs = (base: Experiment, extra: ObsColumn[], cellIds?: Int32Array): Experiment =>
  new Experiment({ ...base.data, obs: [...base.data.obs, ...extra], ...(cellIds ? { cellIds } : {}) }, base.state, base.cellSets, base.cache);

// Independent reference: Seurat's nCount_RNA from the dataset's annotations.csv
const annotated = exp.data.obs.find((c) => c.name === "nCount_RNA");
assert.ok(annotated?.kind === "numeric");
const nCount = annotated.values;

test("log10 of the total counts per cell, indexed by cell id (= Seurat's log10(nCount_RNA))", async () => {
  const out = await run(exp);
  assert.equal(out.length, 80);
  out.forEach((v, id) => assert.equal(v, Math.log10(nCount[id]!), `cell ${id}`));
  assert.equal(out[0], Math.log10(70)); // first cell of annotations.csv: nCount_RNA 70
  // by hand from the matrix for one cell
  const m = exp.data.matrix;
  let total = 0;
  for (let q = 0; q < m.indices.length; q++) if (m.indices[q] === 41) total += m.values[q]!;
  assert.equal(out[41], Math.log10(total));
});

test("ids not in the data are null gaps; a cell with no counts is null", async () => {
  const totals = Float64Array.from(exp.state.qc.totalCounts);
  totals[5] = 0;
  const gappy = new Experiment(
    { ...exp.data, cellIds: Int32Array.from({ length: 80 }, (_, i) => i + 10) },
    { ...exp.state, qc: { ...exp.state.qc, totalCounts: totals } },
    exp.cellSets,
    exp.cache,
  );
  const out = await run(gappy);
  assert.equal(out.length, 90);
  assert.deepEqual(out.slice(0, 10), new Array(10).fill(null));
  for (let i = 0; i < 80; i++) assert.equal(out[i + 10], i === 5 ? null : Math.log10(nCount[i]!));
});

test("log-normalised-only data: UMI counts are unknown → COLUMN_NOT_FOUND", async () => {
  assert.equal(lognorm.data.matrixKind, "lognorm");
  await rejects(run(lognorm), ErrorCode.COLUMN_NOT_FOUND, /^nCount_RNA is not computed for this experiment\. .*log-normalised values only/);
});

test("log-normalised-only data with a UMI column in obs: log10 of that column (NaN → null)", async () => {
  const values = Float64Array.from({ length: 80 }, (_, i) => 100 + i);
  values[7] = NaN;
  const out = await run(withObs(lognorm, [{ name: "total_counts", kind: "numeric", values }]));
  out.forEach((v, i) => assert.equal(v, i === 7 ? null : Math.log10(100 + i)));
  // the first name of the list present wins
  const first = await run(withObs(lognorm, [
    { name: "total_counts", kind: "numeric", values },
    { name: "nCount_RNA", kind: "numeric", values: Float64Array.from({ length: 80 }, () => 1000) },
  ]));
  assert.ok(first.every((v) => v === 3));
  assert.deepEqual([...UMI_COLUMNS], ["nCount_RNA", "total_counts", "n_counts", "nUMI"]);
  // numbers stored as a categorical
  const cat = await run(withObs(lognorm, [{ name: "n_counts", kind: "categorical", categories: ["10", "100"], codes: Int32Array.from({ length: 80 }, (_, i) => (i === 0 ? -1 : i % 2)) }]));
  assert.equal(cat[0], null);
  assert.equal(cat[1], 2);
  assert.equal(cat[2], 1);
  // a column by that name that is not numbers
  await rejects(run(withObs(lognorm, [{ name: "nUMI", kind: "string", values: new Array(80).fill("x") }])), ErrorCode.DATA_INVALID, /"nUMI" is not numeric/);
});

test("the body is only the name", async () => {
  await rejects(run(exp, { log: false }), ErrorCode.INVALID_INPUT, /log/);
  assert.equal(task.cacheable, true);
});
