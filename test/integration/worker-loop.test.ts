/**
 * The worker loop against in-memory fakes of the queue, the publisher and the experiment: what
 * happens to a message when the infrastructure around it fails (transiently or for good), when
 * the request expires meanwhile, when the worker is stopped meanwhile, and when handling it
 * throws. (End to end, against emulators with injected faults: faults.test.ts.)
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { QueueWorker } from "../../src/service/queue-worker.ts";
import type { Delivery, Transport } from "../../src/transport/transport.ts";
import type { Address, Publisher } from "../../src/publish/publisher.ts";
import type { ExperimentCompute, ExperimentSource } from "../../src/pipeline/request.ts";
import { DEFAULT_LIMITS } from "../../src/envelope/limits.ts";
import type { TaskResult } from "../../src/result/response.ts";
import { ErrorCode, WorkerError } from "../../src/result/errors.ts";

const EXPERIMENT = "worker-test-experiment";

/** What happened to one message. */
interface Fate {
  acks: number;
  releases: number[];
  extends: number;
}

class FakeQueue implements Transport {
  private readonly waiting: { body: string; receiveCount: number; fate: Fate }[] = [];
  ackFailures: unknown[] = [];

  push(body: string, receiveCount = 1): Fate {
    const fate: Fate = { acks: 0, releases: [], extends: 0 };
    this.waiting.push({ body, receiveCount, fate });
    return fate;
  }

  async receive(signal: AbortSignal): Promise<Delivery | null> {
    const next = this.waiting.shift();
    if (!next) {
      await new Promise((r) => setTimeout(r, 5));
      return null;
    }
    if (signal.aborted) return null;
    const { fate } = next;
    return {
      id: randomUUID(),
      body: next.body,
      receiveCount: next.receiveCount,
      ack: async () => {
        const failure = this.ackFailures.shift();
        if (failure) throw failure;
        fate.acks++;
      },
      release: async (delay = 0) => { fate.releases.push(delay); },
      extend: async () => { fate.extends++; },
    };
  }
}

class FakePublisher implements Publisher {
  readonly published: { request: Record<string, unknown>; result: TaskResult }[] = [];
  failures: unknown[] = [];
  attempts = 0;
  accepts(to: Address): boolean {
    return to.id !== null;
  }
  async publish(to: Address, result: TaskResult): Promise<void> {
    this.attempts++;
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.published.push({ request: to.echo ?? {}, result });
  }
}

class FakeExperiments implements ExperimentSource {
  getFailures: unknown[] = [];
  runs = 0;
  run: () => Promise<TaskResult> = async () => ({ ok: true, data: { answer: 42 }, cacheable: true });
  onAbort: () => void = () => {};
  async get(): Promise<ExperimentCompute> {
    const failure = this.getFailures.shift();
    if (failure) throw failure;
    return {
      run: (_input, signal) => {
        this.runs++;
        signal?.addEventListener("abort", () => this.onAbort(), { once: true });
        return this.run();
      },
      revertCellSets: () => {},
    } satisfies ExperimentCompute;
  }
}

/** AWS SDK-shaped errors. */
const networkDown = (): Error => Object.assign(new Error("socket hang up"), { name: "TimeoutError", code: "ECONNRESET", $metadata: { attempts: 3 } });
const throttled = (): Error => Object.assign(new Error("Rate exceeded"), { name: "Throttling", $fault: "client", $metadata: { httpStatusCode: 400 } });
const slowDown = (): Error => Object.assign(new Error("Please reduce your request rate."), { name: "SlowDown", $fault: "server", $metadata: { httpStatusCode: 503 } });
const accessDenied = (): Error => Object.assign(new Error("Access denied"), { name: "AuthorizationError", $fault: "client", $metadata: { httpStatusCode: 403 } });

function request(timeoutMs = 600_000): { uuid: string; json: string } {
  const uuid = randomUUID();
  return {
    uuid,
    json: JSON.stringify({ uuid, socketId: "t", experimentId: EXPERIMENT, timeout: new Date(Date.now() + timeoutMs).toISOString(), body: { name: "GetEmbedding", type: "pca" } }),
  };
}

interface Rig {
  queue: FakeQueue;
  publisher: FakePublisher;
  experiments: FakeExperiments;
  logs: { message: string; fields: Record<string, unknown> }[];
  worker: QueueWorker;
  running: Promise<number>;
  /** waits until `cond` holds (polling), failing after `ms` */
  until(cond: () => boolean, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

interface RigOptions {
  visibilityTimeoutS: number;
  shutdownGraceS: number;
  retryBackoffMs: { initial: number; max: number };
  retryWindowS: number;
  handBackDelayS: number;
}

function rig(t: TestContext, options: Partial<RigOptions> = {}): Rig {
  const queue = new FakeQueue();
  const publisher = new FakePublisher();
  const experiments = new FakeExperiments();
  const logs: Rig["logs"] = [];
  const log = (message: string, fields: Record<string, unknown> = {}): void => { logs.push({ message, fields }); };
  const o: RigOptions = { visibilityTimeoutS: 10, shutdownGraceS: 5, retryBackoffMs: { initial: 10, max: 40 }, retryWindowS: 60, handBackDelayS: 30, ...options };
  const worker = new QueueWorker({
    transport: queue,
    pipeline: {
      publisher, experiments, log,
      policy: { experimentId: EXPERIMENT, maxReceiveCount: 3, dropExpired: true, limits: DEFAULT_LIMITS },
      retries: { backoff: { initialMs: o.retryBackoffMs.initial, maxMs: o.retryBackoffMs.max }, windowS: o.retryWindowS, handBackDelayS: o.handBackDelayS, visibilityTimeoutS: o.visibilityTimeoutS },
    },
    log,
    options: { workTimeoutS: 3600, ignoreTimeout: true, visibilityTimeoutS: o.visibilityTimeoutS, shutdownGraceS: o.shutdownGraceS, handBackDelayS: o.handBackDelayS },
  });
  const running = worker.run();
  t.after(() => worker.stop("test ended"));
  return {
    queue, publisher, experiments, logs, worker, running,
    async until(cond, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms; logs:\n${logs.map((l) => `${l.message} ${JSON.stringify(l.fields)}`).join("\n")}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async stop() {
      await worker.stop("test over");
      assert.equal(await running, 0);
    },
  };
}

for (const [what, failure] of [["the network is down", networkDown], ["SNS throttles", throttled], ["S3 answers SlowDown", slowDown]] as const) {
  test(`publishing while ${what}: retried in place, computed once, answered once, never handed back`, async (t) => {
    const r = rig(t);
    r.publisher.failures = [failure(), failure(), failure()];
    const req = request();
    const fate = r.queue.push(req.json);
    await r.until(() => fate.acks === 1);
    await r.stop();
    assert.equal(r.publisher.attempts, 4);
    assert.equal(r.publisher.published.length, 1);
    assert.equal(r.publisher.published[0]!.request.uuid, req.uuid);
    assert.deepEqual(r.publisher.published[0]!.result, { ok: true, data: { answer: 42 }, cacheable: true });
    assert.equal(r.experiments.runs, 1, "not recomputed");
    assert.deepEqual(fate.releases, [], "never handed back (it would count towards the poison limit)");
    const retries = r.logs.filter((l) => l.message === "publishing the response failed; retrying");
    assert.deepEqual(retries.map((l) => l.fields.retryInMs), [10, 20, 40], "exponential backoff, capped");
    assert.ok(r.logs.some((l) => l.message === "publishing the response succeeded after a retry" && l.fields.attempts === 4));
  });
}

test("a permanent publish failure (403): the message goes straight back to the queue, as before", async (t) => {
  const r = rig(t);
  r.publisher.failures = [accessDenied()];
  const fate = r.queue.push(request().json);
  await r.until(() => fate.releases.length === 1);
  await r.stop();
  assert.equal(r.publisher.attempts, 1);
  assert.deepEqual(fate.releases, [0]);
  assert.equal(fate.acks, 0);
});

test("a permanent publish failure of a poison message's error: the message is deleted", async (t) => {
  const r = rig(t);
  r.publisher.failures = [accessDenied()];
  const fate = r.queue.push(request().json, 4);
  await r.until(() => fate.acks === 1);
  await r.stop();
  assert.equal(r.experiments.runs, 0);
  assert.ok(r.logs.some((l) => l.message === "publish failed; message deleted (it has failed too often)"));
});

test("publishing failing for longer than the retry window: handed back with a delay, nothing answered or deleted", async (t) => {
  const r = rig(t, { retryWindowS: 0.1, handBackDelayS: 7 });
  r.publisher.failures = Array.from({ length: 100 }, networkDown);
  const fate = r.queue.push(request().json);
  await r.until(() => fate.releases.length === 1);
  await r.stop();
  assert.deepEqual(fate.releases, [7]);
  assert.equal(fate.acks, 0);
  assert.equal(r.publisher.published.length, 0);
  const handedBack = r.logs.find((l) => l.message === "message handed back to the queue")!;
  assert.match(String(handedBack.fields.reason), /^publishing the response failed: socket hang up$/);
});

test("a request that expires while publishing fails is dropped (deleted, unanswered), like any expired request", async (t) => {
  const r = rig(t);
  r.publisher.failures = Array.from({ length: 1000 }, networkDown);
  const fate = r.queue.push(request(300).json);
  await r.until(() => fate.acks === 1);
  await r.stop();
  assert.equal(r.publisher.published.length, 0);
  assert.deepEqual(fate.releases, []);
  assert.ok(r.logs.some((l) => l.message === "request expired while the infrastructure was failing; dropped"));
});

test("stopping while publishing fails: the retries end at once and the message is handed back for another worker", { timeout: 30_000 }, async (t) => {
  const r = rig(t, { retryBackoffMs: { initial: 60_000, max: 60_000 } });
  r.publisher.failures = Array.from({ length: 10 }, networkDown);
  const fate = r.queue.push(request().json);
  await r.until(() => r.publisher.attempts === 1);
  await r.stop(); // (a stop that waited for the 60 s backoff would run into the test's time-out)
  assert.equal(r.publisher.attempts, 1, "no retry after the stop");
  assert.deepEqual(fate.releases, [0]);
  assert.equal(fate.acks, 0);
});

test("loading the experiment failing transiently (S3 down, then throttled): waited out, then the real answer", async (t) => {
  const r = rig(t);
  r.experiments.getFailures = [networkDown(), slowDown()];
  const fate = r.queue.push(request().json);
  await r.until(() => fate.acks === 1);
  await r.stop();
  assert.equal(r.publisher.published.length, 1);
  assert.equal(r.publisher.published[0]!.result.ok, true, "not answered with an error");
  assert.equal(r.logs.filter((l) => l.message === "loading the experiment failed; retrying").length, 2);
});

test("loading the experiment failing for good (a damaged file): answered with its error, not retried", async (t) => {
  const r = rig(t);
  r.experiments.getFailures = [new WorkerError(ErrorCode.DATA_INVALID, "matrix.mtx.gz: unexpected end of file")];
  const fate = r.queue.push(request().json);
  await r.until(() => fate.acks === 1);
  await r.stop();
  assert.deepEqual(r.publisher.published[0]!.result, { ok: false, code: "DATA_INVALID", message: "matrix.mtx.gz: unexpected end of file" });
});

test("deleting failing transiently is retried: the message is not left to be delivered again", async (t) => {
  const r = rig(t);
  r.queue.ackFailures = [networkDown(), throttled()];
  const fate = r.queue.push(request().json);
  await r.until(() => fate.acks === 1);
  await r.stop();
  assert.equal(r.publisher.published.length, 1);
  assert.equal(r.logs.filter((l) => l.message === "delete failed; retrying").length, 2);
});

test("a handler that throws (a bug) does not stop the worker: the message is handed back, the next one answered", async (t) => {
  const r = rig(t, { handBackDelayS: 5 });
  let calls = 0;
  r.experiments.run = async () => {
    if (calls++ === 0) throw new TypeError("boom");
    return { ok: true, data: 1, cacheable: true };
  };
  const first = r.queue.push(request().json);
  const second = r.queue.push(request().json);
  await r.until(() => second.acks === 1);
  await r.stop();
  assert.deepEqual(first.releases, [5]);
  assert.equal(first.acks, 0);
  assert.ok(r.logs.some((l) => l.message === "unexpected error while handling a message; handed back" && l.fields.error === "boom"));
});

test("the message stays invisible while publishing is retried", async (t) => {
  const r = rig(t, { visibilityTimeoutS: 3, retryBackoffMs: { initial: 400, max: 400 } });
  r.publisher.failures = Array.from({ length: 5 }, networkDown);
  const fate = r.queue.push(request().json);
  await r.until(() => fate.acks === 1);
  await r.stop();
  assert.ok(fate.extends >= 1, `extended ${fate.extends} times in ~2 s of retries`);
});

test("stopped past the grace period: the message is handed back, the computation abandoned, and nothing is published for it", async (t) => {
  const r = rig(t, { shutdownGraceS: 0.05 });
  let finish: (r: TaskResult) => void = () => {};
  r.experiments.run = () => new Promise((resolve) => { finish = resolve; });
  // like the compute thread: told to stop, it ends the task (here even with a result, which must not go out)
  r.experiments.onAbort = () => finish({ ok: true, data: "late", cacheable: true });
  const fate = r.queue.push(request().json);
  await r.until(() => r.experiments.runs === 1);
  await r.stop();
  assert.deepEqual(fate.releases, [0], "handed back at once");
  assert.equal(r.publisher.attempts, 0, "a handed-back request is not answered here: the next worker answers it, once");
  assert.equal(fate.acks, 0);
  assert.ok(r.logs.some((l) => l.message === "message was handed back while its task ran; not answered here"));
});
