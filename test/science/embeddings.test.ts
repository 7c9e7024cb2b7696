/**
 * UMAP and t-SNE quality against Seurat's RunUMAP/RunTSNE on pbmc3k: the mean fraction of each
 * cell's 15 nearest neighbours in PCA space (first 30 PCs) kept among its 15 nearest in the
 * embedding must be at least Seurat's minus 0.02.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { computeEmbedding } from "../../src/experiment/embeddings.ts";
import { firstPcs } from "../../src/numerics/cluster.ts";
import { PBMC3K } from "../helpers.ts";
import { exactKnn, knnPreservation, reference } from "./reference.ts";

let exp: Experiment;
let pcaKnn: Int32Array[];
const ref = reference<{ umap_knn15_preservation: number; tsne_knn15_preservation: number }>("embedding_quality.json");

before(async () => {
  exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
  const { scores, nPcs } = exp.state.pca;
  pcaKnn = exactKnn(firstPcs(scores, exp.nCells, nPcs, 30), exp.nCells, 30, 15);
});

for (const type of ["umap", "tsne"] as const) {
  test(`${type}: kNN-15 preservation at least Seurat's minus 0.02`, async () => {
    const params = type === "umap"
      ? { type, minDist: 0.3, metric: "euclidean" as const }
      : { type, perplexity: 30, learningRate: 200 };
    const coords = await computeEmbedding(exp, params);
    const ours = knnPreservation(pcaKnn, exactKnn(coords, exp.nCells, 2, 15));
    const seurat = type === "umap" ? ref.umap_knn15_preservation : ref.tsne_knn15_preservation;
    console.log(`${type}: kNN-15 preservation cellworker ${ours.toFixed(4)}, Seurat ${seurat.toFixed(4)}`);
    assert.ok(ours >= seurat - 0.02, `${ours} < ${seurat} - 0.02`);
    // memoised: the same parameters return the very same array
    assert.equal(await computeEmbedding(exp, params), coords);
  });
}
