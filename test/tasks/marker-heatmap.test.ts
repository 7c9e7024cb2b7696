import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import markerHeatmapTask, { MAX_GENES_PER_GROUP } from "../../src/tasks/marker-heatmap.ts";
import { cachedRankedMarkers, groupsDigest, oneVsRestTable, rankMarkers, uniqueByName } from "../../src/tasks/shared/markers.ts";
import { MAX_CELLS_PER_GROUP, pValue, sampleGroups, topMarkerGenes } from "../../src/numerics/markers.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { twoSidedP } from "../../src/numerics/stats/wilcoxon.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { PBMC3K, PBMC_SMALL } from "../helpers.ts";
import { runBody, rejectsWith as rejectsWithError } from "../task-helpers.ts";

const small = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
const pbmc = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });

type Result = { orderedGeneNames: string[] };

/** Validates and runs the body as the compute host does. */
async function run(exp: Experiment, body: Record<string, unknown>): Promise<Result> {
  return (await runBody(markerHeatmapTask, exp, { name: "MarkerHeatmap", ...body })) as Result;
}

const rejectsWith = (exp: Experiment, body: Record<string, unknown>, code: string, pattern: RegExp): Promise<void> =>
  rejectsWithError(run(exp, body), code, pattern);

/** An experiment over the same data with these cell sets (and a fresh memo). */
const withSets = (base: Experiment, sets: CellClass[], cellIds?: Int32Array): Experiment =>
  new Experiment(cellIds ? { ...base.data, cellIds } : base.data, base.state, sets, base.cache);

const cls = (key: string, children: { key: string; name?: string; cellIds: number[] }[]): CellClass =>
  ({ key, name: key, rootNode: true, type: "cellSets", children: children.map((c) => ({ name: c.key, ...c })) });

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

// ---- an independent dense reference (straight from the raw counts) ----

function denseLogNorm(exp: Experiment): Float64Array[] {
  const m = exp.data.matrix;
  const totals = new Float64Array(m.nCells);
  for (let p = 0; p < m.indices.length; p++) totals[m.indices[p]!]! += m.values[p]!;
  return Array.from({ length: m.nGenes }, (_, g) => {
    const row = new Float64Array(m.nCells);
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) row[m.indices[p]!] = Math.log1p((m.values[p]! / totals[m.indices[p]!]!) * 1e4);
    return row;
  });
}

/** Average ranks (1-based) of x. */
function ranks(x: number[]): number[] {
  const idx = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const r = new Array<number>(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j < idx.length && x[idx[j]!] === x[idx[i]!]) j++;
    for (let u = i; u < j; u++) r[idx[u]!] = (i + 1 + j) / 2;
    i = j;
  }
  return r;
}

interface RefStats { w: number; p: number; auc: number; logFC: number; pctIn: number; pctOut: number }

/** wilcox.test-style one-vs-rest for one gene and one group, dense. */
function refStats(values: Float64Array, inside: number[], outside: number[]): RefStats {
  const x = inside.map((c) => values[c]!);
  const y = outside.map((c) => values[c]!);
  const all = [...x, ...y];
  const r = ranks(all);
  const n1 = x.length, n2 = y.length, n = n1 + n2;
  let rs = 0;
  for (let i = 0; i < n1; i++) rs += r[i]!;
  const w = rs - (n1 * (n1 + 1)) / 2;
  const counts = new Map<number, number>();
  for (const v of all) counts.set(v, (counts.get(v) ?? 0) + 1);
  let ties = 0;
  for (const t of counts.values()) ties += t ** 3 - t;
  const sigma = Math.sqrt((n1 * n2 / 12) * ((n + 1) - ties / (n * (n - 1))));
  let z = w - (n1 * n2) / 2;
  z = (z - Math.sign(z) * 0.5) / sigma;
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const pct = (v: number[]) => (100 * v.filter((e) => e > 0).length) / v.length;
  return { w, p: twoSidedP(z), auc: w / (n1 * n2), logFC: mean(x) - mean(y), pctIn: pct(x), pctOut: pct(y) };
}

/** The whole marker selection, dense and naive: expected gene indices per group, in order. */
function referenceMarkers(exp: Experiment, groups: number[][]): { byGroup: number[][]; stats: RefStats[][] } {
  const dense = denseLogNorm(exp);
  const universe = [...new Set(groups.flat())].sort((a, b) => a - b);
  const stats = dense.map((values) => groups.map((inside) => {
    const set = new Set(inside);
    return refStats(values, inside, universe.filter((c) => !set.has(c)));
  }));
  const rows: { gene: number; group: number; p: number; logFC: number }[] = [];
  groups.forEach((_, k) => stats.forEach((s, gene) => {
    const t = s[k]!;
    if (t.logFC > 0 && t.auc >= 0.3 && t.pctIn >= 20 && t.pctOut <= 70) rows.push({ gene, group: k, p: t.p, logFC: t.logFC });
  }));
  // order by p (stable over group-major order), first row of each gene, then logFC decreasing
  const byP = rows.map((r, i) => ({ r, i })).sort((a, b) => a.r.p - b.r.p || a.i - b.i).map((e) => e.r);
  const seen = new Set<number>();
  const kept = byP.filter((r) => (seen.has(r.gene) ? false : (seen.add(r.gene), true)));
  const ordered = kept.map((r, i) => ({ r, i })).sort((a, b) => b.r.logFC - a.r.logFC || a.i - b.i).map((e) => e.r);
  return { byGroup: groups.map((_, k) => ordered.filter((r) => r.group === k).map((r) => r.gene)), stats };
}

const namesOf = (exp: Experiment, genes: number[]): string[] => uniqueByName(exp, genes).names;
const topOf = (byGroup: number[][], n: number): number[] => byGroup.flatMap((g) => g.slice(0, n));

// ---- tests ----

test("pbmc_small louvain: statistics and the marker list equal a dense wilcox.test-style reference", async () => {
  const louvain = small.cellSets.find((c) => c.key === "louvain")!;
  const groups = louvain.children.map((ch) => ch.cellIds.map((id) => small.cellIndex(id)).sort((a, b) => a - b));
  const ref = referenceMarkers(small, groups);
  const table = oneVsRestTable(small, groups.map((g) => Int32Array.from(g)));
  assert.equal(table.universe, 80);
  assert.deepEqual([...table.sizes], groups.map((g) => g.length));
  const G = small.nGenes;
  for (let gene = 0; gene < G; gene++) {
    groups.forEach((_, k) => {
      const want = ref.stats[gene]![k]!;
      const i = k * G + gene;
      if (Number.isNaN(want.p)) { assert.ok(Number.isNaN(table.p[i]!), `gene ${gene}: p NaN`); return; }
      assert.equal(table.w[i], want.w, `gene ${gene} group ${k}: W`);
      assert.ok(Math.abs(table.p[i]! - want.p) <= 1e-12 * want.p, `gene ${gene} group ${k}: p ${table.p[i]} vs ${want.p}`);
      assert.ok(Math.abs(table.logFC[i]! - want.logFC) <= 1e-12, `gene ${gene} group ${k}: logFC`);
      assert.equal(table.auc[i], want.auc);
      assert.ok(Math.abs(table.pctIn[i]! - want.pctIn) <= 1e-12 && Math.abs(table.pctOut[i]! - want.pctOut) <= 1e-12);
    });
  }
  const ranked = rankMarkers(small, groups.map((g) => Int32Array.from(g)));
  assert.deepEqual(ranked.byGroup.map((g) => [...g]), ref.byGroup);
  assert.ok(ref.byGroup.every((g) => g.length > 3), "every cluster has markers");
  for (const n of [1, 3, 5]) {
    const r = await run(small, { nGenes: n, selectedCellSet: "louvain" });
    assert.deepEqual(r.orderedGeneNames, namesOf(small, topOf(ref.byGroup, n)), `nGenes ${n}`);
  }
});

test("overlapping children and cells in no child: each child against the other cells of the union", async () => {
  // children: louvain-0 ∪ louvain-1, louvain-1, letter B; cells of louvain-3 outside B are in no child
  const ids = (key: string) => small.cellSets.flatMap((c) => c.children).find((ch) => ch.key === key)!.cellIds;
  const union = [...new Set([...ids("louvain-0"), ...ids("louvain-1")])].sort((a, b) => a - b);
  const sets = [cls("mixed", [
    { key: "m-01", cellIds: union }, { key: "m-1", cellIds: ids("louvain-1") }, { key: "m-B", cellIds: ids("letter.idents-B") },
  ])];
  const exp = withSets(small, sets);
  const groups = sets[0]!.children.map((ch) => ch.cellIds.map((id) => small.cellIndex(id)).sort((a, b) => a - b));
  const inNone = range(0, 80).filter((c) => !groups.some((g) => g.includes(c)));
  assert.ok(inNone.length > 0, "some cells are in no child");
  const ref = referenceMarkers(small, groups);
  const r = await run(exp, { nGenes: 4, selectedCellSet: "mixed" });
  assert.deepEqual(r.orderedGeneNames, namesOf(small, topOf(ref.byGroup, 4)));
  assert.ok(r.orderedGeneNames.length >= 8);
  // the cells in no child change nothing
  const table = oneVsRestTable(small, groups.map((g) => Int32Array.from(g)));
  assert.equal(table.universe, 80 - inNone.length);
});

test("log-normalised input, some genes negative: both ranking paths equal the dense reference", () => {
  // the file holds values (identity normaliser): lognorm values, negated for every third gene,
  // rounded to 2 decimals so that many values tie
  const m = small.data.matrix;
  const dense = denseLogNorm(small);
  const values = new Float32Array(m.values.length);
  for (let g = 0; g < m.nGenes; g++) {
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) {
      const v = Math.round(dense[g]![m.indices[p]!]! * 100) / 100;
      values[p] = g % 3 === 0 ? -v : v;
    }
  }
  const exp = new Experiment({ ...small.data, matrixKind: "lognorm", matrix: { ...m, values } }, small.state, small.cellSets, small.cache);
  assert.equal(exp.normalizer.kind, "identity");
  const stored = Array.from({ length: m.nGenes }, (_, g) => {
    const row = new Float64Array(m.nCells);
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) row[m.indices[p]!] = values[p]!;
    return row;
  });
  const groups = small.cellSets[0]!.children.map((ch) => ch.cellIds.map((id) => small.cellIndex(id)).sort((a, b) => a - b));
  const table = oneVsRestTable(exp, groups.map((g) => Int32Array.from(g)));
  const G = m.nGenes;
  let negatives = 0;
  stored.forEach((row, gene) => {
    if (row.some((v) => v < 0)) negatives++;
    groups.forEach((inside, k) => {
      const set = new Set(inside);
      const want = refStats(row, inside, range(0, 80).filter((c) => !set.has(c)));
      const i = k * G + gene;
      if (Number.isNaN(want.p)) { assert.ok(Number.isNaN(table.p[i]!)); return; }
      assert.equal(table.w[i], want.w, `gene ${gene} group ${k}: W`);
      assert.ok(Math.abs(table.p[i]! - want.p) <= 1e-12 * want.p, `gene ${gene} group ${k}: p`);
      assert.ok(Math.abs(table.logFC[i]! - want.logFC) <= 1e-12);
    });
  });
  assert.ok(negatives > 50);
});

test("values that share their leading 32 bits (radix path, > 2048 values) are ranked by their full value", () => {
  // identity data on pbmc3k's sparsity: 8 distinct float32 values 1 + k·2^-23, all with the
  // same high word, scattered over the cells; plus 2.5 for every fifth entry
  const m = pbmc.data.matrix;
  const values = new Float32Array(m.values.length);
  for (let p = 0; p < values.length; p++) values[p] = p % 5 === 0 ? 2.5 : 1 + (((p * 2654435761) >>> 0) % 8) * 2 ** -23;
  const exp = new Experiment({ ...pbmc.data, matrixKind: "lognorm", matrix: { ...m, values } }, pbmc.state, pbmc.cellSets, pbmc.cache);
  const nnz = (g: number) => m.indptr[g + 1]! - m.indptr[g]!;
  const genes = Array.from({ length: m.nGenes }, (_, g) => g).sort((a, b) => nnz(b) - nnz(a)).slice(0, 6);
  assert.ok(genes.every((g) => nnz(g) >= 2048));
  const groups = [range(0, 900), range(900, 1500), range(1500, 2700)];
  const table = oneVsRestTable(exp, groups.map((g) => Int32Array.from(g)));
  for (const gene of genes) {
    const row = new Float64Array(m.nCells);
    for (let p = m.indptr[gene]!; p < m.indptr[gene + 1]!; p++) row[m.indices[p]!] = values[p]!;
    groups.forEach((inside, k) => {
      const set = new Set(inside);
      const want = refStats(row, inside, range(0, 2700).filter((c) => !set.has(c)));
      assert.equal(table.w[k * m.nGenes + gene], want.w, `gene ${gene} group ${k}: W`);
    });
  }
});

test("cell ids are mapped to the data's cell indices (ids ≠ indices, ids not in the data ignored)", async () => {
  const shiftedIds = Int32Array.from(small.data.cellIds, (id) => id * 3 + 7);
  const louvain = small.cellSets.find((c) => c.key === "louvain")!;
  const shifted: CellClass = { ...louvain, children: louvain.children.map((ch) => ({ ...ch, cellIds: [...ch.cellIds.map((id) => id * 3 + 7), 1, 2, 999_999] })) };
  const exp = withSets(small, [shifted], shiftedIds);
  assert.deepEqual(await run(exp, { nGenes: 5, selectedCellSet: "louvain" }), await run(small, { nGenes: 5, selectedCellSet: "louvain" }));
});

test("pbmc3k louvain: class defaults to louvain, downsampleSettings.selectedCellSet honoured; once per content", async () => {
  const exp = withSets(pbmc, pbmc.cellSets);
  const a = await run(exp, { nGenes: 5 });
  assert.ok(a.orderedGeneNames.length >= 5 * exp.cellSets[0]!.children.length - 10);
  assert.deepEqual(await run(exp, { nGenes: 5, selectedCellSet: "louvain" }), a);
  assert.deepEqual(await run(exp, {
    nGenes: 5, downsampleSettings: { selectedCellSet: "louvain", groupedTracks: ["louvain", "sample"], selectedPoints: "All", hiddenCellSets: [] },
  }), a);
  // memoised on the class content: other nGenes are slices of the same ranking
  const groups = exp.cellSets[0]!.children.map((ch) => Int32Array.from(ch.cellIds, (id) => exp.cellIndex(id)).sort());
  assert.ok(exp.hasMemo(`markers:heatmap:${groupsDigest(groups)}`));
  const memoKeys = exp.memoKeys().length;
  const b = await run(exp, { nGenes: 2 });
  assert.equal(exp.memoKeys().length, memoKeys, "a second request with other nGenes is served from the same memo entry");
  const ranked = await cachedRankedMarkers(exp, "heatmap", groups);
  assert.deepEqual(b.orderedGeneNames, uniqueByName(exp, topMarkerGenes(ranked, 2)).names);
  // each cluster's first two genes are the first two of its first five
  const perGroup5 = ranked.byGroup.map((g) => [...g.slice(0, 5)]);
  assert.deepEqual(topMarkerGenes(ranked, 2), perGroup5.flatMap((g) => g.slice(0, 2)));
  // another class with other content is computed separately
  const other = cls("two", [{ key: "t0", cellIds: range(0, 1000) }, { key: "t1", cellIds: range(1000, 2700) }]);
  exp.cellSets = [...exp.cellSets, other];
  const c = await run(exp, { nGenes: 5, selectedCellSet: "two" });
  assert.notDeepEqual(c, a);
});

test("more than 1000 cells in a child: a seeded sample of 1000, the same every time", async () => {
  const big = range(0, 2700).filter((i) => i % 9 !== 0);             // 2400 cells
  const other = range(0, 2700).filter((i) => i % 9 === 0);           // 300 cells
  const sets = [cls("halves", [{ key: "big", cellIds: big }, { key: "other", cellIds: other }])];
  const groups = [Int32Array.from(big), Int32Array.from(other)];
  const sampled = sampleGroups(groups);
  assert.equal(sampled[0]!.length, MAX_CELLS_PER_GROUP);
  assert.deepEqual([...sampled[1]!], other);
  assert.ok([...sampled[0]!].every((c, i, a) => big.includes(c) && (i === 0 || c > a[i - 1]!)));
  assert.deepEqual(sampleGroups(groups).map((g) => [...g]), sampled.map((g) => [...g]));
  const expected = uniqueByName(pbmc, topMarkerGenes(rankMarkers(pbmc, sampled), 10)).names;
  const first = await run(withSets(pbmc, sets), { nGenes: 10, selectedCellSet: "halves" });
  const second = await run(withSets(pbmc, sets), { nGenes: 10, selectedCellSet: "halves" });
  assert.deepEqual(first.orderedGeneNames, expected);
  assert.deepEqual(second, first);
  // overlapping groups over the cap: a child keeps its cells that are in the union of the draws
  const over = sampleGroups([Int32Array.from(range(0, 1500)), Int32Array.from(range(1000, 1200))], 100);
  assert.equal(over[0]!.length, 100 + over[1]!.filter((c) => !new Set(sampleGroups([Int32Array.from(range(0, 1500))], 100)[0]).has(c)).length);
  assert.ok(over[1]!.length <= 200);
});

test("fewer than two non-empty children, or no children: no markers", async () => {
  const exp = withSets(small, [
    ...small.cellSets,
    cls("one", [{ key: "all", cellIds: range(0, 80) }]),
    cls("onePlusEmpty", [{ key: "a", cellIds: range(0, 80) }, { key: "b", cellIds: [5000, 5001] }]),
  ]);
  assert.deepEqual(await run(exp, { nGenes: 5, selectedCellSet: "scratchpad" }), { orderedGeneNames: [] });
  assert.deepEqual(await run(exp, { nGenes: 5, selectedCellSet: "one" }), { orderedGeneNames: [] });
  assert.deepEqual(await run(exp, { nGenes: 5, selectedCellSet: "onePlusEmpty" }), { orderedGeneNames: [] });
});

test("a child covering the whole union has no test; the others still get markers", async () => {
  const ids = (key: string) => small.cellSets.flatMap((c) => c.children).find((ch) => ch.key === key)!.cellIds;
  const exp = withSets(small, [cls("cover", [{ key: "everything", cellIds: range(0, 80) }, { key: "l0", cellIds: ids("louvain-0") }])]);
  const groups = [Int32Array.from(range(0, 80)), Int32Array.from(ids("louvain-0").map((id) => small.cellIndex(id))).sort()];
  const table = oneVsRestTable(small, groups);
  assert.ok(table.p.subarray(0, small.nGenes).every(Number.isNaN));
  const ranked = rankMarkers(small, groups);
  assert.equal(ranked.byGroup[0]!.length, 0);
  assert.ok(ranked.byGroup[1]!.length > 0);
  assert.deepEqual((await run(exp, { nGenes: 3, selectedCellSet: "cover" })).orderedGeneNames, namesOf(small, [...ranked.byGroup[1]!.slice(0, 3)]));
});

test("p-values: R's pnorm tail cut-off (0 from |z| = 37.5193), NaN kept", () => {
  assert.equal(pValue(37.5193), 0);
  assert.equal(pValue(-40), 0);
  assert.ok(pValue(37.5) > 0 && pValue(37.5) < 1e-300);
  assert.equal(pValue(0), 1);
  assert.ok(Number.isNaN(pValue(NaN)));
  assert.equal(pValue(-2), twoSidedP(2));
});

test("names: each symbol once (repeated symbols of different genes kept once)", () => {
  const symbols = pbmc.data.genes.symbols;
  const first = symbols.findIndex((s, i) => symbols.indexOf(s) !== i);
  const dup = symbols.indexOf(symbols[first]!);
  assert.notEqual(dup, first);
  const cst3 = pbmc.geneBySymbol("CST3")!;
  assert.deepEqual(uniqueByName(pbmc, [dup, cst3, first, cst3]), { genes: [dup, cst3], names: [symbols[dup]!, "CST3"] });
});

test("errors: unknown or non-class keys name the field; body limits", async () => {
  await rejectsWith(small, { nGenes: 5, selectedCellSet: "no-such-class" }, ErrorCode.INVALID_INPUT, /selectedCellSet: .*"no-such-class"/);
  await rejectsWith(small, { nGenes: 5, selectedCellSet: "louvain-0" }, ErrorCode.INVALID_INPUT, /"louvain-0" is a cell set, not a class/);
  await rejectsWith(small, { nGenes: 5, downsampleSettings: { selectedCellSet: "nope" } }, ErrorCode.INVALID_INPUT, /downsampleSettings\.selectedCellSet: .*"nope"/);
  const noLouvain = withSets(small, small.cellSets.filter((c) => c.key !== "louvain"));
  await rejectsWith(noLouvain, { nGenes: 5 }, ErrorCode.INVALID_INPUT, /selectedCellSet \(default\): .*"louvain"/);
  await rejectsWith(small, { selectedCellSet: "louvain" }, ErrorCode.INVALID_INPUT, /nGenes/);
  await rejectsWith(small, { nGenes: 0, selectedCellSet: "louvain" }, ErrorCode.INVALID_INPUT, /nGenes/);
  await rejectsWith(small, { nGenes: 2.5, selectedCellSet: "louvain" }, ErrorCode.INVALID_INPUT, /nGenes/);
  await rejectsWith(small, { nGenes: MAX_GENES_PER_GROUP + 1, selectedCellSet: "louvain" }, ErrorCode.INVALID_INPUT, /nGenes/);
  await rejectsWith(small, { nGenes: 5, selectedCellSet: "louvain", cellSetKey: "louvain" }, ErrorCode.INVALID_INPUT, /cellSetKey/);
  await rejectsWith(small, { nGenes: 5, selectedCellSet: "" }, ErrorCode.INVALID_INPUT, /selectedCellSet/);
});
