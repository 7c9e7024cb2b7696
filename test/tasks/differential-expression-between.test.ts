/**
 * DifferentialExpression with `comparisonType: "between"` (pseudobulk, shared/pseudobulk-de.ts)
 * on pbmc_small with a made-up `sample` class (6 samples of 13–14 cells, in cell order) and a
 * `condition` class of whole samples. Checks the response shapes (≥ 3 and exactly 2 samples),
 * what can be computed independently here (pseudobulk sums through voom's log-CPM, edgeR's
 * filterByExpr rule, Benjamini–Hochberg, the row orders), sample dropping, cell ids ≠ indices,
 * pagination and genesOnly, and every error. The numbers themselves are checked against R in
 * test/science/pseudobulk-vs-r.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import deTask from "../../src/tasks/differential-expression.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { PBMC_SMALL } from "../helpers.ts";
import { runBody, rejectsWith as rejects } from "../task-helpers.ts";

const small = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
const N = small.nCells; // 80, cell id = index
const G = small.nGenes; // 230
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const sampleOfCell = (i: number): number => Math.floor((i * 6) / N); // sizes 14, 13, 13, 14, 13, 13
const cellsOfSamples = (...s: number[]): number[] => range(0, N).filter((i) => s.includes(sampleOfCell(i)));
const SAMPLES: CellClass = {
  key: "sample", name: "Samples", rootNode: true, type: "metadataCategorical",
  children: range(0, 6).map((s) => ({ key: `S${s + 1}`, name: `S${s + 1}`, cellIds: cellsOfSamples(s) })),
};
const CONDITION: CellClass = {
  key: "condition", name: "Condition", rootNode: true, type: "metadataCategorical",
  children: [
    { key: "ctrl", name: "ctrl", cellIds: cellsOfSamples(0, 1, 2) },
    { key: "treat", name: "treat", cellIds: cellsOfSamples(3, 4, 5) },
  ],
};
const s1Minus5 = cellsOfSamples(0).slice(5); // 9 cells of S1
const CUSTOM: CellClass = {
  key: "scratchpad", name: "Custom cell sets", rootNode: true, type: "cellSets",
  children: [
    { key: "s1", name: "s1", cellIds: cellsOfSamples(0) },
    { key: "s6", name: "s6", cellIds: cellsOfSamples(5) },
    { key: "s23", name: "s23", cellIds: cellsOfSamples(1, 2) },
    { key: "s1-few", name: "9 cells of S1", cellIds: s1Minus5 },
    { key: "s2-few", name: "4 cells of S2", cellIds: cellsOfSamples(1).slice(0, 4) },
    { key: "not-5-of-s1", name: "all but 5 cells of S1", cellIds: range(0, N).filter((i) => !cellsOfSamples(0).slice(0, 5).includes(i)) },
    { key: "mixed", name: "S1 and half of S4", cellIds: [...cellsOfSamples(0), ...cellsOfSamples(3).slice(0, 7)] },
    { key: "mixed-bg", name: "the other half of S4 and S6", cellIds: [...cellsOfSamples(3).slice(7), ...cellsOfSamples(5)] },
  ],
};
const groupsClass = small.cellSets.find((c) => c.key === "groups")!; // pbmc_small's own g1/g2: not whole samples
const SETS = [SAMPLES, CONDITION, CUSTOM, groupsClass];
const exp = new Experiment(small.data, small.state, SETS, small.cache);

type Result = { total: number; data: Record<string, (number | string | null)[]>; method: string };

async function run(body: Record<string, unknown>, pagination?: unknown, on: Experiment = exp): Promise<Result> {
  return (await runBody(deTask, on, { name: "DifferentialExpression", comparisonType: "between", ...body }, pagination)) as Result;
}


/** Sums of raw counts per gene over the given cells (independent of src/numerics). */
function sums(cells: number[]): Float64Array {
  const m = small.data.matrix;
  const want = new Set(cells);
  const out = new Float64Array(G);
  for (let g = 0; g < G; g++) for (let q = m.indptr[g]!; q < m.indptr[g + 1]!; q++) if (want.has(m.indices[q]!)) out[g]! += m.values[q]!;
  return out;
}
const geneRow = (r: Result): Map<string, number> => new Map(r.data.Gene!.map((id, row) => [id as string, row]));

/** edgeR filterByExpr for one gene: CPM ≥ 10 / median(lib) · 1e6 in ≥ the smallest group's size, total ≥ 15. */
function passes(perSample: number[], lib: number[], minGroup: number): boolean {
  const sortedLib = [...lib].sort((a, b) => a - b);
  const h = sortedLib.length >> 1;
  const median = sortedLib.length % 2 ? sortedLib[h]! : (sortedLib[h - 1]! + sortedLib[h]!) / 2;
  const cutoff = (10 / median) * 1e6;
  const n = perSample.filter((c, s) => c * (1e6 / lib[s]!) >= cutoff).length;
  return n >= minGroup && perSample.reduce((a, b) => a + b, 0) >= 15;
}

test("3 vs 3 samples: columns, kept genes by filterByExpr, nulls last, ascending p, BH, method", async () => {
  const r = await run({ cellSet: "ctrl", compareWith: "treat" });
  assert.equal(r.total, G);
  assert.deepEqual(Object.keys(r.data), ["p_val", "logFC", "AveExpr", "p_val_adj", "gene_names", "Gene"]);
  const perSample = range(0, 6).map((s) => sums(cellsOfSamples(s)));
  const lib = perSample.map((x) => x.reduce((a, b) => a + b, 0));
  const keep = range(0, G).filter((g) => passes(perSample.map((x) => x[g]!), lib, 3));
  assert.ok(keep.length > 20 && keep.length < G);
  const ids = small.data.genes.ids;
  // kept genes first (numbers), then every other gene as a null row, in gene order
  assert.deepEqual(new Set(r.data.Gene!.slice(0, keep.length)), new Set(keep.map((g) => ids[g])));
  assert.deepEqual(r.data.Gene!.slice(keep.length), range(0, G).filter((g) => !keep.includes(g)).map((g) => ids[g]));
  for (const col of ["p_val", "logFC", "AveExpr", "p_val_adj"]) {
    assert.ok(r.data[col]!.slice(0, keep.length).every((v) => typeof v === "number" && Number.isFinite(v)), col);
    assert.ok(r.data[col]!.slice(keep.length).every((v) => v === null), col);
  }
  const p = r.data.p_val!.slice(0, keep.length) as number[];
  for (let i = 1; i < p.length; i++) assert.ok(p[i]! >= p[i - 1]!);
  assert.ok(p.every((v) => v > 0 && v <= 1));
  // Benjamini–Hochberg over the kept genes, recomputed here
  const m = p.length;
  const adj = new Array<number>(m);
  let run_ = Infinity;
  for (let i = m - 1; i >= 0; i--) { run_ = Math.min(run_, (m / (i + 1)) * p[i]!); adj[i] = Math.min(1, run_); }
  (r.data.p_val_adj!.slice(0, m) as number[]).forEach((v, i) => assert.ok(Math.abs(v - adj[i]!) <= 1e-15 * adj[i]!, `adj ${i}`));
  // gene_names are the symbols
  const symbols = small.data.genes.symbols;
  r.data.Gene!.forEach((id, row) => assert.equal(r.data.gene_names![row], symbols[ids.indexOf(id as string)] || id));
  assert.match(r.method, /^pseudobulk limma-voom .*3 base vs 3 background samples; edgeR filterByExpr\(group\) kept \d+ of 230 genes.*eBayes\(robust = TRUE\); Benjamini-Hochberg/);
  assert.match(r.method, new RegExp(`kept ${keep.length} of 230`));
  // swapping the groups flips logFC and keeps p
  const swapped = await run({ cellSet: "treat", compareWith: "ctrl" });
  const rows = geneRow(swapped);
  r.data.Gene!.slice(0, keep.length).forEach((id, i) => {
    const j = rows.get(id as string)!;
    assert.ok(Math.abs((swapped.data.logFC![j] as number) + (r.data.logFC![i] as number)) < 1e-12);
    assert.ok(Math.abs((swapped.data.p_val![j] as number) - p[i]!) <= 1e-9 * p[i]!);
  });
});

test("1 vs 1 sample: logFC and AveExpr only, by decreasing |logFC|; they are voom log-CPMs of the summed counts", async () => {
  const r = await run({ cellSet: "s1", compareWith: "s6" });
  assert.equal(r.total, G);
  assert.deepEqual(Object.keys(r.data), ["logFC", "AveExpr", "gene_names", "Gene"]);
  assert.match(r.method, /1 base vs 1 background sample;.*no replication: logFC and AveExpr only, no p-values\.$/);
  const base = sums(cellsOfSamples(0));
  const bg = sums(cellsOfSamples(5));
  const libB = base.reduce((a, b) => a + b, 0);
  const libG = bg.reduce((a, b) => a + b, 0);
  const keep = range(0, G).filter((g) => passes([base[g]!, bg[g]!], [libB, libG], 1));
  const lfc = r.data.logFC!.slice(0, keep.length) as number[];
  for (let i = 1; i < lfc.length; i++) assert.ok(Math.abs(lfc[i]!) <= Math.abs(lfc[i - 1]!));
  assert.ok(r.data.logFC!.slice(keep.length).every((v) => v === null));
  // E = AveExpr ± logFC/2 = log2((count + 0.5) / (lib · nf + 1) · 1e6): the implied
  // lib · nf + 1 is the same for every gene, and the two factors multiply to 1 (TMM)
  const ids = small.data.genes.ids;
  const implied = (count: number, e: number): number => ((count + 0.5) * 1e6) / 2 ** e;
  const kB: number[] = [];
  const kG: number[] = [];
  r.data.Gene!.slice(0, keep.length).forEach((id, row) => {
    const g = ids.indexOf(id as string);
    const a = r.data.AveExpr![row] as number;
    const l = r.data.logFC![row] as number;
    kB.push(implied(base[g]!, a + l / 2));
    kG.push(implied(bg[g]!, a - l / 2));
  });
  for (const k of [...kB, ...kG]) assert.ok(Number.isFinite(k));
  for (let i = 1; i < kB.length; i++) {
    assert.ok(Math.abs(kB[i]! / kB[0]! - 1) < 1e-12);
    assert.ok(Math.abs(kG[i]! / kG[0]! - 1) < 1e-12);
  }
  const nfB = (kB[0]! - 1) / libB;
  const nfG = (kG[0]! - 1) / libG;
  assert.ok(Math.abs(nfB * nfG - 1) < 1e-12, `norm factors ${nfB} · ${nfG}`);
  assert.ok(Math.abs(nfB - 1) > 1e-6, "TMM moved the factors away from 1");
});

test("samples with < 10 selected cells are dropped (here through the basis) and named; cells in no sample are left out", async () => {
  const r = await run({ cellSet: "ctrl", compareWith: "treat", basis: "not-5-of-s1" });
  assert.match(r.method, /2 base vs 3 background samples \(dropped for having fewer than 10 selected cells: S1\);/);
  // the same as comparing S2+S3 with S4–S6 directly
  const direct = await run({ cellSet: "s23", compareWith: "treat" });
  assert.match(direct.method, /2 base vs 3 background samples; edgeR/);
  assert.deepEqual(direct.data, r.data);
  const withoutS1 = new Experiment(small.data, small.state, [
    { ...SAMPLES, children: SAMPLES.children.slice(1) }, CONDITION, CUSTOM,
  ], small.cache);
  const r2 = await run({ cellSet: "ctrl", compareWith: "treat" }, undefined, withoutS1);
  assert.match(r2.method, /2 base vs 3 background samples; 14 selected cells in no sample left out;/);
  assert.deepEqual(r2.data, r.data);
});

test("cell ids that are not cell indices are mapped through the experiment", async () => {
  const shift = (ids: number[]): number[] => ids.map((i) => i + 1000);
  const shiftClass = (c: CellClass): CellClass => ({ ...c, children: c.children.map((s) => ({ ...s, cellIds: shift(s.cellIds) })) });
  const shifted = new Experiment({ ...small.data, cellIds: Int32Array.from(range(0, N), (i) => i + 1000) }, small.state,
    [shiftClass(SAMPLES), shiftClass(CONDITION)], small.cache);
  const a = await run({ cellSet: "ctrl", compareWith: "treat" }, undefined, shifted);
  const b = await run({ cellSet: "ctrl", compareWith: "treat" });
  assert.deepEqual(a, b);
});

test("pagination and genesOnly on between", async () => {
  const full = await run({ cellSet: "ctrl", compareWith: "treat" });
  const nKept = full.data.p_val!.filter((v) => v !== null).length;
  const rows = full.data.Gene!.map((id, i) => ({
    Gene: id as string, gene_names: full.data.gene_names![i] as string, p_val: full.data.p_val![i] as number | null,
    logFC: full.data.logFC![i] as number | null, AveExpr: full.data.AveExpr![i] as number | null, p_val_adj: full.data.p_val_adj![i] as number | null,
  }));
  // sort by logFC descending, nulls last; a strict numeric filter drops nulls
  const pg = { orderBy: "logFC", orderDirection: "DESC", offset: 3, limit: 5, responseKey: 0, filters: [{ columnName: "AveExpr", type: "numeric", comparison: "greaterThan", value: 8 }] };
  const page = await run({ cellSet: "ctrl", compareWith: "treat" }, pg);
  const expected = rows.filter((x) => x.AveExpr !== null && x.AveExpr > 8).sort((a, b) => b.logFC! - a.logFC!);
  assert.ok(expected.length > 8);
  assert.equal(page.total, expected.length);
  assert.deepEqual(page.data.Gene, expected.slice(3, 8).map((x) => x.Gene));
  assert.deepEqual(page.data.p_val, expected.slice(3, 8).map((x) => x.p_val));
  assert.equal(page.method, full.method);
  // without filters the null rows are counted and sort last in both directions
  const all = await run({ cellSet: "ctrl", compareWith: "treat" }, { orderBy: "p_val", orderDirection: "desc", offset: nKept - 2, limit: 4 });
  assert.equal(all.total, G);
  assert.deepEqual(all.data.p_val!.slice(2), [null, null]);
  assert.deepEqual(all.data.p_val!.slice(0, 2), [...(full.data.p_val!.slice(0, 2) as number[])].reverse());
  // text filter on gene_names
  const named = await run({ cellSet: "ctrl", compareWith: "treat" }, { orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: 100, filters: [{ columnName: "gene_names", type: "text", expression: "rp" }] });
  const rp = rows.filter((x) => x.gene_names.toLowerCase().includes("rp"));
  assert.equal(named.total, rp.length);
  assert.deepEqual(new Set(named.data.Gene), new Set(rp.map((x) => x.Gene)));
  // genesOnly: first `limit` after filter and sort, offset ignored
  const go = await run({ cellSet: "ctrl", compareWith: "treat", genesOnly: true }, { ...pg, offset: 50 });
  assert.deepEqual(go.data, { gene_names: expected.slice(0, 5).map((x) => x.gene_names), gene_id: expected.slice(0, 5).map((x) => x.Gene) });
  assert.equal(go.total, expected.length);
  assert.equal(go.method, full.method);
  const goAll = await run({ cellSet: "ctrl", compareWith: "treat", genesOnly: true });
  assert.deepEqual(goAll.data, { gene_names: full.data.gene_names, gene_id: full.data.Gene });
  // columns that do not exist in this table
  await rejects(run({ cellSet: "ctrl", compareWith: "treat" }, { ...pg, orderBy: "auc" }), ErrorCode.INVALID_INPUT, /^pagination\.orderBy: no column "auc"/);
  await rejects(run({ cellSet: "s1", compareWith: "s6" }, { ...pg, orderBy: "p_val", filters: [] }), ErrorCode.INVALID_INPUT, /^pagination\.orderBy: no column "p_val"/);
  const two = await run({ cellSet: "s1", compareWith: "s6" }, { orderBy: "AveExpr", orderDirection: "ASC", offset: 0, limit: 3 });
  assert.deepEqual(Object.keys(two.data), ["logFC", "AveExpr", "gene_names", "Gene"]);
});

test("errors: mixed samples, too few usable samples, a group without samples, no sample class, no counts, too few genes, overlapping samples", async () => {
  await rejects(run({ cellSet: "mixed", compareWith: "mixed-bg" }), ErrorCode.INVALID_INPUT,
    /^A between-sample comparison needs each sample wholly in one group, but sample S4 \(7 base, 7 background cells\) has cells in both\./);
  await rejects(run({ cellSet: "groups-g1", compareWith: "groups-g2" }), ErrorCode.INVALID_INPUT, /^A between-sample comparison needs each sample wholly in one group, but samples S1 .*S2 .* have cells in both/);
  await rejects(run({ cellSet: "s1-few", compareWith: "s2-few" }), ErrorCode.INVALID_INPUT,
    /^A between-sample comparison needs at least one sample with at least 10 selected cells in each group; found 0 usable samples \(dropped for having fewer than 10 selected cells: S1, S2\)\.$/);
  await rejects(run({ cellSet: "s1-few", compareWith: "treat" }), ErrorCode.INVALID_INPUT,
    /found no usable sample in the base group \(dropped for having fewer than 10 selected cells: S1\)\.$/);
  await rejects(run({ cellSet: "s6", compareWith: "s1-few" }), ErrorCode.INVALID_INPUT, /found 1 usable sample \(dropped .*: S1\)\.$/);
  const noSamples = new Experiment(small.data, small.state, [CONDITION], small.cache);
  await rejects(run({ cellSet: "ctrl", compareWith: "treat" }, undefined, noSamples), ErrorCode.INVALID_INPUT, /no "sample" cell-set class/);
  const lognorm = new Experiment({ ...small.data, matrixKind: "lognorm" }, small.state, SETS, small.cache);
  await rejects(run({ cellSet: "ctrl", compareWith: "treat" }, undefined, lognorm), ErrorCode.DATA_UNSUPPORTED, /needs raw counts/);
  // a matrix with counts for one gene only: nothing for voom's trend
  const m = small.data.matrix;
  const end = m.indptr[1]!;
  const oneGene = { ...m, indptr: Float64Array.from(m.indptr, (v) => Math.min(v, end)), indices: m.indices.slice(0, end), values: m.values.slice(0, end) };
  const sparse = new Experiment({ ...small.data, matrix: oneGene }, small.state, SETS, small.cache);
  await rejects(run({ cellSet: "ctrl", compareWith: "treat" }, undefined, sparse), ErrorCode.INVALID_INPUT, /^Only (0 genes pass|1 gene passes) edgeR's filterByExpr for these samples: too few counts for a pseudobulk comparison\.$/);
  const overlapping = new Experiment(small.data, small.state, [
    { ...SAMPLES, children: [...SAMPLES.children, { key: "S7", name: "S7", cellIds: [3] }] }, CONDITION,
  ], small.cache);
  await rejects(run({ cellSet: "ctrl", compareWith: "treat" }, undefined, overlapping), ErrorCode.DATA_INVALID, /^Cell 3 is in two samples \(S1 and S7\)\.$/);
  // the usual group errors still come first
  await rejects(run({ cellSet: "nope", compareWith: "treat" }), ErrorCode.INVALID_INPUT, /^cellSet: there is no cell set/);
});
