/**
 * CellCycleScoring against Seurat 4.3.0's CellCycleScoring on real data (fixtures from
 * scripts/reference/seurat-cellcycle.R: pbmc3k, ids as features as in the original worker; and
 * pbmc_multibatch_2100, whose features are symbols), for Seurat's `cc.genes` (the original
 * worker's) and `cc.genes.updated.2019`.
 *
 * Two checks, as the issue asks: (1) the scoring arithmetic with R's control genes injected
 * (scores to 1e-6); (2) the whole TypeScript path, whose random numbers are R's own
 * (numerics/r-random.ts): the same expression bins and control genes as R, scores to 1e-9,
 * phases identical (the issue's bar is ≥ 99 %).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import task, { cellCycleFeatures, cellCycleScores } from "../../src/tasks/cell-cycle-scoring.ts";
import { CC_GENES, CC_GENES_UPDATED_2019 } from "../../src/numerics/cell-cycle-genes.ts";
import { cellCyclePhase, moduleScores } from "../../src/numerics/module-score.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { ErrorCode } from "../../src/result/errors.ts";
import { PBMC3K, PBMC_SMALL, ROOT } from "../helpers.ts";
import { runBody, rejectsWith } from "../task-helpers.ts";

type ListName = "cc.genes" | "cc.genes.updated.2019";
interface Case {
  s_features: number[]; g2m_features: number[]; ctrl: number;
  s_controls: number[]; g2m_controls: number[]; bins: number[];
  s_score: number[]; g2m_score: number[]; phase: string[];
}
const fixture = (ds: string): { n_cells: number; cases: Record<ListName, Case> } =>
  JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "reference", `cellcycle-${ds}.json`), "utf8"));

const cacheDir = join(tmpdir(), "cellworker-test-cache");
const pbmc = await openExperiment({ path: PBMC3K, cacheDir });
const multibatch = await openExperiment({ path: join(ROOT, "data", "pbmc_multibatch_2100"), cacheDir });
const small = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
const LISTS = { "cc.genes": CC_GENES, "cc.genes.updated.2019": CC_GENES_UPDATED_2019 } as const;

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

for (const [ds, exp] of [["pbmc3k", pbmc], ["pbmc_multibatch_2100", multibatch]] as const) {
  const fx = fixture(ds);
  for (const list of ["cc.genes", "cc.genes.updated.2019"] as const) {
    const want = fx.cases[list];

    test(`${ds} ${list}: features and ctrl as the original worker passes them to Seurat`, () => {
      const f = cellCycleFeatures(exp, LISTS[list]);
      assert.deepEqual(f.s, want.s_features);
      assert.deepEqual(f.g2m, want.g2m_features);
      assert.equal(f.ctrl, want.ctrl);
    });

    test(`${ds} ${list}: with R's control genes injected, scores equal Seurat's to 1e-6`, () => {
      const r = moduleScores({
        matrix: exp.data.matrix, normalizer: exp.normalizer, features: [want.s_features, want.g2m_features], ctrl: want.ctrl,
        controls: [want.s_controls, want.g2m_controls],
      });
      const d = Math.max(maxAbsDiff(r.scores[0]!, want.s_score), maxAbsDiff(r.scores[1]!, want.g2m_score));
      assert.ok(d <= 1e-6, `max |Δscore| ${d}`);
    });

    test(`${ds} ${list}: the full path draws R's bins and control genes; scores to 1e-9, phases identical`, async () => {
      const r = await cellCycleScores(exp, list);
      assert.deepEqual(Array.from(r.bins), want.bins);
      assert.deepEqual(Array.from(r.controls[0]!), want.s_controls);
      assert.deepEqual(Array.from(r.controls[1]!), want.g2m_controls);
      const d = Math.max(maxAbsDiff(r.scores[0]!, want.s_score), maxAbsDiff(r.scores[1]!, want.g2m_score));
      assert.ok(d <= 1e-9, `max |Δscore| ${d}`);
      const phases = Array.from(r.scores[0]!, (s, c) => cellCyclePhase(s, r.scores[1]![c]!));
      const agree = phases.filter((p, c) => p === want.phase[c]).length / phases.length;
      assert.ok(agree >= 0.99, `phase agreement ${agree}`);
      assert.deepEqual(phases, want.phase);
    });
  }
}

test("the task returns the Phase class (original shape) and puts it first, replacing an earlier Phase", async () => {
  const want = fixture("pbmc3k").cases["cc.genes.updated.2019"]; // the default list
  const exp = new Experiment(pbmc.data, pbmc.state, [...pbmc.cellSets], pbmc.cache);
  const cls = await runBody(task, exp, {}) as CellClass;
  assert.equal(cls.key, "Phase");
  assert.equal(cls.name, "Phase");
  assert.equal(cls.rootNode, true);
  assert.equal(cls.type, "cellSets");
  // children in order of first appearance over the cells, as the original's unique(phase)
  assert.deepEqual(cls.children.map((c) => c.name), [...new Set(want.phase)]);
  cls.children.forEach((child) => {
    assert.equal(child.key, `Phase-${child.name}`);
    assert.equal(child.rootNode, false);
    assert.equal(child.type, "cellSets");
    assert.match(child.color!, /^#[0-9a-f]{6}$/);
    const expected = want.phase.flatMap((p, c) => (p === child.name ? [exp.data.cellIds[c]!] : [])).sort((a, b) => a - b);
    assert.deepEqual(child.cellIds, expected);
  });
  assert.equal(new Set(cls.children.map((c) => c.color)).size, cls.children.length);
  assert.equal(exp.cellSets[0], cls);
  const again = await runBody(task, exp, { geneList: "cc.genes" }) as CellClass;
  assert.equal(exp.cellSets[0], again);
  assert.equal(exp.cellSets.filter((c) => c.key === "Phase").length, 1);
  assert.ok(exp.cellSets.some((c) => c.key === "louvain"));
  assert.equal(task.cacheable, false);
  assert.equal(task.effect, "replace-class");
});

test("symbols are matched case-insensitively (mouse-style symbols give the same phases)", async () => {
  const want = fixture("pbmc_multibatch_2100").cases["cc.genes.updated.2019"];
  const mouseStyle = (s: string): string => s.charAt(0) + s.slice(1).toLowerCase();
  const genes = { ids: multibatch.data.genes.ids.map(mouseStyle), symbols: multibatch.data.genes.symbols.map(mouseStyle) };
  const exp = new Experiment({ ...multibatch.data, genes }, multibatch.state, [], multibatch.cache);
  const cls = await runBody(task, exp, {}) as CellClass;
  for (const child of cls.children) {
    assert.equal(child.cellIds.length, want.phase.filter((p) => p === child.name).length, child.name);
  }
});

test("bad bodies are INVALID_INPUT naming the field", async () => {
  await rejectsWith(runBody(task, small, { extra: 1 }), ErrorCode.INVALID_INPUT, /extra/);
  await rejectsWith(runBody(task, small, { geneList: "tirosh" }), ErrorCode.INVALID_INPUT, /geneList/);
  await rejectsWith(runBody(task, small, { geneList: ["cc.genes"] }), ErrorCode.INVALID_INPUT, /geneList/);
  assert.doesNotThrow(() => task.validate(task.example));
});

test("data with none of the genes is GENE_NOT_FOUND; too few genes for the bins is DATA_UNSUPPORTED", async () => {
  const names = small.data.genes.ids.map((_, i) => `GENE${i}`);
  const none = new Experiment({ ...small.data, genes: { ids: names, symbols: names } }, small.state, [], small.cache);
  await rejectsWith(runBody(task, none, {}), ErrorCode.GENE_NOT_FOUND, /None of the S-phase genes of Seurat's cc\.genes/);
  assert.equal(none.cellSets.length, 0, "no class written on error");
  await rejectsWith(runBody(task, small, {}), ErrorCode.GENE_NOT_FOUND, /S-phase/); // pbmc_small has none either
  // two of its genes renamed to cell-cycle genes: 230 genes make bins of ~10, fewer than the
  // 44 control genes to draw from each (Seurat's sample() fails there too)
  const renamed = small.data.genes.symbols.map((s, i) => (i === 0 ? "MCM5" : i === 1 ? "HMGB2" : s));
  const tiny = new Experiment({ ...small.data, genes: { ids: renamed, symbols: renamed } }, small.state, [], small.cache);
  await rejectsWith(runBody(task, tiny, {}), ErrorCode.DATA_UNSUPPORTED, /more genes than this experiment has \(230\).*fewer than the 44 control genes/);
});
