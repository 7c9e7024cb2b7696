/**
 * What preprocessing does above 50,000 cells against what it did before (and still does below):
 * the covariance PCA (src/numerics/sparse-pca.ts) against scran.js's IRLBA on the same scaled
 * HVGs, and the forest neighbour search (src/numerics/knn-forest.ts) against scran.js's Annoy on
 * the same 30 PCs. Prints JSON: each method's time on this process's CPU(s), the PCs' agreement
 * (per-PC Pearson r of the scores, relative difference of the variances), each search's recall
 * of the exact 30 neighbours of `--sample` random cells, the Louvain clusters (resolution 0.8)
 * each search leads to (their ARI), and the UMAP each gives (kNN-15 preservation over the same
 * sampled cells, the measure of bench/umap-quality.ts).
 *
 *   taskset -c 0 node bench/large-data-path.ts [--sample 2000] DATASET_DIR_OR_FILE > out.json
 *
 * The dataset is opened through the processed-state cache (built on the first run).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { openExperiment } from "../src/experiment/open.ts";
import { normalizerOf, PREPROCESS } from "../src/experiment/preprocess.ts";
import { shiftedScaledRows } from "../src/numerics/pca.ts";
import { covariancePca } from "../src/numerics/sparse-pca.ts";
import { annoyNeighbors, embed2d, irlbaPca, type Neighbors } from "../src/numerics/scran.ts";
import { forestNeighbors } from "../src/numerics/knn-forest.ts";
import { clusterFromNeighbors, clusteringSubset, firstPcs, UMAP_NEIGHBORS } from "../src/numerics/cluster.ts";
import { umapEpochs } from "../src/experiment/embeddings.ts";
import { Random } from "../src/numerics/random.ts";
import { exactKnn, knnPreservation } from "./knn-quality.ts";
import { adjustedRandIndex, pearson } from "../test/science/reference.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { sample: { type: "string", default: "2000" } } });
const path = positionals[0];
if (!path) {
  process.stderr.write("usage: large-data-path.ts [--sample 2000] DATASET\n");
  process.exit(2);
}
const log = (m: string): void => { process.stderr.write(`[large-data-path ${new Date().toISOString().slice(11, 19)}] ${m}\n`); };
const timed = async <T>(f: () => T | Promise<T>): Promise<[T, number]> => { const t = performance.now(); const v = await f(); return [v, Math.round(performance.now() - t)]; };

const exp = await openExperiment({ path, cacheDir: join(tmpdir(), "cellworker-bench-large-data-cache") });
await exp.matrixReady();
const n = exp.nCells;
const hvgs = exp.state.hvgs;
log(`${n} cells; PCA`);
const rows = shiftedScaledRows(exp.data.matrix, normalizerOf(exp.data, exp.state), hvgs);
const nPcs = Math.min(PREPROCESS.nPcs, n - 1);
const [irlba, irlbaMs] = await timed(() => irlbaPca(hvgs.length, n, rows.indptr, rows.indices, rows.values, nPcs));
const [cov, covMs] = await timed(() => covariancePca(hvgs.length, n, rows.indptr, rows.indices, rows.values, nPcs));
const column = (s: Float64Array, k: number, j: number): Float64Array => Float64Array.from({ length: n }, (_, i) => s[i * k + j]!);
const r = Array.from({ length: nPcs }, (_, j) => pearson(column(irlba.scores, nPcs, j), column(cov.scores, nPcs, j)));
const varianceDiff = Array.from({ length: nPcs }, (_, j) => Math.abs(cov.varianceExplained[j]! / irlba.varianceExplained[j]! - 1));

log("neighbours");
const dims = Math.min(PREPROCESS.pcsUsed, nPcs);
const coords = firstPcs(cov.scores, n, nPcs, dims);
const sampled = new Random(1).sampleIndices(n, Math.min(n, Number(values.sample)));
const exact30 = exactKnn(coords, n, dims, UMAP_NEIGHBORS, sampled);
const exact15 = exactKnn(coords, n, dims, 15, sampled);
const recall = (nn: Neighbors): number => {
  let hit = 0;
  sampled.forEach((c, q) => { const truth = new Set(exact30[q]); for (let t = 0; t < nn.k; t++) if (truth.has(nn.indices[c * nn.k + t]!)) hit++; });
  return hit / (sampled.length * nn.k);
};
const searches: Record<string, { nn: Neighbors; ms: number }> = {};
for (const [name, search] of [["annoy", () => annoyNeighbors(coords, n, dims, UMAP_NEIGHBORS)], ["forest", () => forestNeighbors(coords, n, dims, UMAP_NEIGHBORS)]] as const) {
  const [nn, ms] = await timed(search);
  searches[name] = { nn, ms };
}
log("clusters and UMAP");
const methods: Record<string, unknown> = {};
const clusters: Record<string, Int32Array> = {};
for (const [name, { nn, ms }] of Object.entries(searches)) {
  const [labels, clusterMs] = await timed(() => clusterFromNeighbors(clusteringSubset(nn), PREPROCESS.resolution, PREPROCESS.seed));
  clusters[name] = labels;
  const [layout, umapMs] = await timed(() => embed2d(nn, { method: "umap", minDist: 0.3, epochs: umapEpochs(n), start: coords, startDims: dims }));
  methods[name] = {
    searchMs: ms, recallOfExact30: Number(recall(nn).toFixed(4)),
    louvain: { clusters: new Set(labels).size, ms: clusterMs },
    umap: { layoutMs: umapMs, knn15Preservation: Number(knnPreservation(exact15, exactKnn(layout, n, 2, 15, sampled)).toFixed(4)) },
  };
  log(`${name}: ${JSON.stringify(methods[name])}`);
}

const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
process.stdout.write(JSON.stringify({
  commit, date: new Date().toISOString(), command: `node bench/large-data-path.ts ${process.argv.slice(2).join(" ")}`,
  dataset: path, cells: n, sampledCells: sampled.length,
  pca: {
    irlbaMs, covarianceMs: covMs, pcs: nPcs,
    smallestR: Number(Math.min(...r).toFixed(6)), rOfPc: { 1: Number(r[0]!.toFixed(6)), 10: Number(r[9]?.toFixed(6)), 30: Number(r[29]?.toFixed(6)), 50: Number(r[49]?.toFixed(6)) },
    largestVarianceRelativeDifference: Number(Math.max(...varianceDiff).toExponential(2)),
  },
  neighbours: methods,
  clustersAri: Number(adjustedRandIndex(clusters["annoy"]!, clusters["forest"]!).toFixed(4)),
}, null, 2) + "\n");
process.exit(0);
