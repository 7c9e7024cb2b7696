/**
 * PCA fitted on a sample of cells with every cell projected (numerics/pca.ts, used above
 * PCA_SAMPLE_CELLS cells): on pbmc3k with a sample of half the cells, the leading PCs and each
 * cell's neighbourhoods must match the PCA of all cells; below the limit nothing changes.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { normalizerOf } from "../../src/experiment/preprocess.ts";
import { computePca, sampleCellPositions } from "../../src/numerics/pca.ts";
import { firstPcs } from "../../src/numerics/cluster.ts";
import { PBMC3K } from "../helpers.ts";
import { exactKnn, knnPreservation, pearson } from "../science/reference.ts";

let exp: Experiment;
before(async () => {
  exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
});

function column(scores: Float64Array, n: number, k: number, j: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = scores[i * k + j]!;
  return out;
}
test("sample positions: the requested size, in cell order, seeded", () => {
  const a = sampleCellPositions(1000, 300, 1);
  const drawn = [...a.keys()].filter((c) => a[c]! >= 0);
  assert.equal(drawn.length, 300);
  assert.deepEqual(drawn.map((c) => a[c]), [...Array(300).keys()]);
  assert.deepEqual(sampleCellPositions(1000, 300, 1), a);
  assert.notDeepEqual(sampleCellPositions(1000, 300, 2), a);
  // roughly uniform: each half of the cells holds about half of the sample
  const firstHalf = drawn.filter((c) => c < 500).length;
  assert.ok(firstHalf > 120 && firstHalf < 180, `${firstHalf}`);
});

test("PCA fitted on a sample: all but one cell reproduces the PCA of all cells; half of them keeps the leading PCs", async () => {
  const n = exp.nCells;
  const norm = normalizerOf(exp.data, exp.state);
  const full = await computePca(exp.data.matrix, norm, exp.state.hvgs, 50);
  // below the limit: the same computation as preprocessing's
  assert.deepEqual(full.scores, exp.state.pca.scores);
  // a sample of n - 1 cells: the same leading PCs (projection, centring and signs right), the same neighbourhoods
  // (beyond about the 20th, PCs of nearly equal variance mix even when one cell is left out)
  const almost = await computePca(exp.data.matrix, norm, exp.state.hvgs, 50, n - 1);
  assert.equal(almost.nPcs, 50);
  assert.equal(almost.scores.length, n * 50);
  for (let j = 0; j < 20; j++) {
    // (a sign may differ where a PC's two largest-magnitude scores are close: signs are arbitrary)
    const r = pearson(column(full.scores, n, 50, j), column(almost.scores, n, 50, j));
    assert.ok(Math.abs(r) > 0.99, `PC${j + 1}: r = ${r.toFixed(4)}`);
  }
  const kept = knnPreservation(exactKnn(firstPcs(full.scores, n, 50, 30), n, 30, 15), exactKnn(firstPcs(almost.scores, n, 50, 30), n, 30, 15));
  assert.ok(kept > 0.9, `kNN-15 kept ${kept.toFixed(4)}`);
  // scores centred on all cells
  for (let j = 0; j < 5; j++) {
    const mean = column(almost.scores, n, 50, j).reduce((s, x) => s + x, 0) / n;
    assert.ok(Math.abs(mean) < 1e-9, `PC${j + 1} mean ${mean}`);
  }
  // half of the cells (1,350): the leading PCs keep their direction for every cell, projected ones included
  // (later PCs, of close variances, rotate among themselves with so few cells)
  const half = await computePca(exp.data.matrix, norm, exp.state.hvgs, 50, 1350);
  const minR = [0.99, 0.98, 0.85, 0.8, 0.9];
  minR.forEach((min, j) => {
    const r = pearson(column(full.scores, n, 50, j), column(half.scores, n, 50, j));
    assert.ok(r > min, `PC${j + 1}: r = ${r.toFixed(4)}`);
  });
});
