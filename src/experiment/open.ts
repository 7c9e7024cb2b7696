/**
 * Opening an experiment: detect the format, reuse the processed-state cache when it matches
 * the input's hash, otherwise read the file, preprocess and save the cache; then attach cell
 * sets (from a file, or the default classes).
 */
import { ErrorCode, WorkerError } from "../result/errors.ts";
import { cacheFileFor, cachedInputHash, readCache, writeCache } from "./cache.ts";
import { defaultCellSets } from "./default-cell-sets.ts";
import { Experiment, type CacheStatus } from "./experiment.ts";
import { detectFormat, loadData } from "./load/index.ts";
import { checkMinimumSize, preprocess } from "./preprocess.ts";
import { readCellSetsFile } from "./cell-sets/cell-sets.ts";
import { buildGeneValueOrderInSlices, type GeneValueOrder } from "../numerics/stats/gene-value-order.ts";
import type { LoadedData } from "./types.ts";
import type { ProcessedState } from "./preprocess.ts";
import type { DeferredMatrix } from "./cache.ts";
import { nonZeros } from "./pending-matrix.ts";
import { rm } from "node:fs/promises";

export interface OpenOptions {
  /** data file or folder */
  path: string;
  /** where processed-state caches live; null disables the cache */
  cacheDir: string | null;
  /** a Cellenics cell-sets JSON file */
  cellSetsFile?: string;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** memory limits (src/config.ts): the derived-results memo's size and the memory budget */
  limits?: { memoEntries?: number; memoryBudgetMb?: number | null };
  /**
   * Return as soon as requests can be answered and finish the rest in the background
   * (Experiment.settled() resolves when it is done). From the cache: the matrix's arrays (8
   * bytes per non-zero) are read in the background while tasks that read a few genes are
   * answered from the file's rows (Experiment.loadMatrix). After reading the input: the value
   * order (only DifferentialExpression needs it) is built, then the cache written, in the
   * background. For the serving paths; default false (the open returns with everything in
   * memory and the cache written).
   */
  background?: boolean;
}

export async function openExperiment(opts: OpenOptions): Promise<Experiment> {
  const log = opts.log ?? (() => {});
  const { format, path } = detectFormat(opts.path);
  let cacheStatus: CacheStatus = "disabled";
  let cacheFile: string | null = null;
  let reason: string | undefined;
  let loaded: { data: Awaited<ReturnType<typeof loadData>>; state: Awaited<ReturnType<typeof preprocess>> } | null = null;
  let inputHash = "";
  let readValueOrder: (() => Promise<GeneValueOrder>) | null = null;
  let deferred: DeferredMatrix | null = null;
  let built = false;
  if (opts.cacheDir !== null) {
    inputHash = (await cachedInputHash(path, opts.cacheDir)).hash;
    cacheFile = cacheFileFor(opts.cacheDir, inputHash);
    const hit = await readCache(cacheFile, inputHash, path, { deferMatrix: opts.background === true });
    if (hit.status === "hit") {
      checkMemoryBudget(nonZeros(hit.data.matrix), hit.data.matrix.nCells, opts.limits?.memoryBudgetMb ?? null);
      loaded = { data: hit.data, state: hit.state };
      readValueOrder = hit.readValueOrder;
      deferred = hit.matrix;
      cacheStatus = "hit";
    } else {
      cacheStatus = hit.status === "missing" ? "built" : "rebuilt";
      reason = hit.reason;
      if (hit.status !== "missing") log(`processed-state cache ${hit.status}: ${hit.reason}; rebuilding`, { file: cacheFile });
    }
  }
  if (!loaded) {
    const started = Date.now();
    const data = await loadData(format, path);
    log(`read ${format}: ${data.matrix.nCells} cells x ${data.matrix.nGenes} genes from ${data.matrixSource}`, { ms: Date.now() - started });
    checkMinimumSize(data);
    checkMemoryBudget(nonZeros(data.matrix), data.matrix.nCells, opts.limits?.memoryBudgetMb ?? null);
    const t = Date.now();
    // how long each stage took (logged with the total)
    const stages: Record<string, number> = {};
    let stage = "";
    let stageStart = t;
    const state = await preprocess(data, (next) => {
      const now = Date.now();
      if (stage) stages[stage] = now - stageStart;
      stage = next;
      stageStart = now;
    }, { valueOrder: opts.background !== true });
    if (stage) stages[stage] = Date.now() - stageStart;
    for (const note of data.notes) log(note);
    const stored = state.stored ? Object.entries(state.stored).filter(([, v]) => v).map(([k]) => k) : [];
    log(stored.length > 0
      ? `preprocessed (QC, neighbours${state.stored?.pca ? "" : ", PCA"}${state.stored?.genes ? "" : ", HVGs"}${state.stored?.clusters ? "" : ", Louvain"}; the object's stored ${stored.join(", ")} used as they are)`
      : "preprocessed (QC, LogNormalize, vst HVGs, PCA, SNN + Louvain)", { ms: Date.now() - t, stages });
    loaded = { data, state };
    if (opts.background !== true && cacheFile) {
      if (!(await saveCache(cacheFile, inputHash, data, state, log))) cacheStatus = "disabled";
    }
    built = true;
  }
  const cellSets = opts.cellSetsFile ? await readCellSetsFile(opts.cellSetsFile) : defaultCellSets(loaded.data, loaded.state);
  const exp = new Experiment(loaded.data, loaded.state, cellSets, { status: cacheStatus, file: cacheFile, ...(reason ? { reason } : {}) }, opts.limits?.memoEntries);
  if (deferred) {
    const { read, rows } = deferred;
    const file = cacheFile;
    const indptr = loaded.data.matrix.indptr;
    exp.loadMatrix(async () => {
      try {
        return await read();
      } catch (err) {
        // a cache damaged after its header was checked: this once, the matrix comes from the
        // input (the loaders are deterministic), and the next start rebuilds the cache
        log(`could not read the matrix from the processed-state cache: ${(err as Error).message}; reading it from the input, and removing the cache`, { file });
        if (file) await rm(file, { force: true });
        const again = (await loadData(format, path)).matrix;
        if (again.indptr.length !== indptr.length || again.indptr.some((v, i) => v !== indptr[i])) {
          throw new WorkerError(ErrorCode.DATA_INVALID, "The input changed while the experiment was open; restart the worker to load it again.");
        }
        return { indices: again.indices, values: again.values };
      }
    }, rows);
  }
  if (built && opts.background === true) {
    // what the first answers do not need: the value order, then the cache that holds it
    const { data, state } = loaded;
    const started = Date.now();
    exp.loadValueOrder(
      () => buildGeneValueOrderInSlices(data.matrix, exp.normalizer, () => new Promise((resolve) => setImmediate(resolve))),
      (err) => log(`could not build the value order in the background: ${err.message}; the first comparison builds it`),
    );
    exp.afterOpen(exp.valueOrderReady().then(async () => {
      log("value order built in the background", { ms: Date.now() - started });
      if (cacheFile && !(await saveCache(cacheFile, inputHash, data, state, log))) exp.cache.status = "disabled";
    }));
  }
  if (readValueOrder) exp.loadValueOrder(readValueOrder, (err) => log(`could not read the value order from the processed-state cache: ${err.message}; the first comparison builds it`, { file: cacheFile }));
  return exp;
}

/** Writes the processed-state cache; a failure is logged (the experiment is served without one) and returns false. */
async function saveCache(file: string, inputHash: string, data: LoadedData, state: ProcessedState, log: NonNullable<OpenOptions["log"]>): Promise<boolean> {
  try {
    const started = Date.now();
    await writeCache(file, inputHash, data, state);
    log("processed-state cache written", { file, ms: Date.now() - started });
    return true;
  } catch (err) {
    log(`could not write the processed-state cache: ${(err as Error).message}`, { file });
    return false;
  }
}

/**
 * A worker holds one experiment (as the original's pods do); a budget
 * (`CELLWORKER_MEMORY_BUDGET_MB`, null: none) caps what that experiment may need, so an experiment too large for the machine is refused
 * with a clear error instead of the process being killed for running out of memory. The
 * estimate is what preprocessing holds at its peak: about 28 bytes per non-zero (the matrix,
 * its scaled HVG copy and PCA work space, the per-gene value order) plus 1 KiB per cell (PCs,
 * neighbours, graph).
 */
export function checkMemoryBudget(nonZeros: number, nCells: number, budgetMb: number | null): void {
  if (budgetMb === null || !(budgetMb > 0)) return;
  const neededMb = Math.ceil((nonZeros * 28 + nCells * 1024) / 2 ** 20);
  if (neededMb > budgetMb) {
    throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, `This experiment (${nCells} cells, ${nonZeros} non-zero values) needs about ${neededMb} MiB, more than this worker's memory budget of ${budgetMb} MiB.`);
  }
}
