/**
 * The long-running queue loop of `cellworker serve`: receive a message, keep it invisible to
 * other workers while it is handled, hand it to the request pipeline (src/pipeline/request.ts,
 * which publishes its answer before deleting it), repeat. The idle timeout and SIGTERM end the
 * loop cleanly: on SIGTERM it stops receiving and lets the running request finish for up to
 * the grace period; past that, the message is handed back to the queue, its computation is
 * stopped and nothing more is published for it, so the next worker answers it once.
 */
import type { Transport, Delivery } from "../transport/transport.ts";
import type { Logger } from "../log.ts";
import { handleMessage, type PipelineDeps } from "../pipeline/request.ts";
import { keepInvisible, type VisibilityKeeper } from "../pipeline/visibility.ts";

export interface QueueWorkerOptions {
  workTimeoutS: number;
  ignoreTimeout: boolean;
  visibilityTimeoutS: number;
  shutdownGraceS: number;
  /** a message whose handling failed on a bug is visible again after this many seconds */
  handBackDelayS: number;
}

export interface QueueWorkerDeps {
  transport: Transport;
  /** the request pipeline's dependencies (its `stopping` signal is this worker's) */
  pipeline: Omit<PipelineDeps, "stopping">;
  log: Logger;
  options: QueueWorkerOptions;
}

interface Running {
  delivery: Delivery;
  done: Promise<void>;
  keeper: VisibilityKeeper;
  abandon: AbortController;
}

export class QueueWorker {
  private readonly deps: QueueWorkerDeps;
  private readonly log: Logger;
  private readonly opts: QueueWorkerOptions;
  private readonly stopping = new AbortController();
  private current: Running | null = null;
  private lastActivity = Date.now();

  constructor(deps: QueueWorkerDeps) {
    this.deps = deps;
    this.log = deps.log;
    this.opts = deps.options;
  }

  /** Runs until the idle timeout or stop(); resolves with the exit code. */
  async run(): Promise<number> {
    this.log("worker started", { idleTimeoutS: this.opts.ignoreTimeout ? "ignored" : this.opts.workTimeoutS });
    const pipeline: PipelineDeps = { ...this.deps.pipeline, stopping: this.stopping.signal };
    while (!this.stopping.signal.aborted) {
      if (!this.opts.ignoreTimeout && Date.now() - this.lastActivity > this.opts.workTimeoutS * 1000) {
        this.log("idle timeout exceeded, shutting down", { idleS: Math.round((Date.now() - this.lastActivity) / 1000) });
        return 0;
      }
      const delivery = await this.deps.transport.receive(this.stopping.signal);
      if (!delivery) continue;
      const keeper = keepInvisible(delivery, this.opts.visibilityTimeoutS, this.log);
      const abandon = new AbortController();
      const done = handleMessage(delivery, pipeline, abandon.signal)
        .then((outcome) => { if (outcome !== "dropped") this.lastActivity = Date.now(); })
        .catch(async (err: unknown) => {
          // a bug, not a fault of the request: keep the message for another try
          this.log("unexpected error while handling a message; handed back", { messageId: delivery.id, error: err instanceof Error ? err.message : String(err) });
          keeper.stop();
          if (!abandon.signal.aborted) await delivery.release(this.opts.handBackDelayS).catch(() => {});
        })
        .finally(() => keeper.stop());
      this.current = { delivery, done, keeper, abandon };
      await done;
      this.current = null;
    }
    return 0;
  }

  /**
   * Stops receiving; waits up to the grace period for the running request, then hands its
   * message back to the queue (visibility 0) and abandons it: its computation is stopped and
   * nothing is published for it.
   */
  async stop(reason: string): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    this.log("stopping", { reason });
    const running = this.current;
    if (!running) return;
    const finished = await Promise.race([
      running.done.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), this.opts.shutdownGraceS * 1000).unref()),
    ]);
    if (!finished) {
      this.log("task still running at shutdown; handing its message back", { messageId: running.delivery.id });
      running.abandon.abort();
      running.keeper.stop();
      await running.delivery.release().catch((err: Error) => this.log("could not hand the message back", { error: err.message }));
    }
  }
}
