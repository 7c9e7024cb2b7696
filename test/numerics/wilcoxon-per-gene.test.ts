/**
 * `rankSumPerGene` (numerics/stats/wilcoxon.ts), the per-gene kernel of DifferentialExpression
 * `within`, on pbmc_small's matrix and normaliser: each gene's result equals the rank-sum
 * test run on that gene's values of the two groups, with logFC, percentages and the all-zero
 * case as documented; cells labelled 0 take no part.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openExperiment } from "../../src/experiment/open.ts";
import { normalizedRow } from "../../src/numerics/normalize.ts";
import { rankSumPerGene, rankSumSparse } from "../../src/numerics/stats/wilcoxon.ts";
import { PBMC_SMALL } from "../helpers.ts";

const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
const m = exp.data.matrix;
const norm = exp.normalizer;

test("every gene: p and auc of the sparse rank-sum test, logFC and percentages of the two groups", () => {
  // cells 0..29 → group 1, 30..64 → group 2, the rest in neither
  const labels = Int8Array.from({ length: m.nCells }, (_, c) => (c < 30 ? 1 : c < 65 ? 2 : 0));
  const n1 = 30;
  const n2 = 35;
  const fractions: number[] = [];
  const r = rankSumPerGene(m, norm, labels, n1, n2, (f) => fractions.push(f));
  assert.ok(fractions.every((f) => f >= 0 && f < 1));
  let undefinedTests = 0;
  for (let g = 0; g < m.nGenes; g++) {
    const row = normalizedRow(m, norm, g);
    const x: number[] = [];
    const y: number[] = [];
    row.cells.forEach((c, i) => { if (labels[c] === 1) x.push(row.values[i]!); else if (labels[c] === 2) y.push(row.values[i]!); });
    const sum = (v: number[]): number => v.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(r.logFC[g]! - (sum(x) / n1 - sum(y) / n2)) <= 1e-12, `gene ${g}: logFC`);
    assert.equal(r.pct1[g], (100 * x.length) / n1);
    assert.equal(r.pct2[g], (100 * y.length) / n2);
    if (x.length + y.length === 0) {
      undefinedTests++;
      assert.ok(Number.isNaN(r.p[g]!));
      assert.equal(r.auc[g], 0.5);
      continue;
    }
    const want = rankSumSparse(Float64Array.from(x), n1, Float64Array.from(y), n2);
    assert.equal(r.p[g], want.p, `gene ${g}: p`);
    assert.equal(r.auc[g], want.auc, `gene ${g}: auc`);
  }
  assert.ok(undefinedTests > 0 && undefinedTests < m.nGenes / 2, `${undefinedTests} genes with no value in either group`);
});
