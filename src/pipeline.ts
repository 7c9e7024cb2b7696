/**
 * One request through the worker: parse the envelope, run the task on the experiment, shape
 * the WorkResponse. Every failure becomes an error response; nothing is thrown.
 */
import { parseEnvelope } from "./envelope/parse.ts";
import { checkRequestShape, minimalEcho } from "./envelope/limits.ts";
import { runTask } from "./compute/host.ts";
import type { Experiment } from "./experiment/experiment.ts";
import { toFailure } from "./result/errors.ts";
import { redactRequest, toWorkResponse, type WorkResponse } from "./result/response.ts";
import { isFileResult, type FileResult } from "./result/file-result.ts";

export interface HandleOptions {
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** where file results (e.g. the normalized-matrix CSV) are written; returns the location */
  fileSink?: (file: FileResult) => Promise<string>;
}

export async function handleRequest(raw: unknown, experiment: () => Promise<Experiment>, opts: HandleOptions = {}): Promise<WorkResponse> {
  const log = opts.log ?? (() => {});
  let envelope;
  try {
    envelope = parseEnvelope(raw);
  } catch (err) {
    const f = toFailure(err);
    let echo: unknown = minimalEcho(raw);
    try {
      checkRequestShape(raw);
      echo = typeof raw === "object" ? raw : null; // small and shallow: echo it whole (tokens removed)
    } catch {
      // too deep or too large to echo: only its identifying fields
    }
    return toWorkResponse(echo, { ok: false, code: f.code, message: f.message });
  }
  const started = Date.now();
  let exp: Experiment;
  try {
    exp = await experiment();
  } catch (err) {
    const f = toFailure(err);
    if (f.code === "WORKER_ERROR") log("experiment failed to load", { error: String(err) });
    return toWorkResponse(envelope.raw, { ok: false, code: f.code, message: f.message });
  }
  const result = await runTask(exp, { body: envelope.body, pagination: envelope.pagination }, (err) =>
    log("task failed unexpectedly", { task: envelope.body.name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
  log("request done", {
    task: envelope.body.name,
    experimentId: envelope.experimentId,
    ms: Date.now() - started,
    outcome: result.ok ? "ok" : result.code,
  });
  if (result.ok && isFileResult(result.data)) {
    const file = result.data;
    if (!opts.fileSink) {
      return toWorkResponse(envelope.raw, { ok: false, code: "INVALID_INPUT", message: `${envelope.body.name} produces a ${file.contentEncoding} ${file.contentType} file: give --out FILE.` });
    }
    let location: string;
    try {
      location = await opts.fileSink(file);
    } catch (err) {
      log("writing the file result failed", { task: envelope.body.name, error: String((err as Error)?.message ?? err) });
      const f = toFailure(err);
      return toWorkResponse(envelope.raw, { ok: false, code: f.code, message: f.message });
    }
    return {
      request: redactRequest(envelope.raw),
      results: [{ "content-type": file.contentType, "content-encoding": file.contentEncoding, type: "file", body: location }],
      response: { cacheable: false, error: false },
    };
  }
  return toWorkResponse(envelope.raw, result);
}
