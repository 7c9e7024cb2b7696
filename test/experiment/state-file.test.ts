/**
 * The processed-state container (src/experiment/state-file.ts): arrays and header come back
 * as written, deferred arrays too; a truncated file, a flipped byte and a file of another kind
 * are refused with StateFileError, deferred arrays of a file replaced meanwhile too; and
 * through the cache, a damaged file means "rebuild", never "trust", and a damaged value order
 * (read after the open) means "build it", with the same DifferentialExpression result.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStateFile, StateFileError, writeStateFile } from "../../src/experiment/state-file.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { PBMC_SMALL } from "../helpers.ts";
import { runTask } from "../../src/compute/run-task.ts";
import { statSync } from "node:fs";

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "cw-state-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const arrays = () => ({
  a: Float64Array.from([1.5, -0, NaN, Infinity]),
  b: Int32Array.from([7, -8, 9]), // 12 bytes: padded to 16
  c: new Uint8Array(0),
  d: Float32Array.from({ length: 1000 }, (_, i) => i / 3),
  e: Uint8Array.from([1, 2, 3]),
});

test("round trip: header and every array, bit for bit", async (t) => {
  const file = join(tempDir(t), "x.cwstate");
  await writeStateFile(file, { hello: "wörld", n: 3 }, arrays());
  const { meta, arrays: got } = await readStateFile(file);
  assert.deepEqual(meta, { hello: "wörld", n: 3 });
  const want = arrays();
  assert.deepEqual(Object.keys(got), Object.keys(want));
  for (const [name, arr] of Object.entries(want)) {
    assert.equal(got[name]!.constructor, arr.constructor);
    assert.deepEqual(new Uint8Array(got[name]!.buffer), new Uint8Array(arr.buffer), name);
  }
});

test("truncated, flipped and foreign files are refused", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "x.cwstate");
  await writeStateFile(file, { n: 1 }, arrays());
  const bytes = readFileSync(file);
  const variants: [string, Buffer][] = [
    ["truncated", bytes.subarray(0, bytes.length - 40)],
    ["flipped", Buffer.from(bytes.map((v, i) => (i === bytes.length - 100 ? v ^ 1 : v)))],
    ["foreign", Buffer.from("PK\x03\x04 not a state file at all, but long enough to have a digest")],
    ["empty", Buffer.alloc(0)],
  ];
  for (const [what, content] of variants) {
    const f = join(dir, `${what}.cwstate`);
    writeFileSync(f, content);
    await assert.rejects(readStateFile(f), StateFileError, what);
  }
});

test("a damaged cache file is rebuilt, and the rebuilt one is used", async (t) => {
  const cacheDir = tempDir(t);
  const first = await openExperiment({ path: PBMC_SMALL, cacheDir });
  assert.equal(first.cache.status, "built");
  const file = join(cacheDir, readdirSync(cacheDir).find((n) => n.endsWith(".cwstate"))!);
  truncateSync(file, 1000);
  const second = await openExperiment({ path: PBMC_SMALL, cacheDir });
  assert.equal(second.cache.status, "rebuilt");
  assert.deepEqual(second.state.louvain, first.state.louvain);
  const third = await openExperiment({ path: PBMC_SMALL, cacheDir });
  assert.equal(third.cache.status, "hit");
  assert.deepEqual(third.state.pca.scores, first.state.pca.scores);
});

test("deferred arrays are read on demand, whole or in parts, checked, and refused when the file was replaced", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "x.cwstate");
  await writeStateFile(file, { n: 1 }, arrays());
  const opened = await readStateFile(file, (name) => name === "d" || name === "b");
  assert.deepEqual(Object.keys(opened.arrays), ["a", "c", "e"]);
  const later = await opened.readDeferred();
  assert.deepEqual(later.d, arrays().d);
  assert.deepEqual(later.b, arrays().b);
  assert.deepEqual(Object.keys(await opened.readDeferred(["b"])), ["b"]);
  // parts of deferred arrays, in one opening; ranges outside an array and undeferred arrays refused
  const [d, b] = await opened.readSlices([{ name: "d", from: 10, to: 13 }, { name: "b", from: 1, to: 1 }]);
  assert.deepEqual(d, arrays().d.subarray(10, 13));
  assert.deepEqual(b, new Int32Array(0));
  await assert.rejects(opened.readSlices([{ name: "d", from: 999, to: 1001 }]), StateFileError);
  await assert.rejects(opened.readSlices([{ name: "a", from: 0, to: 1 }]), StateFileError);
  await writeStateFile(file, { n: 2 }, arrays()); // another file at the same path
  await assert.rejects(opened.readDeferred(), StateFileError);
  await assert.rejects(opened.readSlices([{ name: "d", from: 0, to: 1 }]), StateFileError);
});

test("a damaged value order in the cache: the experiment opens, and DE builds the order itself with the same result", async (t) => {
  const cacheDir = tempDir(t);
  const body = { name: "DifferentialExpression", cellSet: "louvain-0", compareWith: "rest", basis: "all", comparisonType: "within" } as const;
  const built = await openExperiment({ path: PBMC_SMALL, cacheDir });
  const want = await runTask(built, { body });
  const file = join(cacheDir, readdirSync(cacheDir).find((n) => n.endsWith(".cwstate"))!);
  const bytes = readFileSync(file);
  // flip a byte of the value order's tie sums (found through the header)
  const headerLength = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString("utf8")) as { arrays: { name: string; offset: number }[] };
  const at = Math.ceil((12 + headerLength) / 8) * 8 + header.arrays.find((e) => e.name === "order.tieSum")!.offset;
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(file, bytes);
  assert.equal(statSync(file).size, bytes.length);
  const logs: string[] = [];
  const hit = await openExperiment({ path: PBMC_SMALL, cacheDir, log: (m) => logs.push(m) });
  assert.equal(hit.cache.status, "hit");
  await hit.valueOrderReady();
  assert.equal(hit.state.valueOrder, undefined);
  assert.ok(logs.some((m) => /could not read the value order.*checksum mismatch/.test(m)), logs.join("\n"));
  assert.deepEqual(await runTask(hit, { body }), want);
  // and an intact cache gives the order to the experiment
  const rebuilt = tempDir(t);
  await openExperiment({ path: PBMC_SMALL, cacheDir: rebuilt });
  const good = await openExperiment({ path: PBMC_SMALL, cacheDir: rebuilt });
  await good.valueOrderReady();
  assert.ok(good.state.valueOrder?.ranks);
  assert.deepEqual(await runTask(good, { body }), want);
});

test("the input's hash is remembered beside the cache while the input is unchanged, and recomputed when a file changes", async (t) => {
  const { cachedInputHash, hashInput } = await import("../../src/experiment/cache.ts");
  const { cpSync, appendFileSync } = await import("node:fs");
  const dir = tempDir(t);
  const input = join(dir, "input");
  cpSync(PBMC_SMALL, input, { recursive: true });
  const cacheDir = join(dir, "cache");
  const truth = await hashInput(input);
  assert.deepEqual(await cachedInputHash(input, cacheDir), { hash: truth, reused: false });
  assert.deepEqual(await cachedInputHash(input, cacheDir), { hash: truth, reused: true });
  // a file of the folder changes: hashed again, a different hash, then remembered
  const file = readdirSync(input).find((n) => n.startsWith("barcodes"))!;
  appendFileSync(join(input, file), "\n");
  const changed = await cachedInputHash(input, cacheDir);
  assert.equal(changed.reused, false);
  assert.notEqual(changed.hash, truth);
  assert.equal(changed.hash, await hashInput(input));
  assert.deepEqual(await cachedInputHash(input, cacheDir), { hash: changed.hash, reused: true });
  // a sidecar that is not ours (damaged, or naming another hash) is never trusted blindly
  const sidecar = join(cacheDir, readdirSync(cacheDir).find((n) => n.endsWith(".input.json"))!);
  writeFileSync(sidecar, "{not json");
  assert.deepEqual(await cachedInputHash(input, cacheDir), { hash: changed.hash, reused: false });
  const saved = JSON.parse(readFileSync(sidecar, "utf8")) as { path: string };
  writeFileSync(sidecar, JSON.stringify({ ...saved, path: "/elsewhere" }));
  assert.deepEqual(await cachedInputHash(input, cacheDir), { hash: changed.hash, reused: false });
});
