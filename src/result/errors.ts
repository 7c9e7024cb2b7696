import type { z } from "zod";

/**
 * Typed errors. Tasks and loaders throw `WorkerError(code, message)`; the one error boundary
 * (`pipeline.ts`) turns them into error results. Anything else becomes `WORKER_ERROR`.
 */

export const ErrorCode = {
  INVALID_INPUT: "INVALID_INPUT",
  TASK_NOT_FOUND: "TASK_NOT_FOUND",
  NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
  GENE_NOT_FOUND: "GENE_NOT_FOUND",
  COLUMN_NOT_FOUND: "COLUMN_NOT_FOUND",
  EMPTY_CELL_SET: "EMPTY_CELL_SET",
  EMPTY_ROOT_NODES: "EMPTY_ROOT_NODES",
  DATA_NOT_FOUND: "DATA_NOT_FOUND",
  DATA_INVALID: "DATA_INVALID",
  DATA_UNSUPPORTED: "DATA_UNSUPPORTED",
  TIMEOUT: "TIMEOUT",
  CELL_SETS_UPDATE_FAILED: "CELL_SETS_UPDATE_FAILED",
  WORKER_ERROR: "WORKER_ERROR",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error with a code and a message a user can act on. */
export class WorkerError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WorkerError";
    this.code = code;
  }
}

/** The message shown for unexpected failures (never a stack trace). */
export const UNEXPECTED_MESSAGE = "An unexpected error occurred while performing the work.";

/** Maps anything thrown to a code and a user message. */
export function toFailure(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof WorkerError) return { code: err.code, message: err.message };
  return { code: ErrorCode.WORKER_ERROR, message: UNEXPECTED_MESSAGE };
}

/** "body.genes.3: expected string" from a zod error. */
export function describeZodError(err: z.ZodError, prefix = ""): string {
  const issue = err.issues[0];
  if (!issue) return "invalid value";
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
  return `${path || "request"}: ${issue.message}`;
}

export const invalidInput = (message: string): WorkerError => new WorkerError(ErrorCode.INVALID_INPUT, message);
export const dataInvalid = (message: string): WorkerError => new WorkerError(ErrorCode.DATA_INVALID, message);
