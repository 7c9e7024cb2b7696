import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import task, { groupCountTotals, MIN_TOTAL_COUNT } from "../../src/tasks/get-background-expressed-genes.ts";
import { resolveDeGroups } from "../../src/tasks/shared/de-groups.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { H5_FIXTURES, PBMC3K } from "../helpers.ts";
import { runBody, rejectsWith as rejects } from "../task-helpers.ts";

const exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
const louvain = exp.cellSets.find((c) => c.key === "louvain")!;
const cellsOf = (key: string): number[] => louvain.children.find((c) => c.key === key)!.cellIds;

async function run(body: Record<string, unknown>, on: Experiment = exp): Promise<{ genes: string[] }> {
  return (await runBody(task, on, { name: "GetBackgroundExpressedGenes", ...body })) as { genes: string[] };
}


/** Independent reference: dense per-gene count sums over a list of cell indices (pbmc3k: id = index). */
function denseTotals(cells: number[]): Float64Array {
  const m = exp.data.matrix;
  const inGroup = new Uint8Array(exp.nCells);
  for (const c of cells) inGroup[c] = 1;
  const totals = new Float64Array(exp.nGenes);
  for (let g = 0; g < exp.nGenes; g++) {
    for (let q = m.indptr[g]!; q < m.indptr[g + 1]!; q++) if (inGroup[m.indices[q]!]) totals[g]! += m.values[q]!;
  }
  return totals;
}
const { symbols, ids } = exp.data.genes;
const namesAbove = (totals: Float64Array): string[] => {
  const out: string[] = [];
  for (let g = 0; g < symbols.length; g++) if (totals[g]! > 15) out.push(symbols[g] || ids[g]!);
  return out;
};

test("cluster vs rest: the genes whose summed count over both groups is > 15, in gene order", async () => {
  const { genes } = await run({ cellSet: "louvain-0", compareWith: "rest", basis: "all", comparisonType: "within" });
  const totals = denseTotals([...Array(exp.nCells).keys()]); // a cluster and the rest = every cell
  assert.deepEqual(genes, namesAbove(totals));
  assert.ok(genes.length > 1000 && genes.length < exp.nGenes, String(genes.length));
  // the boundary: a total of exactly 15 is out, 16 is in
  const at15 = symbols.findIndex((_, g) => totals[g] === 15);
  const at16 = symbols.findIndex((_, g) => totals[g] === 16);
  assert.ok(at15 >= 0 && at16 >= 0);
  assert.ok(!genes.includes(symbols[at15]!));
  assert.ok(genes.includes(symbols[at16]!));
  assert.equal(MIN_TOTAL_COUNT, 15);
});

test("two clusters: only their cells count", async () => {
  const { genes } = await run({ cellSet: "louvain-3", compareWith: "louvain-5" });
  const expected = namesAbove(denseTotals([...cellsOf("louvain-3"), ...cellsOf("louvain-5")]));
  assert.deepEqual(genes, expected);
  const all = await run({ cellSet: "louvain-3", compareWith: "background" });
  assert.ok(expected.length < all.genes.length);
  const totals = groupCountTotals(exp, resolveDeGroups(exp, { cellSet: "louvain-3", compareWith: "louvain-5" }));
  assert.deepEqual(Array.from(totals), Array.from(denseTotals([...cellsOf("louvain-3"), ...cellsOf("louvain-5")])));
});

test("basis restricts both groups", async () => {
  const saved = exp.cellSets;
  const half = Array.from({ length: 1350 }, (_, i) => i);
  exp.cellSets = [...saved, { key: "custom", name: "custom", rootNode: true, type: "cellSets", children: [{ key: "first-half", name: "half", cellIds: half }] }] as CellClass[];
  try {
    const { genes } = await run({ cellSet: "louvain-0", compareWith: "background", basis: "first-half" });
    assert.deepEqual(genes, namesAbove(denseTotals(half)));
  } finally {
    exp.cellSets = saved;
  }
});

test("errors as DifferentialExpression: unknown keys and empty groups are INVALID_INPUT", async () => {
  await rejects(run({ cellSet: "nope", compareWith: "rest" }), ErrorCode.INVALID_INPUT, /^cellSet: .*"nope"/);
  await rejects(run({ cellSet: "louvain-0", compareWith: "nope" }), ErrorCode.INVALID_INPUT, /^compareWith: .*"nope"/);
  await rejects(run({ cellSet: "louvain-0", compareWith: "louvain-0" }), ErrorCode.INVALID_INPUT, /^No cell id fullfills the 1st cell set\.$/);
  await rejects(run({ cellSet: "louvain-0", compareWith: "louvain-1", basis: "louvain-1" }), ErrorCode.INVALID_INPUT, /^No cell id fullfills the 1st cell set\.$/);
  await rejects(run({ cellSet: "louvain-0", compareWith: "louvain-1", basis: "louvain-0" }), ErrorCode.INVALID_INPUT, /^No cell id fullfills the 2nd cell set\.$/);
});

test("log-normalised-only data has no counts: DATA_UNSUPPORTED", async () => {
  const lognorm = await openExperiment({ path: join(H5_FIXTURES, "anndata07_seed_layout.h5ad"), cacheDir: join(tmpdir(), "cellworker-test-cache") });
  assert.equal(lognorm.data.matrixKind, "lognorm");
  await rejects(run({ cellSet: "louvain-0", compareWith: "rest" }, lognorm), ErrorCode.DATA_UNSUPPORTED, /raw counts/);
});

test("body validation is strict", async () => {
  const ok = { cellSet: "louvain-0", compareWith: "rest" };
  await rejects(run({ ...ok, extra: 1 }), ErrorCode.INVALID_INPUT, /extra/);
  await rejects(run({ compareWith: "rest" }), ErrorCode.INVALID_INPUT, /cellSet/);
  await rejects(run({ ...ok, comparisonType: "sideways" }), ErrorCode.INVALID_INPUT, /comparisonType/);
  await rejects(run({ ...ok, basis: 3 }), ErrorCode.INVALID_INPUT, /basis/);
  await rejects(run({ ...ok, cellSet: "k".repeat(1001) }), ErrorCode.INVALID_INPUT, /cellSet/);
  assert.deepEqual(await run({ ...ok, basis: null }), await run(ok));
});
