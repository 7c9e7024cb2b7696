/** Pod labels (downward API file) and the wait for an experiment assignment. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseLabels, waitForAssignment } from "../../src/service/assignment.ts";
import { envNameOf, labelOrEnv } from "../../src/config.ts";
import { tempDir } from "../helpers.ts";

test("labels file lines are key=\"value\" with Go-style escapes", () => {
  const labels = parseLabels('app="worker"\nexperimentId="e52b"\nnote="a \\"quoted\\" word"\nbare=value\n\n=nokey\nnoequals\n');
  assert.deepEqual(labels, { app: "worker", experimentId: "e52b", note: 'a "quoted" word', bare: "value" });
});

test("a missing label falls back to the UPPER_SNAKE environment variable", () => {
  assert.equal(envNameOf("experimentId"), "EXPERIMENT_ID");
  assert.equal(envNameOf("workQueueHash"), "WORK_QUEUE_HASH");
  assert.equal(labelOrEnv({ sandboxId: "" }, { SANDBOX_ID: "env" }, "sandboxId"), "env");
  assert.equal(labelOrEnv({ sandboxId: "label" }, { SANDBOX_ID: "env" }, "sandboxId"), "label");
  assert.equal(labelOrEnv({}, {}, "sandboxId"), undefined);
});

test("the labels file is re-read until an experiment is assigned", async (t) => {
  const file = join(tempDir(t), "labels");
  writeFileSync(file, 'app="worker"\n');
  let waitingTold = 0;
  const pending = waitForAssignment({ file, env: {}, pollMs: 20, signal: new AbortController().signal, onWaiting: () => waitingTold++ });
  await new Promise((r) => setTimeout(r, 100));
  writeFileSync(file, 'app="worker"\nexperimentId="abc"\nworkQueueHash="h"\n');
  assert.deepEqual(await pending, { app: "worker", experimentId: "abc", workQueueHash: "h" });
  assert.equal(waitingTold, 1);
});

test("EXPERIMENT_ID assigns at once; an abort ends the wait with null", async () => {
  const ctl = new AbortController();
  assert.deepEqual(await waitForAssignment({ file: "/nonexistent/labels", env: { EXPERIMENT_ID: "e" }, pollMs: 10_000, signal: ctl.signal }), {});
  const pending = waitForAssignment({ file: "/nonexistent/labels", env: {}, pollMs: 10_000, signal: ctl.signal });
  setTimeout(() => ctl.abort(), 20);
  assert.equal(await pending, null);
});
