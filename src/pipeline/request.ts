/**
 * One request, top to bottom — the same code for the command line (`cellworker run`), the
 * fuzzer and the queue worker (`cellworker serve`):
 *
 *  1. admit: read the message (size cap before parsing) and check its envelope and the
 *     deployment's rules (policy.ts): drop it, refuse it with an error, point it at its stored
 *     answer, or compute it;
 *  2. compute: status events around loading the experiment and running the task (in the
 *     compute thread or in-process), progress as it goes;
 *  3. effects: a task that changes cell sets has the change saved where the protocol keeps
 *     them; if that fails the change is undone and the failure is the answer;
 *  4. answer: publish the result, then delete the message. Nothing is deleted before its
 *     answer went out.
 *
 * Faults of the infrastructure around a request (transient.ts: S3, SNS, SQS or Redis
 * unreachable, 5xx, throttled) are waited out, never answered as the request's error: loading
 * the experiment, publishing and deleting are retried in place with backoff (`retry`), without
 * recomputing and without the message being delivered again (which would count towards the
 * poison limit). The retries end when the step succeeds, the request expires (it is then
 * dropped like any expired request), the worker stops (the message is handed back) or after
 * the retry window (the message is handed back, visible again after `handBackDelayS`).
 *
 * When the worker hands the message back while the task still runs (`abandon` aborted: SIGTERM
 * past the grace period), the computation is stopped and nothing is published: the next
 * worker answers it, once.
 */
import type { Delivery } from "../transport/transport.ts";
import type { Address, Publisher } from "../publish/publisher.ts";
import { progressReporter, StatusCode } from "../publish/heartbeat.ts";
import type { RunInput } from "../compute/run-task.ts";
import type { TaskResult } from "../result/response.ts";
import { ErrorCode, toFailure } from "../result/errors.ts";
import type { Logger } from "../log.ts";
import { retry, type Backoff } from "../retry.ts";
import { admit, type Policy } from "./policy.ts";
import { isTransient } from "./transient.ts";

/** Moments a request may want to tell its user about (status events). */
export interface LoadHooks {
  /** before the first download of the experiment's files */
  downloading?(): void;
  /** files were downloaded and are about to be (re)loaded */
  loading?(): void;
}

/** The loaded experiment, as far as a request needs it. */
export interface ExperimentCompute {
  /** Runs one task; never throws. An aborted `signal` stops the computation (its result is then an error). */
  run(input: RunInput, signal?: AbortSignal): Promise<TaskResult>;
  /** Undoes the cell-set change of the last task (saving it failed). */
  revertCellSets(): void;
}

export interface ExperimentSource {
  get(hooks?: LoadHooks): Promise<ExperimentCompute>;
}

export interface Retries {
  backoff: Backoff;
  /** how long transient failures of one request are retried in place, seconds */
  windowS: number;
  /** a message handed back after the retry window is visible again after this many seconds */
  handBackDelayS: number;
  /** deletes are retried while the message's visibility lasts */
  visibilityTimeoutS: number;
}

export interface PipelineDeps {
  publisher: Publisher;
  experiments: ExperimentSource;
  policy: Policy;
  /** limits the tasks apply to their results */
  taskLimits?: RunInput["limits"];
  log: Logger;
  /** absent: infrastructure failures are not retried (the command line) */
  retries?: Retries;
  /** aborted when the worker stops: retries end and messages are handed back */
  stopping?: AbortSignal;
}

/** What became of a message. */
export type Outcome = "answered" | "dropped" | "handed-back";

/** A step failed transiently for longer than the worker waits: the message goes back to the queue. */
class Unavailable extends Error {}

/** Handles one received message to the end; throws only on a bug (the caller hands the message back). */
export async function handleMessage(delivery: Delivery, deps: PipelineDeps, abandon?: AbortSignal): Promise<Outcome> {
  const { log, publisher } = deps;

  // 1. admit
  const verdict = await admit(delivery.body, delivery.receiveCount, deps.policy, publisher);
  switch (verdict.kind) {
    case "drop":
      log(verdict.reason, { messageId: delivery.id, ...verdict.fields });
      await ack(delivery, deps);
      return "dropped";
    case "refuse":
      log(verdict.why, { id: verdict.to.id, task: verdict.to.taskName, error: verdict.result.message });
      return answer(delivery, deps, verdict.to, verdict.expiresAt, () => publisher.publish(verdict.to, verdict.result), verdict.dropIfUnpublished);
    case "answered-before":
      log("result already stored under this ETag; not recomputed", { id: verdict.to.id, task: verdict.to.taskName });
      return answer(delivery, deps, verdict.to, verdict.expiresAt, () => publisher.answerFromStore?.(verdict.to) ?? Promise.resolve(), false);
    case "compute":
      break;
  }
  const { to, envelope } = verdict;
  const name = envelope.body.name;

  // 2. compute
  const started = Date.now();
  log("task started", { id: to.id, task: name, receiveCount: delivery.receiveCount });
  let result: TaskResult;
  let experiment: ExperimentCompute | null;
  try {
    await publisher.status?.(to, StatusCode.STARTED_TASK);
    ({ result, experiment } = await compute(deps, to, envelope.timeoutMs, { body: envelope.body, pagination: envelope.pagination }, abandon));
  } catch (err) {
    if (!(err instanceof Unavailable)) throw err;
    return handBack(delivery, deps, to.id, envelope.timeoutMs, err.message);
  }
  if (abandon?.aborted) {
    log("message was handed back while its task ran; not answered here", { id: to.id, task: name });
    return "handed-back";
  }

  // 3. effects (declared by the task, reported with its result)
  const effect = result.ok ? (result.effect ?? "none") : "none";
  if (result.ok && effect !== "none" && publisher.saveCellSets) {
    const authorization = typeof envelope.raw.Authorization === "string" ? envelope.raw.Authorization : null;
    const failed = await publisher.saveCellSets(to, { effect, data: result.data, authorization });
    if (failed) {
      experiment?.revertCellSets(); // what the protocol's store holds did not change
      result = failed;
    }
  }
  log("request", { id: to.id, task: name, experimentId: envelope.experimentId, ms: Date.now() - started, outcome: result.ok ? "ok" : result.code });

  // 4. answer
  const final = result;
  return answer(delivery, deps, to, envelope.timeoutMs, () => publisher.publish(to, final), false);
}

/** The task's result on the experiment (loaded or synced first, with status events). Never throws but Unavailable. */
async function compute(deps: PipelineDeps, to: Address, expiresAt: number, input: RunInput, abandon?: AbortSignal): Promise<{ result: TaskResult; experiment: ExperimentCompute | null }> {
  const { publisher, log } = deps;
  let experiment: ExperimentCompute;
  try {
    experiment = await persist(deps, "loading the experiment", to.id, expiresAt, () => deps.experiments.get({
      downloading: () => void publisher.status?.(to, StatusCode.DOWNLOAD_EXPERIMENT),
      loading: () => void publisher.status?.(to, StatusCode.LOAD_TO_MEMORY),
    }));
  } catch (err) {
    if (err instanceof Unavailable) throw err;
    const f = toFailure(err);
    if (f.code === ErrorCode.WORKER_ERROR) log("experiment failed to load", { error: String(err) });
    return { result: { ok: false, code: f.code, message: f.message }, experiment: null };
  }
  const progress = publisher.status ? progressReporter((percent) => void publisher.status?.(to, StatusCode.STARTED_TASK, percent)) : undefined;
  const result = await experiment.run({ ...input, ...(progress ? { progress } : {}), ...(deps.taskLimits ? { limits: deps.taskLimits } : {}) }, abandon);
  return { result, experiment };
}

/**
 * Publishes, then deletes. Transient publish failures are retried in place; if publishing still
 * fails the message goes back to the queue (or, after a permanent failure to publish the error
 * of a poison message, is deleted).
 */
async function answer(delivery: Delivery, deps: PipelineDeps, to: Address, expiresAt: number | null, publish: () => Promise<void>, dropIfUnpublished: boolean): Promise<Outcome> {
  try {
    await persist(deps, "publishing the response", to.id, expiresAt, publish);
  } catch (err) {
    if (err instanceof Unavailable) return handBack(delivery, deps, to.id, expiresAt, err.message);
    if (dropIfUnpublished) {
      deps.log("publish failed; message deleted (it has failed too often)", { id: to.id, error: (err as Error).message });
      await ack(delivery, deps);
      return "dropped";
    }
    deps.log("publish failed; message returned to the queue", { id: to.id, error: (err as Error).message });
    await delivery.release().catch(() => {});
    return "handed-back";
  }
  await ack(delivery, deps);
  return "answered";
}

/**
 * Runs `step`, retrying transient failures with backoff while the request has not expired,
 * the retry window is open and the worker is not stopping. A permanent failure is thrown as
 * it is; a transient one that outlasted the wait as `Unavailable`.
 */
async function persist<T>(deps: PipelineDeps, what: string, id: string | null, expiresAt: number | null, step: () => Promise<T>): Promise<T> {
  const r = deps.retries;
  if (!r) return step();
  const deadline = Math.min(expiresAt ?? Infinity, Date.now() + r.windowS * 1000);
  try {
    const { value, attempts } = await retry(step, {
      backoff: r.backoff,
      retryIf: (err) => isTransient(err) && !deps.stopping?.aborted,
      deadline,
      onRetry: (err, attempt, delay) => deps.log(`${what} failed; retrying`, { id, attempt, retryInMs: delay, error: (err as Error).message }),
      ...(deps.stopping ? { signal: deps.stopping } : {}),
    });
    if (attempts > 1) deps.log(`${what} succeeded after a retry`, { id, attempts });
    return value;
  } catch (err) {
    if (isTransient(err)) throw new Unavailable(`${what} failed: ${(err as Error).message}`, { cause: err });
    throw err;
  }
}

/**
 * Gives a message whose request could not be completed (a step failed transiently for too
 * long, or the worker is stopping) back to the queue, or drops it when its request expired.
 */
async function handBack(delivery: Delivery, deps: PipelineDeps, id: string | null, expiresAt: number | null, reason: string): Promise<Outcome> {
  const delayS = deps.stopping?.aborted ? 0 : (deps.retries?.handBackDelayS ?? 0);
  // expired by the time it would be visible again: it would only be dropped then
  if (expiresAt !== null && expiresAt <= Date.now() + delayS * 1000) {
    deps.log("request expired while the infrastructure was failing; dropped", { id, reason });
    await ack(delivery, deps);
    return "dropped";
  }
  deps.log("message handed back to the queue", { id, reason, visibleInS: delayS });
  await delivery.release(delayS).catch((err: Error) => deps.log("could not hand the message back", { id, error: err.message }));
  return "handed-back";
}

/** Deletes the message, retrying transient failures while its visibility lasts (after that it may be delivered again). */
async function ack(delivery: Delivery, deps: PipelineDeps): Promise<void> {
  const r = deps.retries;
  const deadline = Date.now() + (r?.visibilityTimeoutS ?? 0) * 1000;
  try {
    await retry(() => delivery.ack(), {
      backoff: { initialMs: r?.backoff.initialMs ?? 1000, maxMs: Number.MAX_SAFE_INTEGER },
      retryIf: (err) => r !== undefined && isTransient(err) && !deps.stopping?.aborted,
      deadline,
      onRetry: (err, _attempt, delay) => deps.log("delete failed; retrying", { messageId: delivery.id, retryInMs: delay, error: (err as Error).message }),
      ...(deps.stopping ? { signal: deps.stopping } : {}),
    });
  } catch (err) {
    deps.log("delete failed (the message may be delivered again)", { messageId: delivery.id, error: (err as Error).message });
  }
}
