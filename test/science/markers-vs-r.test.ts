/**
 * Marker genes against the R reference (fixture markers.json from
 * scripts/reference/seurat-markers-dotplot.R): presto-style one-vs-rest Wilcoxon on Seurat's
 * LogNormalize values of pbmc3k (p as wilcox.test), then the Cellenics getTopMarkerGenes
 * selection. Groups: Seurat's 9 clusters (clusters.json), and an overlapping variant with
 * cells in no child. The cell sets are built from the fixture's cell indices (pbmc3k: cell id
 * = cell index) and resolved by the task itself.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import markerHeatmapTask from "../../src/tasks/marker-heatmap.ts";
import { oneVsRestTable, rankMarkers } from "../../src/tasks/shared/markers.ts";
import { topMarkerGenes } from "../../src/numerics/markers.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { PBMC3K } from "../helpers.ts";
import { reference } from "./reference.ts";

interface Case {
  children: { key: string; name: string; cells: number[] }[];
  universe_size: number;
  group_sizes: number[];
  top: Record<string, { genes: number[]; groups: number[]; names: string[] }>;
  all: { genes: number[]; groups: number[]; names: string[]; p: (number | null)[]; logFC: number[]; auc: number[]; pct_in: number[]; pct_out: number[] };
  passing: { gene: number[]; group: number[] };
}
const fixture = reference<{ cases: { clusters: Case; overlap: Case } }>("markers.json");
const { clusters } = reference<{ clusters: number[] }>("clusters.json");

const pbmc = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
assert.ok(pbmc.data.cellIds.every((id, i) => id === i), "pbmc3k: cell id = cell index");

const classOf = (c: Case): CellClass => ({
  key: "ref", name: "reference groups", rootNode: true, type: "cellSets",
  children: c.children.map((ch) => ({ key: ch.key, name: ch.name, cellIds: ch.cells })),
});
const groupsOf = (c: Case): Int32Array[] => c.children.map((ch) => Int32Array.from(ch.cells));

async function heatmap(exp: Experiment, nGenes: number): Promise<string[]> {
  const body = markerHeatmapTask.body.parse({ name: "MarkerHeatmap", nGenes, selectedCellSet: "ref" });
  return ((await markerHeatmapTask.run(body, { experiment: exp, pagination: undefined, progress: () => {} })) as { orderedGeneNames: string[] }).orderedGeneNames;
}

test("fixture groups are Seurat's clusters", () => {
  const c = fixture.cases.clusters;
  c.children.forEach((ch, k) => assert.deepEqual(ch.cells, clusters.flatMap((l, i) => (l === k ? [i] : []))));
  assert.equal(fixture.cases.overlap.universe_size, clusters.filter((l) => l <= 6).length);
});

for (const name of ["clusters", "overlap"] as const) {
  const c = fixture.cases[name];

  test(`${name}: MarkerHeatmap lists equal R's for nGenes 5 and 3 (same genes per group, same order)`, async () => {
    const exp = new Experiment(pbmc.data, pbmc.state, [classOf(c)], pbmc.cache);
    await heatmap(exp, 5); // warm-up (JIT, and fills the memo)
    const fresh = new Experiment(pbmc.data, pbmc.state, [classOf(c)], pbmc.cache);
    const t = performance.now();
    const top5 = await heatmap(fresh, 5);
    const ms = performance.now() - t;
    console.log(`${name}: MarkerHeatmap on pbmc3k, ${c.children.length} groups: ${ms.toFixed(0)} ms`);
    assert.deepEqual(top5, c.top["5"]!.names);
    assert.deepEqual(await heatmap(fresh, 3), c.top["3"]!.names);
  });

  test(`${name}: every ranked marker (gene, group, order) equals R's`, () => {
    const ranked = rankMarkers(pbmc, groupsOf(c));
    assert.equal(ranked.layout.universe, c.universe_size);
    assert.deepEqual([...ranked.layout.sizes], c.group_sizes);
    assert.deepEqual(topMarkerGenes(ranked, 100_000), c.all.genes);
    assert.deepEqual(ranked.byGroup.flatMap((g, k) => Array.from(g, () => k)), c.all.groups);
    console.log(`${name}: ${c.all.genes.length} ranked markers equal to R's`);
  });

  test(`${name}: the (gene, group) pairs passing the filters are R's; their statistics agree`, () => {
    const groups = groupsOf(c);
    const table = oneVsRestTable(pbmc, groups);
    const G = pbmc.nGenes;
    const passing: string[] = [];
    for (let i = 0; i < groups.length * G; i++) {
      if (table.logFC[i]! > 0 && table.auc[i]! >= 0.3 && table.pctIn[i]! >= 20 && table.pctOut[i]! <= 70) passing.push(`${i % G}/${Math.floor(i / G)}`);
    }
    const theirs = c.passing.gene.map((g, i) => `${g}/${c.passing.group[i]}`);
    assert.deepEqual(passing.sort(), theirs.sort());
    let maxRelP = 0;
    let maxFC = 0;
    let zeros = 0;
    c.all.genes.forEach((gene, i) => {
      const at = c.all.groups[i]! * G + gene;
      const p = table.p[at]!;
      const want = c.all.p[i]!;
      if (want === 0) { zeros++; assert.equal(p, 0, `gene ${gene}: R's p is 0`); } else {
        const rel = Math.abs(p - want) / want;
        maxRelP = Math.max(maxRelP, rel);
        assert.ok(rel <= 1e-9, `gene ${gene}: p ${p} vs R ${want}`);
      }
      maxFC = Math.max(maxFC, Math.abs(table.logFC[at]! - c.all.logFC[i]!));
      assert.ok(Math.abs(table.logFC[at]! - c.all.logFC[i]!) <= 1e-12, `gene ${gene}: logFC`);
      assert.ok(Math.abs(table.auc[at]! - c.all.auc[i]!) <= 1e-14, `gene ${gene}: auc`);
      assert.equal(table.pctIn[at], c.all.pct_in[i]);
      assert.equal(table.pctOut[at], c.all.pct_out[i]);
    });
    console.log(`${name}: ${passing.length} passing pairs equal; p max relative error ${maxRelP.toExponential(2)} (${zeros} R p = 0, ours too), logFC max error ${maxFC.toExponential(2)}`);
  });
}
