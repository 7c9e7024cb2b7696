/** Shared test helpers: bundled data paths and temporary folders. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";
import type { ProcessedState } from "../src/experiment/preprocess.ts";
import assert from "node:assert/strict";
import { WorkerError } from "../src/result/errors.ts";

export const ROOT = resolve(import.meta.dirname, "..");
export const PBMC_SMALL = join(ROOT, "data", "pbmc_small");
export const PBMC3K = join(ROOT, "data", "pbmc3k");
export const H5_FIXTURES = join(ROOT, "test", "fixtures", "h5");
export const CLI = join(ROOT, "src", "cli.ts");

/** A temporary folder removed after the test. */
export function tempDir(t: TestContext, prefix = "cellworker-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A processed state of zeros for synthetic experiments; fields can be overridden. */
export function zeroState(nCells: number, nGenes: number, over: Partial<ProcessedState> = {}): ProcessedState {
  return {
    qc: { totalCounts: new Float64Array(nCells), genesDetected: new Int32Array(nCells), percentMito: new Float64Array(nCells) },
    gene: { means: new Float64Array(nGenes), dispersions: new Float64Array(nGenes), highlyVariable: new Uint8Array(nGenes) },
    hvgs: new Int32Array(0),
    pca: { nPcs: 0, scores: new Float64Array(0), varianceExplained: new Float64Array(0) },
    neighbors: { nCells, k: 0, indices: new Int32Array(0), distances: new Float64Array(0) },
    louvain: new Int32Array(nCells),
    ...over,
  };
}

/** Asserts a loader error: a WorkerError of `code`, one line, naming `file` (and matching `pattern`). */
export async function rejectsNamingFile(p: Promise<unknown>, code: string, file: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof WorkerError, `expected WorkerError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.includes(file), `message names ${file}: ${err.message}`);
    if (pattern) assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    return true;
  });
}

/** An assert.throws / rejects predicate: a one-line INVALID_INPUT WorkerError matching `pattern`. */
export const isInvalid = (pattern: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof WorkerError, String(err));
  assert.equal(err.code, "INVALID_INPUT");
  assert.match(err.message, pattern);
  assert.ok(!err.message.includes("\n"));
  return true;
};
