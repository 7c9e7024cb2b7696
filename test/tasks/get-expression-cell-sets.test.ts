import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import task, { formatRNumber, GENES_NOT_PRESENT, MAX_FILTERS, NO_CELLS_MATCH } from "../../src/tasks/get-expression-cell-sets.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import { colorAt, type CellClass, type CellSet } from "../../src/experiment/cell-sets/cell-sets.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { PBMC3K } from "../helpers.ts";
import { runBody, rejectsWith as rejects } from "../task-helpers.ts";

const exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
const DEFAULT_SETS = exp.cellSets;
const N = exp.nCells; // pbmc3k: cell id = cell index

async function run(body: Record<string, unknown>, on: Experiment = exp): Promise<CellSet> {
  return (await runBody(task, on, { name: "GetExpressionCellSets", ...body })) as CellSet;
}


// Independent reference: dense Seurat LogNormalize values of a gene
const m = exp.data.matrix;
const totals = new Float64Array(N);
for (let q = 0; q < m.indices.length; q++) totals[m.indices[q]!]! += m.values[q]!;
function dense(symbol: string): Float64Array {
  const g = exp.data.genes.symbols.indexOf(symbol);
  const v = new Float64Array(N);
  for (let q = m.indptr[g]!; q < m.indptr[g + 1]!; q++) v[m.indices[q]!] = Math.log1p((m.values[q]! / totals[m.indices[q]!]!) * 1e4);
  return v;
}
const where = (pred: (c: number) => boolean): number[] => Array.from({ length: N }, (_, c) => c).filter(pred);
const scratchpad = (): CellClass => exp.cellSets.find((c) => c.key === "scratchpad")!;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test("one filter: cells whose log-normalised expression is strictly above the threshold; set appended to scratchpad", async () => {
  exp.cellSets = DEFAULT_SETS;
  const cst3 = dense("CST3");
  const set = await run({ genesConfig: [{ geneName: "CST3", comparisonType: "greaterThan", thresholdValue: 0.5 }] });
  assert.deepEqual(set.cellIds, where((c) => cst3[c]! > 0.5));
  assert.ok(set.cellIds.length > 500 && set.cellIds.length < N);
  assert.equal(set.name, "CST3>0.5");
  assert.equal(set.rootNode, false);
  assert.equal(set.color, colorAt(0));
  assert.match(set.key, UUID);
  assert.equal("type" in set, false);
  assert.deepEqual(Object.keys(set), ["key", "name", "rootNode", "color", "cellIds"]);
  assert.deepEqual(scratchpad().children, [set]);
  // the default classes themselves were not mutated
  assert.deepEqual(DEFAULT_SETS.find((c) => c.key === "scratchpad")!.children, []);
  assert.equal(exp.cellSets.length, DEFAULT_SETS.length);
  assert.deepEqual(exp.cellSets.map((c) => c.key), DEFAULT_SETS.map((c) => c.key));
});

test("several filters are ANDed; lessThan includes cells with no count (value 0); names joined by ', '", async () => {
  exp.cellSets = DEFAULT_SETS;
  const lyz = dense("LYZ");
  const ms4a1 = dense("MS4A1");
  const cd3e = dense("CD3E");
  const first = await run({ genesConfig: [{ geneName: "CST3", comparisonType: "greaterThan", thresholdValue: 0.5 }] });
  const set = await run({
    genesConfig: [
      { geneName: "MS4A1", comparisonType: "greaterThan", thresholdValue: 1 },
      { geneName: "LYZ", comparisonType: "lessThan", thresholdValue: 2.25 },
      { geneName: "CD3E", comparisonType: "lessThan", thresholdValue: 0.0001 },
    ],
  });
  assert.deepEqual(set.cellIds, where((c) => ms4a1[c]! > 1 && lyz[c]! < 2.25 && cd3e[c]! < 0.0001));
  assert.ok(set.cellIds.some((c) => lyz[c] === 0), "cells without LYZ pass lessThan");
  assert.ok(set.cellIds.length > 50);
  assert.equal(set.name, "MS4A1>1, LYZ<2.25, CD3E<1e-04");
  assert.equal(set.color, colorAt(1));
  assert.deepEqual(scratchpad().children.map((c) => c.key), [first.key, set.key]);
  assert.notEqual(first.key, set.key);
});

test("a threshold equal to a value excludes it (strict comparison)", async () => {
  exp.cellSets = DEFAULT_SETS;
  const cst3 = dense("CST3");
  const t = cst3.find((v) => v > 1)!;
  const gt = await run({ genesConfig: [{ geneName: "CST3", comparisonType: "greaterThan", thresholdValue: t }] });
  const lt = await run({ genesConfig: [{ geneName: "CST3", comparisonType: "lessThan", thresholdValue: t }] });
  const equal = where((c) => cst3[c] === t);
  assert.ok(equal.length >= 1);
  assert.equal(gt.cellIds.length + lt.cellIds.length + equal.length, N);
  for (const c of equal) assert.ok(!gt.cellIds.includes(c) && !lt.cellIds.includes(c));
});

test("cell ids, not indices, and ascending; scratchpad created (last) when missing", async () => {
  const shifted = new Experiment({ ...exp.data, cellIds: Int32Array.from({ length: N }, (_, i) => N - 1 - i + 100) }, exp.state, [DEFAULT_SETS[0]!], exp.cache);
  const cst3 = dense("CST3");
  const set = await run({ genesConfig: [{ geneName: "CST3", comparisonType: "greaterThan", thresholdValue: 3 }] }, shifted);
  assert.deepEqual(set.cellIds, where((c) => cst3[c]! > 3).map((c) => N - 1 - c + 100).sort((a, b) => a - b));
  assert.deepEqual(shifted.cellSets.map((c) => c.key), ["louvain", "scratchpad"]);
  assert.deepEqual(shifted.cellSets[1], { key: "scratchpad", name: "Custom cell sets", rootNode: true, type: "cellSets", children: [set] });
});

test("errors: a gene not matching a symbol exactly, or no cell passing, is EMPTY_CELL_SET with the original's messages", async () => {
  exp.cellSets = DEFAULT_SETS;
  assert.equal(GENES_NOT_PRESENT, "Requested ExpressionCellSet with gene name(s) that are not present.");
  assert.equal(NO_CELLS_MATCH, "No cells match requested filters.");
  const gt = (geneName: string, thresholdValue = 0): Record<string, unknown> => ({ geneName, comparisonType: "greaterThan", thresholdValue });
  await rejects(run({ genesConfig: [gt("cst3")] }), ErrorCode.EMPTY_CELL_SET, /^Requested ExpressionCellSet with gene name\(s\) that are not present\.$/);
  await rejects(run({ genesConfig: [gt("CST3"), gt("NOT-A-GENE")] }), ErrorCode.EMPTY_CELL_SET, /not present/);
  await rejects(run({ genesConfig: [gt("CST3", 100)] }), ErrorCode.EMPTY_CELL_SET, /^No cells match requested filters\.$/);
  await rejects(run({ genesConfig: [gt("CST3", 3), { geneName: "CST3", comparisonType: "lessThan", thresholdValue: 3 }] }), ErrorCode.EMPTY_CELL_SET, /^No cells match/);
  assert.deepEqual(scratchpad().children, [], "a failed request adds nothing");
});

test("body validation is strict", async () => {
  const ok = { geneName: "CST3", comparisonType: "greaterThan", thresholdValue: 1 };
  const bad = (body: Record<string, unknown>, pattern: RegExp): Promise<void> => rejects(run(body), ErrorCode.INVALID_INPUT, pattern);
  await bad({ genesConfig: [] }, /genesConfig/);
  await bad({}, /genesConfig/);
  await bad({ genesConfig: [{ ...ok, comparisonType: "equal" }] }, /comparisonType/);
  await bad({ genesConfig: [{ ...ok, thresholdValue: "1" }] }, /thresholdValue/);
  await bad({ genesConfig: [{ geneName: "CST3", comparisonType: "lessThan" }] }, /thresholdValue/);
  await bad({ genesConfig: [{ ...ok, geneName: "" }] }, /geneName/);
  await bad({ genesConfig: [{ ...ok, extra: true }] }, /extra/);
  await bad({ genesConfig: [ok], config: { experimentId: "x" } }, /config/);
  await bad({ genesConfig: new Array(MAX_FILTERS + 1).fill(ok) }, /genesConfig/);
  assert.equal(task.cacheable, false);
});

test("thresholds are named as R's as.character shows them", () => {
  // expected strings printed by R 4.2.2: cat(as.character(x))
  const cases: [number, string][] = [
    [0.5, "0.5"], [1e5, "1e+05"], [1e-4, "1e-04"], [123456, "123456"], [0.1 + 0.2, "0.3"], [1000, "1000"],
    [10000, "10000"], [0.001, "0.001"], [-2.5, "-2.5"], [1 / 3, "0.333333333333333"], [1e15, "1e+15"],
    [123456789012345678, "123456789012345680"], [1.5e-10, "1.5e-10"], [2, "2"], [-0.0001, "-1e-04"],
    [0.00012, "0.00012"], [100000.5, "100000.5"], [1234567.1, "1234567.1"], [3e5, "3e+05"],
    [0.1234567890123456, "0.123456789012346"], [7e-5, "7e-05"], [1e300, "1e+300"], [5e-324, "4.94065645841247e-324"],
    [99999, "99999"], [25, "25"], [250000, "250000"], [1.0000000000000002, "1"], [0, "0"],
  ];
  for (const [x, r] of cases) assert.equal(formatRNumber(x), r, String(x));
});
