/** Helpers for task tests: run a body as the task runner does, and assert WorkerErrors. */
import assert from "node:assert/strict";
import type { Task } from "../src/tasks/task.ts";
import type { Experiment } from "../src/experiment/experiment.ts";
import { runTask } from "../src/compute/run-task.ts";
import { WorkerError } from "../src/result/errors.ts";

/**
 * Runs `body` as the task runner does (validated with the task's schema: INVALID_INPUT naming
 * the field; the task's declared effect applied to the experiment's cell sets) and returns its
 * result, or throws the WorkerError it answered with.
 */
export async function runBody(task: Task, experiment: Experiment, body: Record<string, unknown>, pagination?: unknown): Promise<unknown> {
  const result = await runTask(experiment, { body: { name: task.name, ...body }, pagination }, (err) => { throw err; });
  if (!result.ok) throw new WorkerError(result.code, result.message);
  return result.data;
}

/** Asserts that `p` rejects with a WorkerError of `code` whose message matches `pattern`. */
export async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof WorkerError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}
