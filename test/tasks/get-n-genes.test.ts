import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import task from "../../src/tasks/get-n-genes.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import { ErrorCode, WorkerError } from "../../src/result/errors.ts";
import { H5_FIXTURES, PBMC_SMALL } from "../helpers.ts";
import { runBody } from "../task-helpers.ts";

const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: join(tmpdir(), "cellworker-test-cache") });

async function run(on: Experiment, body: Record<string, unknown> = {}): Promise<(number | null)[]> {
  return (await runBody(task, on, { name: "GetNGenes", ...body })) as (number | null)[];
}

// Independent reference: Seurat's nFeature_RNA from the dataset's annotations.csv
const obs = exp.data.obs.find((c) => c.name === "nFeature_RNA");
assert.ok(obs?.kind === "numeric");
const nFeature = obs.values;

test("log10 of the genes detected per cell, indexed by cell id (= Seurat's log10(nFeature_RNA))", async () => {
  const out = await run(exp);
  assert.equal(out.length, 80);
  out.forEach((v, id) => assert.equal(v, Math.log10(nFeature[id]!), `cell ${id}`));
  assert.equal(out[0], Math.log10(47)); // first cell of annotations.csv: nFeature_RNA 47
});

test("ids not in the data are null gaps; a cell with no gene detected is null", async () => {
  const detected = Int32Array.from(exp.state.qc.genesDetected);
  detected[3] = 0;
  const gappy = new Experiment(
    { ...exp.data, cellIds: Int32Array.from({ length: 80 }, (_, i) => 2 * i + 1) },
    { ...exp.state, qc: { ...exp.state.qc, genesDetected: detected } },
    exp.cellSets,
    exp.cache,
  );
  const out = await run(gappy);
  assert.equal(out.length, 160);
  for (let id = 0; id < 160; id += 2) assert.equal(out[id], null);
  for (let i = 0; i < 80; i++) assert.equal(out[2 * i + 1], i === 3 ? null : Math.log10(nFeature[i]!));
});

test("log-normalised-only data: detected genes are its non-zeros, the same as from the counts", async () => {
  const lognorm = await openExperiment({ path: join(H5_FIXTURES, "anndata07_seed_layout.h5ad"), cacheDir: join(tmpdir(), "cellworker-test-cache") });
  assert.equal(lognorm.data.matrixKind, "lognorm");
  assert.deepEqual(await run(lognorm), await run(exp));
});

test("the body is only the name", async () => {
  await assert.rejects(run(exp, { config: {} }), (err: unknown) => err instanceof WorkerError && err.code === ErrorCode.INVALID_INPUT && /config/.test(err.message));
  assert.equal(task.body.safeParse({ name: "GetNUmis" }).success, false);
  assert.equal(task.cacheable, true);
});
