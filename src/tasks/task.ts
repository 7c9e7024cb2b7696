/**
 * The shape of a task: its wire name, a strict body schema, whether results may be cached,
 * and `run`, which orchestrates experiment data and numerics and returns the result JSON (or a
 * FileResult for file downloads), or throws a WorkerError. Tasks do no I/O and know nothing of
 * transports or envelopes.
 */
import type { z } from "zod";
import type { Experiment } from "../experiment/experiment.ts";

export interface TaskContext {
  experiment: Experiment;
  /** requestProps.pagination (current envelope) or top-level pagination (2021) */
  pagination: unknown;
  /** reports progress of long computations, fraction in [0, 1] */
  progress: (fraction: number, message?: string) => void;
  /** size limits of the deployment; each task falls back to its own default when absent */
  limits?: { maxResultValues?: number };
}

export interface TaskDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  body: S;
  cacheable: boolean;
  run(body: z.infer<S>, ctx: TaskContext): Promise<unknown>;
}

/** Identity helper that keeps the body type tied to the schema. */
export function defineTask<S extends z.ZodType>(def: TaskDefinition<S>): TaskDefinition<S> {
  return def;
}

export { isFileResult, type FileResult } from "../result/file-result.ts";
