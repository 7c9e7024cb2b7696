import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { runTask } from "../../src/compute/run-task.ts";
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

/** The failure a GetEmbedding body gets: its code and one-line message. */
async function failure(body: Record<string, unknown>, experiment: Experiment = exp): Promise<{ code: string; message: string }> {
  const r = await runTask(experiment, { body: { name: "GetEmbedding", ...body } });
  assert.ok(!r.ok, `expected an error, got a result for ${JSON.stringify(body)}`);
  assert.ok(!r.message.includes("\n"), r.message);
  return { code: r.code, message: r.message };
}

test("umap minimumDistance is bounded by the spread (1), as umap-learn requires", async () => {
  for (const minimumDistance of [10, 100, 1.01]) {
    const f = await failure({ type: "umap", config: { minimumDistance } });
    assert.equal(f.code, "INVALID_INPUT");
    assert.match(f.message, /^body\.config\.minimumDistance: must be between 0 and 1 /);
  }
  assert.equal((await failure({ type: "umap", config: { minimumDistance: -0.1 } })).code, "INVALID_INPUT");
  const edge = await embedding({ type: "umap", config: { minimumDistance: 1 } });
  assert.ok(edge.every((p) => p !== null && p.every(Number.isFinite)));
});

test("an embedding with non-finite coordinates is an error, never a result, and is not memoised", async () => {
  const { computeEmbedding } = await import("../../src/experiment/embeddings.ts");
  const { WorkerError } = await import("../../src/result/errors.ts");
  const { Experiment } = await import("../../src/experiment/experiment.ts");
  // UMAP starts from the first two PCs: with NaN scores every coordinate stays NaN
  const scores = new Float64Array(exp.state.pca.scores.length).fill(NaN);
  const broken = new Experiment(exp.data, { ...exp.state, pca: { ...exp.state.pca, scores } }, exp.cellSets, exp.cache);
  const params = { type: "umap", minDist: 0.3, metric: "euclidean" } as const;
  await assert.rejects(computeEmbedding(broken, params), (err: unknown) => {
    assert.ok(err instanceof WorkerError, String(err));
    assert.equal(err.code, "WORKER_ERROR");
    assert.match(err.message, /^The umap layout failed: 80 of 80 cells got non-finite coordinates/);
    return true;
  });
  assert.ok(!broken.hasMemo(`embedding:${JSON.stringify(params)}`));
  // a file's saved embedding with a NaN is DATA_INVALID
  const values = new Float64Array(80 * 2).fill(1);
  values[7 * 2 + 1] = NaN;
  const saved = new Experiment({ ...exp.data, embeddings: { X_umap: { dims: 2, values } } }, exp.state, exp.cellSets, exp.cache);
  const f = await failure({ type: "umap", useSaved: true }, saved);
  assert.equal(f.code, "DATA_INVALID");
  assert.match(f.message, /X_umap.*1 of 80 cells/);
  values[7 * 2 + 1] = 2;
  const ok = await runTask(saved, { body: { name: "GetEmbedding", type: "umap", useSaved: true } });
  assert.ok(ok.ok && (ok.data as number[][])[7]![1] === 2);
});

test("tsne perplexity given explicitly must leave 3 × perplexity neighbours among the cells", async () => {
  // 80 cells: each has 79 others, so at most 79 / 3 = 26.33
  for (const perplexity of [30, 26.34, 500]) {
    const f = await failure({ type: "tsne", config: { perplexity } });
    assert.equal(f.code, "INVALID_INPUT");
    assert.match(f.message, /^body\.config\.perplexity: at most 26\.33 for this experiment's 80 cells /);
  }
  const edge = await embedding({ type: "tsne", config: { perplexity: 26.33 } });
  assert.ok(edge.every((p) => p !== null && p.every(Number.isFinite)));
});
