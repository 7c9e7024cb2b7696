/** Helpers for task tests: run a body as the compute host does, and assert WorkerErrors. */
import assert from "node:assert/strict";
import type { TaskDefinition } from "../src/tasks/task.ts";
import type { Experiment } from "../src/experiment/experiment.ts";
import { describeZodError, ErrorCode, WorkerError } from "../src/result/errors.ts";

/** Validates `body` with the task's schema (INVALID_INPUT naming the field, as the host does) and runs it. */
export async function runBody(task: TaskDefinition, experiment: Experiment, body: Record<string, unknown>, pagination?: unknown): Promise<unknown> {
  const parsed = task.body.safeParse(body);
  if (!parsed.success) throw new WorkerError(ErrorCode.INVALID_INPUT, describeZodError(parsed.error, "body"));
  return task.run(parsed.data, { experiment, pagination, progress: () => {} });
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
