import { after, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ThreadHost } from "../../src/compute/thread-host.ts";
import { PBMC3K, PBMC_SMALL, tempDir } from "../helpers.ts";
import { tmpdir } from "node:os";

const hosts: ThreadHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));

function host(taskTimeoutMs = 60_000, openTimeoutMs = 60_000): ThreadHost {
  const h = new ThreadHost({ taskTimeoutMs, openTimeoutMs });
  hosts.push(h);
  return h;
}

test("tasks run in the compute thread, with progress and the experiment's cell sets", async () => {
  const h = host();
  await h.open({ path: PBMC_SMALL, cacheDir: null });
  assert.ok(h.cellSets.some((c) => c.key === "louvain"));
  const pca = await h.run({ body: { name: "GetEmbedding", type: "pca" } });
  assert.ok(pca.result.ok);
  assert.equal((pca.result.data as unknown[]).length, 80);
  const clustered = await h.run({ body: { name: "ClusterCells", type: "louvain", config: { resolution: 2 }, cellSetKey: "louvain" } });
  assert.ok(clustered.result.ok);
  assert.ok(clustered.cellSets, "changed cell sets come back");
  assert.equal(h.cellSets[0]!.key, "louvain");
  const unknown = await h.run({ body: { name: "Nope" } });
  assert.ok(!unknown.result.ok && unknown.result.code === "TASK_NOT_FOUND");
});

test("a task past its time limit is stopped with TIMEOUT and the next request works", async () => {
  const h = host(300);
  await h.open({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
  const slow = await h.run({ body: { name: "GetEmbedding", type: "tsne", config: { perplexity: 31 } } });
  assert.ok(!slow.result.ok);
  assert.equal(slow.result.code, "TIMEOUT");
  await h.open({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
  const quick = await h.run({ body: { name: "GetEmbedding", type: "pca" } });
  assert.ok(quick.result.ok);
});

test("a file that fails to load is an error result, not a crash; loading has a time limit", async (t) => {
  const dir = tempDir(t);
  const bad = join(dir, "bad.h5ad");
  writeFileSync(bad, "not hdf5 at all");
  const h = host();
  await assert.rejects(h.open({ path: bad, cacheDir: null }), (err: { code?: string }) => err.code === "DATA_INVALID");
  const r = await h.run({ body: { name: "GetEmbedding", type: "pca" } });
  assert.ok(!r.result.ok);
  const slowOpen = host(60_000, 1);
  await assert.rejects(slowOpen.open({ path: PBMC3K, cacheDir: null }), (err: { code?: string; message: string }) => err.code === "DATA_INVALID" && /took longer/.test(err.message));
});
