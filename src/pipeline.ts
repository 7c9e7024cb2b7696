/**
 * One request through the worker: parse the envelope, run the task on the experiment, shape
 * the WorkResponse. Every failure becomes an error response; nothing is thrown.
 */
import { parseEnvelope } from "./envelope/parse.ts";
import { checkRequestShape, minimalEcho } from "./envelope/limits.ts";
import { runTask } from "./compute/host.ts";
import type { Experiment } from "./experiment/experiment.ts";
import { toFailure } from "./result/errors.ts";
import { toWorkResponse, type WorkResponse } from "./result/response.ts";

export interface HandleOptions {
  log?: (message: string, fields?: Record<string, unknown>) => void;
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
  return toWorkResponse(envelope.raw, result);
}
