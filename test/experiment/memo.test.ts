import { test } from "node:test";
import assert from "node:assert/strict";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { LoadedData } from "../../src/experiment/types.ts";
import { zeroState } from "../helpers.ts";

function tiny(): Experiment {
  const data: LoadedData = {
    format: "10x-mtx", path: "synthetic", matrixKind: "counts", matrixSource: "synthetic",
    matrix: { nGenes: 1, nCells: 2, indptr: new Float64Array(2), indices: new Int32Array(0), values: new Float32Array(0) },
    genes: { ids: ["G"], symbols: ["g"] }, barcodes: ["a", "b"], cellIds: Int32Array.from([0, 1]), obs: [], embeddings: {}, notes: [],
  };
  return new Experiment(data, zeroState(2, 1), [], { status: "disabled", file: null });
}

test("memoize computes once per key, forgets failures, and evicts the least recently used", async () => {
  const exp = tiny();
  let calls = 0;
  const compute = async (): Promise<number> => ++calls;
  assert.equal(await exp.memoize("a", compute), 1);
  assert.equal(await exp.memoize("a", compute), 1);
  await assert.rejects(exp.memoize("bad", async () => { throw new Error("x"); }));
  await new Promise((r) => setImmediate(r));
  assert.equal(exp.hasMemo("bad"), false);
  for (let i = 0; i < 64; i++) await exp.memoize(`k${i}`, compute); // "a" is now the oldest
  assert.equal(exp.hasMemo("a"), false);
  assert.equal(exp.hasMemo("k0"), true);
  await exp.memoize("k0", compute); // refresh k0
  await exp.memoize("new", compute);
  assert.equal(exp.hasMemo("k0"), true);
  assert.equal(exp.hasMemo("k1"), false);
});
