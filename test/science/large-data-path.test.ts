/**
 * What preprocessing uses above 50,000 cells, run on pbmc3k (where preprocessing itself uses
 * scran.js's IRLBA and Annoy): the covariance PCA (numerics/sparse-pca.ts) and the forest
 * neighbour search (numerics/knn-forest.ts). The same checks against Seurat 4.3 as the
 * preprocessing's (seurat-preprocess.test.ts: PC1 and PC2, the spectrum, the clusters that
 * follow), and the same PCs as IRLBA's.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { normalizerOf, PREPROCESS } from "../../src/experiment/preprocess.ts";
import { computePca, COVARIANCE_PCA_CELLS, PCA_SAMPLE_CELLS } from "../../src/numerics/pca.ts";
import type { PcaOutput } from "../../src/numerics/sparse-pca.ts";
import { clusterFromNeighbors, clusteringSubset, firstPcs, sharedNeighbors } from "../../src/numerics/cluster.ts";
import { forestNeighbors } from "../../src/numerics/knn-forest.ts";
import { FOREST_KNN_CELLS } from "../../src/numerics/neighbors.ts";
import { PBMC3K } from "../helpers.ts";
import { adjustedRandIndex, pearson, reference } from "./reference.ts";

let exp: Experiment;
let pca: PcaOutput;
before(async () => {
  exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
  pca = await computePca(exp.data.matrix, normalizerOf(exp.data, exp.state), exp.state.hvgs, 50, PCA_SAMPLE_CELLS, "covariance");
});

const column = (scores: Float64Array, n: number, k: number, j: number): Float64Array => Float64Array.from({ length: n }, (_, i) => scores[i * k + j]!);

test("pbmc3k is below both thresholds (preprocessing's PCs are IRLBA's here, its neighbours Annoy's)", () => {
  assert.ok(exp.nCells <= COVARIANCE_PCA_CELLS && exp.nCells <= FOREST_KNN_CELLS);
});

test("covariance PCA: PC1 and PC2 agree with Seurat's, the spectrum matches, and every PC is IRLBA's", () => {
  const ref = reference<{ pc1: number[]; pc2: number[]; pca_sdev: number[] }>("clusters.json");
  const n = exp.nCells;
  assert.equal(pca.nPcs, 50);
  for (const [k, refPc] of [[0, ref.pc1], [1, ref.pc2]] as const) {
    const r = Math.abs(pearson(column(pca.scores, n, 50, k), refPc));
    assert.ok(r >= 0.99, `PC${k + 1} |r| with Seurat = ${r}`);
  }
  for (let k = 0; k < 10; k++) {
    const sd = Math.sqrt(pca.varianceExplained[k]!);
    assert.ok(Math.abs(sd / ref.pca_sdev[k]! - 1) < 0.02, `PC${k + 1} sd ${sd} vs ${ref.pca_sdev[k]}`);
  }
  // the same PCs as preprocessing's IRLBA, sign included (both orient each PC the same way)
  let worst = 1;
  for (let j = 0; j < 50; j++) worst = Math.min(worst, pearson(column(pca.scores, n, 50, j), column(exp.state.pca.scores, n, 50, j)));
  console.log(`covariance vs IRLBA PCs: smallest r over the 50 PCs ${worst.toFixed(6)}`);
  assert.ok(worst >= 0.999, `r = ${worst}`);
  // and the same variances (each PC's, as preprocessing stores them)
  for (let j = 0; j < 50; j++) {
    const a = pca.varianceExplained[j]!, b = exp.state.pca.varianceExplained[j]!;
    assert.ok(Math.abs(a / b - 1) < 1e-5, `PC${j + 1} variance ${a} vs IRLBA's ${b}`);
  }
});

test("covariance PCA: the neighbours and Louvain clusters that follow agree with Seurat's FindClusters (ARI >= 0.8)", async () => {
  const ref = reference<{ clusters: number[] }>("clusters.json");
  const n = exp.nCells;
  const dims = Math.min(PREPROCESS.pcsUsed, pca.nPcs);
  const nn = await sharedNeighbors(firstPcs(pca.scores, n, pca.nPcs, dims), n, dims);
  const louvain = clusterFromNeighbors(clusteringSubset(nn), PREPROCESS.resolution, PREPROCESS.seed);
  const ari = adjustedRandIndex(louvain, ref.clusters);
  const vsIrlba = adjustedRandIndex(louvain, exp.state.louvain);
  console.log(`covariance PCA clusters: ${new Set(louvain).size}; ARI with Seurat ${ari.toFixed(4)}, with the IRLBA pipeline's ${vsIrlba.toFixed(4)}`);
  assert.ok(ari >= 0.8, `ARI ${ari}`);
  assert.ok(vsIrlba >= 0.95, `ARI with IRLBA's clusters ${vsIrlba}`);
});

test("covariance PCA + forest neighbours: the Louvain clusters agree with Seurat's FindClusters (ARI >= 0.8)", () => {
  const ref = reference<{ clusters: number[] }>("clusters.json");
  const n = exp.nCells;
  const dims = Math.min(PREPROCESS.pcsUsed, pca.nPcs);
  const nn = forestNeighbors(firstPcs(pca.scores, n, pca.nPcs, dims), n, dims, exp.state.neighbors.k);
  const louvain = clusterFromNeighbors(clusteringSubset(nn), PREPROCESS.resolution, PREPROCESS.seed);
  const ari = adjustedRandIndex(louvain, ref.clusters);
  const vsPipeline = adjustedRandIndex(louvain, exp.state.louvain);
  console.log(`forest neighbours clusters: ${new Set(louvain).size}; ARI with Seurat ${ari.toFixed(4)}, with the IRLBA + Annoy pipeline's ${vsPipeline.toFixed(4)}`);
  assert.ok(ari >= 0.8, `ARI ${ari}`);
});
