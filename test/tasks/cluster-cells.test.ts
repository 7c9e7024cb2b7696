import { before, test } from "node:test";
import assert from "node:assert/strict";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { runTask } from "../../src/compute/run-task.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { PBMC_SMALL } from "../helpers.ts";

let exp: Experiment;
before(async () => { exp = await openExperiment({ path: PBMC_SMALL, cacheDir: null }); });

async function cluster(body: Record<string, unknown>): Promise<CellClass> {
  const r = await runTask(exp, { body: { name: "ClusterCells", ...body } });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.cacheable, false);
  return r.data as CellClass;
}

test("louvain at the default resolution returns the preprocessing clusters as a class", async () => {
  const cls = await cluster({ type: "louvain", cellSetKey: "louvain", cellSetName: "Louvain clusters" });
  assert.equal(cls.key, "louvain");
  assert.equal(cls.name, "Louvain clusters");
  assert.equal(cls.rootNode, true);
  assert.equal(cls.type, "cellSets");
  const ids = cls.children.flatMap((c) => c.cellIds).sort((a, b) => a - b);
  assert.deepEqual(ids, Array.from({ length: 80 }, (_, i) => i)); // every cell exactly once
  cls.children.forEach((c, n) => {
    assert.equal(c.key, `louvain-${n}`);
    assert.equal(c.name, `Cluster ${n}`);
    assert.equal(c.rootNode, false);
    assert.match(c.color!, /^#[0-9a-f]{6}$/);
    assert.deepEqual(c.cellIds, [...c.cellIds].sort((a, b) => a - b));
    if (n > 0) assert.ok(cls.children[n - 1]!.cellIds.length >= c.cellIds.length, "numbered by decreasing size");
  });
  exp.state.louvain.forEach((label, i) => assert.ok(cls.children[label]!.cellIds.includes(i)));
});

test("resolution changes the number of clusters; config and 2021 params both work", async () => {
  const low = await cluster({ type: "louvain", config: { resolution: 0.1 } });
  const high = await cluster({ type: "louvain", params: { resolution: 3 } });
  assert.ok(high.children.length > low.children.length, `${high.children.length} vs ${low.children.length}`);
});

test("leiden clusters with keys leiden-n, default name, and the class replaces louvain first", async () => {
  const cls = await cluster({ type: "leiden", config: { resolution: 1 } });
  assert.equal(cls.key, "louvain");
  assert.equal(cls.name, "leiden clusters");
  assert.ok(cls.children.every((c, n) => c.key === `leiden-${n}`));
  assert.equal(exp.cellSets[0], cls);
  assert.equal(exp.cellSets.filter((c) => c.key === "louvain").length, 1);
  assert.ok(exp.cellSets.some((c) => c.key === "scratchpad"));
});

test("a custom key adds a class without removing louvain; the result is deterministic", async () => {
  const a = await cluster({ type: "louvain", config: { resolution: 1.2 }, cellSetKey: "mine", cellSetName: "Mine" });
  const b = await cluster({ type: "louvain", config: { resolution: 1.2 }, cellSetKey: "mine", cellSetName: "Mine" });
  assert.deepEqual(a, b);
  assert.equal(exp.cellSets[0]!.key, "mine");
  assert.ok(exp.cellSets.some((c) => c.key === "louvain"));
});

test("invalid bodies are INVALID_INPUT naming the field", async () => {
  for (const [body, field] of [
    [{ type: "kmeans" }, "body.type"],
    [{ type: "louvain", config: { resolution: -1 } }, "body.config.resolution"],
    [{ type: "louvain", config: { resolution: 1e9 } }, "body.config.resolution"],
  ] as const) {
    const r = await runTask(exp, { body: { name: "ClusterCells", ...body } });
    assert.ok(!r.ok);
    assert.equal(r.code, "INVALID_INPUT");
    assert.ok(r.message.startsWith(field), r.message);
  }
});

/** Every key in the cell-set tree (classes and sets), with the duplicates. */
function duplicateKeys(sets: CellClass[]): string[] {
  const keys = sets.flatMap((c) => [c.key, ...c.children.map((s) => s.key)]);
  return keys.filter((k, i) => keys.indexOf(k) !== i);
}

async function refused(body: Record<string, unknown>, pattern: RegExp): Promise<void> {
  const before = exp.cellSets;
  const r = await runTask(exp, { body: { name: "ClusterCells", ...body } });
  assert.ok(!r.ok, JSON.stringify(r).slice(0, 200));
  assert.equal(r.code, "INVALID_INPUT");
  assert.match(r.message, pattern);
  assert.ok(!r.message.includes("\n"));
  assert.equal(exp.cellSets, before, "cell sets unchanged");
}

test("a cellSetKey that is a cell set's key, the scratchpad or a metadata class is refused; keys stay unique", async () => {
  await cluster({ type: "louvain" }); // the default louvain class, children louvain-0...
  assert.deepEqual(duplicateKeys(exp.cellSets), []);
  const child = exp.cellSets.find((c) => c.key === "louvain")!.children[0]!;
  await refused({ type: "louvain", cellSetKey: child.key, config: { resolution: 1.1 } },
    new RegExp(`cellSetKey "${child.key}" is already the key of cell set "${child.name}" in class "louvain clusters"`));
  const metadata = exp.cellSets.find((c) => c.type === "metadataCategorical")!;
  await refused({ type: "leiden", cellSetKey: metadata.key }, new RegExp(`cellSetKey "${metadata.key}" is the metadata class`));
  const metaChild = metadata.children[0]!;
  await refused({ type: "leiden", cellSetKey: metaChild.key }, new RegExp(`"${metaChild.key}" is already the key of cell set`));
  await refused({ type: "louvain", cellSetKey: "scratchpad" }, /"scratchpad" is the custom cell sets class/);
  assert.deepEqual(duplicateKeys(exp.cellSets), []);
});

test("cluster keys taken elsewhere in the tree get the class key as prefix, never a duplicate", async () => {
  // another class of clusters: keyed by its own key
  const mine = await cluster({ type: "leiden", config: { resolution: 1 }, cellSetKey: "mine2" });
  assert.ok(mine.children.every((c, n) => c.key === `mine2-${n}`));
  assert.deepEqual(duplicateKeys(exp.cellSets), []);
  // a custom set already keyed like a cluster (an obs column "leiden" gives leiden-0, leiden-1, ...)
  const saved = exp.cellSets;
  try {
    exp.cellSets = exp.cellSets.map((c) => (c.key === "scratchpad"
      ? { ...c, children: [...c.children, { key: "leiden-0", name: "taken", rootNode: false, type: "cellSets", cellIds: [0] }] }
      : c));
    const cls = await cluster({ type: "leiden", config: { resolution: 1 } });
    assert.equal(cls.key, "louvain");
    assert.ok(cls.children.every((c, n) => c.key === `louvain-leiden-${n}`), cls.children.map((c) => c.key).join());
    assert.deepEqual(duplicateKeys(exp.cellSets), []);
    // both prefixes taken: refused, naming the key
    exp.cellSets = exp.cellSets.map((c) => (c.key === "scratchpad"
      ? { ...c, children: [...c.children, { key: "louvain-leiden-0", name: "taken too", rootNode: false, type: "cellSets", cellIds: [1] }] }
      : c));
    await refused({ type: "leiden", config: { resolution: 1 } }, /would create the key "louvain-leiden-0", which cell set "taken too" in class "Custom cell sets" already has/);
  } finally {
    exp.cellSets = saved;
  }
});
