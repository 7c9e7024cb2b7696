/**
 * Every task of the registry, run with its example body, answers the same from a Seurat .rds
 * as from the 10x folder the object was built from (cell ids mapped through the barcodes), or,
 * where the object carries something the folder does not (R's saved UMAP, doublet scores,
 * meta.data columns), the answer uses what the object stores.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { buffer } from "node:stream/consumers";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
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

/** Tasks whose answer uses what the .rds stores, checked on their own below. */
const BY_DESIGN = new Set(["GetDoubletScore", "DownloadAnnotSeuratObject"]);

async function compareAllTasks(t: { diagnostic(m: string): void }, rds: Experiment, tenx: Experiment): Promise<void> {
  const map = idMap(rds, tenx);
  for (const [name, task] of registry) {
    if (BY_DESIGN.has(name)) continue;
    const fromRds = await answer(rds, task.example);
    const fromTenx = await answer(tenx, task.example);
    if (map !== undefined && typeof fromRds === "object" && fromRds !== null && "file" in fromRds) {
      t.diagnostic(`${name}: file answer not compared with mapped ids`);
      continue;
    }
    const mapped = map === undefined ? fromRds : mapIds(fromRds, map, rds.maxCellId + 1, tenx.maxCellId + 1);
    assert.deepEqual(mapped, fromTenx, `${name} answers the same from the .rds as from the 10x folder`);
  }
}

let small: { rds: Experiment; tenx: Experiment };
let pbmc3k: { rds: Experiment; tenx: Experiment };

before(async () => {
  small = {
    rds: await openExperiment({ path: join(RDS, "pbmc_small_v4.rds"), cacheDir: null }),
    tenx: await openExperiment({ path: PBMC_SMALL, cacheDir: null }),
  };
  pbmc3k = {
    rds: await openExperiment({ path: join(RDS, "pbmc3k_v4.rds"), cacheDir: null }),
    tenx: await openExperiment({ path: PBMC3K, cacheDir: null }),
  };
});

test("pbmc3k: every task answers the same from the Seurat v4 .rds as from the 10x folder", async (t) => {
  assert.equal(idMap(pbmc3k.rds, pbmc3k.tenx), undefined, "cells_id = the 10x column positions, as the pipeline numbers them");
  assert.ok(registry.size >= 15);
  await compareAllTasks(t, pbmc3k.rds, pbmc3k.tenx);
});

test("pbmc_small with cells_id 7, 10, 13, ...: every task answers the same with the ids mapped", async (t) => {
  const map = idMap(small.rds, small.tenx);
  assert.ok(map !== undefined && map.get(10) === 1);
  await compareAllTasks(t, small.rds, small.tenx);
});

test("stored answers: R's UMAP with useSaved, doublet_scores and percent.mt from meta.data", async () => {
  const expected = JSON.parse(readFileSync(join(RDS, "pbmc_small_v4_expected.json"), "utf8")) as { cells_id: number[]; umap: string[][]; doublet_scores: string[] };
  const { rds, tenx } = small;
  const umap = (await answer(rds, { name: "GetEmbedding", type: "umap", useSaved: true })) as ([number, number] | null)[];
  assert.equal(umap.length, rds.maxCellId + 1);
  expected.cells_id.forEach((id, i) => assert.deepEqual(umap[id], [Number(expected.umap[0]![i]), Number(expected.umap[1]![i])], `cell ${id}`));
  assert.equal(umap[8], null, "ids that are not in the object have no coordinates");
  // the 10x folder has no saved UMAP: useSaved computes one
  const computed = (await answer(tenx, { name: "GetEmbedding", type: "umap", useSaved: true })) as number[][];
  assert.notDeepEqual(computed[0], umap[7]);

  const doublets = (await answer(rds, { name: "GetDoubletScore" })) as (number | null)[];
  expected.cells_id.forEach((id, i) => assert.equal(doublets[id], Number(expected.doublet_scores[i])));
  assert.deepEqual(await answer(tenx, { name: "GetDoubletScore" }), { code: "COLUMN_NOT_FOUND", message: "doublet_scores is not computed for this experiment." });
  // pbmc3k's object has no doublet scores either: the same answer as the folder
  assert.deepEqual(await answer(pbmc3k.rds, { name: "GetDoubletScore" }), await answer(pbmc3k.tenx, { name: "GetDoubletScore" }));

  // the object's samples become the sample class, seurat_clusters a metadata class
  const sample = rds.cellSets.find((c) => c.key === "sample");
  assert.deepEqual(sample?.children?.map((s) => [s.name, s.cellIds?.length]), [["sampleA", 40], ["sampleB", 40]]);
  assert.ok(rds.cellSets.some((c) => c.key === "seurat_clusters"));
});

test("DownloadAnnotSeuratObject: the same matrix, cells and PCA from the .rds, plus the object's meta.data", async (t) => {
  const dir = tempDir(t);
  const body = registry.get("DownloadAnnotSeuratObject")?.example;
  if (body === undefined) return t.skip("DownloadAnnotSeuratObject is not registered");
  const files: Record<string, string> = {};
  for (const [which, exp] of Object.entries(pbmc3k)) {
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
