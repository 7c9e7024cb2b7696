/**
 * The one-vs-rest marker kernel (numerics/markers.ts) on its own: pbmc_small's matrix and
 * normaliser, overlapping groups with cells in no group, each (gene, group) checked against
 * the sparse rank-sum test of wilcoxon.ts run on that group's values and the rest of the
 * union's; the selection rules of `rankMarkers`; `sampleGroups` and `topMarkerGenes`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openExperiment } from "../../src/experiment/open.ts";
import {
  forEachGeneOneVsRest, MARKER_FILTERS, oneVsRestTable, pValue, rankMarkers, sampleGroups, topMarkerGenes,
} from "../../src/numerics/markers.ts";
import { normalizedRow } from "../../src/numerics/normalize.ts";
import { rankSumSparse } from "../../src/numerics/stats/wilcoxon.ts";
import { PBMC_SMALL } from "../helpers.ts";

const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
const m = exp.data.matrix;
const norm = exp.normalizer;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
// overlapping groups (cells 20..29 in two), a duplicate, and cells 70..79 in none
const groups = [
  Int32Array.from([...range(0, 30), 5]),
  Int32Array.from(range(20, 50)),
  Int32Array.from(range(50, 70)),
];
const relClose = (a: number, b: number, tol: number): boolean => a === b || Math.abs(a - b) <= tol * Math.max(Math.abs(b), 1e-300);

test("every (gene, group) statistic equals the sparse rank-sum test of that group against the rest of the union", () => {
  const members = groups.map((g) => new Set(g));
  const universe = new Set(groups.flatMap((g) => [...g]));
  const t = oneVsRestTable(m, norm, groups);
  assert.equal(t.universe, 70);
  assert.deepEqual([...t.sizes], [30, 30, 20]);
  const G = m.nGenes;
  let tested = 0;
  for (let gene = 0; gene < G; gene++) {
    const row = normalizedRow(m, norm, gene);
    groups.forEach((_, k) => {
      const x: number[] = [];
      const y: number[] = [];
      row.cells.forEach((c, i) => {
        if (!universe.has(c)) return;
        (members[k]!.has(c) ? x : y).push(row.values[i]!);
      });
      const n1 = members[k]!.size;
      const n2 = universe.size - n1;
      const want = rankSumSparse(Float64Array.from(x), n1, Float64Array.from(y), n2);
      const i = k * G + gene;
      if (Number.isNaN(want.p)) { assert.ok(Number.isNaN(t.p[i]!), `gene ${gene} group ${k}: p NaN`); return; }
      tested++;
      assert.equal(t.w[i], want.w, `gene ${gene} group ${k}: W`);
      assert.equal(t.auc[i], want.auc, `gene ${gene} group ${k}: auc`);
      assert.ok(relClose(t.p[i]!, want.p, 1e-12), `gene ${gene} group ${k}: p ${t.p[i]} vs ${want.p}`);
      const mean = (v: number[], n: number): number => v.reduce((a, b) => a + b, 0) / n;
      assert.ok(Math.abs(t.logFC[i]! - (mean(x, n1) - mean(y, n2))) <= 1e-12, `gene ${gene} group ${k}: logFC`);
      assert.ok(Math.abs(t.pctIn[i]! - (100 * x.filter((v) => v !== 0).length) / n1) <= 1e-12);
      assert.ok(Math.abs(t.pctOut[i]! - (100 * y.filter((v) => v !== 0).length) / n2) <= 1e-12);
    });
  }
  assert.ok(tested > G, `${tested} tests`);
});

test("a group covering the whole union, or empty, has no test (NaN); the visitor sees every gene in order", () => {
  const seen: number[] = [];
  const layout = forEachGeneOneVsRest(m, norm, [Int32Array.from(range(0, 40)), new Int32Array(0)], (gene, s) => {
    seen.push(gene);
    assert.ok(Number.isNaN(s.z[0]!) && Number.isNaN(s.z[1]!) && Number.isNaN(s.logFC[0]!));
  });
  assert.deepEqual(seen, range(0, m.nGenes));
  assert.deepEqual([...layout.sizes], [40, 0]);
  assert.equal(layout.universe, 40);
});

test("rankMarkers: filters, lowest-p group per gene, decreasing logFC; topMarkerGenes takes the first n per group", () => {
  const t = oneVsRestTable(m, norm, groups);
  const ranked = rankMarkers(m, norm, groups);
  const G = m.nGenes;
  const placed = new Map<number, number>();
  ranked.byGroup.forEach((genes, k) => {
    for (let j = 0; j < genes.length; j++) {
      const gene = genes[j]!;
      assert.ok(!placed.has(gene), `gene ${gene} in one group only`);
      placed.set(gene, k);
      const i = k * G + gene;
      assert.ok(t.logFC[i]! > 0 && t.auc[i]! >= MARKER_FILTERS.minAuc && t.pctIn[i]! >= MARKER_FILTERS.minPctIn && t.pctOut[i]! <= MARKER_FILTERS.maxPctOut);
      if (j > 0) assert.ok(t.logFC[(k * G) + genes[j - 1]!]! >= t.logFC[i]!, "decreasing logFC");
    }
  });
  assert.ok(placed.size > 10, `${placed.size} markers`);
  for (const [gene, k] of placed) {
    groups.forEach((_, o) => {
      const i = o * G + gene;
      const passes = t.logFC[i]! > 0 && t.auc[i]! >= 0.3 && t.pctIn[i]! >= 20 && t.pctOut[i]! <= 70;
      if (passes && o !== k) assert.ok(t.p[k * G + gene]! < t.p[i]! || (t.p[k * G + gene] === t.p[i] && k < o), `gene ${gene}: lowest p`);
    });
  }
  assert.deepEqual(topMarkerGenes(ranked, 2), ranked.byGroup.flatMap((g) => [...g.slice(0, 2)]));
  assert.equal(pValue(40), 0);
});

test("sampleGroups: groups at or under the cap unchanged; otherwise seeded draws, the same every time", () => {
  assert.deepEqual(sampleGroups(groups, 31).map((g) => [...g]), groups.map((g) => [...g]));
  const a = sampleGroups(groups, 10);
  assert.equal(a[2]!.length, 10); // no overlap: exactly its own draw
  assert.ok(a[0]!.length >= 10 && a[0]!.length < groups[0]!.length && a[1]!.length >= 10 && a[1]!.length < 30);
  assert.deepEqual(a.map((g) => [...g]), sampleGroups(groups, 10).map((g) => [...g]));
  assert.ok(a.every((g, k) => [...g].every((c) => groups[k]!.includes(c))));
});
