/**
 * Opening from the cache without the matrix (background: true; readCache's deferMatrix): while the matrix's arrays are still
 * being read, every task declaring matrix "none" or "rows" answers exactly as on a fully loaded
 * experiment (so no task reads more than it declares: the pending matrix throws if it does),
 * and tasks declaring "whole" wait for the read, then answer the same. A damaged row read from
 * the file is never used; a damaged matrix array is read again from the input, and the cache
 * removed so that the next start rebuilds it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { openExperiment } from "../../src/experiment/open.ts";
import { cachedInputHash, cacheFileFor, readCache } from "../../src/experiment/cache.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import { defaultCellSets } from "../../src/experiment/default-cell-sets.ts";
import { PendingMatrix } from "../../src/experiment/pending-matrix.ts";
import { runTask, type RunInput } from "../../src/compute/run-task.ts";
import { registry } from "../../src/tasks/registry.ts";
import { isFileResult } from "../../src/result/file-result.ts";
import { PBMC_SMALL, tempDir } from "../helpers.ts";

/**
 * What a result is, for comparing: file results by their kind only (their bytes are streamed),
 * a new cell set without its random key.
 */
const comparable = (r: Awaited<ReturnType<typeof runTask>>): unknown => {
  if (r.ok && isFileResult(r.data)) return { ok: true, file: true };
  if (r.ok && r.effect === "append-to-scratchpad") return { ...r, data: { ...(r.data as object), key: "(random)" } };
  return r;
};

/** Extra bodies that take the "rows" path with genes of pbmc_small. */
const ROW_BODIES: RunInput["body"][] = [
  { name: "GeneExpression", genes: ["CST3", "NKG7", "nope"] },
  { name: "GeneExpression", genes: ["LYZ"], cellSets: ["louvain-1"] },
  { name: "DotPlot", useMarkerGenes: false, numberOfMarkers: 3, customGenesList: ["CST3", "MS4A1", "GNLY"], groupBy: "louvain", filterBy: { group: "All" } },
  { name: "GetExpressionCellSets", genesConfig: [{ geneName: "NKG7", comparisonType: "greaterThan", thresholdValue: 0.5 }, { geneName: "CST3", comparisonType: "lessThan", thresholdValue: 1 }] },
];

async function cacheOf(t: Parameters<typeof tempDir>[0]): Promise<{ cacheDir: string; file: string; hash: string }> {
  const cacheDir = tempDir(t);
  await openExperiment({ path: PBMC_SMALL, cacheDir });
  const { hash } = await cachedInputHash(PBMC_SMALL, cacheDir);
  return { cacheDir, file: cacheFileFor(cacheDir, hash), hash };
}

test("while the matrix is read, 'none' and 'rows' tasks answer as on a loaded experiment; 'whole' tasks wait, then answer the same", async (t) => {
  const { cacheDir, file, hash } = await cacheOf(t);
  const loaded = await openExperiment({ path: PBMC_SMALL, cacheDir });
  assert.equal(loaded.cache.status, "hit");
  const hit = await readCache(file, hash, PBMC_SMALL, { deferMatrix: true });
  assert.ok(hit.status === "hit" && hit.matrix);
  assert.ok(hit.data.matrix instanceof PendingMatrix);
  assert.throws(() => hit.data.matrix.indices, /still being read/);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const pending = new Experiment(hit.data, hit.state, defaultCellSets(hit.data, hit.state), { status: "hit", file });
  const deferred = hit.matrix;
  pending.loadMatrix(async () => { await gate; return deferred.read(); }, deferred.rows);

  const bodies = [...[...registry.values()].map((task) => ({ ...task.example })), ...ROW_BODIES];
  const waiting: { body: RunInput["body"]; result: ReturnType<typeof runTask> }[] = [];
  let answeredWhileReading = 0;
  for (const body of bodies) {
    const use = registry.get(body.name)!.matrixUse(body);
    // both start from the same cell sets (a task's effect changes them)
    pending.cellSets = loaded.cellSets;
    const want = comparable(await runTask(loaded, { body }));
    if (use === "whole") {
      waiting.push({ body, result: runTask(pending, { body }) });
      continue;
    }
    assert.deepEqual(comparable(await runTask(pending, { body })), want, `${body.name} (${use}) while the matrix is read`);
    assert.ok(hit.data.matrix instanceof PendingMatrix && !hit.data.matrix.inMemory);
    answeredWhileReading++;
  }
  assert.ok(answeredWhileReading >= 12, `${answeredWhileReading} answered while reading`);
  assert.ok(waiting.length >= 6, `${waiting.length} waiting`);
  // none of the 'whole' tasks has finished before the matrix is in memory
  const settled = await Promise.race([Promise.all(waiting.map((w) => w.result)).then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]);
  assert.equal(settled, false);
  release();
  await pending.matrixReady();
  for (const w of waiting) {
    assert.deepEqual(comparable(await w.result), comparable(await runTask(loaded, { body: w.body })), `${w.body.name} after the read`);
  }
  // once in memory, rows come from the experiment's own matrix
  assert.equal(await pending.rowsOf([1, 2]), pending.data.matrix);
});

/** The byte offset in `file` of element `at` of array `name` (through the header). */
function offsetOf(bytes: Buffer, name: string, at: number): number {
  const headerLength = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString("utf8")) as { arrays: { name: string; offset: number }[] };
  return Math.ceil((12 + headerLength) / 8) * 8 + header.arrays.find((e) => e.name === name)!.offset + 4 * at;
}

test("a damaged row is not served; a damaged matrix is read from the input and the cache removed", async (t) => {
  const { cacheDir, file } = await cacheOf(t);
  const loaded = await openExperiment({ path: PBMC_SMALL, cacheDir });
  const body = { name: "GeneExpression", genes: ["CST3", "NKG7"] };
  const want = await runTask(loaded, { body });
  assert.ok(want.ok);
  // damage a value of CST3's row
  const bytes = readFileSync(file);
  const g = loaded.geneBySymbol("CST3")!;
  const at = offsetOf(bytes, "matrix.values", loaded.data.matrix.indptr[g]! + 1);
  bytes[at + 3] = bytes[at + 3]! ^ 0x40;
  writeFileSync(file, bytes);
  const logs: string[] = [];
  const exp = await openExperiment({ path: PBMC_SMALL, cacheDir, background: true, log: (m) => logs.push(m) });
  assert.equal(exp.cache.status, "hit");
  // the row's checksum fails: the task waits for the whole matrix, whose checksum fails too, so it comes from the input
  assert.deepEqual(await runTask(exp, { body }), want);
  await exp.matrixReady();
  assert.deepEqual(exp.data.matrix.values, loaded.data.matrix.values);
  assert.ok(logs.some((m) => /could not read the matrix from the processed-state cache: .*checksum mismatch.*reading it from the input/.test(m)), logs.join("\n"));
  assert.equal(existsSync(file), false);
  assert.equal(readdirSync(cacheDir).filter((n) => n.endsWith(".cwstate")).length, 0);
  // and the next start rebuilds it
  const next = await openExperiment({ path: PBMC_SMALL, cacheDir, background: true });
  assert.equal(next.cache.status, "built");
  assert.deepEqual(await runTask(next, { body }), want);
});

test("rows read from an intact cache are the matrix's rows, other rows empty", async (t) => {
  const { file, hash } = await cacheOf(t);
  const full = await readCache(file, hash, PBMC_SMALL);
  const hit = await readCache(file, hash, PBMC_SMALL, { deferMatrix: true });
  assert.ok(full.status === "hit" && hit.status === "hit" && hit.matrix);
  const m = full.data.matrix;
  const genes = [5, 0, m.nGenes - 1, 5, 17];
  const rows = await hit.matrix.rows(genes);
  assert.equal(rows.nGenes, m.nGenes);
  assert.equal(rows.nCells, m.nCells);
  for (let g = 0; g < m.nGenes; g++) {
    const got = [rows.indices.subarray(rows.indptr[g]!, rows.indptr[g + 1]!), rows.values.subarray(rows.indptr[g]!, rows.indptr[g + 1]!)];
    const want = genes.includes(g) ? [m.indices.subarray(m.indptr[g]!, m.indptr[g + 1]!), m.values.subarray(m.indptr[g]!, m.indptr[g + 1]!)] : [new Int32Array(0), new Float32Array(0)];
    assert.deepEqual(got, want, `gene ${g}`);
  }
});
