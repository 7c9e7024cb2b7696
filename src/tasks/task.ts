/**
 * The shape of a task: its wire name, a strict body schema, whether results may be cached,
 * and `run`, which orchestrates experiment data and numerics and returns the result JSON (or a
 * FileResult for file downloads), or throws a WorkerError. Tasks do no I/O and know nothing of
 * transports or envelopes.
 */
import type { Readable } from "node:stream";
import type { z } from "zod";
import type { Experiment } from "../experiment/experiment.ts";

export interface TaskContext {
  experiment: Experiment;
  /** requestProps.pagination (current envelope) or top-level pagination (2021) */
  pagination: unknown;
  /** reports progress of long computations, fraction in [0, 1] */
  progress: (fraction: number, message?: string) => void;
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

/**
 * A result that is a file rather than JSON (GetNormalizedExpression's gzip CSV). `open()`
 * returns a fresh stream of the encoded bytes on every call, produced lazily as the consumer
 * reads (backpressure), so the whole file is never held in memory. Expected errors are thrown
 * by `run` before a FileResult is returned; a failure while streaming is an internal error
 * and destroys the stream with it.
 */
export interface FileResult {
  kind: "file";
  /** e.g. "text/csv" */
  contentType: string;
  /** e.g. "gzip": the bytes of `open()` are already encoded */
  contentEncoding: string;
  open(): Readable;
}

export function isFileResult(value: unknown): value is FileResult {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "file"
    && typeof (value as { open?: unknown }).open === "function";
}
