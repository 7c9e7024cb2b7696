/**
 * The only importer of scran.js (libscran compiled to WebAssembly). Everything that crosses
 * this file is a plain JS typed array: Wasm objects are created and freed inside each call
 * (freed in `finally`), so nothing from the Wasm heap outlives a call or leaks across requests.
 */
import * as scran from "scran.js";
import { availableParallelism } from "node:os";
import { tsne } from "./tsne/tsne.ts";
import { umap } from "./umap/umap.ts";
import { orientSigns, scoreVariances, type PcaOutput } from "./sparse-pca.ts";

let ready: Promise<unknown> | null = null;

/** Initialises the Wasm module once (threads = available cores, at most 4). */
export function initScran(): Promise<unknown> {
  ready ??= scran.initialize({ numberOfThreads: Math.max(1, Math.min(4, availableParallelism())) });
  return ready;
}

function freeAll(...objects: ({ free(): void } | undefined)[]): void {
  for (const o of objects) o?.free();
}

/**
 * PCA of a sparse features x cells matrix in compressed-row form (one row per feature) by
 * scran.js's IRLBA: scran centres each feature and multiplies sparse matrices by vectors, so the
 * cost follows the non-zeros, not features x cells (numerics/sparse-pca.ts has the same
 * interface computed from the covariance; numerics/pca.ts chooses).
 */
export async function irlbaPca(
  nFeatures: number, nCells: number, indptr: Int32Array, indices: Int32Array, values: Float64Array, nPcs: number,
  opts: { rotation?: boolean; orient?: boolean } = {},
): Promise<PcaOutput> {
  await initScran();
  let mat: scran.ScranMatrix | undefined;
  let res: scran.RunPcaResults | undefined;
  try {
    mat = scran.initializeSparseMatrixFromSparseArrays(nFeatures, nCells, values, indices, indptr, { byRow: true, forceInteger: false, layered: false });
    res = scran.runPca(mat, { numberOfPCs: nPcs, scale: false });
    const k = res.numberOfPCs();
    const scores = res.principalComponents();
    // signs are arbitrary: flip each PC so its largest-magnitude score is positive
    if (opts.orient !== false) orientSigns(scores, nCells, k);
    return {
      // each PC's variance from its scores: scran.js 4.1's varianceExplained() returned 0 for the
      // leading PCs here (pbmc3k: the first three)
      scores, nPcs: k, varianceExplained: scoreVariances(scores, nCells, k), totalVariance: res.totalVariance(),
      ...(opts.rotation ? { rotation: res.rotation() } : {}),
    };
  } finally {
    freeAll(res, mat);
  }
}

export interface Neighbors {
  nCells: number;
  k: number;
  /** cells x k, row-major, nearest first; excludes the cell itself */
  indices: Int32Array;
  distances: Float64Array;
}

/**
 * k nearest neighbours of every cell in a cells x dims row-major coordinate array by scran.js's
 * Annoy (Seurat's default method); numerics/neighbors.ts chooses between this and
 * numerics/knn-forest.ts.
 */
export async function annoyNeighbors(coords: Float64Array, nCells: number, dims: number, k: number): Promise<Neighbors> {
  await initScran();
  let index: scran.NeighborIndex | undefined;
  let res: scran.FindNearestNeighborsResults | undefined;
  try {
    index = scran.buildNeighborSearchIndex(coords, { numberOfDims: dims, numberOfCells: nCells, approximate: true });
    const kk = Math.min(k, nCells - 1);
    res = scran.findNearestNeighbors(index, kk);
    const { indices, distances } = res.serialize();
    return { nCells, k: kk, indices, distances };
  } finally {
    freeAll(res, index);
  }
}

/** Options of the iterative 2-D embeddings. */
export type EmbeddingMethod =
  // UMAP (src/numerics/umap/); start: the cells x startDims coordinates the neighbours were found in (first two columns start the layout)
  | { method: "umap"; minDist: number; epochs: number; start: Float64Array; startDims: number }
  // t-SNE with FFT-interpolated repulsion (src/numerics/tsne/); init: cells x 2 start (first two PCs)
  | { method: "tsne"; perplexity: number; learningRate?: number; maxIterations?: number; init?: Float64Array }
  // scran.js's Barnes-Hut t-SNE (qdtsne), the method before: kept for bench/tsne-quality.ts, not exposed to requests
  | { method: "tsne-barnes-hut"; perplexity: number; maxIterations?: number };

/**
 * UMAP or t-SNE from precomputed neighbours. Returns cells x 2, row-major. t-SNE is
 * src/numerics/tsne/ and UMAP src/numerics/umap/ (synchronous; progress about every half
 * second); the old Barnes-Hut t-SNE is scran.js's.
 * The iterations run in slices of about half a second so that `onProgress(fraction)` reports
 * real progress (epochs or iterations done); slicing does not change the result.
 */
export async function embed2d(nn: Neighbors, opts: EmbeddingMethod, onProgress?: (fraction: number) => void): Promise<Float64Array> {
  if (opts.method === "tsne") return tsne(nn, opts, onProgress);
  if (opts.method === "umap") return umap(nn, opts, onProgress);
  await initScran();
  const runs = new Int32Array(nn.nCells).fill(nn.k);
  let results: scran.FindNearestNeighborsResults | undefined;
  let state: scran.IterativeEmbedding | undefined;
  const slice = 500;
  try {
    results = scran.FindNearestNeighborsResults.unserialize(runs, nn.indices, nn.distances);
    const bh = scran.initializeTsne(results, { perplexity: opts.perplexity, neighbors: nn.k });
    state = bh;
    const maxIterations = opts.maxIterations ?? 1000;
    while (bh.iterations!() < maxIterations) {
      bh.run({ maxIterations, runTime: slice });
      onProgress?.(bh.iterations!() / maxIterations);
    }
    const { x, y } = state.extractCoordinates();
    const out = new Float64Array(nn.nCells * 2);
    for (let i = 0; i < nn.nCells; i++) { out[2 * i] = x[i]!; out[2 * i + 1] = y[i]!; }
    return out;
  } finally {
    freeAll(state, results);
  }
}

/**
 * Leiden clustering (modularity objective) on scran's Jaccard-weighted SNN graph built from
 * precomputed neighbours. Returns one label per cell (not yet renumbered).
 */
export async function leidenFromNeighbors(nn: Neighbors, resolution: number): Promise<Int32Array> {
  await initScran();
  const runs = new Int32Array(nn.nCells).fill(nn.k);
  let results: scran.FindNearestNeighborsResults | undefined;
  let graph: scran.BuildSnnGraphResults | undefined;
  let clusters: scran.ClusterGraphResults | undefined;
  try {
    results = scran.FindNearestNeighborsResults.unserialize(runs, nn.indices, nn.distances);
    graph = scran.buildSnnGraph(results, { scheme: "jaccard", neighbors: nn.k });
    clusters = scran.clusterGraph(graph, { method: "leiden", leidenResolution: resolution, leidenObjective: "modularity" });
    // the 64-bit Wasm build returns BigInt64Array labels
    return Int32Array.from(clusters.membership() as ArrayLike<number | bigint>, Number);
  } finally {
    freeAll(clusters, graph, results);
  }
}

// --- RDS (R's serialisation format) -------------------------------------------------------

/** Attributes of an R value (names, dim, dimnames, class, levels, row.names, or S4 slots). */
export type RAttributes = Record<string, RValue>;

/**
 * An R value copied out of an RDS file into plain JS. Integer and logical NAs are -2^31 as in
 * R; double NAs are NaN; NA strings are null. `skipped` stands for a value the caller asked not
 * to copy, `other` for a type the parser does not expose (environments, functions, ...).
 */
export type RValue =
  | { type: "integer" | "logical"; values: Int32Array; attributes: RAttributes }
  | { type: "double"; values: Float64Array; attributes: RAttributes }
  | { type: "string"; values: (string | null)[]; attributes: RAttributes }
  | { type: "list"; values: RValue[]; attributes: RAttributes }
  | { type: "S4"; className: string; packageName: string; attributes: RAttributes }
  | { type: "null" }
  | { type: "other"; rType: string }
  | { type: "skipped" };

/**
 * Parses an uncompressed or gzip-compressed RDS file (XDR format, the R default) and copies it
 * into plain JS values. `skip(path)` is asked for every attribute, S4 slot and list element
 * (path = slot/attribute names and list element names or indices from the root); a value it
 * skips is not copied (e.g. a dense scale.data nobody reads). Every Wasm handle is freed
 * before returning. Throws the parser's Error for a file it cannot read.
 */
export async function readRds(bytes: Uint8Array, skip: (path: readonly string[]) => boolean = () => false): Promise<{ value: RValue; writerVersion: string }> {
  await initScran();
  let details: scran.RdsDetails | undefined;
  try {
    details = scran.readRds(bytes);
    const root = details.value();
    try {
      return { value: copyRds(root, [], skip), writerVersion: details.writerVersion() };
    } finally {
      root.free();
    }
  } finally {
    details?.free();
  }
}

function copyRds(o: scran.RdsObject, path: string[], skip: (path: readonly string[]) => boolean): RValue {
  const t = o.type();
  const child = (name: string, load: () => scran.RdsObject): RValue => {
    const p = [...path, name];
    if (skip(p)) return { type: "skipped" };
    const c = load();
    try {
      return copyRds(c, p, skip);
    } finally {
      c.free();
    }
  };
  const attributesOf = (v: scran.RdsVector | scran.RdsS4Object): RAttributes => {
    const out: RAttributes = {};
    for (const name of v.attributeNames()) out[name] = child(`@${name}`, () => v.attribute(name));
    return out;
  };
  switch (t) {
    case "integer":
    case "boolean": {
      const v = o as scran.RdsIntegerVector;
      return { type: t === "boolean" ? "logical" : "integer", values: v.values(), attributes: attributesOf(v) };
    }
    case "double": {
      const v = o as scran.RdsDoubleVector;
      return { type: "double", values: v.values(), attributes: attributesOf(v) };
    }
    case "string": {
      const v = o as scran.RdsStringVector;
      return { type: "string", values: v.values(), attributes: attributesOf(v) };
    }
    case "vector": {
      const v = o as scran.RdsGenericVector;
      const attributes = attributesOf(v);
      const names = attributes["names"]?.type === "string" ? attributes["names"].values : [];
      const values: RValue[] = [];
      for (let i = 0; i < v.length(); i++) values.push(child(names[i] ?? String(i), () => v.load(i)));
      return { type: "list", values, attributes };
    }
    case "S4": {
      const v = o as scran.RdsS4Object;
      return { type: "S4", className: v.className(), packageName: v.packageName(), attributes: attributesOf(v) };
    }
    case "null":
      return { type: "null" };
    default:
      return { type: "other", rType: t };
  }
}
