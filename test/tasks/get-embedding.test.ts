import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { runTask } from "../../src/compute/host.ts";
import { CLI, PBMC_SMALL } from "../helpers.ts";

let exp: Experiment;
before(async () => { exp = await openExperiment({ path: PBMC_SMALL, cacheDir: null }); });

async function embedding(body: Record<string, unknown>): Promise<([number, number] | null)[]> {
  const r = await runTask(exp, { body: { name: "GetEmbedding", ...body } });
  assert.ok(r.ok, JSON.stringify(r));
  return r.data as ([number, number] | null)[];
}

test("pca returns the first two stored PCs per cell id", async () => {
  const out = await embedding({ type: "pca" });
  const { scores, nPcs } = exp.state.pca;
  assert.equal(out.length, 80);
  out.forEach((p, i) => assert.deepEqual(p, [scores[i * nPcs]!, scores[i * nPcs + 1]!]));
});

test("umap and tsne: one finite pair per cell, config honoured, memoised", async () => {
  const a = await embedding({ type: "umap", config: { minimumDistance: 0.3, distanceMetric: "euclidean" } });
  const b = await embedding({ type: "umap", config: { minimumDistance: 0.9, distanceMetric: "cosine" } });
  const t = await embedding({ type: "tsne", config: { perplexity: 10, learningRate: 200 } });
  for (const e of [a, b, t]) {
    assert.equal(e.length, 80);
    assert.ok(e.every((p) => p !== null && p.every(Number.isFinite)));
  }
  assert.notDeepEqual(a, b);
  assert.ok(exp.hasMemo(`embedding:${JSON.stringify({ type: "umap", minDist: 0.3, metric: "euclidean" })}`));
});

test("the same umap request in two processes gives the same numbers", () => {
  const request = JSON.stringify({ uuid: "u", experimentId: "e", timeout: "2099-01-01T00:00:00Z", body: { name: "GetEmbedding", type: "umap" } });
  const run = () => spawnSync(process.execPath, [CLI, "run", "-", "--data", PBMC_SMALL, "--no-cache", "--quiet"], { input: request, encoding: "utf8" }).stdout;
  const first = run();
  assert.ok(first.length > 100);
  assert.equal(run(), first);
});

test("cell ids not in the data are null", async () => {
  const ids = Int32Array.from({ length: 80 }, (_, i) => (i < 40 ? i : i + 10)); // a gap 40..49
  const { Experiment } = await import("../../src/experiment/experiment.ts");
  const gappy = new Experiment({ ...exp.data, cellIds: ids }, exp.state, exp.cellSets, exp.cache);
  const r = await runTask(gappy, { body: { name: "GetEmbedding", type: "pca" } });
  assert.ok(r.ok);
  const out = r.data as unknown[];
  assert.equal(out.length, 90);
  assert.ok(out.slice(40, 50).every((p) => p === null));
  assert.ok(out[50] !== null && out[39] !== null);
});

test("bad type, bad config and images are errors", async () => {
  const bad = await runTask(exp, { body: { name: "GetEmbedding", type: "umap", config: { perplexity: -1 } } });
  assert.ok(!bad.ok && bad.code === "INVALID_INPUT" && bad.message.startsWith("body.config.perplexity"));
  const images = await runTask(exp, { body: { name: "GetEmbedding", type: "images" } });
  assert.ok(!images.ok && images.code === "DATA_UNSUPPORTED");
  const saved = await embedding({ type: "tsne", useSaved: true }); // no stored X_tsne: computed
  assert.equal(saved.length, 80);
});
