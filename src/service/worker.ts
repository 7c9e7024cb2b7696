/**
 * The long-running worker loop (`cellworker serve`): receive → check → compute → publish →
 * delete. A message is deleted only after its response is published, so a crash mid-task
 * leaves it to be redelivered; while a task runs its visibility is extended. Expired requests
 * are dropped (not computed), unparseable ones deleted, and a message delivered more than
 * `maxReceiveCount` times is answered with an error so one poison request cannot block the
 * queue. The idle timeout and SIGTERM end the loop cleanly.
 *
 * Faults of the infrastructure around a request (src/service/transient.ts: S3, SNS, SQS or
 * Redis unreachable, 5xx, throttled) are waited out, never answered as the request's error: the
 * worker keeps the message (its visibility extended) and retries the failed step in place —
 * syncing the experiment, publishing the response, deleting the message — with backoff from
 * 1 s to 30 s, without recomputing and without the message being delivered again (which would
 * count towards the poison limit). The retries end when the step succeeds, the request expires
 * (it is then dropped like any expired request), the worker stops (the message is handed back)
 * or after a retry window (15 min: the message is handed back, visible again after 30 s).
 *
 * Each request is answered in the protocol of its envelope: a `uuid` request the 2021 way
 * (SNS, src/publish/sns-s3.ts), an `ETag` request the current way (S3 under the ETag and
 * socket.io events, src/publish/current.ts), which adds: the duplicate check (a result already
 * stored under the ETag is not recomputed; the requester is pointed at it), heartbeats with
 * progress, and saving the cell sets a task changed through the API (src/service/cell-set-writes.ts).
 */
import type { Transport, Delivery } from "../transport/transport.ts";
import type { Publisher } from "../publish/publisher.ts";
import { currentRequestOf, type CurrentPublisher } from "../publish/current.ts";
import { progressReporter, StatusCode } from "../publish/heartbeat.ts";
import type { ExperimentCompute, ExperimentProvider, LoadHooks } from "./experiment-provider.ts";
import type { Logger } from "../log.ts";
import { parseEnvelope } from "../envelope/parse.ts";
import type { Envelope } from "../envelope/schema.ts";
import { checkRequestShape, minimalEcho } from "../envelope/limits.ts";
import type { TaskResult } from "../result/response.ts";
import { ErrorCode, toFailure } from "../result/errors.ts";
import { cellSetPatchFor, writesCellSets } from "./cell-set-writes.ts";
import { CellSetsUpdateError, type CellenicsApi } from "./api-client.ts";
import { isTransient } from "./transient.ts";

export interface WorkerOptions {
  experimentId: string;
  workTimeoutS: number;
  ignoreTimeout: boolean;
  visibilityTimeoutS: number;
  maxReceiveCount: number;
  shutdownGraceS: number;
  /** how long transient infrastructure failures of one request are retried in place (default 900) */
  retryWindowS?: number;
  /** first and longest pause between those retries (default 1,000 and 30,000 ms) */
  retryBackoffMs?: { initial: number; max: number };
  /** after the retry window, the message is visible again after this many seconds (default 30) */
  handBackDelayS?: number;
}

export interface WorkerDeps {
  transport: Transport;
  /** the 2021 protocol (uuid requests) */
  publisher: Publisher;
  /** the current protocol (ETag requests); without it such requests are dropped with a log line */
  current?: CurrentPublisher | null;
  /** where current-protocol requests save the cell sets their task changed */
  api?: CellenicsApi | null;
  experiments: ExperimentProvider;
  log: Logger;
  options: WorkerOptions;
}

/** Where an answer goes: the protocol, the address (uuid or ETag) and the request to echo. */
interface Address {
  era: "current" | "2021";
  id: string;
  raw: Record<string, unknown>;
  /** when the request expires (ms since the epoch); null when unknown (an invalid request) */
  expiresAt: number | null;
}

/** A step failed transiently for longer than the worker waits: the message goes back to the queue. */
class Unavailable extends Error {}

/** Keeps a message invisible while the worker holds it; stopped before the message is handed back. */
interface Holder {
  stop(): void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => { clearTimeout(t); resolve(); };
    const t = setTimeout(() => { signal.removeEventListener("abort", done); resolve(); }, ms);
    signal.addEventListener("abort", done, { once: true });
  });

export class Worker {
  private readonly deps: WorkerDeps;
  private readonly log: Logger;
  private readonly opts: WorkerOptions;
  private readonly receiving = new AbortController();
  private stopping = false;
  private current: { delivery: Delivery; done: Promise<void>; holder: Holder } | null = null;
  private lastActivity = Date.now();

  constructor(deps: WorkerDeps) {
    this.deps = deps;
    this.log = deps.log;
    this.opts = deps.options;
  }

  /** Runs until the idle timeout or stop(); resolves with the exit code. */
  async run(): Promise<number> {
    this.log("worker started", {
      experimentId: this.opts.experimentId,
      idleTimeoutS: this.opts.ignoreTimeout ? "ignored" : this.opts.workTimeoutS,
    });
    while (!this.stopping) {
      if (!this.opts.ignoreTimeout && Date.now() - this.lastActivity > this.opts.workTimeoutS * 1000) {
        this.log("idle timeout exceeded, shutting down", { idleS: Math.round((Date.now() - this.lastActivity) / 1000) });
        return 0;
      }
      const delivery = await this.deps.transport.receive(this.receiving.signal);
      if (!delivery) continue;
      const holder = this.hold(delivery);
      const done = this.handle(delivery)
        .catch(async (err: unknown) => {
          // a bug, not a fault of the request: keep the message for another try
          this.log("unexpected error while handling a message; handed back", { messageId: delivery.id, error: err instanceof Error ? err.message : String(err) });
          holder.stop();
          await delivery.release(this.handBackDelayS).catch(() => {});
        })
        .finally(() => holder.stop());
      this.current = { delivery, done, holder };
      await done;
      this.current = null;
    }
    return 0;
  }

  /**
   * Stops receiving; waits up to the grace period for the running task, then hands its
   * message back to the queue (visibility 0) so another worker takes it.
   */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.receiving.abort();
    this.log("stopping", { reason });
    const running = this.current;
    if (!running) return;
    const finished = await Promise.race([
      running.done.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), this.opts.shutdownGraceS * 1000).unref()),
    ]);
    if (!finished) {
      this.log("task still running at shutdown; handing its message back", { messageId: running.delivery.id });
      running.holder.stop();
      await running.delivery.release().catch((err: Error) => this.log("could not hand the message back", { error: err.message }));
    }
  }

  private get handBackDelayS(): number {
    return this.opts.handBackDelayS ?? 30;
  }

  /** Extends the message's visibility every third of the timeout until stopped. */
  private hold(delivery: Delivery): Holder {
    const every = Math.max(1000, (this.opts.visibilityTimeoutS * 1000) / 3);
    const timer = setInterval(() => {
      delivery.extend(this.opts.visibilityTimeoutS).catch((err: Error) => this.log("visibility extension failed", { error: err.message }));
    }, every);
    return { stop: () => clearInterval(timer) };
  }

  /**
   * Runs `step` until it succeeds, retrying transient failures with backoff while the request
   * has not expired, the retry window is open and the worker is not stopping. A permanent
   * failure is thrown as it is; a transient one that outlasted the wait as `Unavailable`.
   */
  private async persist<T>(what: string, id: string, expiresAt: number | null, step: () => Promise<T>): Promise<T> {
    const { initial, max } = this.opts.retryBackoffMs ?? { initial: 1000, max: 30_000 };
    const deadline = Math.min(expiresAt ?? Infinity, Date.now() + (this.opts.retryWindowS ?? 900) * 1000);
    let delay = initial;
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await step();
        if (attempt > 1) this.log(`${what} succeeded after a retry`, { id, attempts: attempt });
        return out;
      } catch (err) {
        if (!isTransient(err)) throw err;
        const error = (err as Error).message;
        if (this.stopping || Date.now() + delay > deadline) throw new Unavailable(`${what} failed: ${error}`, { cause: err });
        this.log(`${what} failed; retrying`, { id, attempt, retryInMs: delay, error });
        await sleep(delay, this.receiving.signal);
        delay = Math.min(max, delay * 2);
      }
    }
  }

  /**
   * Gives a message whose request could not be completed (a step failed transiently for too
   * long, or the worker is stopping) back to the queue, or drops it when its request expired.
   */
  private async handBack(delivery: Delivery, id: string, expiresAt: number | null, reason: string): Promise<void> {
    const delayS = this.stopping ? 0 : this.handBackDelayS;
    // expired by the time it would be visible again: it would only be dropped then
    if (expiresAt !== null && expiresAt <= Date.now() + delayS * 1000) {
      this.log("request expired while the infrastructure was failing; dropped", { id, reason });
      return this.ackQuietly(delivery);
    }
    this.log("message handed back to the queue", { id, reason, visibleInS: delayS });
    await delivery.release(delayS).catch((err: Error) => this.log("could not hand the message back", { id, error: err.message }));
  }

  get busy(): boolean {
    return this.current !== null;
  }

  private async handle(delivery: Delivery): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(delivery.body);
    } catch {
      this.log("unparseable message deleted", { messageId: delivery.id, bytes: delivery.body.length });
      return this.ackQuietly(delivery);
    }
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(raw);
    } catch (err) {
      const f = toFailure(err);
      const address = addressOf(raw);
      this.log("invalid request", { messageId: delivery.id, error: f.message, answered: address !== null });
      if (address) await this.answerThenAck(delivery, address, { ok: false, code: f.code, message: f.message });
      else await this.ackQuietly(delivery);
      return;
    }
    const address: Address = { era: envelope.era, id: envelope.id, raw: envelope.raw, expiresAt: envelope.timeoutMs };
    if (envelope.timeoutMs <= Date.now()) {
      this.log("expired request dropped", { id: envelope.id, task: envelope.body.name, expiredAt: new Date(envelope.timeoutMs).toISOString() });
      return this.ackQuietly(delivery);
    }
    const current = envelope.era === "current" ? this.deps.current ?? null : null;
    if (envelope.era === "current") {
      if (!current) {
        this.log("no Redis configured: an ETag request cannot be answered; dropped", { id: envelope.id, task: envelope.body.name });
        return this.ackQuietly(delivery);
      }
      if (await this.alreadyStored(current, envelope.id)) {
        this.log("result already stored under this ETag; not recomputed", { id: envelope.id, task: envelope.body.name });
        return this.deliverThenAck(delivery, address, () => current.notifyStored(currentRequestOf(envelope.raw, envelope.id)));
      }
    }
    this.lastActivity = Date.now();
    if (delivery.receiveCount > this.opts.maxReceiveCount) {
      this.log("poison message answered with an error", { id: envelope.id, task: envelope.body.name, receiveCount: delivery.receiveCount });
      const message = `This request failed ${delivery.receiveCount - 1} times and was dropped.`;
      return this.answerThenAck(delivery, address, { ok: false, code: ErrorCode.WORKER_ERROR, message }, { dropIfUnpublished: true });
    }
    let result: TaskResult;
    const started = Date.now();
    this.log("task started", { id: envelope.id, task: envelope.body.name, receiveCount: delivery.receiveCount });
    try {
      await current?.heartbeat(envelope.experimentId, StatusCode.STARTED_TASK, envelope.body.name);
      result = await this.compute(envelope, current);
    } catch (err) {
      if (!(err instanceof Unavailable)) throw err;
      return this.handBack(delivery, envelope.id, envelope.timeoutMs, err.message);
    }
    this.log("request", {
      id: envelope.id,
      task: envelope.body.name,
      experimentId: envelope.experimentId,
      ms: Date.now() - started,
      outcome: result.ok ? "ok" : result.code,
    });
    await this.answerThenAck(delivery, address, result);
    this.lastActivity = Date.now();
  }

  /** The task's result, cell sets saved through the API for current-protocol requests. Never throws. */
  private async compute(envelope: Envelope, current: CurrentPublisher | null): Promise<TaskResult> {
    const name = envelope.body.name;
    if (envelope.experimentId !== this.opts.experimentId) {
      return { ok: false, code: ErrorCode.INVALID_INPUT, message: `This worker serves experiment ${this.opts.experimentId}, not ${envelope.experimentId.slice(0, 80)}.` };
    }
    const hooks: LoadHooks = current
      ? {
        downloading: () => void current.heartbeat(envelope.experimentId, StatusCode.DOWNLOAD_EXPERIMENT, name),
        loading: () => void current.heartbeat(envelope.experimentId, StatusCode.LOAD_TO_MEMORY, name),
      }
      : {};
    let compute: ExperimentCompute;
    try {
      // S3 or DynamoDB failing for a while is waited out (Unavailable is thrown on)
      compute = await this.persist("loading the experiment", envelope.id, envelope.timeoutMs, () => this.deps.experiments.get(hooks));
    } catch (err) {
      if (err instanceof Unavailable) throw err;
      const f = toFailure(err);
      if (f.code === ErrorCode.WORKER_ERROR) this.log("experiment failed to load", { error: String(err) });
      return { ok: false, code: f.code, message: f.message };
    }
    // progress reported after the task returned comes from a file result being produced while it is uploaded
    let phase: StatusCode = StatusCode.STARTED_TASK;
    const progress = current ? progressReporter((percent) => void current.heartbeat(envelope.experimentId, phase, name, percent)) : undefined;
    const result = await compute.run({ body: envelope.body, pagination: envelope.pagination, ...(progress ? { progress } : {}) });
    phase = StatusCode.UPLOADING_DATA;
    if (!result.ok) return result;
    if (envelope.era === "current" && writesCellSets(name)) {
      const saved = await this.saveCellSets(envelope, result.data);
      if (!saved.ok) compute.revertCellSets(); // what the API holds did not change
      return saved.ok ? result : saved;
    }
    return result;
  }

  /** PATCHes the cell-set change of a task's result through the API (spec §3.4). */
  private async saveCellSets(envelope: Envelope, data: unknown): Promise<TaskResult> {
    const authorization = envelope.raw.Authorization;
    if (typeof authorization !== "string" || authorization === "") {
      return { ok: false, code: ErrorCode.INVALID_INPUT, message: `${envelope.body.name} saves cell sets through the API and needs the request's Authorization.` };
    }
    if (!this.deps.api) return { ok: false, code: ErrorCode.CELL_SETS_UPDATE_FAILED, message: "The new cell sets could not be saved: no API is configured." };
    let patch;
    try {
      patch = cellSetPatchFor(envelope.body.name, data);
    } catch (err) {
      this.log("task result has not the shape of a cell-set change", { task: envelope.body.name, error: (err as Error).message });
      return { ok: false, code: ErrorCode.WORKER_ERROR, message: toFailure(err).message };
    }
    if (!patch) return { ok: true, data, cacheable: false };
    try {
      await this.deps.api.patchCellSets(envelope.experimentId, authorization, patch);
      this.log("cell sets saved through the API", { id: envelope.id, task: envelope.body.name });
      return { ok: true, data, cacheable: false };
    } catch (err) {
      const reason = err instanceof CellSetsUpdateError ? err.message : "unexpected error";
      this.log("cell sets could not be saved", { id: envelope.id, task: envelope.body.name, reason });
      return { ok: false, code: ErrorCode.CELL_SETS_UPDATE_FAILED, message: `The new cell sets could not be saved: ${reason}. Please try again.` };
    }
  }

  /** The duplicate check; a failing check is logged and the request computed. */
  private async alreadyStored(current: CurrentPublisher, etag: string): Promise<boolean> {
    try {
      return await current.resultExists(etag);
    } catch (err) {
      this.log("duplicate check failed; computing the request", { id: etag, error: (err as Error).message });
      return false;
    }
  }

  /** Publishes a result in the request's protocol, then deletes the message. */
  private answerThenAck(delivery: Delivery, to: Address, result: TaskResult, opts: { dropIfUnpublished?: boolean } = {}): Promise<void> {
    if (to.era === "current") {
      const current = this.deps.current;
      if (!current) {
        this.log("no Redis configured: an ETag request cannot be answered; dropped", { id: to.id });
        return this.ackQuietly(delivery);
      }
      return this.deliverThenAck(delivery, to, () => current.publish(currentRequestOf(to.raw, to.id), result), opts);
    }
    return this.deliverThenAck(delivery, to, () => this.deps.publisher.publishResult(to.raw, result, to.id), opts);
  }

  /**
   * Publishes, then deletes. Transient publish failures are retried in place (see the header);
   * if publishing still fails the message goes back to the queue (or, after a permanent failure
   * to publish the error of a poison message, is deleted).
   */
  private async deliverThenAck(delivery: Delivery, to: Address, publish: () => Promise<void>, opts: { dropIfUnpublished?: boolean } = {}): Promise<void> {
    const { id } = to;
    try {
      await this.persist("publishing the response", id, to.expiresAt, publish);
    } catch (err) {
      if (err instanceof Unavailable) return this.handBack(delivery, id, to.expiresAt, err.message);
      if (opts.dropIfUnpublished) {
        this.log("publish failed; message deleted (it has failed too often)", { id, error: (err as Error).message });
        return this.ackQuietly(delivery);
      }
      this.log("publish failed; message returned to the queue", { id, error: (err as Error).message });
      await delivery.release().catch(() => {});
      return;
    }
    await this.ackQuietly(delivery);
  }

  /** Deletes the message, retrying transient failures while its visibility lasts (after that it may be delivered again). */
  private async ackQuietly(delivery: Delivery): Promise<void> {
    const deadline = Date.now() + this.opts.visibilityTimeoutS * 1000;
    let delay = this.opts.retryBackoffMs?.initial ?? 1000;
    for (;;) {
      try {
        await delivery.ack();
        return;
      } catch (err) {
        const error = (err as Error).message;
        if (!isTransient(err) || this.stopping || Date.now() + delay > deadline) {
          this.log("delete failed (the message may be delivered again)", { messageId: delivery.id, error });
          return;
        }
        this.log("delete failed; retrying", { messageId: delivery.id, retryInMs: delay, error });
        await sleep(delay, this.receiving.signal);
        delay *= 2;
      }
    }
  }
}

/**
 * Where to answer a request that failed validation, if it has an ETag or uuid we can answer
 * to; it is echoed whole only when small and shallow (else its identifying fields).
 */
function addressOf(raw: unknown): Address | null {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return null;
  const r = raw as Record<string, unknown>;
  const era = typeof r.ETag === "string" ? "current" : typeof r.uuid === "string" ? "2021" : null;
  if (!era) return null;
  const id = (era === "current" ? r.ETag : r.uuid) as string;
  if (id === "" || id.length > 256) return null;
  let echo: Record<string, unknown> = minimalEcho(r) ?? {};
  try {
    checkRequestShape(r);
    echo = r;
  } catch {
    // too deep or too large to echo
  }
  return { era, id, raw: echo, expiresAt: null };
}
