/**
 * t-SNE quality and speed, old (scran.js Barnes-Hut, qdtsne, 1,000 iterations) against new
 * (FFT-interpolated repulsion, src/numerics/tsne/, its default iterations), as GetEmbedding
 * {type: "tsne", perplexity 30, learningRate 200} computes it: the 90-neighbour search on the
 * first 30 PCs plus the layout. Quality: kNN-15 preservation (mean fraction of each cell's 15
 * nearest neighbours in the first-30-PC space kept among its 15 nearest in 2-D;
 * test/science/embeddings.test.ts's metric). Prints JSON.
 *
 *   taskset -c 0 node bench/tsne-quality.ts [--reps 3] [--variants old,new] [--sample 0] DATASET_DIR...
 *
 * Old and new alternate within each repetition (the machine is shared with other work, so wall
 * times are noisy: cpuMs, the process's CPU time, is the steadier figure); times are medians.
 */
import { tmpdir } from "node:os";
import { join, basename } from "node:path";
import { parseArgs } from "node:util";
import { openExperiment } from "../src/experiment/open.ts";
import { firstPcs } from "../src/numerics/cluster.ts";
import { embed2d, type EmbeddingMethod } from "../src/numerics/scran.ts";
import { nearestNeighbors } from "../src/numerics/neighbors.ts";
import { exactKnn, knnPreservation } from "./knn-quality.ts";
import { DEFAULT_TSNE_ITERATIONS } from "../src/numerics/tsne/tsne.ts";
import { DEFAULT_INTERPOLATION } from "../src/numerics/tsne/interpolation.ts";
import { execFileSync } from "node:child_process";
import { Random } from "../src/numerics/random.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    reps: { type: "string", default: "3" },
    // preservation over this many random cells (their neighbours among all cells): for 100k cells
    sample: { type: "string", default: "0" },
    variants: { type: "string", default: "old,new" },
  },
});
const reps = Number(values.reps);
const sample = Number(values.sample);
const variants = values.variants.split(",") as ("old" | "new")[];

const median = (a: number[]) => { const s = [...a].sort((p, q) => p - q); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

const results = [];
for (const path of positionals) {
  const exp = await openExperiment({ path, cacheDir: join(tmpdir(), "cellworker-bench-tsne-cache") });
  const n = exp.nCells;
  const { scores, nPcs } = exp.state.pca;
  const coords = firstPcs(scores, n, nPcs, 30);
  const dims = Math.min(30, nPcs);
  const rows = sample > 0 && sample < n ? new Random(1).sampleIndices(n, sample) : null;
  const pcaKnn = exactKnn(coords, n, dims, 15, rows);
  const perVariant: Record<string, { ms: number[]; cpuMs: number[]; neighborMs: number[]; preservation: number[] }> = {};
  for (let r = 0; r < reps; r++) {
    for (const v of variants) {
      const started = performance.now(); const cpu0 = process.cpuUsage();
      const nn = await nearestNeighbors(coords, n, dims, 90);
      const neighborMs = performance.now() - started;
      const opts: EmbeddingMethod = v === "old"
        ? { method: "tsne-barnes-hut", perplexity: 30, maxIterations: 1000 }
        : { method: "tsne", perplexity: 30, learningRate: 200, init: firstPcs(coords, n, dims, 2) };
      const layout = await embed2d(nn, opts);
      const ms = performance.now() - started; const cu = process.cpuUsage(cpu0); const cpuMs = (cu.user + cu.system) / 1000;
      const preservation = knnPreservation(pcaKnn, exactKnn(layout, n, 2, 15, rows));
      const e = (perVariant[v] ??= { ms: [], cpuMs: [], neighborMs: [], preservation: [] });
      e.ms.push(Math.round(ms)); e.cpuMs.push(Math.round(cpuMs)); e.neighborMs.push(Math.round(neighborMs)); e.preservation.push(Number(preservation.toFixed(4)));
      process.stderr.write(`${basename(path)} ${v} rep ${r}: ${Math.round(ms)} ms (CPU ${Math.round(cpuMs)} ms; neighbours ${Math.round(neighborMs)} ms), preservation ${preservation.toFixed(4)}\n`);
    }
  }
  results.push({
    dataset: basename(path), cells: n, preservationOver: rows ? `${rows.length} random cells (seed 1)` : "all cells",
    variants: Object.fromEntries(Object.entries(perVariant).map(([v, e]) => [v, { ...e, medianMs: median(e.ms), medianCpuMs: median(e.cpuMs), medianPreservation: median(e.preservation) }])),
  });
}
const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
const settings = {
  old: "scran.js initializeTsne (qdtsne Barnes-Hut), perplexity 30, 90 neighbours, 1000 iterations, its fixed-seed random start",
  new: `src/numerics/tsne: perplexity 30, 90 neighbours, ${DEFAULT_TSNE_ITERATIONS} iterations (250 exaggerated x12), learning rate max(200, n/12), momentum 0.5 -> 0.8, PCA start (sd 1e-4), interpolation ${JSON.stringify(DEFAULT_INTERPOLATION)} with the FFT cap max(256, nextPow2(sqrt n))`,
};
process.stdout.write(JSON.stringify({ commit, date: new Date().toISOString(), command: `taskset -c 0 node bench/tsne-quality.ts ${process.argv.slice(2).join(" ")}`, settings, reps, results }, null, 2) + "\n");
