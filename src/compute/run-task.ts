/**
 * The task runner, the seam between request bookkeeping and computation: look the task up,
 * validate its body, run it on the experiment, apply its declared effect to the experiment's
 * cell sets, and turn every outcome into a TaskResult. This is the one error boundary for
 * tasks: nothing thrown here escapes.
 */
import { registry, PLANNED_TASKS } from "../tasks/registry.ts";
import type { Task, TaskContext } from "../tasks/task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { withClassFirst, withScratchpadSet, type CellClass, type CellSet } from "../experiment/cell-sets/cell-sets.ts";
import { ErrorCode, toFailure, WorkerError } from "../result/errors.ts";
import type { TaskResult } from "../result/response.ts";

export interface RunInput {
  body: { name: string; [k: string]: unknown };
  pagination?: unknown;
  progress?: TaskContext["progress"];
  limits?: TaskContext["limits"];
}

/** The registered task of this name; NOT_IMPLEMENTED for a planned one, TASK_NOT_FOUND otherwise. */
export function taskNamed(name: string): Task {
  const task = registry.get(name);
  if (task) return task;
  throw (PLANNED_TASKS as readonly string[]).includes(name)
    ? new WorkerError(ErrorCode.NOT_IMPLEMENTED, `Task ${name} is not implemented yet.`)
    : new WorkerError(ErrorCode.TASK_NOT_FOUND, `Unknown task "${String(name).slice(0, 100)}".`);
}

export async function runTask(experiment: Experiment, input: RunInput, onInternalError?: (err: unknown) => void): Promise<TaskResult> {
  try {
    const task = taskNamed(input.body.name);
    const data = await task.execute(input.body, {
      experiment,
      pagination: input.pagination,
      progress: input.progress ?? (() => {}),
      ...(input.limits ? { limits: input.limits } : {}),
    });
    applyEffect(experiment, task, data);
    return { ok: true, data, cacheable: task.cacheable, effect: task.effect };
  } catch (err) {
    if (!(err instanceof WorkerError)) onInternalError?.(err);
    const f = toFailure(err);
    return { ok: false, code: f.code, message: f.message };
  }
}

/** What a task's declared effect does to the experiment's cell sets (later requests see it). */
function applyEffect(experiment: Experiment, task: Task, data: unknown): void {
  switch (task.effect) {
    case "none":
      return;
    case "replace-class":
      experiment.cellSets = withClassFirst(experiment.cellSets, data as CellClass);
      return;
    case "append-to-scratchpad":
      experiment.cellSets = withScratchpadSet(experiment.cellSets, data as CellSet);
      return;
  }
}
