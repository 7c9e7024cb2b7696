/**
 * UMAP layout variants on pbmc3k and the 12.6k-cell set: time and kNN-15 preservation.
 *
 *   taskset -c 0 node bench/umap-quality.ts [--reps 3] [--datasets pbmc3k,pbmc_stacked_12k] [--variants a,b] > out.json
 *
 * Every variant starts from the 30 neighbours preprocessing kept (exp.state.neighbors), as
 * GetEmbedding {type: "umap", metric: "euclidean"} does, with min_dist 0.3. Time is the layout
 * alone (graph, start and epochs; the neighbours are already there), median of `reps` runs,
 * the variants taking turns within each round so that load from other processes spreads over
 * all of them; `medianCpuMs` is the process's CPU time over the same runs, which other
 * processes sharing the CPU inflate much less than the wall clock. Preservation is the mean fraction of each cell's 15 nearest neighbours in the
 * first 30 PCs (exact, Euclidean) kept among its 15 nearest in the layout (test/science's
 * measure). `deterministic` says whether every run of a variant gave the very same layout.
 *
 * Variants:
 * (E: a number of epochs, or "today": 500, 200 above 10,000 cells; ts-* variants take an optional
 * third part, the seed of the negative sampling, 42 unless given)
 *   scran:<E>        scran.js initializeUmap (umappp: spectral start, its own optimiser), E epochs;
 *                    "scran:today" is what embeddings.ts ran before this script (500, 200 above 10,000 cells)
 *   ts-spectral:<E>  scran.js's spectral start (its epoch-0 coordinates), then src/numerics/umap
 *   ts-pca:<E>       the first two PCs scaled to [0, 10] as the start, then src/numerics/umap
 *   cellworker       computeEmbedding's UMAP as the code now stands (embed2d with embeddings.ts's choice:
 *                    src/numerics/umap from the PCs, umapEpochs(cells) epochs)
 */
import * as scran from "scran.js";
import { execSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { openExperiment } from "../src/experiment/open.ts";
import { firstPcs } from "../src/numerics/cluster.ts";
import { initScran, type Neighbors } from "../src/numerics/scran.ts";
import { fuzzySimplicialSet } from "../src/numerics/umap/graph.ts";
import { optimizeLayout, scaledStart } from "../src/numerics/umap/layout.ts";
import { computeEmbedding, type EmbeddingParams } from "../src/experiment/embeddings.ts";
import type { Experiment } from "../src/experiment/experiment.ts";
import { exactKnn, knnPreservation } from "./knn-quality.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const reps = Number(opt("reps", "3"));
const DATASETS: Record<string, string> = {
  pbmc3k: "data/pbmc3k",
  pbmc_stacked_12k: "../shared/data/pbmc_stacked_12k_multisample",
};
const datasets = opt("datasets", Object.keys(DATASETS).join(",")).split(",");
const variants = opt("variants", "scran:today,cellworker").split(",");
const MIN_DIST = 0.3;
const todaysEpochs = (n: number): number => (n > 10_000 ? 200 : 500);

/** scran.js's (umappp's) starting layout: its coordinates before the first epoch. */
function spectralStart(nn: Neighbors): Promise<Float64Array> {
  return scranUmap(nn, 1, false);
}

type Run = (nn: Neighbors, pcs: Float64Array, nPcs: number) => Promise<Float64Array>;

let fresh = 0;
function variantRun(name: string, exp: Experiment): Run {
  const nCells = exp.nCells;
  const [kind, e, seedText] = name.split(":");
  const epochs = e === "today" ? todaysEpochs(nCells) : Number(e);
  const seed = seedText ? Number(seedText) : undefined;
  switch (kind) {
    case "scran":
      return (nn) => embed2dScran(nn, epochs);
    case "ts-spectral":
      return async (nn) => optimizeLayout(fuzzySimplicialSet(nn), await spectralStart(nn), { epochs, minDist: MIN_DIST, ...(seed ? { seed } : {}) });
    case "ts-pca":
      return async (nn, pcs, nPcs) => optimizeLayout(fuzzySimplicialSet(nn), scaledStart(pcs, nn.nCells, nPcs), { epochs, minDist: MIN_DIST, ...(seed ? { seed } : {}) });
    case "cellworker":
      // an extra key in the parameters makes each run miss the experiment's memo
      return () => computeEmbedding(exp, { type: "umap", minDist: MIN_DIST, metric: "euclidean", benchRun: ++fresh } as EmbeddingParams);
    default:
      throw new Error(`unknown variant ${name}`);
  }
}

/** scran.js's UMAP as embed2d ran it before this script: umappp's spectral start and optimiser. */
function embed2dScran(nn: Neighbors, epochs: number): Promise<Float64Array> {
  return scranUmap(nn, epochs, true);
}

/** umappp's layout after `epochs` epochs (run = true) or its start (run = false), cells x 2. */
async function scranUmap(nn: Neighbors, epochs: number, run: boolean): Promise<Float64Array> {
  const runs = new Int32Array(nn.nCells).fill(nn.k);
  const res = scran.FindNearestNeighborsResults.unserialize(runs, nn.indices, nn.distances);
  const umap = scran.initializeUmap(res, { neighbors: nn.k, minDist: MIN_DIST, epochs });
  try {
    if (run) while (umap.currentEpoch!() < umap.totalEpochs!()) umap.run({ runTime: 500 });
    const { x, y } = umap.extractCoordinates();
    const out = new Float64Array(nn.nCells * 2);
    for (let i = 0; i < nn.nCells; i++) { out[2 * i] = x[i]!; out[2 * i + 1] = y[i]!; }
    return out;
  } finally {
    umap.free(); res.free();
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((p, q) => p - q); const h = s.length >> 1; return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2; };
const same = (p: Float64Array, q: Float64Array): boolean => p.length === q.length && p.every((v, i) => Object.is(v, q[i]));

await initScran();
const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  commit: execSync("git rev-parse --short HEAD").toString().trim(),
  uncommittedSrcFiles: execSync("git status --porcelain -- src").toString().split("\n").filter(Boolean).length,
  cpus: availableParallelism(),
  reps,
  minDist: MIN_DIST,
  datasets: {} as Record<string, unknown>,
};
for (const ds of datasets) {
  const exp = await openExperiment({ path: DATASETS[ds]!, cacheDir: "/tmp/cellworker-umap-bench-cache" });
  const nn = exp.state.neighbors;
  const { scores, nPcs } = exp.state.pca;
  const dims = 30;
  const pcs = firstPcs(scores, exp.nCells, nPcs, dims);
  const t = performance.now();
  const high = exactKnn(pcs, exp.nCells, dims, 15);
  process.stderr.write(`${ds}: ${exp.nCells} cells, exact kNN in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  const runs = variants.map((v) => ({ name: v, run: variantRun(v, exp), times: [] as number[], cpu: [] as number[], layouts: [] as Float64Array[] }));
  for (let r = 0; r < reps; r++) {
    for (const v of runs) {
      const t0 = performance.now(), c0 = process.cpuUsage();
      const out = await v.run(nn, pcs, dims);
      const c = process.cpuUsage(c0);
      v.times.push(Math.round(performance.now() - t0));
      v.cpu.push(Math.round((c.user + c.system) / 1000));
      v.layouts.push(out);
    }
  }
  const rows: Record<string, unknown> = {};
  for (const v of runs) {
    const p = knnPreservation(high, exactKnn(v.layouts[0]!, exp.nCells, 2, 15));
    rows[v.name] = { medianMs: median(v.times), timesMs: v.times, medianCpuMs: median(v.cpu), cpuMs: v.cpu, knn15Preservation: Number(p.toFixed(4)), deterministic: v.layouts.every((l) => same(l, v.layouts[0]!)) };
    process.stderr.write(`${ds} ${v.name}: ${median(v.times)} ms (cpu ${median(v.cpu)} ms), preservation ${p.toFixed(4)}\n`);
  }
  (report.datasets as Record<string, unknown>)[ds] = { cells: exp.nCells, neighbors: nn.k, variants: rows };
}
process.stdout.write(JSON.stringify(report, null, 2) + "\n");
