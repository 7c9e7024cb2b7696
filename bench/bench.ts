/**
 * `npm run bench -- [suite] [options]`: machine-readable benchmarks (one JSON document on
 * stdout, progress on stderr).
 *
 *   (none)      every step on every dataset, cellworker in-process (bench/run-dataset.ts, one fresh
 *               child process per measurement); with `--reference seurat` the same steps with
 *               Seurat 4.3 (bench/seurat.R) side by side and a cellworker / Seurat ratio per step;
 *               `--reference scanpy` the same with scanpy 1.9.8 (bench/scanpy.py, prepared by
 *               bench/setup-scanpy.sh); `--reference all` both, ratio against the faster per step
 *   tasks       per task, the median latency on pbmc3k and on the stacked 12k
 *   load        first load with preprocessing, cached load, peak RSS
 *   load-queue  [--requests N]: mixed cheap requests through the emulated SQS queue (throughput, latency, RSS)
 *   make-data   --cells N [--seed S] [--thin P] [--source DIR] [--out DIR]: resampled large data
 *
 * Options: --datasets pbmc3k,pbmc_stacked_12k,resampled_100k[,resampled_1m]   --reference seurat|scanpy|all
 *          --reference-from FILE (reuse the reference results of an earlier output instead of running them)
 *          --openblas native|machine (the references' OpenBLAS: native = OPENBLAS_CORETYPE and
 *          OPENBLAS_L2_SIZE unset for them, so OpenBLAS picks this CPU's kernel; machine = as set here)
 *          --runs 5 (timed runs per step, after a warm-up)  --budget 120 (seconds per step)
 *          --cpus all|1|both (cellworker on all cores, pinned to one CPU, or both; default: all,
 *          or both with --reference, whose ratios use the one-CPU run against one-thread Seurat)
 *
 * Datasets: the bundled pbmc3k; ../shared/data/pbmc_stacked_12k_multisample when present; and
 * resampled_100k, 100,000 cells made by make-data (seed 1) into bench/data/ (made on first use).
 * resampled_1m (a million cells, Matrix Market only, made the same way) runs only when named:
 * `--datasets resampled_1m`, its serving steps and UMAP, no reference.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { makeData, parseMakeDataArgs } from "./make-data.ts";
import { runLoadQueue } from "./load-queue.ts";
import { DOTPLOT_GENES, GENES2, GENES50, LIST_FILTER, SCANPY_STEPS, STEPS } from "./steps.ts";

const root = resolve(import.meta.dirname, "..");
const node = process.execPath;
const log = (m: string): void => { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`); };

/** `steps`: only these steps (default: all); `explicit`: run only when named in --datasets */
interface Dataset { name: string; path: string; h5?: string; make?: string[]; steps?: string[]; explicit?: boolean }

const RESAMPLED_CELLS = 100_000;
const resampledDir = join(root, "bench", "data", `resampled_${RESAMPLED_CELLS}`);
const MILLION = 1_000_000;
const millionDir = join(root, "bench", "data", `resampled_${MILLION}`);
/** What the million-cell run measures (issue #14): serving steps, one embedding, no reference. */
const MILLION_STEPS = ["umap", "differentialExpression", "markerHeatmap", "geneExpression2", "geneExpression50", "listGenes", "dotPlot"];

export function datasets(all = false): Dataset[] {
  const list: Dataset[] = [{ name: "pbmc3k", path: join(root, "data", "pbmc3k") }];
  const stacked = resolve(root, "..", "shared", "data", "pbmc_stacked_12k_multisample");
  if (existsSync(stacked)) list.push({ name: "pbmc_stacked_12k", path: stacked });
  if (all) {
    list.push({
      name: "resampled_100k",
      path: join(resampledDir, "mtx"),
      h5: join(resampledDir, "filtered_feature_bc_matrix.h5"),
      make: ["--cells", String(RESAMPLED_CELLS), "--seed", "1", "--out", resampledDir],
    });
    list.push({
      name: "resampled_1m",
      path: join(millionDir, "mtx"),
      make: ["--cells", String(MILLION), "--seed", "1", "--out", millionDir],
      steps: MILLION_STEPS,
      explicit: true,
    });
  }
  return list;
}

export function environment(): Record<string, unknown> {
  return {
    node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30), platform: `${process.platform} ${process.arch}`, date: new Date().toISOString(),
    git: gitState(),
  };
}

/** The commit measured, and how many files under src/ differed from it (work in progress). */
function gitState(): Record<string, unknown> | null {
  try {
    const git = (...a: string[]): string => execFileSync("git", a, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const changed = git("status", "--porcelain", "--", "src").split("\n").filter(Boolean).length;
    return { commit: git("rev-parse", "HEAD"), uncommittedSrcFiles: changed };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------- options

const argv = process.argv.slice(2);
const suiteArg = argv[0] && !argv[0].startsWith("--") ? argv[0] : "compare";
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const runs = Number(option("runs") ?? 5);
const budget = Number(option("budget") ?? 120);

// ---------------------------------------------------------------------------------- children

function child(args: string[], pin: boolean): Record<string, any> {
  const [cmd, full] = pin ? ["taskset", ["-c", "0", node, ...args]] : [node, args];
  const r = spawnSync(cmd, full, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${[cmd, ...full].join(" ")} failed (${r.status ?? r.signal})`);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const seconds = (since: number): number => Math.round((performance.now() - since) / 100) / 10;

/** cellworker on one dataset: cold start, warm starts, then every step, each in a fresh process. */
function measureCellworker(d: Dataset, pin: boolean, withH5: boolean): Record<string, unknown> {
  const runDataset = join(root, "bench", "run-dataset.ts");
  const cacheDir = mkdtempSync(join(tmpdir(), "cellworker-bench-"));
  const started = performance.now();
  try {
    log(`${d.name}: cellworker ${pin ? "pinned to one CPU" : "on all cores"}: cold start`);
    const cold = child([runDataset, "cold", d.path, cacheDir], pin);
    log(`${d.name}: warm starts`);
    const warm = Array.from({ length: Math.max(3, runs) }, () => child([runDataset, "warm", d.path, cacheDir], pin));
    log(`${d.name}: steps`);
    const stepsOut = child([runDataset, "steps", d.path, cacheDir, String(runs), String(budget), ...(d.steps ? [d.steps.join(",")] : [])], pin);
    let coldH5: Record<string, unknown> | undefined;
    if (withH5 && d.h5) {
      log(`${d.name}: cold start from the .h5`);
      const h5Cache = mkdtempSync(join(tmpdir(), "cellworker-bench-h5-"));
      try { coldH5 = child([runDataset, "cold", d.h5, h5Cache], pin); } finally { rmSync(h5Cache, { recursive: true, force: true }); }
    }
    const { steps, peakRssMiB: stepsRss, warmOpenMs: _w, ...about } = stepsOut;
    return {
      cpus: pin ? 1 : availableParallelism(),
      ...about,
      coldStart: { ms: cold.ms, readMs: cold.readMs, preprocessMs: cold.preprocessMs, stagesMs: cold.stagesMs, valueOrderMs: cold.valueOrderMs, cacheWriteMs: cold.cacheWriteMs, settledMs: cold.settledMs, peakRssMiB: cold.peakRssMiB },
      ...(coldH5 ? { coldStartFromH5: { ms: coldH5.ms, readMs: coldH5.readMs, preprocessMs: coldH5.preprocessMs, settledMs: coldH5.settledMs, peakRssMiB: coldH5.peakRssMiB } } : {}),
      warmStart: {
        medianMs: median(warm.map((w) => w.ms)), samplesMs: warm.map((w) => w.ms), peakRssMiB: Math.max(...warm.map((w) => w.peakRssMiB)),
        // after the open: GeneExpression of 2 genes answered from the file's rows, then the
        // background reads of the matrix (awaited by tasks reading it whole) and of the value
        // order (awaited by DifferentialExpression), each from the end of the open
        geneExpression2Ms: median(warm.map((w) => w.geneExpression2Ms as number)),
        matrixReadMs: median(warm.map((w) => w.matrixReadMs as number)),
        valueOrderReadMs: median(warm.map((w) => w.valueOrderReadMs as number)),
      },
      steps,
      peakRssMiB: { coldStart: cold.peakRssMiB, serving: stepsRss, max: Math.max(cold.peakRssMiB, stepsRss, ...(coldH5 ? [coldH5.peakRssMiB as number] : [])) },
      seconds: seconds(started),
    };
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

/** The Seurat reference on one dataset, pinned to one CPU with single-threaded BLAS. */
function measureSeurat(d: Dataset): Record<string, unknown> {
  checkReferenceScriptLists();
  const rdsDir = mkdtempSync(join(tmpdir(), "cellworker-bench-rds-"));
  const started = performance.now();
  log(`${d.name}: Seurat reference (one thread)`);
  try {
    const args = [join(root, "bench", "seurat.R"), d.path, String(runs), String(budget), rdsDir, ...(d.h5 ? [d.h5] : [])];
    const env = referenceEnv({ RCPP_PARALLEL_NUM_THREADS: "1" });
    const r = spawnSync("taskset", ["-c", "0", "Rscript", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26, env });
    if (r.status !== 0) throw new Error(`Rscript bench/seurat.R failed (${r.status ?? r.signal})`);
    return { ...JSON.parse(r.stdout), cpus: 1, openblas: openblasOf(env), seconds: seconds(started) };
  } finally {
    rmSync(rdsDir, { recursive: true, force: true });
  }
}

/** `--openblas`: native (default) unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for the references. */
const openblasMode = option("openblas") ?? "native";

/** The environment of a reference process: one thread everywhere, OpenBLAS as `--openblas` says. */
function referenceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1", ...extra };
  if (openblasMode === "native") { delete env.OPENBLAS_CORETYPE; delete env.OPENBLAS_L2_SIZE; }
  return env;
}
const openblasOf = (env: NodeJS.ProcessEnv): Json => ({
  mode: openblasMode, OPENBLAS_CORETYPE: env.OPENBLAS_CORETYPE ?? null, OPENBLAS_L2_SIZE: env.OPENBLAS_L2_SIZE ?? null,
});

const NUMBA_CACHE_DIR = join(tmpdir(), "scanpy-bench-numba-cache");
let scanpySetup: Json | undefined;

/**
 * bench/setup-scanpy.sh, once per run: Debian's packages for scanpy's dependencies, scanpy 1.9.8
 * exported from a git snapshot onto PYTHONPATH, imports checked, numba's on-disk cache primed;
 * its last stdout line is JSON (PYTHONPATH, versions, how it was installed).
 */
function setupScanpy(): Json {
  if (scanpySetup) return scanpySetup;
  log("scanpy: bench/setup-scanpy.sh");
  const r = spawnSync("bash", [join(root, "bench", "setup-scanpy.sh")], {
    encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env: referenceEnv({ NUMBA_CACHE_DIR, NUMBA_NUM_THREADS: "1" }),
  });
  if (r.status !== 0) throw new Error(`bench/setup-scanpy.sh failed (${r.status ?? r.signal}): scanpy is not available; see bench/results/README.md`);
  const lines = r.stdout.trim().split("\n");
  scanpySetup = JSON.parse(lines[lines.length - 1]!) as Json;
  return scanpySetup;
}

/** The scanpy reference on one dataset (its 10x folder), pinned to one CPU, one thread. */
function measureScanpy(d: Dataset): Record<string, unknown> {
  checkReferenceScriptLists();
  const setup = setupScanpy();
  const scratch = mkdtempSync(join(tmpdir(), "cellworker-bench-h5ad-"));
  const started = performance.now();
  log(`${d.name}: scanpy reference (one thread)`);
  try {
    const env = referenceEnv({ NUMBA_NUM_THREADS: "1", NUMBA_CACHE_DIR, PYTHONPATH: String(setup.pythonpath), MPLBACKEND: "Agg" });
    const args = [join(root, "bench", "scanpy.py"), d.path, String(runs), String(budget), scratch];
    const r = spawnSync("taskset", ["-c", "0", "/usr/bin/python3", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26, env });
    if (r.status !== 0) throw new Error(`python3 bench/scanpy.py failed (${r.status ?? r.signal})`);
    return { ...JSON.parse(r.stdout), cpus: 1, openblas: openblasOf(env), installation: setup, seconds: seconds(started) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * `--reference-from FILE`: a reference's entry (seurat or scanpy) of an earlier `npm run bench`
 * output for this dataset, instead of running it again (the references do not change when
 * cellworker does; at 100k cells Seurat takes ~25 min). The entry says where it came from.
 */
function reusedReference(file: string, dataset: string, ref: Reference): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(resolve(file), "utf8"));
  const entry = (doc.results?.results as Json[] | undefined)?.find((r) => r.dataset === dataset);
  if (!entry?.[ref]) throw new Error(`${file} has no ${ref} results for ${dataset}`);
  log(`${dataset}: ${ref} reference reused from ${file}`);
  return { ...entry[ref], reusedFrom: { file, command: doc.results.command, date: doc.environment?.date } };
}

/** bench/seurat.R and bench/scanpy.py must ask for the same genes as bench/steps.ts. */
function checkReferenceScriptLists(): void {
  const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  for (const [file, open, close, assign] of [["seurat.R", "c\\(", "\\)", "<-"], ["scanpy.py", "\\[", "\\]", "="]] as const) {
    const text = readFileSync(join(root, "bench", file), "utf8");
    const list = (name: string): string[] => {
      const m = new RegExp(`^${name} ${assign} ${open}([^\\])]*)${close}`, "m").exec(text);
      return m ? [...m[1]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]!) : [];
    };
    if (!same(list("GENES2"), GENES2) || !same(list("GENES50"), GENES50) || !same(list("DOTPLOT_GENES"), DOTPLOT_GENES) || !text.includes(`LIST_FILTER ${assign} "${LIST_FILTER}"`)) {
      throw new Error(`bench/${file} and bench/steps.ts ask for different genes`);
    }
  }
}

// ---------------------------------------------------------------------------------- report

type Json = Record<string, any>;

function stepMs(side: Json | undefined, step: string): number | undefined {
  if (!side) return undefined;
  if (step === "coldStart") return side.coldStart?.ms ?? side.coldStart?.totalMs;
  if (step === "warmStart") return side.warmStart?.medianMs ?? side.warmStart?.ms;
  const s = side.steps?.[step];
  return s && typeof s.medianMs === "number" ? s.medianMs : undefined;
}

const ratioOf = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined || b === undefined || b <= 0 ? null : Math.round((a / b) * 1000) / 1000;

type Reference = "seurat" | "scanpy";
const REFERENCES: Reference[] = ["seurat", "scanpy"];

/** Per step, the reference measured there that was faster (smaller ms), or null if none was. */
function fasterReference(entry: Json, refs: Reference[], step: string): Reference | null {
  let best: Reference | null = null;
  for (const ref of refs) {
    const ms = stepMs(entry[ref], step);
    if (ms !== undefined && (best === null || ms < stepMs(entry[best], step)!)) best = ref;
  }
  return best;
}

const ABSOLUTE_TARGETS_100K: [string, string, number][] = [
  ["warmStart", "warm start ≤ 3 s", 3000],
  ["geneExpression2", "GeneExpression (2 genes) ≤ 30 ms", 30],
  ["listGenes", "ListGenes ≤ 5 ms", 5],
  ["differentialExpression", "DifferentialExpression ≤ 1 s", 1000],
  ["markerHeatmap", "MarkerHeatmap ≤ 3 s", 3000],
];
const ABSOLUTE_TARGETS_1M: [string, string, number][] = [
  ["warmStart", "warm start ≤ 20 s", 20_000],
  ["geneExpression2", "GeneExpression (2 genes) ≤ 100 ms", 100],
  ["geneExpression50", "GeneExpression (50 genes) ≤ 100 ms", 100],
  ["differentialExpression", "DifferentialExpression ≤ 10 s", 10_000],
];

function targets(name: string, cw: Json, ratio: Json | null): Json[] {
  const out: Json[] = [];
  const big = name !== "pbmc3k";
  if (ratio) {
    const limit = big ? 0.5 : 1.0;
    for (const [step, r] of Object.entries(ratio)) {
      if (typeof r === "number") out.push({ target: `${step}: ratio ≤ ${limit}`, value: r, met: r <= limit });
      else out.push({ target: `${step}: ratio ≤ ${limit}`, value: null, met: null, note: "not measured on both sides" });
    }
  }
  if (name === "resampled_100k" || name === "resampled_1m") {
    for (const [step, target, limit] of name === "resampled_1m" ? ABSOLUTE_TARGETS_1M : ABSOLUTE_TARGETS_100K) {
      const v = stepMs(cw, step);
      out.push({ target, valueMs: v ?? null, met: v === undefined ? null : v <= limit, ...(v === undefined ? { note: "not available" } : {}) });
    }
    const rss = cw.peakRssMiB?.max as number;
    if (name === "resampled_100k") out.push({ target: "peak RSS ≤ 3 GiB", valueMiB: rss, met: rss <= 3072 });
    else out.push({ target: "completes within the machine's memory", valueMiB: rss, met: rss < totalmem() / 2 ** 20 });
  }
  return out;
}

async function ensureData(d: Dataset): Promise<void> {
  if (!d.make || existsSync(join(d.path, "matrix.mtx.gz"))) return;
  log(`${d.name}: making it (npm run bench -- make-data ${d.make.join(" ")})`);
  await makeData(parseMakeDataArgs(d.make), log);
}

async function benchCompare(): Promise<unknown> {
  const reference = option("reference");
  if (reference !== undefined && !["seurat", "scanpy", "all"].includes(reference)) throw new Error(`unknown reference "${reference}" (seurat, scanpy or all)`);
  const refs: Reference[] = reference === "all" ? REFERENCES : reference ? [reference as Reference] : [];
  if (!["native", "machine"].includes(openblasMode)) throw new Error("--openblas is native or machine");
  const referenceFrom = option("reference-from");
  if (referenceFrom && !reference) throw new Error("--reference-from needs --reference seurat|scanpy|all");
  const cpusOpt = option("cpus") ?? (reference ? "both" : "all");
  if (!["all", "1", "both"].includes(cpusOpt)) throw new Error("--cpus is all, 1 or both");
  const wanted = option("datasets")?.split(",");
  const all = datasets(true);
  const chosen = wanted ? wanted.map((w) => all.find((d) => d.name === w) ?? fail(`unknown dataset ${w} (${all.map((d) => d.name).join(", ")})`)) : all.filter((d) => !d.explicit);
  const results: Json[] = [];
  const uptimeAtStart = uptime();
  for (const d of chosen) {
    await ensureData(d);
    const started = performance.now();
    const entry: Json = { dataset: d.name, input: d.path, ...(d.h5 ? { h5: d.h5 } : {}), loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100) };
    const attempt = (key: string, fn: () => Json): void => {
      try { entry[key] = fn(); } catch (err) { log(`${d.name}: ${key} failed: ${(err as Error).message}`); entry.errors = { ...entry.errors, [key]: (err as Error).message }; }
    };
    if (cpusOpt !== "1") attempt("cellworker", () => measureCellworker(d, false, true));
    if (cpusOpt !== "all") attempt("cellworkerOneCpu", () => measureCellworker(d, true, false));
    for (const ref of d.explicit ? [] : refs) { // no reference at a million cells (Seurat alone would need hours)
      attempt(ref, () => (referenceFrom ? reusedReference(referenceFrom, d.name, ref) : ref === "seurat" ? measureSeurat(d) : measureScanpy(d)));
    }
    const cwForRatio = entry.cellworkerOneCpu ?? entry.cellworker;
    const cw = entry.cellworker ?? entry.cellworkerOneCpu;
    const measured = refs.filter((ref) => entry[ref]);
    if (measured.length > 0) {
      // ratio: against the faster reference of each step; ratioVs: against each reference
      entry.fasterReference = Object.fromEntries(Object.keys(STEPS).map((s) => [s, fasterReference(entry, measured, s)]));
      const against = (side: Json): Json => Object.fromEntries(Object.keys(STEPS).map((s) => {
        const ref = entry.fasterReference[s] as Reference | null;
        return [s, ref ? ratioOf(stepMs(side, s), stepMs(entry[ref], s)) : null];
      }));
      entry.ratio = against(cwForRatio);
      if (entry.cellworker && entry.cellworkerOneCpu) entry.ratioAllCores = against(entry.cellworker);
      if (measured.length > 1) {
        entry.ratioVs = Object.fromEntries(measured.map((ref) => [ref,
          Object.fromEntries(Object.keys(STEPS).map((s) => [s, ratioOf(stepMs(cwForRatio, s), stepMs(entry[ref], s))]))]));
      }
    }
    entry.targets = cw ? targets(d.name, cw, entry.ratio ?? null) : [];
    entry.seconds = seconds(started);
    entry.loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
    results.push(entry);
    log(`${d.name}: done in ${entry.seconds} s`);
  }
  const table = results.flatMap((r) => Object.keys(STEPS).map((s) => ({
    dataset: r.dataset, step: s,
    cellworkerMs: stepMs(r.cellworker, s) ?? null,
    ...(r.cellworkerOneCpu ? { cellworkerOneCpuMs: stepMs(r.cellworkerOneCpu, s) ?? null } : {}),
    ...(refs.includes("seurat") ? { seuratMs: stepMs(r.seurat, s) ?? null } : {}),
    ...(refs.includes("scanpy") ? { scanpyMs: stepMs(r.scanpy, s) ?? null } : {}),
    ...(r.ratio ? { fasterReference: r.fasterReference[s], ratio: r.ratio[s] } : {}),
  })));
  return {
    command: `npm run bench -- ${argv.join(" ")}`.trim(),
    options: { runs, budgetSeconds: budget, reference: reference ?? null, referenceFrom: option("reference-from") ?? null, cpus: cpusOpt, openblas: refs.length ? openblasMode : null },
    machineLoad: { uptimeAtStart, uptimeAtEnd: uptime() },
    method: {
      timing: `Each step: one warm-up run, then up to ${runs} timed runs while its ${budget} s budget lasts; medianMs is their median. A step whose first run alone exceeds budget / (runs + 1) is timed once (runs: 1, warmup: false). Cold start: one run; warm start: the median of ${Math.max(3, runs)} fresh processes.`,
      processes: "Every cellworker measurement runs in a fresh child process (cold start, each warm start, then all steps in one process); peakRssMiB is that process's maxRSS. Seurat runs in one Rscript process per dataset, scanpy in one /usr/bin/python3 process per dataset; their peakRssMiB is VmHWM. scanpy's coldStart is the first in its process (it includes what numba compiles per process; the on-disk numba cache is primed by bench/setup-scanpy.sh), coldStartAgainSameProcess the same pipeline again, compiled; its warm start is the median of read_h5ad runs in that process.",
      memoisation: "Steps whose result the Experiment memoises (GetEmbedding, MarkerHeatmap, DotPlot, DifferentialExpression) run on a fresh Experiment object per run (same loaded data, empty memo): medianMs is a first request, memoisedMs a repeat on the same object. ClusterCells louvain 0.8 is answered from preprocessing (servedMs); the timed step is the SNN + Louvain computation on the memoised kNN, as Seurat's FindClusters reuses its stored graph.",
      threads: "ratio = cellworker pinned to one CPU (taskset -c 0, so scran.js runs one thread) / the faster reference of that step (fasterReference), each reference pinned to the same CPU with OPENBLAS/OMP/MKL_NUM_THREADS=1: Seurat with future sequential (uwot n_threads 1, Rtsne 1 thread), scanpy with NUMBA_NUM_THREADS=1, settings.n_jobs 1, t-SNE n_jobs 1. ratioVs has the ratio against each reference when more than one ran. ratioAllCores uses cellworker on all cores. Absolute targets use cellworker on all cores. --openblas native (default) unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for the references, so Debian's OpenBLAS picks this CPU's kernel (scanpy's threadpools record which).",
      inputs: "Both sides read the same 10x Matrix Market folder for the cold start; for resampled_100k the same data as Cell Ranger .h5 is also read (coldStartFromH5, Seurat readH5Ms).",
    },
    steps: Object.fromEntries(Object.entries(STEPS).map(([k, [cw, seurat]]) => [k, { cellworker: cw, seurat, scanpy: SCANPY_STEPS[k] }])),
    results,
    table,
  };
}

function fail(message: string): never { throw new Error(message); }

/** `uptime`'s line (load averages), to record how busy the shared machine was. */
function uptime(): string {
  try { return execFileSync("uptime", { encoding: "utf8" }).trim(); } catch { return loadavg().map((x) => x.toFixed(2)).join(", "); }
}

// ---------------------------------------------------------------------------------- tasks, load

async function benchTasks(): Promise<unknown> {
  const per: Json = {};
  const ds = datasets(false);
  for (const d of ds) {
    const cw = measureCellworker(d, false, false);
    for (const [step, out] of Object.entries(cw.steps as Json)) {
      per[step] ??= {};
      per[step][d.name] = typeof out.medianMs === "number" ? out.medianMs : `not available (${out.code})`;
    }
    per.warmStart ??= {}; per.warmStart[d.name] = (cw.warmStart as Json).medianMs;
  }
  return { unit: "ms (median)", datasets: ds.map((d) => d.name), tasks: per };
}

function openOnce(path: string, cacheDir: string): Record<string, number | string> {
  const out = execFileSync(node, [join(root, "bench", "open-once.ts"), path, cacheDir], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return JSON.parse(out);
}

function benchLoad(): unknown {
  return datasets().map(({ name, path }) => {
    const cacheDir = mkdtempSync(join(tmpdir(), "cellworker-bench-"));
    try {
      const first = openOnce(path, cacheDir);
      const cached = [1, 2, 3].map(() => openOnce(path, cacheDir));
      const cachedMs = cached.map((c) => c.ms as number).sort((a, b) => a - b);
      return {
        dataset: name,
        cells: first.cells,
        genes: first.genes,
        firstLoadMs: first.ms,
        firstLoadPeakRssMiB: first.peakRssMiB,
        cachedLoadMedianMs: cachedMs[1],
        cachedLoadPeakRssMiB: cached[1]!.peakRssMiB,
        cacheStatus: [first.cache, cached[0]!.cache],
      };
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
}

const suites: Record<string, () => unknown | Promise<unknown>> = {
  compare: benchCompare,
  tasks: benchTasks,
  load: benchLoad,
  "make-data": () => makeData(parseMakeDataArgs(argv.slice(1)), log),
  // 1,000 mixed cheap requests through the emulated queue (report also in reliability/)
  "load-queue": () => runLoadQueue({}, argv.slice(1)),
};

const run = suites[suiteArg];
if (!run) {
  process.stderr.write(`unknown benchmark "${suiteArg}"; choose one of: ${Object.keys(suites).join(", ")}\n`);
  process.exit(2);
}
const started = performance.now();
let results: unknown;
try {
  results = await run();
} catch (err) {
  // options and setup problems: one line, no stack
  process.stderr.write(`npm run bench: ${(err as Error).message}\n`);
  process.exit(2);
}
process.stdout.write(JSON.stringify({ suite: suiteArg, environment: environment(), seconds: seconds(started), results }, null, 2) + "\n");
