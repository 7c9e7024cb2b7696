/** A small fuzzing budget on every test run (`npm run fuzz` runs a larger one). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runFuzz } from "../fuzz/fuzz.ts";

test("fuzzed requests: always a response, never a throw, no pollution, no stray files", async () => {
  const report = await runFuzz({ budget: 400, seed: 7, boundMs: 10_000 });
  assert.equal(report.tried, 400);
  assert.deepEqual(report.failures, []);
  assert.ok((report.outcomes.INVALID_INPUT ?? 0) > 50, "mutations reach validation");
  assert.ok((report.outcomes.ok ?? 0) > 50, "valid requests still succeed");
});
