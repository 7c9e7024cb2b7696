/**
 * Child process of `npm run bench`: measures cellworker on one dataset and prints one JSON line,
 * so every measurement starts from a fresh process and reports that process's peak RSS.
 *
 *   node bench/run-dataset.ts cold  <input> <cacheDir>               read + preprocess until requests can be answered
 *                                                                    (ms), then the value order and the cache write
 *                                                                    the worker does in the background (settledMs)
 *   node bench/run-dataset.ts warm  <input> <cacheDir>               open from the processed-state cache (as the
 *                                                                    worker does: the matrix read in the background),
 *                                                                    GeneExpression of 2 genes at once, then the
 *                                                                    background reads' durations
 *   node bench/run-dataset.ts steps <input> <cacheDir> <runs> <budgetSeconds> [step,step,...]
 *                                                                    warm open, then every timed step
 *                                                                    (or only those listed)
 *
 * Timing policy (the same in bench/seurat.R): one warm-up run, then up to `runs` timed runs
 * while the step's budget lasts; the median is reported. A step whose first run alone exceeds
 * budget / (runs + 1) is timed once and that run is the sample (no warm-up).
 *
 * Memoisation: GetEmbedding (and any task that memoises on the Experiment) would answer repeated
 * requests from the memo, so those steps run on a fresh Experiment object per run (same loaded
 * data and state, empty memo): the median is the cost of the first request; `memoisedMs` is a
 * repeated request on the same object. ClusterCells at the preprocessing resolution (louvain
 * 0.8) is answered from the clusters preprocessing computed, so the timed step is the
 * computation itself (`medianMs`: SNN graph + Louvain on the memoised kNN), with its parts
 * timed apart: `snnGraphMs` and `louvainOnGraphMs` (Louvain on a built graph, what Seurat's
 * FindClusters and scanpy's leiden do on their stored graph); `servedMs` is the task as a
 * client sees it.
 */
import { openExperiment } from "../src/experiment/open.ts";
import { Experiment } from "../src/experiment/experiment.ts";
import { runTask, type RunInput } from "../src/compute/run-task.ts";
import { clusteringNeighborsOf } from "../src/tasks/cluster-cells.ts";
import { clusterCells, snnGraphOf } from "../src/numerics/cluster.ts";
import { nonZeros } from "../src/experiment/pending-matrix.ts";
import { GENES2, GENES50, DOTPLOT_GENES, LIST_FILTER } from "./steps.ts";

const [mode, input, cacheDir, runsArg, budgetArg, stepsArg] = process.argv.slice(2);
const only = stepsArg ? new Set(stepsArg.split(",")) : null;
const want = (step: string): boolean => only === null || only.has(step);
if (!mode || !input || !cacheDir) {
  process.stderr.write("usage: run-dataset.ts cold|warm|steps <input> <cacheDir> [runs budgetSeconds]\n");
  process.exit(2);
}
const peakRssMiB = (): number => Math.round(process.resourceUsage().maxRSS / 1024);
const round1 = (x: number): number => Math.round(x * 10) / 10;

interface Opened { exp: Experiment; ms: number; readMs?: number; preprocessMs?: number; stagesMs?: Record<string, number>; background: Record<string, number> }

async function open(): Promise<Opened> {
  let readMs: number | undefined;
  let preprocessMs: number | undefined;
  let stagesMs: Record<string, number> | undefined;
  // after a cold open: the value order built, then the cache written, in the background
  const background: Record<string, number> = {};
  const started = performance.now();
  const exp = await openExperiment({
    path: input!,
    cacheDir: cacheDir!,
    background: true,
    log: (message, fields) => {
      if (message.startsWith("read ")) readMs = fields?.ms as number;
      if (message.startsWith("preprocessed")) { preprocessMs = fields?.ms as number; stagesMs = fields?.stages as Record<string, number>; }
      if (message.startsWith("value order built")) background.valueOrderMs = fields?.ms as number;
      if (message.startsWith("processed-state cache written")) background.cacheWriteMs = fields?.ms as number;
    },
  });
  const ms = performance.now() - started;
  return { exp, ms, background, ...(readMs !== undefined ? { readMs } : {}), ...(preprocessMs !== undefined ? { preprocessMs, stagesMs } : {}) };
}

function describe(exp: Experiment): Record<string, unknown> {
  return { cells: exp.nCells, genes: exp.nGenes, nonZeros: nonZeros(exp.data.matrix), clusters: new Set(exp.state.louvain).size, format: exp.data.format };
}

if (mode === "cold" || mode === "warm") {
  const { exp, ms, readMs, preprocessMs, stagesMs, background } = await open();
  const expected = mode === "cold" ? "built" : "hit";
  if (exp.cache.status !== expected) throw new Error(`${mode} start: cache status ${exp.cache.status}, expected ${expected}`);
  // warm: the matrix, then the value order, are read after the open, in the background (tasks
  // reading the whole matrix wait for the first, DifferentialExpression for both); a request
  // for 2 genes is answered meanwhile from the file's rows. Each is timed from the end of the open.
  const t = performance.now();
  let warm: Record<string, number> = {};
  if (mode === "warm") {
    const r = await runTask(exp, { body: { name: "GeneExpression", genes: GENES2 } });
    if (!r.ok) throw new Error(`GeneExpression after the open: ${r.message}`);
    const geneExpression2Ms = round1(performance.now() - t);
    await exp.matrixReady();
    const matrixReadMs = Math.round(performance.now() - t);
    await exp.valueOrderReady();
    warm = { geneExpression2Ms, matrixReadMs, valueOrderReadMs: Math.round(performance.now() - t) };
  }
  // cold: ready to answer at `ms`; the value order and the cache write end at `settledMs`
  await exp.settled();
  const settledMs = Math.round(ms + performance.now() - t);
  process.stdout.write(JSON.stringify({
    ms: Math.round(ms), ...warm,
    ...(readMs !== undefined ? { readMs, preprocessMs, stagesMs, ...background, settledMs } : {}),
    cache: exp.cache.status, peakRssMiB: peakRssMiB(), ...describe(exp),
  }) + "\n");
  process.exit(0);
}

if (mode !== "steps") throw new Error(`unknown mode ${mode}`);
const runs = Number(runsArg ?? 5);
const budgetMs = Number(budgetArg ?? 120) * 1000;
const { exp, ms: openMs } = await open();
if (exp.cache.status !== "hit") throw new Error(`steps: cache status ${exp.cache.status}, expected hit`);
{
  // the steps run on a fully loaded experiment: the background reads end first
  const t = performance.now();
  await exp.matrixReady();
  await exp.valueOrderReady();
  if (!exp.state.valueOrder) throw new Error("steps: the cache gave no value order");
  process.stderr.write(`matrix and value order read in ${Math.round(performance.now() - t)} ms after the open\n`);
}

interface Timed { medianMs: number; runs: number; warmup: boolean; samplesMs: number[]; firstMs: number; [k: string]: unknown }
type Outcome = Timed | { available: false; code: string; message: string };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};

/** `first`: the duration of a run already made (it counts as the warm-up). */
async function repeated(fn: () => Promise<unknown>, first?: number): Promise<Timed> {
  const time = async (): Promise<number> => { const t = performance.now(); await fn(); return performance.now() - t; };
  first ??= await time();
  let samples: number[] = [];
  let warmup = true;
  if (first * (runs + 1) > budgetMs) {
    samples = [first];
    warmup = false;
  } else {
    let spent = first;
    while (samples.length < runs && spent < budgetMs) {
      const t = await time();
      samples.push(t);
      spent += t;
    }
  }
  return { medianMs: round1(median(samples)), runs: samples.length, warmup, samplesMs: samples.map(round1), firstMs: round1(first) };
}

/** A fresh Experiment over the same loaded data and state: empty memo. */
const fresh = (): Experiment => new Experiment(exp.data, exp.state, exp.cellSets, exp.cache);

/**
 * The first run doubles as the probe (is the task there?) and as the warm-up; on a fresh
 * Experiment it is followed by a repeat on the same object (`memoisedMs`).
 */
async function task(body: RunInput["body"], opts: { fresh?: boolean; pagination?: unknown } = {}): Promise<Outcome> {
  const call = async (e: Experiment): Promise<unknown> => {
    const r = await runTask(e, { body, ...(opts.pagination ? { pagination: opts.pagination } : {}) });
    if (!r.ok) throw Object.assign(new Error(r.message), { code: r.code });
    return r.data;
  };
  const target = opts.fresh ? fresh() : exp;
  let first: number;
  try {
    const t = performance.now();
    await call(target);
    first = performance.now() - t;
  } catch (err) {
    const code = (err as { code?: string }).code ?? "ERROR";
    if (code === "TASK_NOT_FOUND" || code === "NOT_IMPLEMENTED") return { available: false, code, message: (err as Error).message };
    throw err;
  }
  if (!opts.fresh) return repeated(() => call(exp), first);
  const t = performance.now();
  await call(target);
  const memoisedMs = round1(performance.now() - t);
  return { ...(await repeated(() => call(fresh()), first)), memoisedMs };
}

const steps: Record<string, Outcome> = {};
/** A step's outcome with the process's peak RSS after it (it only grows: the step that raised it shows). */
const record = (step: string, outcome: Outcome): void => { steps[step] = { ...outcome, peakRssMiBAfter: peakRssMiB() } as Outcome; };
const rssAfterOpenMiB = peakRssMiB();
const log = (m: string): void => { process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`); };
if (want("umap")) {
  log("GetEmbedding umap");
  record("umap", await task({ name: "GetEmbedding", type: "umap" }, { fresh: true }));
}
if (want("tsne")) {
  log("GetEmbedding tsne");
  record("tsne", await task({ name: "GetEmbedding", type: "tsne" }, { fresh: true }));
}
if (want("clusterCells")) {
  log("ClusterCells");
  const t = performance.now();
  const nn = await clusteringNeighborsOf(exp);
  const neighborsMs = round1(performance.now() - t);
  const timed = await repeated(() => clusterCells(nn, "louvain", 0.8));
  const graphBuild = await repeated(async () => snnGraphOf(nn));
  const graph = snnGraphOf(nn);
  const onGraph = await repeated(() => clusterCells(nn, "louvain", 0.8, graph));
  const served = await repeated(async () => { const r = await runTask(fresh(), { body: { name: "ClusterCells", type: "louvain", config: { resolution: 0.8 } } }); if (!r.ok) throw new Error(r.message); });
  record("clusterCells", { ...timed, kNearestNeighborsMs: neighborsMs, snnGraphMs: graphBuild.medianMs, louvainOnGraphMs: onGraph.medianMs, servedMs: served.medianMs });
}
if (want("differentialExpression")) {
  log("DifferentialExpression");
  record("differentialExpression", await task(
    { name: "DifferentialExpression", cellSet: "louvain-0", compareWith: "rest", basis: "all", comparisonType: "within" },
    { fresh: true, pagination: { orderBy: "p_val_adj", orderDirection: "ASC", offset: 0, limit: 50, responseKey: 0 } },
  ));
}
if (want("markerHeatmap")) {
  log("MarkerHeatmap");
  record("markerHeatmap", await task({ name: "MarkerHeatmap", nGenes: 5, selectedCellSet: "louvain" }, { fresh: true }));
}
if (want("geneExpression2")) {
  log("GeneExpression");
  record("geneExpression2", await task({ name: "GeneExpression", genes: [...GENES2] }));
}
if (want("geneExpression50")) record("geneExpression50", await task({ name: "GeneExpression", genes: [...GENES50] }));
if (want("listGenes")) {
  log("ListGenes");
  record("listGenes", await task({ name: "ListGenes", selectFields: ["gene_names", "dispersions"], orderBy: "dispersions", orderDirection: "DESC", offset: 0, limit: 50, geneNamesFilter: LIST_FILTER }));
}
if (want("dotPlot")) {
  log("DotPlot");
  record("dotPlot", await task(
    { name: "DotPlot", useMarkerGenes: false, numberOfMarkers: 3, customGenesList: [...DOTPLOT_GENES], groupBy: "louvain", filterBy: { group: "All" } },
    { fresh: true },
  ));
}
process.stdout.write(JSON.stringify({ warmOpenMs: Math.round(openMs), rssAfterOpenMiB, ...describe(exp), steps, peakRssMiB: peakRssMiB() }) + "\n");
process.exit(0);
