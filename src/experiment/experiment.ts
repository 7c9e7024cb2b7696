/**
 * One loaded experiment: the data as read, what preprocessing made of it, its cell sets and a
 * per-experiment memo of derived results (embeddings, marker lists) kept for its lifetime.
 * Holds only JS typed arrays; nothing here owns Wasm memory.
 */
import type { LoadedData } from "./types.ts";
import type { ProcessedState } from "./preprocess.ts";
import { normalizerOf } from "./preprocess.ts";
import type { Normalizer } from "../numerics/normalize.ts";
import type { CellClass } from "./cell-sets/cell-sets.ts";
import type { GeneValueOrder } from "../numerics/stats/gene-value-order.ts";
import type { GeneMajorMatrix } from "../numerics/sparse.ts";
import { inMemory, PendingMatrix } from "./pending-matrix.ts";

/**
 * The lower-cased symbol → first gene index map of a gene list, built once per list: every
 * Experiment over the same loaded data shares it (a fresh Experiment, e.g. per benchmark run,
 * does not rebuild 35,000 entries).
 */
const symbolIndexes = new WeakMap<readonly string[], Map<string, number>>();
function symbolIndexOf(symbols: readonly string[]): Map<string, number> {
  let index = symbolIndexes.get(symbols);
  if (!index) {
    index = new Map();
    for (let i = 0; i < symbols.length; i++) {
      const key = symbols[i]!.toLowerCase();
      if (!index.has(key)) index.set(key, i);
    }
    symbolIndexes.set(symbols, index);
  }
  return index;
}

/** Derived results kept per experiment unless told otherwise (`CELLWORKER_MEMO_ENTRIES`). */
export const DEFAULT_MEMO_ENTRIES = 64;

export type CacheStatus = "hit" | "built" | "rebuilt" | "disabled";

export class Experiment {
  readonly data: LoadedData;
  readonly state: ProcessedState;
  cellSets: CellClass[];
  readonly cache: { status: CacheStatus; file: string | null; reason?: string };
  readonly normalizer: Normalizer;
  readonly maxCellId: number;
  /** cell index by cell id (-1 where the id is not in the data) */
  private readonly indexById: Int32Array;
  private readonly memo = new Map<string, Promise<unknown>>();

  private readonly memoEntries: number;
  /** the cached value order being read (see loadValueOrder) */
  private valueOrderLoad: Promise<void> = Promise.resolve();
  /** the matrix's arrays being read (see loadMatrix) */
  private matrixLoad: Promise<void> = Promise.resolve();
  /** background work of the open besides the matrix and value order (see afterOpen) */
  private readonly openWork: Promise<unknown>[] = [];
  /** reads some genes' rows from the cache while the matrix is being read */
  private rowReader: ((genes: readonly number[]) => Promise<GeneMajorMatrix>) | null = null;

  constructor(data: LoadedData, state: ProcessedState, cellSets: CellClass[], cache: Experiment["cache"], memoEntries = DEFAULT_MEMO_ENTRIES) {
    this.memoEntries = memoEntries;
    this.data = data;
    this.state = state;
    this.cellSets = cellSets;
    this.cache = cache;
    this.normalizer = normalizerOf(data, state);
    let max = -1;
    for (const id of data.cellIds) if (id > max) max = id;
    this.maxCellId = max;
    this.indexById = new Int32Array(max + 1).fill(-1);
    data.cellIds.forEach((id, i) => { this.indexById[id] = i; });
  }

  get nCells(): number { return this.data.matrix.nCells; }
  get nGenes(): number { return this.data.matrix.nGenes; }

  /** Cell index of a cell id, or -1. */
  cellIndex(id: number): number {
    return Number.isInteger(id) && id >= 0 && id <= this.maxCellId ? this.indexById[id]! : -1;
  }

  /** Gene index by symbol, case-insensitive; the first gene wins when symbols repeat. */
  geneBySymbol(symbol: string): number | undefined {
    return symbolIndexOf(this.data.genes.symbols).get(symbol.toLowerCase());
  }

  /**
   * Computes a derived result once per key and keeps it (a failed computation is forgotten so
   * a later request can retry). The memo is a least-recently-used cache of at most
   * `memoEntries` results (environment `CELLWORKER_MEMO_ENTRIES`, default 64): a stream of
   * requests with ever-new parameters cannot grow memory without bound.
   */
  memoize<T>(key: string, compute: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (p) {
      this.memo.delete(key); // most recently used goes last
      this.memo.set(key, p);
      return p;
    }
    p = compute();
    this.memo.set(key, p);
    p.catch(() => this.memo.delete(key));
    while (this.memo.size > this.memoEntries) this.memo.delete(this.memo.keys().next().value!);
    return p;
  }

  /**
   * Reads the matrix's arrays in the background (data.matrix is a PendingMatrix until then):
   * tasks that read a few genes are answered meanwhile from `rows`, tasks that read the whole
   * matrix wait (`matrixReady()`; the runner does it for tasks declaring matrix: "whole"). A
   * failed read rejects matrixReady() with its error (`read` does its own recovery).
   */
  loadMatrix(read: () => Promise<{ indices: Int32Array; values: Float32Array }>, rows: (genes: readonly number[]) => Promise<GeneMajorMatrix>): void {
    const m = this.data.matrix;
    if (!(m instanceof PendingMatrix)) throw new Error("loadMatrix: the matrix is already in memory");
    this.rowReader = rows;
    this.matrixLoad = read().then(({ indices, values }) => {
      m.fill(indices, values);
      this.rowReader = null;
    });
    this.matrixLoad.catch(() => {}); // reported to whoever waits for it
  }

  /** Resolves once the whole matrix is in memory (at once unless a background read is under way). */
  matrixReady(): Promise<void> {
    return this.matrixLoad;
  }

  /**
   * A matrix holding at least these genes' rows: the experiment's own once it is in memory;
   * while it is being read, one holding just these rows, read from the processed-state cache
   * (if that fails, the whole matrix is awaited).
   */
  async rowsOf(genes: readonly number[]): Promise<GeneMajorMatrix> {
    const reader = this.rowReader;
    if (reader && !inMemory(this.data.matrix)) {
      try {
        return await reader(genes);
      } catch {
        // a damaged row or a replaced file: the background read settles it
      }
    }
    await this.matrixLoad;
    return this.data.matrix;
  }

  /**
   * Gets the value order in the background, after the matrix: read from the processed-state
   * cache (it is half the file), or built after a cold open. Only DifferentialExpression needs
   * it: the experiment answers other requests meanwhile, and `valueOrderReady()` waits for it.
   * If `read` fails, the order is left absent and the first comparison builds it from the matrix.
   */
  loadValueOrder(read: () => Promise<GeneValueOrder>, onError: (err: Error) => void = () => {}): void {
    this.valueOrderLoad = this.matrixLoad.catch(() => {}).then(read).then(
      (order) => { this.state.valueOrder ??= order; },
      (err: unknown) => onError(err as Error),
    );
  }

  /** Resolves once a background read of the value order (if any) has ended. */
  valueOrderReady(): Promise<void> {
    return this.valueOrderLoad;
  }

  /** Other work the open left to the background (writing the processed-state cache); it reports its own failures. */
  afterOpen(work: Promise<unknown>): void {
    this.openWork.push(work.catch(() => {}));
  }

  /**
   * Resolves once everything the open left to the background has ended: the matrix and value
   * order read or built, the processed-state cache written (a one-shot command waits for it
   * before it exits; so do tests that reopen the cache).
   */
  async settled(): Promise<void> {
    await Promise.all([this.matrixLoad.catch(() => {}), this.valueOrderLoad, ...this.openWork]);
  }

  hasMemo(key: string): boolean {
    return this.memo.has(key);
  }

  /** the keys of the derived results kept, least recently used first */
  memoKeys(): string[] {
    return [...this.memo.keys()];
  }
}
