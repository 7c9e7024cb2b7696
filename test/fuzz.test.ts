/** A small fuzzing budget on every test run (`npm run fuzz` runs a larger one). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runFuzz } from "../fuzz/fuzz.ts";

test("fuzzed requests, on the command line and through serve's publishers: always answered, never a throw, no leak, no pollution, no stray files", async () => {
  const report = await runFuzz({ budget: 400, seed: 7, boundMs: 10_000 });
  assert.equal(report.tried, 400);
  assert.deepEqual(report.failures, []);
  assert.ok((report.outcomes.INVALID_INPUT ?? 0) > 50, "mutations reach validation");
  assert.ok((report.outcomes.ok ?? 0) > 50, "valid requests still succeed");
  assert.ok((report.serveOutcomes.answered ?? 0) > 300, "serve answers what it can address");
  assert.equal(report.serveOutcomes["handed-back"], undefined);
});
