import type { Readable } from "node:stream";

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
