/**
 * The processed-state cache: the loaded matrix plus everything preprocessing produced, in one
 * binary file named by the SHA-256 of the input, so a second run skips parsing and
 * preprocessing. The header records the format version, the input hash and the preprocessing
 * parameters; any mismatch, truncation or checksum failure means "rebuild", never "trust".
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { createReadStream } from "node:fs";
import { access, mkdir, readdir, readFile, rename, stat, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { LoadedData, ObsColumn } from "./types.ts";
import { normalizerOf, PREPROCESS, type ProcessedState } from "./preprocess.ts";
import { smallCountTable, type GeneValueOrder } from "../numerics/stats/gene-value-order.ts";
import { readStateFile, StateFileError, writeStateFile } from "./state-file.ts";
import { PendingMatrix } from "./pending-matrix.ts";
import type { GeneMajorMatrix } from "../numerics/sparse.ts";

/** Bump whenever the file layout or what preprocessing computes changes: old caches then rebuild. */
export const CACHE_VERSION = 11;

/** The files hashInput reads: the file itself (null), or a folder's regular files (sorted names). */
async function inputFiles(path: string): Promise<(string | null)[]> {
  const info = await stat(path);
  return info.isDirectory()
    ? (await readdir(path, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith(".")).map((e) => e.name).sort()
    : [null];
}

/** SHA-256 over the input: a file's bytes, or a folder's regular files (names and bytes, sorted). */
export async function hashInput(path: string): Promise<string> {
  const h = createHash("sha256");
  const files = await inputFiles(path);
  for (const name of files) {
    const file = name === null ? path : join(path, name);
    if (name !== null) h.update(`\0${name}\0`);
    for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  }
  return h.digest("hex");
}

/** Each input file's name, size, modification and change times (ns) and inode, as one string. */
async function inputIdentity(path: string): Promise<string> {
  const parts: string[] = [];
  for (const name of await inputFiles(path)) {
    const st = await stat(name === null ? path : join(path, name), { bigint: true });
    parts.push([name ?? "", st.size, st.mtimeNs, st.ctimeNs, st.ino, st.dev].join(":"));
  }
  return parts.join("/");
}

/**
 * hashInput, without reading the input again while it is unchanged: a small sidecar in the
 * cache folder (named by the hash of the input's absolute path) remembers the hash with each
 * file's size, times (ns) and inode, taken before hashing; when they all still match, the
 * remembered hash is used (as git's index trusts unchanged stat data), otherwise the input is
 * hashed and the sidecar rewritten. Any change to a file (a rewrite, a copy over it, a touch)
 * changes its ctime, so the input is hashed again. A sidecar that cannot be read or written is
 * ignored. Hashing a million cells' 2.8 GB input took ~9 s of every warm start.
 */
export async function cachedInputHash(path: string, cacheDir: string): Promise<{ hash: string; reused: boolean }> {
  const abs = resolve(path);
  const sidecar = join(cacheDir, `${createHash("sha256").update(abs).digest("hex").slice(0, 32)}.input.json`);
  const identity = await inputIdentity(abs);
  try {
    const known = JSON.parse(await readFile(sidecar, "utf8")) as { path?: unknown; identity?: unknown; hash?: unknown };
    if (known.path === abs && known.identity === identity && typeof known.hash === "string" && /^[0-9a-f]{64}$/.test(known.hash)) {
      return { hash: known.hash, reused: true };
    }
  } catch {
    // no sidecar yet, or an unreadable one: hash
  }
  const hash = await hashInput(abs);
  try {
    await mkdir(cacheDir, { recursive: true });
    const tmp = `${sidecar}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ path: abs, identity, hash }));
    await rename(tmp, sidecar);
  } catch {
    // a read-only cache folder: hash again next time
  }
  return { hash, reused: false };
}

export function cacheFileFor(cacheDir: string, inputHash: string): string {
  return join(cacheDir, `${inputHash}.cwstate`);
}

/** The matrix of a cache hit opened with `deferMatrix`: its arrays, and some of its rows, read from the file when asked for. */
export interface DeferredMatrix {
  /** the cell indices and values, whole (each array's checksum verified) */
  read(): Promise<{ indices: Int32Array; values: Float32Array }>;
  /**
   * A matrix of the full shape holding only these genes' rows (the other rows empty), read by
   * positional reads, each row checked against its own CRC-32.
   */
  rows(genes: readonly number[]): Promise<GeneMajorMatrix>;
}

export type CacheLookup =
  | {
    status: "hit"; data: LoadedData; state: ProcessedState;
    /** the value order, read from the file when asked for (not part of the warm start); null when the cache has none */
    readValueOrder: (() => Promise<GeneValueOrder>) | null;
    /** with `deferMatrix`: data.matrix is a PendingMatrix, filled from this; otherwise null */
    matrix: DeferredMatrix | null;
  }
  | { status: "missing" | "stale" | "corrupt"; reason: string };

interface Meta {
  version: number;
  inputHash: string;
  params: typeof PREPROCESS;
  data: Omit<LoadedData, "matrix" | "cellIds" | "obs" | "embeddings" | "storedGeneStats"> & {
    nGenes: number;
    nCells: number;
    obs: ({ name: string; kind: ObsColumn["kind"]; categories?: string[]; strings?: string[] })[];
    embeddings: Record<string, number>;
  };
  pcaPcs: number;
  neighborsK: number;
  pcsUsed?: number;
  stored?: ProcessedState["stored"];
  /** the file holds the value order (order.* arrays) */
  valueOrder?: boolean;
}

const MATRIX_ARRAYS = ["matrix.indices", "matrix.values"];

/**
 * `deferMatrix`: the matrix's cell indices and values (8 bytes per non-zero) are not read at
 * the open; data.matrix is a PendingMatrix and the hit's `matrix` reads them, whole or by rows.
 */
export async function readCache(file: string, inputHash: string, path: string, opts: { deferMatrix?: boolean } = {}): Promise<CacheLookup> {
  try {
    await access(file);
  } catch {
    return { status: "missing", reason: "no cache file" };
  }
  try {
    // the value order (8 bytes per non-zero, half the file) is only read when a comparison needs it
    const stateFile = await readStateFile(file, (name) => name.startsWith("order.") || (opts.deferMatrix === true && MATRIX_ARRAYS.includes(name)));
    const m = stateFile.meta as Meta;
    if (m.version !== CACHE_VERSION) return { status: "stale", reason: `cache version ${m.version}, expected ${CACHE_VERSION}` };
    if (m.inputHash !== inputHash) return { status: "stale", reason: "input file changed" };
    if (JSON.stringify(m.params) !== JSON.stringify(PREPROCESS)) return { status: "stale", reason: "preprocessing parameters changed" };
    const { data, state } = fromArrays(m, stateFile.arrays as Record<string, never>, path);
    const readValueOrder = m.valueOrder
      ? async (): Promise<GeneValueOrder> => valueOrderFromArrays(await stateFile.readDeferred(ORDER_ARRAYS), smallCountTable(normalizerOf(data, state), data.matrix.nCells))
      : null;
    let matrix: DeferredMatrix | null = null;
    if (data.matrix instanceof PendingMatrix) {
      const pending = data.matrix;
      const rowCrc = stateFile.arrays["matrix.rowCrc"] as Int32Array | undefined;
      if (!rowCrc || rowCrc.length !== 2 * pending.nGenes) throw new Error("cache lacks matrix.rowCrc");
      matrix = {
        async read() {
          const a = await stateFile.readDeferred(MATRIX_ARRAYS);
          return { indices: a["matrix.indices"] as Int32Array, values: a["matrix.values"] as Float32Array };
        },
        rows: (genes) => readRows(pending, rowCrc, genes, (parts) => stateFile.readSlices(parts)),
      };
    }
    return { status: "hit", data, state, readValueOrder, matrix };
  } catch (err) {
    return { status: "corrupt", reason: (err as Error).message };
  }
}

/** Writes atomically (temp file + rename) so a crash never leaves a half-written cache. */
export async function writeCache(file: string, inputHash: string, data: LoadedData, state: ProcessedState): Promise<void> {
  const { meta, arrays } = toArrays(inputHash, data, state);
  const dir = file.slice(0, file.lastIndexOf("/")) || ".";
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeStateFile(tmp, meta, arrays);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

type Arr = Float64Array | Float32Array | Int32Array | Uint8Array;

function toArrays(inputHash: string, data: LoadedData, state: ProcessedState): { meta: Meta; arrays: Record<string, Arr> } {
  const arrays: Record<string, Arr> = {
    "matrix.indptr": data.matrix.indptr,
    "matrix.indices": data.matrix.indices,
    "matrix.values": data.matrix.values,
    "matrix.rowCrc": rowChecksums(data.matrix),
    cellIds: data.cellIds,
    "qc.totalCounts": state.qc.totalCounts,
    "qc.genesDetected": state.qc.genesDetected,
    "qc.percentMito": state.qc.percentMito,
    "gene.means": state.gene.means,
    "gene.dispersions": state.gene.dispersions,
    "gene.highlyVariable": state.gene.highlyVariable,
    hvgs: state.hvgs,
    "pca.scores": state.pca.scores,
    "pca.varianceExplained": state.pca.varianceExplained,
    louvain: state.louvain,
    "neighbors.indices": state.neighbors.indices,
    "neighbors.distances": state.neighbors.distances,
  };
  if (state.valueOrder) {
    // the small-count table is recomputed on reading (8 values per cell)
    arrays["order.cells"] = state.valueOrder.cells;
    arrays["order.nonNegativeFrom"] = state.valueOrder.nonNegativeFrom;
    arrays["order.storedZeros"] = state.valueOrder.storedZeros;
    arrays["order.nanFrom"] = state.valueOrder.nanFrom;
    const ranks = state.valueOrder.ranks;
    if (ranks) {
      arrays["order.midrank"] = ranks.midrank;
      arrays["order.zeroMidrank"] = ranks.zeroMidrank;
      arrays["order.tieSum"] = ranks.tieSum;
    }
  }
  const obs: Meta["data"]["obs"] = [];
  for (const col of data.obs) {
    if (col.kind === "categorical") { obs.push({ name: col.name, kind: col.kind, categories: col.categories }); arrays[`obs.${col.name}`] = col.codes; }
    else if (col.kind === "string") obs.push({ name: col.name, kind: col.kind, strings: col.values });
    else { obs.push({ name: col.name, kind: col.kind }); arrays[`obs.${col.name}`] = col.values; }
  }
  const embeddings: Record<string, number> = {};
  for (const [name, e] of Object.entries(data.embeddings)) {
    embeddings[name] = e.dims;
    arrays[`emb.${name}`] = e.values;
    if (e.stdev) arrays[`embstdev.${name}`] = e.stdev;
  }
  for (const [k, v] of Object.entries(data.storedGeneStats ?? {})) if (v) arrays[`stored.${k}`] = v;
  const { matrix, cellIds, obs: _o, embeddings: _e, storedGeneStats: _s, ...rest } = data;
  return {
    meta: { version: CACHE_VERSION, inputHash, params: PREPROCESS, data: { ...rest, nGenes: matrix.nGenes, nCells: matrix.nCells, obs, embeddings }, pcaPcs: state.pca.nPcs, neighborsK: state.neighbors.k, ...(state.pcsUsed !== undefined ? { pcsUsed: state.pcsUsed } : {}), ...(state.stored ? { stored: state.stored } : {}), ...(state.valueOrder ? { valueOrder: true } : {}) },
    arrays,
  };
}

const ORDER_ARRAYS = ["order.cells", "order.nonNegativeFrom", "order.storedZeros", "order.nanFrom", "order.midrank", "order.zeroMidrank", "order.tieSum"];

const rowBytes = (a: Int32Array | Float32Array, from: number, to: number): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset + from * 4, (to - from) * 4);

/** CRC-32 of each gene row's cell indices (at 2g) and values (at 2g + 1), as int32. */
export function rowChecksums(m: GeneMajorMatrix): Int32Array {
  const out = new Int32Array(2 * m.nGenes);
  for (let g = 0; g < m.nGenes; g++) {
    const from = m.indptr[g]!;
    const to = m.indptr[g + 1]!;
    out[2 * g] = crc32(rowBytes(m.indices, from, to));
    out[2 * g + 1] = crc32(rowBytes(m.values, from, to));
  }
  return out;
}

/** A matrix of `pending`'s shape holding only `genes`' rows, read from the file and checked row by row. */
async function readRows(
  pending: PendingMatrix, rowCrc: Int32Array, genes: readonly number[],
  readSlices: (parts: { name: string; from: number; to: number }[]) => Promise<ArrayLike<number>[]>,
): Promise<GeneMajorMatrix> {
  const { indptr: full, nGenes, nCells } = pending;
  const wanted = [...new Set(genes)].filter((g) => Number.isInteger(g) && g >= 0 && g < nGenes).sort((a, b) => a - b);
  const parts = wanted.flatMap((g) => [
    { name: "matrix.indices", from: full[g]!, to: full[g + 1]! },
    { name: "matrix.values", from: full[g]!, to: full[g + 1]! },
  ]);
  const got = (await readSlices(parts)) as (Int32Array | Float32Array)[];
  const indptr = new Float64Array(nGenes + 1);
  for (const g of wanted) indptr[g + 1] = full[g + 1]! - full[g]!;
  for (let g = 0; g < nGenes; g++) indptr[g + 1]! += indptr[g]!;
  const indices = new Int32Array(indptr[nGenes]!);
  const values = new Float32Array(indptr[nGenes]!);
  wanted.forEach((g, k) => {
    const rowIndices = got[2 * k] as Int32Array;
    const rowValues = got[2 * k + 1] as Float32Array;
    if (crc32(rowBytes(rowIndices, 0, rowIndices.length)) !== (rowCrc[2 * g]! >>> 0) || crc32(rowBytes(rowValues, 0, rowValues.length)) !== (rowCrc[2 * g + 1]! >>> 0)) {
      throw new StateFileError(`matrix row ${g}: checksum mismatch (file corrupted)`);
    }
    indices.set(rowIndices, indptr[g]!);
    values.set(rowValues, indptr[g]!);
  });
  return { nGenes, nCells, indptr, indices, values };
}

function valueOrderFromArrays(a: Record<string, unknown>, smallCounts: Float64Array | null): GeneValueOrder {
  const need = <T,>(name: string): T => {
    if (a[name] === undefined) throw new Error(`cache lacks ${name}`);
    return a[name] as T;
  };
  const order: GeneValueOrder = {
    cells: need("order.cells"), nonNegativeFrom: need("order.nonNegativeFrom"), storedZeros: need("order.storedZeros"), nanFrom: need("order.nanFrom"), smallCounts,
  };
  if (a["order.midrank"]) order.ranks = { midrank: need("order.midrank"), zeroMidrank: need("order.zeroMidrank"), tieSum: need("order.tieSum") };
  return order;
}

function fromArrays(m: Meta, a: Record<string, never>, path: string): { data: LoadedData; state: ProcessedState } {
  // the matrix's arrays absent: deferred (readCache's deferMatrix)
  const deferred = a["matrix.indices"] === undefined && a["matrix.values"] === undefined;
  const need = <T,>(name: string): T => {
    const v = a[name];
    if (v === undefined) throw new Error(`cache lacks ${name}`);
    return v as T;
  };
  const { nGenes, nCells, obs: obsMeta, embeddings: embMeta, ...rest } = m.data;
  const obs: ObsColumn[] = obsMeta.map((o) => {
    switch (o.kind) {
      case "categorical": return { name: o.name, kind: "categorical", categories: o.categories ?? [], codes: need<Int32Array>(`obs.${o.name}`) };
      case "string": return { name: o.name, kind: "string", values: o.strings ?? [] };
      case "numeric": return { name: o.name, kind: "numeric", values: need<Float64Array>(`obs.${o.name}`) };
      case "boolean": return { name: o.name, kind: "boolean", values: need<Uint8Array>(`obs.${o.name}`) };
    }
  });
  const embeddings = Object.fromEntries(Object.entries(embMeta).map(([name, dims]) => {
    const stdev = a[`embstdev.${name}`] as Float64Array | undefined;
    return [name, { dims, values: need<Float64Array>(`emb.${name}`), ...(stdev ? { stdev } : {}) }];
  }));
  const stored: LoadedData["storedGeneStats"] = {};
  if (a["stored.dispersions"]) stored.dispersions = a["stored.dispersions"];
  if (a["stored.means"]) stored.means = a["stored.means"];
  if (a["stored.highlyVariable"]) stored.highlyVariable = a["stored.highlyVariable"];
  const data: LoadedData = {
    ...rest,
    path,
    matrix: deferred
      ? new PendingMatrix(nGenes, nCells, need("matrix.indptr"))
      : { nGenes, nCells, indptr: need("matrix.indptr"), indices: need("matrix.indices"), values: need("matrix.values") },
    cellIds: need("cellIds"),
    obs,
    embeddings,
    ...(Object.keys(stored).length > 0 ? { storedGeneStats: stored } : {}),
  };
  const state: ProcessedState = {
    qc: { totalCounts: need("qc.totalCounts"), genesDetected: need("qc.genesDetected"), percentMito: need("qc.percentMito") },
    gene: { means: need("gene.means"), dispersions: need("gene.dispersions"), highlyVariable: need("gene.highlyVariable") },
    hvgs: need("hvgs"),
    pca: { nPcs: m.pcaPcs, scores: need("pca.scores"), varianceExplained: need("pca.varianceExplained") },
    louvain: need("louvain"),
    neighbors: { nCells, k: m.neighborsK, indices: need("neighbors.indices"), distances: need("neighbors.distances") },
  };
  if (m.pcsUsed !== undefined) state.pcsUsed = m.pcsUsed;
  if (m.stored !== undefined) state.stored = m.stored;
  return { data, state };
}
