/**
 * The long-running worker loop (`cellworker serve`): receive → check → compute → publish →
 * delete. A message is deleted only after its response is published, so a crash mid-task
 * leaves it to be redelivered; while a task runs its visibility is extended. Expired requests
 * are dropped (not computed), unparseable ones deleted, and a message delivered more than
 * `maxReceiveCount` times is answered with an error so one poison request cannot block the
 * queue. The idle timeout and SIGTERM end the loop cleanly.
 */
import type { Transport, Delivery } from "../transport/transport.ts";
import type { Publisher } from "../publish/publisher.ts";
import type { ExperimentProvider } from "./experiment-provider.ts";
import type { Logger } from "../log.ts";
import { parseEnvelope } from "../envelope/parse.ts";
import { handleRequest } from "../pipeline.ts";
import { toWorkResponse, type WorkResponse } from "../result/response.ts";
import { ErrorCode, toFailure } from "../result/errors.ts";

export interface WorkerOptions {
  experimentId: string;
  workTimeoutS: number;
  ignoreTimeout: boolean;
  visibilityTimeoutS: number;
  maxReceiveCount: number;
  shutdownGraceS: number;
}

export class Worker {
  private readonly transport: Transport;
  private readonly publisher: Publisher;
  private readonly experiments: ExperimentProvider;
  private readonly log: Logger;
  private readonly opts: WorkerOptions;
  private readonly receiving = new AbortController();
  private stopping = false;
  private current: { delivery: Delivery; done: Promise<void> } | null = null;
  private lastActivity = Date.now();

  constructor(deps: { transport: Transport; publisher: Publisher; experiments: ExperimentProvider; log: Logger; options: WorkerOptions }) {
    this.transport = deps.transport;
    this.publisher = deps.publisher;
    this.experiments = deps.experiments;
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
      const delivery = await this.transport.receive(this.receiving.signal);
      if (!delivery) continue;
      const done = this.handle(delivery);
      this.current = { delivery, done };
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
      await running.delivery.release().catch((err: Error) => this.log("could not hand the message back", { error: err.message }));
    }
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
    let envelope;
    try {
      envelope = parseEnvelope(raw);
    } catch (err) {
      const f = toFailure(err);
      const id = addressOf(raw);
      this.log("invalid request", { messageId: delivery.id, error: f.message, answered: id !== null });
      if (id !== null) await this.publishThenAck(delivery, toWorkResponse(raw, { ok: false, code: f.code, message: f.message }), id);
      else await this.ackQuietly(delivery);
      return;
    }
    if (envelope.timeoutMs <= Date.now()) {
      this.log("expired request dropped", { id: envelope.id, task: envelope.body.name, expiredAt: new Date(envelope.timeoutMs).toISOString() });
      return this.ackQuietly(delivery);
    }
    this.lastActivity = Date.now();
    if (delivery.receiveCount > this.opts.maxReceiveCount) {
      this.log("poison message answered with an error", { id: envelope.id, task: envelope.body.name, receiveCount: delivery.receiveCount });
      const message = `This request failed ${delivery.receiveCount - 1} times and was dropped.`;
      return this.publishThenAck(delivery, toWorkResponse(envelope.raw, { ok: false, code: ErrorCode.WORKER_ERROR, message }), envelope.id);
    }
    const extendEvery = Math.max(1000, (this.opts.visibilityTimeoutS * 1000) / 3);
    const heartbeat = setInterval(() => {
      delivery.extend(this.opts.visibilityTimeoutS).catch((err: Error) => this.log("visibility extension failed", { error: err.message }));
    }, extendEvery);
    let response: WorkResponse;
    const started = Date.now();
    this.log("task started", { id: envelope.id, task: envelope.body.name, receiveCount: delivery.receiveCount });
    try {
      response = envelope.experimentId === this.opts.experimentId
        ? await handleRequest(raw, () => this.experiments.get(), { log: this.log })
        : toWorkResponse(envelope.raw, {
          ok: false,
          code: ErrorCode.INVALID_INPUT,
          message: `This worker serves experiment ${this.opts.experimentId}, not ${envelope.experimentId.slice(0, 80)}.`,
        });
    } finally {
      clearInterval(heartbeat);
    }
    this.log("request", {
      id: envelope.id,
      task: envelope.body.name,
      experimentId: envelope.experimentId,
      ms: Date.now() - started,
      outcome: response.response.error ? response.response.errorCode : "ok",
    });
    await this.publishThenAck(delivery, response, envelope.id);
    this.lastActivity = Date.now();
  }

  /** Publishes, then deletes; if publishing fails the message goes back to the queue for a retry. */
  private async publishThenAck(delivery: Delivery, response: WorkResponse, id: string): Promise<void> {
    try {
      await this.publisher.publish(response, id);
    } catch (err) {
      this.log("publish failed; message returned to the queue", { id, error: (err as Error).message });
      await delivery.release().catch(() => {});
      return;
    }
    await this.ackQuietly(delivery);
  }

  private async ackQuietly(delivery: Delivery): Promise<void> {
    await delivery.ack().catch((err: Error) => this.log("delete failed (the message may be delivered again)", { messageId: delivery.id, error: err.message }));
  }
}

/** uuid or ETag of a request that failed validation, if it has one we can answer to. */
function addressOf(raw: unknown): string | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const id = typeof r.ETag === "string" ? r.ETag : typeof r.uuid === "string" ? r.uuid : null;
  return id && id.length <= 256 ? id : null;
}
