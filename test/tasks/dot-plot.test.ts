/**
 * DotPlot on real data. Values against Seurat's DotPlot (fixture dotplot.json from
 * scripts/reference/seurat-markers-dotplot.R, Seurat 4.3.0 avg.exp / pct.exp with Seurat 5's
 * scale(log1p(avg.exp)) colour value), marker lists against the R marker reference, and every
 * error and empty case.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dotPlotTask, { compareNames, makeUnique, MAX_CUSTOM_GENES, scaleAcrossGroups, type DotPlotResult } from "../../src/tasks/dot-plot.ts";
import { groupsDigest } from "../../src/tasks/shared/markers.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { reference } from "../science/reference.ts";
import { PBMC3K, PBMC_SMALL } from "../helpers.ts";
import { runBody, rejectsWith as rejectsWithError } from "../task-helpers.ts";

interface DotCase {
  children: { key: string; name: string; cells: number[] }[];
  filter_cells: number[] | null;
  features: number[];
  feature_names: string[];
  custom_request?: string[];
  cellSetsNames: string[];
  geneNames: string[];
  markers?: { genes: number[]; groups: number[] };
  data: { id: string[]; gene: number[]; avg_exp: number[]; pct_exp: number[]; avg_exp_scaled: (number | null)[]; avg_exp_scaled_seurat43: (number | null)[] };
}
const fixture = reference<{ cases: Record<"custom" | "markers" | "filtered" | "single", DotCase> }>("dotplot.json");

const pbmc = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
const small = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

const cls = (key: string, children: { key: string; name?: string; cellIds: number[] }[]): CellClass =>
  ({ key, name: key, rootNode: true, type: "cellSets", children: children.map((c) => ({ name: c.key, ...c })) });

/** pbmc3k with the case's groups as class "groups" and a class "half" (first / second 1350 cells). */
function experimentFor(c: DotCase, base: Experiment = pbmc): Experiment {
  return new Experiment(base.data, base.state, [
    cls("groups", c.children.map((ch) => ({ key: ch.key, name: ch.name, cellIds: ch.cells }))),
    cls("half", [{ key: "half-first", cellIds: range(0, 1350) }, { key: "half-second", cellIds: range(1350, 2700) }]),
    ...base.cellSets,
  ], base.cache);
}

/** Validates and runs the body as the compute host does. */
async function run(exp: Experiment, body: Record<string, unknown>): Promise<DotPlotResult | []> {
  return (await runBody(dotPlotTask, exp, { name: "DotPlot", ...body })) as DotPlotResult | [];
}

const rejectsWith = (exp: Experiment, body: Record<string, unknown>, code: string, pattern: RegExp): Promise<void> =>
  rejectsWithError(run(exp, body), code, pattern);

const relClose = (a: number, b: number, tol = 1e-9): boolean => a === b || Math.abs(a - b) <= tol * Math.abs(b);

/** Our result against R's DotPlot data: same groups, genes, order and values within 1e-9 relative. */
function compareWithR(name: string, r: DotPlotResult | [], c: DotCase): void {
  assert.ok(!Array.isArray(r), `${name}: a result`);
  assert.deepEqual(r.cellSetsNames, c.cellSetsNames, `${name}: group names and order`);
  assert.deepEqual(r.geneNames, c.geneNames, `${name}: gene names and order`);
  const nGroups = c.cellSetsNames.length;
  const nGenes = c.features.length;
  assert.equal(r.cellSetsIdx.length, nGroups * nGenes);
  for (const key of ["geneNameIdx", "avgExpression", "cellsPercentage"] as const) assert.equal(r[key].length, nGroups * nGenes);
  const symbols = pbmc.data.genes.symbols;
  const rRow = new Map(c.data.id.map((id, i) => [`${id}|${symbols[c.data.gene[i]!]}`, i]));
  let maxRel = 0;
  let nulls = 0;
  r.cellSetsIdx.forEach((gi, i) => {
    // rows by group (in cellSetsNames order), then features in R's feature order
    assert.equal(gi, Math.floor(i / nGenes));
    const gene = r.geneNames[r.geneNameIdx[i]!]!;
    assert.equal(gene, c.feature_names[i % nGenes], `${name} row ${i}: feature order`);
    const j = rRow.get(`${r.cellSetsNames[gi]}|${gene}`);
    assert.ok(j !== undefined, `${name}: R has ${r.cellSetsNames[gi]} × ${gene}`);
    const want = c.data.avg_exp_scaled[j]!;
    const got = r.avgExpression[i]!;
    if (want === null) { nulls++; assert.equal(got, null, `${name} ${gene}: undefined scaling`); } else {
      assert.ok(got !== null && relClose(got, want), `${name} ${r.cellSetsNames[gi]} × ${gene}: avgExpression ${got} vs R ${want}`);
      if (want !== 0) maxRel = Math.max(maxRel, Math.abs(got - want) / Math.abs(want));
    }
    assert.ok(relClose(r.cellsPercentage[i]!, c.data.pct_exp[j]!), `${name} ${gene}: pct ${r.cellsPercentage[i]} vs R ${c.data.pct_exp[j]}`);
  });
  console.log(`${name}: ${nGroups} groups × ${nGenes} genes equal to Seurat's DotPlot, avgExpression max relative error ${maxRel.toExponential(2)}, ${nulls} undefined`);
}

test("custom genes: Seurat DotPlot values, tricky group names ordered and made unique as R does", async () => {
  const c = fixture.cases.custom;
  const exp = experimentFor(c);
  const r = await run(exp, { useMarkerGenes: false, customGenesList: c.custom_request, groupBy: "groups", filterBy: { group: "All", key: null } });
  compareWithR("custom", r, c);
  assert.ok(!Array.isArray(r));
  // the repeated name "Cluster 2" became "Cluster 2.1" for the later child; numbers sort as numbers
  assert.deepEqual(r.cellSetsNames, ["b cells", "B cells", "Cluster 2", "Cluster 2.1", "cluster 3", "Cluster 10", "Mono", "Mono 1", "NK"]);
  // the gene with no counts anywhere: undefined scaling → null in every group
  const zeroGene = r.geneNames.indexOf(c.feature_names.at(-1)!);
  assert.ok(r.geneNameIdx.every((g, i) => g !== zeroGene || (r.avgExpression[i] === null && r.cellsPercentage[i] === 0)));
  // the clip at 2.5 is reached
  assert.ok(r.avgExpression.includes(2.5));
});

test("one group: unscaled log1p(avg.exp), i.e. Seurat's own mean of expm1", async () => {
  const c = fixture.cases.single;
  const r = await run(experimentFor(c), { useMarkerGenes: false, customGenesList: c.custom_request ?? fixture.cases.custom.custom_request, groupBy: "groups" });
  compareWithR("single", r, c);
  assert.ok(!Array.isArray(r));
  r.avgExpression.forEach((v, i) => assert.ok(relClose(v!, Math.log1p(c.data.avg_exp[i]!)), `log1p(avg.exp) row ${i}`));
});

test("marker genes: R's 3 markers per group, then Seurat's values", async () => {
  const c = fixture.cases.markers;
  const exp = experimentFor(c);
  const r = await run(exp, { useMarkerGenes: true, numberOfMarkers: 3, customGenesList: [], groupBy: "groups", filterBy: { group: "All" } });
  assert.deepEqual(c.feature_names, [...new Set(c.markers!.genes.map((g) => pbmc.data.genes.symbols[g]!))]);
  compareWithR("markers", r, c);
});

test("filter: markers computed on the filtered cells only (not shared with MarkerHeatmap or the unfiltered plot)", async () => {
  const c = fixture.cases.filtered;
  assert.deepEqual(c.filter_cells, range(0, 1350));
  const exp = experimentFor(c);
  const body = { useMarkerGenes: true, numberOfMarkers: 3, customGenesList: [], groupBy: "groups" };
  const filtered = await run(exp, { ...body, filterBy: { group: "half", key: "half-first" } });
  compareWithR("filtered", filtered, c);
  const unfiltered = await run(exp, { ...body, filterBy: { group: "ALL", key: "All" } });
  compareWithR("markers (same experiment)", unfiltered, fixture.cases.markers);
  assert.notDeepEqual((filtered as DotPlotResult).geneNames, (unfiltered as DotPlotResult).geneNames);
  // memo scopes: DotPlot's marker lists are not MarkerHeatmap's
  const all = exp.cellSets[0]!.children.map((ch) => Int32Array.from(ch.cellIds).sort());
  assert.ok(exp.hasMemo(`markers:dotplot:${groupsDigest(all)}`));
  assert.ok(!exp.hasMemo(`markers:heatmap:${groupsDigest(all)}`));
  // filtering on the second half gives yet another list
  const second = await run(exp, { ...body, filterBy: { group: "half", key: "half-second" } });
  assert.notDeepEqual((second as DotPlotResult).geneNames, (filtered as DotPlotResult).geneNames);
});

test("groups: a cell in several children belongs to the last; cells in no child dropped; values independent", async () => {
  // pbmc_small: children A = cells 0..49, B = cells 40..59 (cells 40..49 go to B), 60..79 in none
  const exp = new Experiment(small.data, small.state, [cls("ov", [{ key: "A", cellIds: range(0, 50) }, { key: "B", cellIds: range(40, 60) }])], small.cache);
  const genes = ["CD79A", "S100A9", "GNLY", "MS4A1", "PPBP"];
  const r = await run(exp, { useMarkerGenes: false, customGenesList: genes, groupBy: "ov" });
  assert.ok(!Array.isArray(r));
  assert.deepEqual(r.cellSetsNames, ["A", "B"]);
  assert.deepEqual(r.geneNames, ["CD79A", "GNLY", "MS4A1", "PPBP", "S100A9"]);
  // independent dense computation
  const m = small.data.matrix;
  const totals = new Float64Array(m.nCells);
  for (let p = 0; p < m.indices.length; p++) totals[m.indices[p]!]! += m.values[p]!;
  const value = (g: number, c: number): number => {
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) if (m.indices[p] === c) return Math.log1p((m.values[p]! / totals[c]!) * 1e4);
    return 0;
  };
  const cellsOf = [range(0, 40), range(40, 60)];
  genes.forEach((name, f) => {
    const g = small.geneBySymbol(name)!;
    const avg = cellsOf.map((cells) => cells.reduce((s, c) => s + Math.expm1(value(g, c)), 0) / cells.length);
    const pct = cellsOf.map((cells) => (100 * cells.filter((c) => value(g, c) > 0).length) / cells.length);
    const x = avg.map(Math.log1p);
    const mean = (x[0]! + x[1]!) / 2;
    const sd = Math.sqrt(((x[0]! - mean) ** 2 + (x[1]! - mean) ** 2) / 1);
    [0, 1].forEach((k) => {
      const i = k * genes.length + f;
      assert.equal(r.geneNames[r.geneNameIdx[i]!], name);
      assert.ok(relClose(r.cellsPercentage[i]!, pct[k]!, 1e-12));
      const want = Math.max(-2.5, Math.min(2.5, (x[k]! - mean) / sd));
      assert.ok(relClose(r.avgExpression[i]!, want, 1e-12), `${name} ${k}: ${r.avgExpression[i]} vs ${want}`);
    });
  });
});

test("numerics: scaling (sample sd, clip ±2.5, one group log1p, sd 0 → NaN) and R's make.unique", () => {
  const s = scaleAcrossGroups([0, 0, 0, 0, 0, 0, 0, 0, 0, 100]);
  assert.equal(s[9], 2.5);
  const x = [1, 2, 4].map(Math.log1p);
  const mean = (x[0]! + x[1]! + x[2]!) / 3;
  const sd = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / 2);
  assert.deepEqual([...scaleAcrossGroups([1, 2, 4])].map((v) => v.toFixed(12)), x.map((v) => ((v - mean) / sd).toFixed(12)));
  assert.deepEqual([...scaleAcrossGroups([3])], [Math.log1p(3)]);
  assert.ok(scaleAcrossGroups([2, 2, 2]).every(Number.isNaN));
  // R: make.unique(c("a","a","a.1","a","b","b.1","b"))
  assert.deepEqual(makeUnique(["a", "a", "a.1", "a", "b", "b.1", "b"]), ["a", "a.2", "a.1", "a.3", "b", "b.1", "b.2"]);
  assert.deepEqual(["Cluster 10", "cluster 2", "Cluster 1", "B", "b"].sort(compareNames), ["b", "B", "Cluster 1", "cluster 2", "Cluster 10"]);
});

test("empty cases give []", async () => {
  const exp = new Experiment(small.data, small.state, [
    ...small.cellSets,
    cls("one", [{ key: "one-all", cellIds: range(0, 80) }]),
    cls("ghost", [{ key: "ghost-1", cellIds: [100_000, 100_001] }]),
    cls("part", [{ key: "part-a", cellIds: range(0, 10) }, { key: "part-b", cellIds: range(10, 20) }]),
    cls("outside", [{ key: "outside-1", cellIds: range(50, 80) }]),
  ], small.cache);
  const custom = { useMarkerGenes: false, customGenesList: ["CD79A"] };
  assert.deepEqual(await run(exp, { ...custom, groupBy: "scratchpad" }), []);                                      // no children
  assert.deepEqual(await run(exp, { ...custom, groupBy: "louvain", filterBy: { group: "ghost", key: "ghost-1" } }), []); // filter has no cell in the data
  assert.deepEqual(await run(exp, { ...custom, groupBy: "ghost" }), []);                                           // no cell in any group
  assert.deepEqual(await run(exp, { useMarkerGenes: true, groupBy: "one" }), []);                                   // markers of a single group
  assert.deepEqual(await run(exp, { useMarkerGenes: false, customGenesList: [], groupBy: "louvain" }), []);         // no genes asked
  assert.deepEqual(await run(exp, { ...custom, groupBy: "part", filterBy: { group: "outside", key: "outside-1" } }), []); // filtered cells in no group
  // the same groups without that filter do plot
  const p = await run(exp, { ...custom, groupBy: "part" });
  assert.ok(!Array.isArray(p) && p.cellSetsNames.length === 2);
});

test("custom genes: case-insensitive, request order, each once, unknown dropped; none known → GENE_NOT_FOUND", async () => {
  const exp = new Experiment(small.data, small.state, small.cellSets, small.cache);
  const r = await run(exp, { useMarkerGenes: false, customGenesList: ["ms4a1", "NOPE", "Cd79a", "MS4A1"], groupBy: "louvain", clusterNames: ["Cluster 0"] });
  assert.ok(!Array.isArray(r));
  assert.deepEqual(r.geneNames, ["CD79A", "MS4A1"]);
  assert.deepEqual(r.geneNameIdx.slice(0, 2), [1, 0]);
  const clusters = exp.cellSets.find((c) => c.key === "louvain")!.children.map((c) => c.name);
  assert.ok(clusters.length >= 3);
  assert.deepEqual(r.cellSetsNames, clusters); // "Cluster 0", "Cluster 1", … in numeric order
  await rejectsWith(exp, { useMarkerGenes: false, customGenesList: ["NOPE1", "nope2"], groupBy: "louvain" }, ErrorCode.GENE_NOT_FOUND, /NOPE1, nope2/);
});

test("errors: unknown keys are named; body limits", async () => {
  const exp = new Experiment(small.data, small.state, small.cellSets, small.cache);
  const ok = { useMarkerGenes: false, customGenesList: ["CD79A"], groupBy: "louvain" };
  await rejectsWith(exp, { ...ok, groupBy: "no-such-class" }, ErrorCode.INVALID_INPUT, /groupBy: .*"no-such-class"/);
  await rejectsWith(exp, { ...ok, groupBy: "louvain-1" }, ErrorCode.INVALID_INPUT, /groupBy: "louvain-1" is a cell set/);
  await rejectsWith(exp, { ...ok, filterBy: { group: "nope", key: "x" } }, ErrorCode.INVALID_INPUT, /filterBy\.group: .*"nope"/);
  await rejectsWith(exp, { ...ok, filterBy: { group: "louvain", key: "groups-g1" } }, ErrorCode.INVALID_INPUT, /filterBy\.key: class "louvain" has no cell set with key "groups-g1"/);
  await rejectsWith(exp, { ...ok, filterBy: { group: "louvain", key: null } }, ErrorCode.INVALID_INPUT, /filterBy\.key: give the key/);
  await rejectsWith(exp, { ...ok, filterBy: { group: "louvain-0", key: "louvain-0" } }, ErrorCode.INVALID_INPUT, /filterBy\.group: "louvain-0" is a cell set/);
  await rejectsWith(exp, { customGenesList: ["CD79A"], groupBy: "louvain" }, ErrorCode.INVALID_INPUT, /useMarkerGenes/);
  await rejectsWith(exp, { ...ok, useMarkerGenes: true, numberOfMarkers: 0 }, ErrorCode.INVALID_INPUT, /numberOfMarkers/);
  await rejectsWith(exp, { ...ok, numberOfMarkers: 1.5 }, ErrorCode.INVALID_INPUT, /numberOfMarkers/);
  await rejectsWith(exp, { ...ok, customGenesList: Array.from({ length: MAX_CUSTOM_GENES + 1 }, (_, i) => `g${i}`) }, ErrorCode.INVALID_INPUT, /customGenesList/);
  await rejectsWith(exp, { ...ok, colour: "red" }, ErrorCode.INVALID_INPUT, /colour/);
  await rejectsWith(exp, { ...ok, filterBy: { group: "All", extra: 1 } }, ErrorCode.INVALID_INPUT, /extra/);
  await rejectsWith(exp, { useMarkerGenes: false, customGenesList: ["CD79A"] }, ErrorCode.INVALID_INPUT, /groupBy/);
});
