/** Heartbeat payloads, task display names and the progress throttle (reference spec §2.9.4). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { heartbeat, progressReporter, taskDisplayName } from "../../src/publish/heartbeat.ts";

test("task names as the original shows them", () => {
  assert.equal(taskDisplayName("GetEmbedding"), "Embedding");
  assert.equal(taskDisplayName("DifferentialExpression"), "Differential Expression");
  assert.equal(taskDisplayName("CASSIAAnnotate"), "CASSIA Annotate");
  assert.equal(taskDisplayName("ScTypeAnnotate"), "Sc Type Annotate");
  assert.equal(taskDisplayName("GetExpressionCellSets"), "Expression Cell Sets");
  assert.equal(taskDisplayName("GetTrajectoryAnalysisPseudoTime"), "Trajectory Analysis Pseudo Time");
});

test("heartbeat payloads", () => {
  assert.deepEqual(heartbeat("STARTED_TASK", "ListGenes"), { type: "WorkResponse", status_code: "STARTED_TASK", user_message: "Working on the requested task List Genes", progress_percent: null });
  assert.deepEqual(heartbeat("STARTED_TASK", "GetEmbedding", 42).progress_percent, 42);
  assert.equal(heartbeat("COMPRESSING_DATA", "ListGenes").user_message, "Compressing the results for the requested task List Genes");
  assert.equal(heartbeat("UPLOADING_DATA", "ListGenes").user_message, "Finalizing results for the requested task List Genes");
  assert.equal(heartbeat("FINISHED_TASK", "ListGenes").user_message, "Displaying results for the requested task List Genes");
  assert.equal(heartbeat("DOWNLOAD_EXPERIMENT", null).user_message, "Accessing the Seurat object for your analysis");
});

test("progress: the first report at once, then at most one per interval, only forward, rounded percent", () => {
  let now = 0;
  const sent: [number, number][] = [];
  const report = progressReporter((p) => sent.push([now, p]), 2000, () => now);
  report(0.1249); // sent
  now = 500; report(0.5); // too soon
  now = 2000; report(0.6); // sent
  now = 4100; report(0.6); // no change
  now = 4200; report(NaN);
  now = 4300; report(1.7); // clamped to 100
  now = 9000; report(0.9); // backwards
  assert.deepEqual(sent, [[0, 12], [2000, 60], [4300, 100]]);
});
