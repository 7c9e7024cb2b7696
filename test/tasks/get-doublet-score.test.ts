import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import task from "../../src/tasks/get-doublet-score.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { ObsColumn } from "../../src/experiment/types.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { PBMC_SMALL } from "../helpers.ts";
import { runBody, rejectsWith as rejects } from "../task-helpers.ts";

const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: join(tmpdir(), "cellworker-test-cache") });

async function run(on: Experiment, body: Record<string, unknown> = {}): Promise<(number | null)[]> {
  return (await runBody(task, on, { name: "GetDoubletScore", ...body })) as (number | null)[];
}


const withObs = (extra: ObsColumn[], cellIds?: Int32Array): Experiment =>
  new Experiment({ ...exp.data, obs: [...exp.data.obs, ...extra], ...(cellIds ? { cellIds } : {}) }, exp.state, exp.cellSets, exp.cache);
const scores = (f: (i: number) => number): Float64Array => Float64Array.from({ length: 80 }, (_, i) => f(i));

test("no doublet column: COLUMN_NOT_FOUND with the original's message", async () => {
  await rejects(run(exp), ErrorCode.COLUMN_NOT_FOUND, /^doublet_scores is not computed for this experiment\.$/);
});

test("the doublet_scores column, indexed by cell id; missing values and absent ids are null", async () => {
  const values = scores((i) => i / 80);
  values[4] = NaN;
  const out = await run(withObs([{ name: "doublet_scores", kind: "numeric", values }], Int32Array.from({ length: 80 }, (_, i) => 79 - i + 3)));
  assert.equal(out.length, 83);
  assert.deepEqual(out.slice(0, 3), [null, null, null]);
  for (let i = 0; i < 80; i++) assert.equal(out[79 - i + 3], i === 4 ? null : i / 80, `cell index ${i}`);
});

test("scDblFinder.score when doublet_scores is absent; doublet_scores wins when both exist", async () => {
  const dbl = scores((i) => (i % 10) / 10);
  const out = await run(withObs([{ name: "scDblFinder.score", kind: "numeric", values: dbl }]));
  assert.deepEqual(out, Array.from(dbl));
  const both = await run(withObs([
    { name: "scDblFinder.score", kind: "numeric", values: dbl },
    { name: "doublet_scores", kind: "numeric", values: scores(() => 0.25) },
  ]));
  assert.ok(both.every((v) => v === 0.25));
});

test("a doublet column that is not numeric is DATA_INVALID", async () => {
  await rejects(
    run(withObs([{ name: "doublet_scores", kind: "categorical", categories: ["singlet", "doublet"], codes: new Int32Array(80) }])),
    ErrorCode.DATA_INVALID,
    /"doublet_scores" is not numeric/,
  );
  await rejects(run(withObs([{ name: "doublet_scores", kind: "boolean", values: new Uint8Array(80) }])), ErrorCode.DATA_INVALID, /not numeric/);
});

test("the body is only the name", async () => {
  await rejects(run(exp, { column: "x" }), ErrorCode.INVALID_INPUT, /column/);
  assert.equal(task.cacheable, true);
});
