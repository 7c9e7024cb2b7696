import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import batchTask, { batchComparisons, MAX_COMPARISONS, NO_DATA } from "../../src/tasks/batch-differential-expression.ts";
import deTask from "../../src/tasks/differential-expression.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { describeZodError } from "../../src/result/errors.ts";
import { ErrorCode, WorkerError } from "../../src/result/errors.ts";
import { PBMC_SMALL } from "../helpers.ts";

const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: join(tmpdir(), "cellworker-test-cache") });
const N_CELLS = exp.nCells; // pbmc_small: cell id = cell index
const DEFAULT_SETS = exp.cellSets;
const child = (key: string): number[] => DEFAULT_SETS.flatMap((c) => c.children).find((s) => s.key === key)!.cellIds;

type DeResult = { total: number; data: Record<string, (number | string | null)[]> };
type Item = DeResult | { total: 0; data: string };

async function batch(body: Record<string, unknown>, progress: (f: number) => void = () => {}): Promise<Item[]> {
  const parsed = batchTask.body.safeParse({ name: "BatchDifferentialExpression", ...body });
  if (!parsed.success) throw new WorkerError(ErrorCode.INVALID_INPUT, describeZodError(parsed.error, "body"));
  return (await batchTask.run(parsed.data, { experiment: exp, pagination: undefined, progress })) as Item[];
}

async function single(body: Record<string, unknown>): Promise<DeResult> {
  const parsed = deTask.body.safeParse({ name: "DifferentialExpression", ...body });
  assert.ok(parsed.success);
  return (await deTask.run(parsed.data, { experiment: exp, pagination: undefined, progress: () => {} })) as DeResult;
}

const PLACEHOLDER = { total: 0, data: NO_DATA };

test("comparison building: one basis → one comparison per cellSet; several bases → cellSet[0] within each", () => {
  assert.deepEqual(batchComparisons({ basis: ["all"], cellSet: ["a", "b", "c"] }), [
    { basis: "all", cellSet: "a" }, { basis: "all", cellSet: "b" }, { basis: "all", cellSet: "c" },
  ]);
  assert.deepEqual(batchComparisons({ basis: ["x", "y"], cellSet: ["a"] }), [{ basis: "x", cellSet: "a" }, { basis: "y", cellSet: "a" }]);
  assert.deepEqual(batchComparisons({ basis: [null], cellSet: ["a"] }), [{ basis: null, cellSet: "a" }]);
});

test("each cluster vs background: results in comparison order, identical to DifferentialExpression without pagination", async () => {
  const keys = ["louvain-2", "louvain-0", "louvain-1"]; // pbmc_small has 3 clusters; out of order on purpose
  const out = await batch({ basis: ["all"], cellSet: keys, compareWith: "background", comparisonType: "within" });
  assert.equal(out.length, 3);
  for (const [i, key] of keys.entries()) {
    assert.deepEqual(out[i], await single({ cellSet: key, compareWith: "background", basis: "all" }), key);
  }
  // independent check of the shaping: every gene once, ascending p_val, pct_1 of one gene by hand
  const r = out[0] as DeResult;
  assert.equal(r.total, exp.nGenes);
  assert.deepEqual(Object.keys(r.data), ["p_val", "logFC", "pct_1", "pct_2", "p_val_adj", "auc", "gene_names", "Gene"]);
  assert.equal(new Set(r.data.Gene).size, exp.nGenes);
  const p = r.data.p_val as number[];
  for (let i = 1; i < p.length; i++) assert.ok(p[i - 1]! <= p[i]!);
  const base = new Set(child("louvain-2"));
  const m = exp.data.matrix;
  const g = exp.geneBySymbol("CST3")!;
  let nz = 0;
  for (let q = m.indptr[g]!; q < m.indptr[g + 1]!; q++) if (base.has(m.indices[q]!) && m.values[q]! > 0) nz++;
  const row = (r.data.gene_names as string[]).indexOf("CST3");
  assert.equal(r.data.pct_1![row], (100 * nz) / base.size);
  assert.equal(r.data.Gene![row], exp.data.genes.ids[g]);
});

test("the same comparison within each basis", async () => {
  const bases = ["louvain-0", "louvain-1"];
  const out = await batch({ basis: bases, cellSet: ["groups-g1"], compareWith: "groups-g2", comparisonType: "within" });
  assert.equal(out.length, 2);
  for (const [i, b] of bases.entries()) {
    assert.deepEqual(out[i], await single({ cellSet: "groups-g1", compareWith: "groups-g2", basis: b }), b);
  }
  assert.notDeepEqual(out[0], out[1]);
});

test("a failing comparison gives the placeholder and the others still run", async () => {
  exp.cellSets = [
    ...DEFAULT_SETS,
    { key: "scratchpad2", name: "extra", rootNode: true, type: "cellSets", children: [
      { key: "ghost", name: "not in the data", cellIds: [5000, 5001] },
      { key: "only-g1", name: "two g1 cells", cellIds: child("groups-g1").slice(0, 2) },
    ] },
  ] as CellClass[];
  try {
    const out = await batch({ basis: ["all"], cellSet: ["louvain-0", "no-such-key", "ghost", "louvain-1"], compareWith: "rest" });
    assert.equal(out.length, 4);
    assert.deepEqual(out[1], PLACEHOLDER); // unknown key
    assert.deepEqual(out[2], PLACEHOLDER); // empty base
    assert.deepEqual(out[0], await single({ cellSet: "louvain-0", compareWith: "rest", basis: "all" }));
    assert.deepEqual(out[3], await single({ cellSet: "louvain-1", compareWith: "rest", basis: "all" }));
    // empty background within one basis; an unknown basis key
    const within = await batch({ basis: ["only-g1", "louvain-0", "nope"], cellSet: ["groups-g1"], compareWith: "groups-g2" });
    assert.deepEqual(within[0], PLACEHOLDER);
    assert.deepEqual(within[2], PLACEHOLDER);
    assert.deepEqual(within[1], await single({ cellSet: "groups-g1", compareWith: "groups-g2", basis: "louvain-0" }));
  } finally {
    exp.cellSets = DEFAULT_SETS;
  }
});

test("comparisonType between (pseudobulk, not implemented yet): every comparison is the placeholder", async () => {
  const out = await batch({ basis: ["all"], cellSet: ["louvain-0", "louvain-1"], compareWith: "background", comparisonType: "between" });
  assert.deepEqual(out, [PLACEHOLDER, PLACEHOLDER]);
});

test("genesOnly: gene names and ids by ascending p_val, as DifferentialExpression", async () => {
  const [r] = await batch({ basis: ["all"], cellSet: ["louvain-2"], compareWith: "background", genesOnly: true });
  const full = await single({ cellSet: "louvain-2", compareWith: "background", basis: "all" });
  assert.deepEqual(r, { total: exp.nGenes, data: { gene_names: full.data.gene_names, gene_id: full.data.Gene } });
});

test("progress goes from 0 to 1 across the comparisons", async () => {
  const seen: number[] = [];
  await batch({ basis: ["all"], cellSet: ["louvain-0", "louvain-1"], compareWith: "background" }, (f) => seen.push(f));
  assert.equal(seen.at(-1), 1);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!);
  assert.ok(seen.some((f) => f >= 0.5 && f < 1), "the second comparison reports from 0.5");
});

test("unexpected (internal) errors are not swallowed into the placeholder", async () => {
  exp.cellSets = [{ key: "broken", name: "no children" }] as unknown as CellClass[];
  try {
    await assert.rejects(batch({ basis: ["all"], cellSet: ["a"], compareWith: "background" }), (err: unknown) => !(err instanceof WorkerError));
  } finally {
    exp.cellSets = DEFAULT_SETS;
  }
});

test("body validation: strict, limits and the ambiguous two-lists form are INVALID_INPUT", async () => {
  const bad = async (body: Record<string, unknown>, pattern: RegExp): Promise<void> => {
    await assert.rejects(batch(body), (err: unknown) => {
      assert.ok(err instanceof WorkerError);
      assert.equal(err.code, ErrorCode.INVALID_INPUT);
      assert.match(err.message, pattern);
      return true;
    });
  };
  const ok = { basis: ["all"], cellSet: ["louvain-0"], compareWith: "background" };
  await bad({ ...ok, basis: ["a", "b"], cellSet: ["c", "d"] }, /cellSet.*one basis/);
  await bad({ ...ok, basis: [] }, /basis/);
  await bad({ ...ok, cellSet: [] }, /cellSet/);
  await bad({ ...ok, cellSet: Array.from({ length: MAX_COMPARISONS + 1 }, () => "louvain-0") }, /cellSet/);
  await bad({ ...ok, cellSet: "louvain-0" }, /cellSet/);
  await bad({ ...ok, compareWith: undefined }, /compareWith/);
  await bad({ ...ok, comparisonType: "across" }, /comparisonType/);
  await bad({ ...ok, cellSet: ["x".repeat(1001)] }, /cellSet/);
  await bad({ ...ok, pagination: {} }, /pagination/);
  assert.equal(N_CELLS, 80);
});
