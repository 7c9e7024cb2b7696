/**
 * Every task of the registry, run with its example body, answers from a Seurat .rds as from
 * the 10x folder the object was built from (cell ids mapped through the barcodes), except that
 * the pipeline's results the object stores are used as they are: R's PCA (its numPCs
 * components, stdev), the neighbours on it, seurat_clusters as louvain, the gene table, and R's
 * UMAP / t-SNE for requests without settings. Tasks that depend on those answer as the 10x folder
 * does with R's results put in place of the worker's; the others as the 10x folder does.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { buffer } from "node:stream/consumers";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import { preprocess, type ProcessedState } from "../../src/experiment/preprocess.ts";
import { defaultCellSets } from "../../src/experiment/default-cell-sets.ts";
import { clusterClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { sharedNeighbors } from "../../src/numerics/cluster.ts";
import type { LoadedData } from "../../src/experiment/types.ts";
import { loadH5ad } from "../../src/experiment/load/h5ad.ts";
import { registry } from "../../src/tasks/registry.ts";
import { runTask } from "../../src/compute/run-task.ts";
import { isFileResult } from "../../src/result/file-result.ts";
import { PBMC3K, PBMC_SMALL, ROOT, tempDir } from "../helpers.ts";

const RDS = join(ROOT, "test", "fixtures", "rds");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A task's answer made comparable: file results read (gunzipped), random keys masked. */
async function answer(exp: Experiment, body: Readonly<Record<string, unknown>>): Promise<unknown> {
  const result = await runTask(exp, { body: { ...body, name: String(body["name"]) } }, (err) => { throw err; });
  if (!result.ok) return { code: result.code, message: result.message };
  const data: unknown = result.data;
  if (isFileResult(data)) {
    const bytes = await buffer(data.open());
    return { file: data.contentType, bytes: data.contentEncoding === "gzip" ? gunzipSync(bytes) : bytes };
  }
  return JSON.parse(JSON.stringify(data), (_k, v: unknown) => (typeof v === "string" && UUID.test(v) ? "<uuid>" : v));
}

/**
 * The 10x folder's cell id of each of the .rds experiment's cell ids, through the barcodes;
 * undefined when the mapping is the identity.
 */
function idMap(rds: Experiment, tenx: Experiment): Map<number, number> | undefined {
  const tenxId = new Map(tenx.data.barcodes.map((b, i) => [b, tenx.data.cellIds[i]!]));
  const map = new Map<number, number>();
  let identity = true;
  rds.data.barcodes.forEach((b, i) => {
    const to = tenxId.get(b);
    assert.ok(to !== undefined, `barcode ${b} is in the 10x folder`);
    const from = rds.data.cellIds[i]!;
    map.set(from, to);
    if (from !== to) identity = false;
  });
  return identity ? undefined : map;
}

/**
 * An .rds answer in the 10x folder's cell ids: arrays indexed by cell id (one entry per id up
 * to the largest, which is how per-cell answers are shaped) are re-indexed, `cellIds` lists mapped.
 */
function mapIds(value: unknown, map: Map<number, number>, rdsIdCount: number, tenxIdCount: number): unknown {
  if (Array.isArray(value)) {
    if (value.length === rdsIdCount) {
      const out: unknown[] = new Array(tenxIdCount).fill(null);
      value.forEach((v, id) => { const to = map.get(id); if (to !== undefined) out[to] = mapIds(v, map, rdsIdCount, tenxIdCount); });
      return out;
    }
    return value.map((v) => mapIds(v, map, rdsIdCount, tenxIdCount));
  }
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => {
      if (k === "cellIds" && Array.isArray(v)) return [k, v.map((id: number) => map.get(id) ?? -1)];
      return [k, mapIds(v, map, rdsIdCount, tenxIdCount)];
    }));
  }
  return value;
}

/** Tasks whose answer uses what the .rds stores besides its matrix and cells, checked on their own below. */
const BY_DESIGN = new Set(["GetDoubletScore", "DownloadAnnotSeuratObject"]);
/**
 * Tasks whose answer depends on the pipeline's results the object stores (PCA, neighbours on
 * it, seurat_clusters as louvain, gene dispersions): from the .rds they must equal the 10x
 * folder's answers once R's results are put in place of the worker's own (withStored).
 */
const USES_STORED = new Set([
  "GetEmbedding", "ListGenes", "GeneExpression", "DifferentialExpression", "ClusterCells", "BatchDifferentialExpression",
  "MarkerHeatmap", "DotPlot", "GetTrajectoryAnalysisStartingNodes", "GetTrajectoryAnalysisPseudoTime", "GetNormalizedExpression",
]);

/** What R stored, read back by readRDS (scripts/reference/seurat-rds.R "stored"; doubles as %.17g strings). */
interface StoredResults {
  pbmc_small: { pca_stdev: string[]; dispersion_ids: string[]; mean: string[] };
  pbmc3k: { cells_id: number[]; seurat_clusters: string[]; pca_stdev: string[]; pca_1_2: string[][]; umap: string[][] };
}
interface Expected { cells_id: number[]; seurat_clusters: string[]; pca: string[][]; umap: string[][]; tsne: string[][]; doublet_scores: string[]; variable_features: string[]; dispersion_ids: string[]; variance_standardized: string[] }
const storedR = JSON.parse(readFileSync(join(RDS, "stored_results.json"), "utf8")) as StoredResults;
const expected = JSON.parse(readFileSync(join(RDS, "pbmc_small_v4_expected.json"), "utf8")) as Expected;

/** Cells x dims row-major from R's columns. */
function rowMajor(columns: string[][]): Float64Array {
  const n = columns[0]!.length;
  const out = new Float64Array(n * columns.length);
  columns.forEach((col, j) => col.forEach((v, i) => { out[i * columns.length + j] = Number(v); }));
  return out;
}

/**
 * The 10x folder's experiment with R's results in place of the worker's: PCA (scores and
 * stdev^2), neighbours on all of its PCs, seurat_clusters as louvain (class included), gene
 * means / dispersions / variable features. Cells are in the same order in both (checked).
 */
async function withStored(tenx: Experiment, r: {
  pca: Float64Array; stdev: number[]; clusters: string[];
  genes: { ids: string[]; dispersions: number[]; means: number[]; variable?: string[] };
}): Promise<Experiment> {
  const n = tenx.nCells;
  const nPcs = r.stdev.length;
  assert.equal(r.pca.length, n * nPcs);
  const position = new Map(tenx.data.genes.ids.map((id, g) => [id, g]));
  const dispersions = new Float64Array(tenx.nGenes).fill(NaN);
  const means = new Float64Array(tenx.nGenes).fill(NaN);
  r.genes.ids.forEach((id, k) => { const g = position.get(id)!; dispersions[g] = r.genes.dispersions[k]!; means[g] = r.genes.means[k]!; });
  const byDispersion = Array.from({ length: tenx.nGenes }, (_, g) => g).sort((a, b) => dispersions[b]! - dispersions[a]! || a - b);
  const variable = new Set((r.genes.variable ?? []).map((id) => position.get(id)!));
  const hvgs = Int32Array.from(r.genes.variable ? byDispersion.filter((g) => variable.has(g)) : byDispersion.slice(0, 2000));
  const highlyVariable = new Uint8Array(tenx.nGenes);
  for (const g of hvgs) highlyVariable[g] = 1;
  const louvain = Int32Array.from(r.clusters, Number);
  const state: ProcessedState = {
    ...tenx.state,
    gene: { means, dispersions, highlyVariable },
    hvgs,
    pca: { nPcs, scores: r.pca, varianceExplained: Float64Array.from(r.stdev, (s) => s * s) },
    neighbors: await sharedNeighbors(r.pca, n, nPcs),
    louvain,
    pcsUsed: nPcs,
    stored: { pca: true, genes: true, clusters: true },
  };
  const cellSets = [
    clusterClass({ key: "louvain", name: "louvain clusters", type: "louvain", labels: louvain, cellIds: tenx.data.cellIds }),
    ...tenx.cellSets.filter((c) => c.key !== "louvain"),
  ];
  return new Experiment(tenx.data, state, cellSets, tenx.cache);
}

/**
 * Every task's example from the .rds against the 10x folder: tasks that use the stored
 * results against `stored` (the folder with R's results), the others against the folder as is.
 */
async function compareAllTasks(t: { diagnostic(m: string): void }, rds: Experiment, tenx: Experiment, stored: Experiment): Promise<void> {
  const map = idMap(rds, tenx);
  for (const [name, task] of registry) {
    if (BY_DESIGN.has(name)) continue;
    const fromRds = await answer(rds, task.example);
    const fromTenx = await answer(USES_STORED.has(name) ? stored : tenx, task.example);
    if (map !== undefined && typeof fromRds === "object" && fromRds !== null && "file" in fromRds) {
      t.diagnostic(`${name}: file answer not compared with mapped ids`);
      continue;
    }
    const mapped = map === undefined ? fromRds : mapIds(fromRds, map, rds.maxCellId + 1, tenx.maxCellId + 1);
    // isDeepStrictEqual first: assert's diff of two large differing answers takes gigabytes
    if (!isDeepStrictEqual(mapped, fromTenx)) {
      assert.fail(`${name} answers ${USES_STORED.has(name) ? "as the 10x folder with R's stored results" : "as the 10x folder"}: it does not`);
    }
  }
}

let small: { rds: Experiment; tenx: Experiment; stored: Experiment };
let pbmc3k: { rds: Experiment; tenx: Experiment; stored: Experiment };

before(async () => {
  const smallRds = await openExperiment({ path: join(RDS, "pbmc_small_v4.rds"), cacheDir: null });
  const smallTenx = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
  small = {
    rds: smallRds,
    tenx: smallTenx,
    stored: await withStored(smallTenx, {
      pca: rowMajor(expected.pca),
      stdev: storedR.pbmc_small.pca_stdev.map(Number),
      clusters: expected.seurat_clusters,
      genes: {
        ids: expected.dispersion_ids, dispersions: expected.variance_standardized.map(Number),
        means: storedR.pbmc_small.mean.map(Number), variable: expected.variable_features,
      },
    }),
  };
  const rds3k = await openExperiment({ path: join(RDS, "pbmc3k_v4.rds"), cacheDir: null });
  const tenx3k = await openExperiment({ path: PBMC3K, cacheDir: null });
  // pbmc3k's full PCA and gene table are not exported from R (size): the loader's, whose
  // reading of R's values test/load/rds.test.ts checks on pbmc_small, and whose first two
  // PCs and stdev are compared with R's below
  const pca = rds3k.data.embeddings["X_pca"]!;
  const stats = rds3k.data.storedGeneStats!;
  pbmc3k = {
    rds: rds3k,
    tenx: tenx3k,
    stored: await withStored(tenx3k, {
      pca: pca.values,
      stdev: storedR.pbmc3k.pca_stdev.map(Number),
      clusters: storedR.pbmc3k.seurat_clusters,
      genes: { ids: rds3k.data.genes.ids, dispersions: Array.from(stats.dispersions!), means: Array.from(stats.means!) },
    }),
  };
});

test("pbmc3k: every task answers from the Seurat v4 .rds as from the 10x folder, with R's PCA, clusters and gene table", async (t) => {
  assert.equal(idMap(pbmc3k.rds, pbmc3k.tenx), undefined, "cells_id = the 10x column positions, as the pipeline numbers them");
  assert.ok(registry.size >= 15);
  await compareAllTasks(t, pbmc3k.rds, pbmc3k.tenx, pbmc3k.stored);
});

test("pbmc_small with cells_id 7, 10, 13, ...: every task answers the same with the ids mapped", async (t) => {
  const map = idMap(small.rds, small.tenx);
  assert.ok(map !== undefined && map.get(10) === 1);
  await compareAllTasks(t, small.rds, small.tenx, small.stored);
});

test("the stored results are used as R stored them: PCA, stdev, seurat_clusters as louvain, gene table", () => {
  // pbmc_small: 10 PCs (numPCs 10)
  const { rds } = small;
  assert.deepEqual(rds.state.stored, { pca: true, genes: true, clusters: true });
  assert.equal(rds.state.pca.nPcs, 10);
  assert.equal(rds.state.pcsUsed, 10);
  assert.deepEqual(rds.state.pca.scores, rowMajor(expected.pca));
  assert.deepEqual(Array.from(rds.state.pca.varianceExplained), storedR.pbmc_small.pca_stdev.map((s) => Number(s) ** 2));
  assert.deepEqual(Array.from(rds.state.louvain, String), expected.seurat_clusters);
  const position = new Map(rds.data.genes.ids.map((id, g) => [id, g]));
  expected.dispersion_ids.forEach((id, k) => {
    assert.equal(rds.state.gene.dispersions[position.get(id)!], Number(expected.variance_standardized[k]), id);
    assert.equal(rds.state.gene.means[position.get(id)!], Number(storedR.pbmc_small.mean[k]), id);
  });
  assert.deepEqual(rds.data.genes.ids.filter((_, g) => rds.state.gene.highlyVariable[g] === 1).sort(), [...expected.variable_features].sort());
  // pbmc3k: 30 PCs, R's first two and stdev; R's clusters
  const r3 = pbmc3k.rds;
  assert.equal(r3.state.pca.nPcs, 30);
  const scores = r3.state.pca.scores;
  storedR.pbmc3k.pca_1_2.forEach((col, j) => col.forEach((v, i) => assert.equal(scores[i * 30 + j], Number(v))));
  assert.deepEqual(Array.from(r3.state.pca.varianceExplained), storedR.pbmc3k.pca_stdev.map((s) => Number(s) ** 2));
  assert.deepEqual(Array.from(r3.state.louvain, String), storedR.pbmc3k.seurat_clusters);
  // 10x folders: nothing stored, everything computed as before
  assert.equal(pbmc3k.tenx.state.stored, undefined);
  assert.equal(pbmc3k.tenx.state.pcsUsed, undefined);
});

test("louvain = seurat_clusters: children louvain-N named Cluster N, R's cells, misc$color_pool colours; no seurat_clusters class", () => {
  // the classes the experiment opened with (ClusterCells above replaced its louvain class since)
  const { rds } = small;
  const opened = defaultCellSets(rds.data, rds.state);
  const louvain = opened[0]!;
  assert.equal(louvain.key, "louvain");
  const levels = [...new Set(expected.seurat_clusters)].sort((a, b) => Number(a) - Number(b));
  assert.deepEqual(louvain.children.map((c) => [c.key, c.name]), levels.map((l) => [`louvain-${l}`, `Cluster ${l}`]));
  louvain.children.forEach((child, i) => {
    const ids = expected.cells_id.filter((_, k) => expected.seurat_clusters[k] === levels[i]);
    assert.deepEqual(child.cellIds, ids);
    assert.equal(child.color, rds.data.seuratMisc?.colorPool?.[i]);
  });
  assert.ok(!opened.some((c) => c.key === "seurat_clusters"), "seurat_clusters is the louvain class, not a metadata class too");
  // the colours are the pool's, in cluster order (a reversed pool gives reversed colours)
  const pool = [...rds.data.seuratMisc!.colorPool!].reverse();
  const sets = defaultCellSets({ ...rds.data, seuratMisc: { ...rds.data.seuratMisc, colorPool: pool } }, rds.state);
  assert.deepEqual(sets[0]!.children.map((c) => c.color), pool.slice(0, levels.length));
  // pbmc3k: 9 clusters of R's
  const r3 = defaultCellSets(pbmc3k.rds.data, pbmc3k.rds.state)[0]!;
  assert.deepEqual(r3.children.map((c) => c.cellIds.length), [...new Set(storedR.pbmc3k.seurat_clusters)].sort((a, b) => Number(a) - Number(b))
    .map((l) => storedR.pbmc3k.seurat_clusters.filter((x) => x === l).length));
});

test("GetEmbedding: R's layouts without settings or with useSaved, R's PCA; settings recompute on R's PCs", async () => {
  const { rds, tenx } = small;
  const stored = (columns: string[][], ids: number[], length: number): ([number, number] | null)[] => {
    const out: ([number, number] | null)[] = new Array(length).fill(null);
    ids.forEach((id, i) => { out[id] = [Number(columns[0]![i]), Number(columns[1]![i])]; });
    return out;
  };
  const n = rds.maxCellId + 1;
  for (const body of [{ type: "umap" }, { type: "umap", useSaved: true }, { type: "umap", config: {} }, { type: "umap", config: { minimumDistance: 0.5 }, useSaved: true }]) {
    assert.deepEqual(await answer(rds, { name: "GetEmbedding", ...body }), stored(expected.umap, expected.cells_id, n), JSON.stringify(body));
  }
  assert.deepEqual(await answer(rds, { name: "GetEmbedding", type: "tsne" }), stored(expected.tsne, expected.cells_id, n));
  assert.deepEqual(await answer(rds, { name: "GetEmbedding", type: "pca" }), stored(expected.pca, expected.cells_id, n));
  const r3 = pbmc3k.rds;
  assert.deepEqual(await answer(r3, { name: "GetEmbedding", type: "umap" }), stored(storedR.pbmc3k.umap, storedR.pbmc3k.cells_id, r3.maxCellId + 1));
  assert.deepEqual(await answer(r3, { name: "GetEmbedding", type: "pca" }), stored(storedR.pbmc3k.pca_1_2, storedR.pbmc3k.cells_id, r3.maxCellId + 1));
  // settings: a UMAP computed on R's 10 PCs (the same as the 10x folder with R's PCA), not R's layout
  const body = { name: "GetEmbedding", type: "umap", config: { minimumDistance: 0.3, distanceMetric: "euclidean" } };
  const computed = await answer(rds, body);
  assert.notDeepEqual(computed, stored(expected.umap, expected.cells_id, n));
  assert.deepEqual(mapIds(computed, idMap(rds, tenx)!, n, tenx.maxCellId + 1), await answer(small.stored, body));
  // a 10x folder has no layout: the same request computes one
  const fromTenx = (await answer(tenx, { name: "GetEmbedding", type: "umap", useSaved: true })) as number[][];
  assert.ok(fromTenx.every((p) => p.length === 2 && p.every(Number.isFinite)));
});

test("what the object lacks is computed: without PCA, clusters and gene table, the 10x folder's preprocessing", async () => {
  const { rds, tenx } = small;
  const { X_pca: _pca, ...embeddings } = rds.data.embeddings;
  const { storedGeneStats: _stats, ...rest } = rds.data;
  const bare: LoadedData = { ...rest, embeddings, obs: rds.data.obs.filter((c) => c.name !== "seurat_clusters"), notes: [] };
  const state = await preprocess(bare);
  assert.deepEqual(state.stored, { pca: false, genes: false, clusters: false });
  assert.ok(bare.notes.some((n) => /no usable PCA, gene dispersions, seurat_clusters/.test(n)));
  const { stored: _s, ...computed } = state;
  // varianceExplained left out: scran.ts's PCA variances are unreliable for a process's first
  // PCA (reported separately; no task reads them)
  const withoutVariances = (s: ProcessedState): unknown => ({ ...s, pca: { nPcs: s.pca.nPcs, scores: s.pca.scores } });
  assert.deepEqual(withoutVariances(computed), withoutVariances(tenx.state));
});

test("stored answers: doublet_scores from meta.data, samples as the sample class", async () => {
  const { rds, tenx } = small;
  const doublets = (await answer(rds, { name: "GetDoubletScore" })) as (number | null)[];
  expected.cells_id.forEach((id, i) => assert.equal(doublets[id], Number(expected.doublet_scores[i])));
  assert.equal(doublets[8], null, "ids that are not in the object have no value");
  assert.deepEqual(await answer(tenx, { name: "GetDoubletScore" }), { code: "COLUMN_NOT_FOUND", message: "doublet_scores is not computed for this experiment." });
  // pbmc3k's object has no doublet scores either: the same answer as the folder
  assert.deepEqual(await answer(pbmc3k.rds, { name: "GetDoubletScore" }), await answer(pbmc3k.tenx, { name: "GetDoubletScore" }));

  // the object's samples become the sample class
  const sample = rds.cellSets.find((c) => c.key === "sample");
  assert.deepEqual(sample?.children?.map((s) => [s.name, s.cellIds?.length]), [["sampleA", 40], ["sampleB", 40]]);
});

test("DownloadAnnotSeuratObject: the 10x folder's matrix and cells, R's PCA, plus the object's meta.data", async (t) => {
  const dir = tempDir(t);
  const body = registry.get("DownloadAnnotSeuratObject")?.example;
  if (body === undefined) return t.skip("DownloadAnnotSeuratObject is not registered");
  const files: Record<string, string> = {};
  for (const [which, exp] of [["rds", pbmc3k.rds], ["tenx", pbmc3k.stored]] as const) {
    const result = await runTask(exp, { body: { ...body, name: "DownloadAnnotSeuratObject", format: "h5ad" } }, (err) => { throw err; });
    assert.ok(result.ok && isFileResult(result.data));
    files[which] = join(dir, `${which}.h5ad`);
    writeFileSync(files[which]!, await buffer(result.data.open()));
  }
  const fromRds = await loadH5ad(files["rds"]!);
  const fromTenx = await loadH5ad(files["tenx"]!);
  assert.deepEqual(fromRds.matrix, fromTenx.matrix);
  assert.deepEqual(fromRds.cellIds, fromTenx.cellIds);
  assert.deepEqual(fromRds.barcodes, fromTenx.barcodes);
  assert.deepEqual(fromRds.embeddings["X_pca"], fromTenx.embeddings["X_pca"]);
  assert.deepEqual(fromRds.embeddings["X_umap"], fromTenx.embeddings["X_umap"]);
  const names = new Set(fromRds.obs.map((c) => c.name));
  for (const c of fromTenx.obs) assert.ok(names.has(c.name), `obs ${c.name}`);
  assert.ok(names.has("samples"));
});
