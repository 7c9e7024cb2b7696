/**
 * The seam between request bookkeeping and computation: look the task up, validate its body,
 * run it on the experiment and turn every outcome into a TaskResult. This is the one error
 * boundary for tasks: nothing thrown here escapes.
 */
import { registry, PLANNED_TASKS } from "../tasks/registry.ts";
import type { TaskContext } from "../tasks/task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { ErrorCode, toFailure, WorkerError } from "../result/errors.ts";
import type { TaskResult } from "../result/response.ts";
import { describeZodError } from "../result/errors.ts";

export interface RunInput {
  body: { name: string; [k: string]: unknown };
  pagination?: unknown;
  progress?: TaskContext["progress"];
}

export async function runTask(experiment: Experiment, input: RunInput, onInternalError?: (err: unknown) => void): Promise<TaskResult> {
  try {
    const task = registry.get(input.body.name);
    if (!task) {
      const planned = (PLANNED_TASKS as readonly string[]).includes(input.body.name);
      throw planned
        ? new WorkerError(ErrorCode.NOT_IMPLEMENTED, `Task ${input.body.name} is not implemented yet.`)
        : new WorkerError(ErrorCode.TASK_NOT_FOUND, `Unknown task "${String(input.body.name).slice(0, 100)}".`);
    }
    const parsed = task.body.safeParse(input.body);
    if (!parsed.success) throw new WorkerError(ErrorCode.INVALID_INPUT, describeZodError(parsed.error, "body"));
    const data = await task.run(parsed.data, { experiment, pagination: input.pagination, progress: input.progress ?? (() => {}) });
    return { ok: true, data, cacheable: task.cacheable };
  } catch (err) {
    if (!(err instanceof WorkerError)) onInternalError?.(err);
    const f = toFailure(err);
    return { ok: false, code: f.code, message: f.message };
  }
}
