/**
 * The shape check (nesting depth and size) every request passes before anything else looks at
 * it: limits are parameters (no environment read at module load), and the walk stops as soon
 * as a limit is passed, without first visiting every element of a huge array or object.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { checkRequestShape, DEFAULT_LIMITS, type RequestLimits } from "../../src/envelope/limits.ts";
import { parseEnvelope } from "../../src/envelope/parse.ts";
import { WorkerError } from "../../src/result/errors.ts";
import { ROOT } from "../helpers.ts";

const isInvalid = (pattern: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof WorkerError, String(err));
  assert.equal(err.code, "INVALID_INPUT");
  assert.match(err.message, pattern);
  return true;
};

test("DEFAULT_LIMITS is a constant (depth 32, 16 MiB) whatever the environment says", () => {
  assert.deepEqual({ ...DEFAULT_LIMITS }, { maxDepth: 32, maxBytes: 16 * 2 ** 20 });
  const url = pathToFileURL(join(ROOT, "src", "envelope", "limits.ts")).href;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(url)}); console.log(JSON.stringify(m.DEFAULT_LIMITS));`], {
    env: { ...process.env, MAX_REQUEST_BYTES: "100" },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { maxDepth: 32, maxBytes: 16 * 2 ** 20 });
});

test("limits are parameters: depth and size are checked against the ones given", () => {
  const limits: RequestLimits = { maxDepth: 3, maxBytes: 100 };
  checkRequestShape({ a: [{ b: 1 }] }, limits);
  assert.throws(() => checkRequestShape({ a: [{ b: [1] }] }, limits), isInvalid(/deeper than 3 levels/));
  assert.throws(() => checkRequestShape({ a: "x".repeat(101) }, limits), isInvalid(/larger than the limit of 100 bytes/));
  const request = { ETag: "abc", experimentId: "e", timeout: "2099-12-31T00:00:00Z", body: { name: "ListGenes", genes: ["x".repeat(200)] } };
  assert.equal(parseEnvelope(request).id, "abc");
  assert.throws(() => parseEnvelope(request, { maxDepth: 32, maxBytes: 100 }), isInvalid(/limit of 100 bytes/));
  assert.throws(() => parseEnvelope(request, { maxDepth: 2, maxBytes: 10_000 }), isInvalid(/deeper than 2 levels/));
});

test("a huge array is refused after looking at only as many elements as the limit allows", () => {
  const n = 1_000_000;
  let reads = 0;
  const huge = new Proxy(new Array<number>(n).fill(1), {
    get(target, key, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  const limits: RequestLimits = { maxDepth: 32, maxBytes: 8_000 };
  assert.throws(() => checkRequestShape({ body: { name: "x", genes: huge } }, limits), isInvalid(/limit of 8000 bytes/));
  assert.ok(reads <= 1_001, `read ${reads} of ${n} elements`);
});

test("a huge object is refused after reading only as many values as the limit allows", () => {
  const n = 200_000;
  const target: Record<string, number> = {};
  for (let i = 0; i < n; i++) target[`k${i}`] = i;
  let reads = 0;
  const huge = new Proxy(target, { get(t, key, receiver) { reads++; return Reflect.get(t, key, receiver); } });
  assert.throws(() => checkRequestShape({ body: huge }, { maxDepth: 32, maxBytes: 8_000 }), isInvalid(/limit of 8000 bytes/));
  assert.ok(reads <= 1_001, `read ${reads} of ${n} values`);
});

test("empty strings and keys count too: a million empty strings is not a small request", () => {
  const limits: RequestLimits = { maxDepth: 32, maxBytes: 1_000_000 };
  assert.throws(() => checkRequestShape({ body: { name: "x", genes: new Array<string>(1_000_000).fill("") } }, limits), isInvalid(/limit/));
  const keys: Record<string, string> = {};
  for (let i = 0; i < 300_000; i++) keys[String(i)] = "";
  assert.throws(() => checkRequestShape({ body: keys }, limits), isInvalid(/limit/));
});

test("a request 100 000 levels deep is refused without overflowing the stack", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = i % 2 ? [deep] : { a: deep };
  assert.throws(() => checkRequestShape({ body: deep }), isInvalid(/deeper than 32 levels/));
});

test("__proto__ keys are walked as data", () => {
  const v = JSON.parse('{"__proto__":{"a":"' + "x".repeat(200) + '"}}') as unknown;
  assert.throws(() => checkRequestShape(v, { maxDepth: 32, maxBytes: 100 }), isInvalid(/limit of 100 bytes/));
  assert.throws(() => checkRequestShape(JSON.parse('{"__proto__":[[[1]]]}'), { maxDepth: 3, maxBytes: 100 }), isInvalid(/deeper than 3/));
});
