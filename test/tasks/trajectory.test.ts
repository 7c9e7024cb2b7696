/**
 * GetTrajectoryAnalysisStartingNodes and GetTrajectoryAnalysisPseudoTime: result shapes
 * (spec §5.14, §5.15), cell selection, errors, and pseudotime on real data with a known
 * order: HSMM (Trapnell et al. 2014, myoblasts collected 0, 24, 48 and 72 h into
 * differentiation; test/fixtures/trajectory/SOURCE.md).
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { registry } from "../../src/tasks/registry.ts";
import startingNodes from "../../src/tasks/get-trajectory-analysis-starting-nodes.ts";
import pseudoTime, { NO_ROOT_NODES } from "../../src/tasks/get-trajectory-analysis-pseudo-time.ts";
import { wireErrorCode } from "../../src/publish/wire-error-codes.ts";
import { computeEmbedding } from "../../src/experiment/embeddings.ts";
import { PBMC_SMALL, ROOT } from "../helpers.ts";
import { rejectsWith, runBody } from "../task-helpers.ts";
import { spearman } from "../numerics/rank-correlation.ts";

const HSMM = join(ROOT, "test", "fixtures", "trajectory", "hsmm");
const COMMON = {
  embedding: { method: "umap", methodSettings: { distanceMetric: "euclidean", minimumDistance: 0.3 }, ETag: "e" },
  clustering: { method: "louvain", resolution: 0.8 },
};

interface Nodes { connectedNodes: number[][]; x: number[]; y: number[] }
interface Times { pseudotime: (number | null)[] }

let small: Experiment;
before(async () => { small = await openExperiment({ path: PBMC_SMALL, cacheDir: null }); });

test("both tasks are registered, cacheable, without effect, and their examples validate", () => {
  for (const task of [startingNodes, pseudoTime]) {
    assert.equal(registry.get(task.name), task);
    assert.equal(task.cacheable, true);
    assert.equal(task.effect, "none");
    task.validate(task.example);
  }
});

test("starting nodes: one tree, node i's neighbours above i listed once, coordinates in the UMAP's range", async () => {
  const out = (await runBody(startingNodes, small, { ...COMMON, cellSets: ["louvain"] })) as Nodes;
  const k = out.x.length;
  assert.ok(k >= 2, `nodes: ${k}`);
  assert.equal(out.y.length, k);
  assert.equal(out.connectedNodes.length, k);
  let edges = 0;
  out.connectedNodes.forEach((list, i) => {
    assert.ok(Array.isArray(list));
    list.forEach((j, m) => { assert.ok(Number.isInteger(j) && j > i && j < k); if (m > 0) assert.ok(j > list[m - 1]!); });
    edges += list.length;
  });
  assert.equal(edges, k - 1, "a tree has nodes - 1 edges");
  const umap = await computeEmbedding(small, { type: "umap", minDist: 0.3, metric: "euclidean" });
  const xs = umap.filter((_, i) => i % 2 === 0), ys = umap.filter((_, i) => i % 2 === 1);
  for (const [v, all] of [[out.x, xs], [out.y, ys]] as const) {
    for (const c of v) assert.ok(c >= Math.min(...all) - 1e-9 && c <= Math.max(...all) + 1e-9);
  }
});

test("pseudotime: per cell id up to the largest selected id, null outside the selection, 0 at the root", async () => {
  const cluster = small.cellSets.find((c) => c.key === "louvain")!.children[0]!;
  const body = { ...COMMON, cellSets: [cluster.key] };
  const nodes = (await runBody(startingNodes, small, body)) as Nodes;
  const out = (await runBody(pseudoTime, small, { ...body, rootNodes: [0] })) as Times;
  const ids = new Set(cluster.cellIds);
  assert.equal(out.pseudotime.length, Math.max(...cluster.cellIds) + 1);
  out.pseudotime.forEach((t, id) => {
    if (ids.has(id)) assert.ok(t !== null && t >= 0 && Number.isFinite(t), `cell ${id}: ${t}`);
    else assert.equal(t, null);
  });
  // the same graph serves both tasks: the root node's position has pseudotime 0, and the
  // largest pseudotime is at most the tree's total length
  let length = 0;
  nodes.connectedNodes.forEach((list, i) => { for (const j of list) length += Math.hypot(nodes.x[j]! - nodes.x[i]!, nodes.y[j]! - nodes.y[i]!); });
  const values = out.pseudotime.filter((t): t is number => t !== null);
  assert.ok(Math.max(...values) <= length + 1e-9);
  assert.ok(Math.min(...values) < length / 2);
  // two roots: never later than either alone
  const last = nodes.x.length - 1;
  const other = (await runBody(pseudoTime, small, { ...body, rootNodes: [last] })) as Times;
  const both = (await runBody(pseudoTime, small, { ...body, rootNodes: [0, last] })) as Times;
  both.pseudotime.forEach((t, id) => {
    if (t === null) return;
    assert.ok(Math.abs(t - Math.min(out.pseudotime[id]!, other.pseudotime[id]!)) < 1e-9);
  });
});

test("errors: no root, a root past the nodes, an unknown set, no set, another embedding, an unknown field", async () => {
  const body = { ...COMMON, cellSets: ["louvain"] };
  await rejectsWith(runBody(pseudoTime, small, { ...body, rootNodes: [] }), "EMPTY_ROOT_NODES", new RegExp(NO_ROOT_NODES));
  assert.equal(wireErrorCode("EMPTY_ROOT_NODES"), "R_WORKER_TRAJECTORY_ANALYSIS_EMPTY_ROOT_NODES", "the code the UI branches on");
  await rejectsWith(runBody(pseudoTime, small, { ...body, rootNodes: [100_000] }), "INVALID_INPUT", /rootNodes: node 100000 does not exist/);
  await rejectsWith(runBody(pseudoTime, small, { ...body, rootNodes: [-1] }), "INVALID_INPUT", /rootNodes/);
  await rejectsWith(runBody(startingNodes, small, { ...COMMON, cellSets: ["no-such-set"] }), "INVALID_INPUT", /no cell set with key "no-such-set"/);
  await rejectsWith(runBody(startingNodes, small, { ...COMMON, cellSets: [] }), "INVALID_INPUT", /cellSets/);
  await rejectsWith(runBody(startingNodes, small, { ...body, embedding: { method: "tsne", methodSettings: {} } }), "INVALID_INPUT", /embedding.method/);
  await rejectsWith(runBody(startingNodes, small, { ...body, extra: 1 }), "INVALID_INPUT", /extra/);
  await rejectsWith(runBody(startingNodes, small, { ...COMMON, cellSets: ["scratchpad"] }), "EMPTY_CELL_SET", /no cells/);
});

test("HSMM myoblast differentiation: pseudotime follows collection time and agrees with monocle 1's published ordering", async (t) => {
  const exp = await openExperiment({ path: HSMM, cacheDir: null });
  const rows = readFileSync(join(HSMM, "annotations.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
  const byBarcode = new Map(rows.map(([barcode, hours, , fibroblast, monocle1]) => [barcode!, { hours: Number(hours), fibroblast: fibroblast === "yes", monocle1: Number(monocle1) }]));
  const cellInfo = (cell: number) => byBarcode.get(exp.data.barcodes[cell]!)!;

  for (const cellSets of [["louvain"], ["fibroblast-no"]]) {
    const body = { ...COMMON, cellSets };
    const nodes = (await runBody(startingNodes, exp, body)) as Nodes;
    // the root a user would click: the node nearest the 0 h cells' centre on the UMAP
    const umap = await computeEmbedding(exp, { type: "umap", minDist: 0.3, metric: "euclidean" });
    let mx = 0, my = 0, m = 0;
    for (let c = 0; c < exp.nCells; c++) {
      const info = cellInfo(c);
      if (info.hours === 0 && (cellSets[0] === "louvain" || !info.fibroblast)) { mx += umap[2 * c]!; my += umap[2 * c + 1]!; m++; }
    }
    mx /= m; my /= m;
    let root = 0;
    nodes.x.forEach((x, j) => { if ((x - mx) ** 2 + (nodes.y[j]! - my) ** 2 < (nodes.x[root]! - mx) ** 2 + (nodes.y[root]! - my) ** 2) root = j; });
    const out = (await runBody(pseudoTime, exp, { ...body, rootNodes: [root] })) as Times;
    const ours: number[] = [], hours: number[] = [], monocle1: number[] = [];
    exp.data.cellIds.forEach((id, c) => {
      const value = out.pseudotime[id];
      if (value === null || value === undefined) return;
      ours.push(value); hours.push(cellInfo(c).hours); monocle1.push(cellInfo(c).monocle1);
    });
    const rho = spearman(ours, hours), rhoMonocle1 = spearman(monocle1, hours);
    t.diagnostic(`${cellSets[0]}: ${ours.length} cells, Spearman with hours ${rho.toFixed(3)} (monocle 1's published pseudotime: ${rhoMonocle1.toFixed(3)}), with monocle 1's pseudotime ${spearman(ours, monocle1).toFixed(3)}`);
    assert.equal(ours.length, cellSets[0] === "louvain" ? 271 : 162);
    if (cellSets[0] === "louvain") {
      // all cells, fibroblasts included: closer to collection time than monocle 1's ordering (0.46)
      assert.ok(rho >= 0.55, `Spearman with hours ${rho}`);
      assert.ok(rho > rhoMonocle1, `ours ${rho} vs monocle 1 ${rhoMonocle1}`);
    } else {
      // myoblasts only (the cells monocle 1 ordered): a little below monocle 1 (0.58) on time,
      // and the two orderings agree
      assert.ok(rho >= 0.5, `Spearman with hours ${rho}`);
      assert.ok(spearman(ours, monocle1) >= 0.7, `Spearman with monocle 1's pseudotime ${spearman(ours, monocle1)}`);
    }
  }
});
