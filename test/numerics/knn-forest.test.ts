/**
 * The random-projection forest neighbour search (numerics/knn-forest.ts, used above
 * FOREST_KNN_CELLS cells): on pbmc3k's 30 PCs it must find at least as many of the exact 30
 * nearest neighbours as scran.js's Annoy (what smaller data uses), list them nearest first with
 * their true distances, never the cell itself or a cell twice; and it must cope with tiny and
 * degenerate data.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { firstPcs } from "../../src/numerics/cluster.ts";
import { forestNeighbors } from "../../src/numerics/knn-forest.ts";
import type { Neighbors } from "../../src/numerics/scran.ts";
import { PBMC3K } from "../helpers.ts";
import { exactKnn } from "../science/reference.ts";

let exp: Experiment;
before(async () => {
  exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
});

/** Each cell's neighbours: not itself, no repeats, nearest first, distances true. */
function checkWellFormed(nn: Neighbors, x: Float64Array, d: number): void {
  for (let i = 0; i < nn.nCells; i++) {
    const row = nn.indices.subarray(i * nn.k, (i + 1) * nn.k);
    assert.equal(new Set(row).size, nn.k, `cell ${i}: a neighbour twice`);
    assert.ok(!row.includes(i), `cell ${i} is its own neighbour`);
    for (let t = 0; t < nn.k; t++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += (x[i * d + c]! - x[row[t]! * d + c]!) ** 2;
      assert.ok(Math.abs(Math.sqrt(s) - nn.distances[i * nn.k + t]!) < 1e-9);
      if (t > 0) assert.ok(nn.distances[i * nn.k + t]! >= nn.distances[i * nn.k + t - 1]!);
    }
  }
}

test("pbmc3k, 30 neighbours in 30 PCs: at least Annoy's share of the exact neighbours, well formed, deterministic", () => {
  const n = exp.nCells, d = 30, k = 30;
  const x = firstPcs(exp.state.pca.scores, n, exp.state.pca.nPcs, d);
  const nn = forestNeighbors(x, n, d, k);
  assert.equal(nn.k, k);
  checkWellFormed(nn, x, d);
  const exact = exactKnn(x, n, d, k);
  const annoy = exp.state.neighbors;
  let forestHits = 0, annoyHits = 0;
  for (let i = 0; i < n; i++) {
    const truth = new Set(exact[i]);
    for (let t = 0; t < k; t++) {
      if (truth.has(nn.indices[i * k + t]!)) forestHits++;
      if (truth.has(annoy.indices[i * annoy.k + t]!)) annoyHits++;
    }
  }
  const recall = forestHits / (n * k), annoyRecall = annoyHits / (n * k);
  console.log(`recall of the exact 30 neighbours: forest ${recall.toFixed(4)}, Annoy ${annoyRecall.toFixed(4)}`);
  assert.ok(recall >= 0.99, `forest recall ${recall}`);
  assert.ok(recall >= annoyRecall, `forest ${recall} vs Annoy ${annoyRecall}`);
  assert.deepEqual(forestNeighbors(x, n, d, k).indices, nn.indices);
});

test("tiny and degenerate data: fewer cells than k, identical cells", () => {
  // 5 cells, k 30: the 4 others, exactly
  const x = Float64Array.from([0, 0, 1, 0, 0, 2, 5, 5, 1, 1]);
  const nn = forestNeighbors(x, 5, 2, 30);
  assert.equal(nn.k, 4);
  checkWellFormed(nn, x, 2);
  assert.deepEqual(Array.from(nn.indices.subarray(0, 4)), [1, 4, 2, 3]);
  // 300 identical cells: any 10 others, at distance 0
  const same = new Float64Array(300 * 3).fill(1.5);
  const flat = forestNeighbors(same, 300, 3, 10);
  assert.equal(flat.k, 10);
  checkWellFormed(flat, same, 3);
  // one cell, no neighbours
  assert.equal(forestNeighbors(new Float64Array(2), 1, 2, 5).k, 0);
});
