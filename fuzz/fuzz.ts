/**
 * `npm run fuzz [-- --budget N --seed S --bound-ms MS]`: generated and mutated WorkRequests
 * on the bundled pbmc_small experiment, each sent twice through the one request pipeline
 * (src/pipeline/request.ts): as the command line runs it (stdout publisher) and as `serve`
 * runs it (the serve policy and both protocols' real publishers — SNS + S3 offload, S3 under
 * the ETag + socket.io events — writing to in-memory stand-ins of the topic, the bucket and
 * Redis instead of the network).
 *
 * Properties: every request gets a WorkResponse on the command line, and in serve either an
 * answer (one SNS message, or one `WorkResponse-{ETag}` event) or a logged drop, never a
 * hand-back; nothing throws out of the pipeline; no SNS message over 256 KiB; no event on
 * another experiment's channels; no object key outside the bucket; the token planted in every
 * request never appears in anything published; no prototype pollution; memory stays bounded;
 * no file is written outside the cache directory. Prints a JSON report; exits 1 if a property
 * failed.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { openExperiment } from "../src/experiment/open.ts";
import type { Experiment } from "../src/experiment/experiment.ts";
import { answerLocally } from "../src/pipeline/local.ts";
import { handleMessage, type PipelineDeps } from "../src/pipeline/request.ts";
import { runTask } from "../src/compute/run-task.ts";
import { ProtocolRouter } from "../src/publish/by-protocol.ts";
import { SnsS3Publisher } from "../src/publish/sns-s3.ts";
import { CurrentPublisher } from "../src/publish/current.ts";
import type { ObjectStore } from "../src/publish/object-store.ts";
import { SNS_LIMIT_BYTES } from "../src/result/encode.ts";
import { DEFAULT_LIMITS, type Limits } from "../src/config.ts";
import { Random } from "../src/numerics/random.ts";
import { generate, SECRET } from "./generate.ts";

export interface FuzzReport {
  seed: number;
  tried: number;
  /** command line: "ok" or the error code */
  outcomes: Record<string, number>;
  /** serve: answered, dropped (logged), handed-back */
  serveOutcomes: Record<string, number>;
  maxLatencyMs: number;
  slowest: { task: string; mutation: string; ms: number } | null;
  heapGrowthMiB: number;
  rssMiB: number;
  failures: { kind: string; task: string; mutation: string; detail: string }[];
}

const root = resolve(import.meta.dirname, "..");

function snapshot(dir: string, skip: Set<string>): Set<string> {
  const out = new Set<string>();
  const walk = (d: string, depth: number): void => {
    if (depth > 3) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (skip.has(p)) continue;
      out.add(p);
      if (e.isDirectory()) walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  return out;
}

function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

const EXPERIMENT = "fuzz-experiment";

/** The message text a queue would carry: JSON, written iteratively when too deep for JSON.stringify. */
function toText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    const out: string[] = [];
    const stack: (unknown | { close: string })[] = [value];
    const isClose = (v: unknown): v is { close: string } => typeof v === "object" && v !== null && Object.hasOwn(v, "close") && Object.keys(v).length === 1 && closers.has(v);
    const closers = new WeakSet<object>();
    const close = (c: string): { close: string } => { const o = { close: c }; closers.add(o); return o; };
    while (stack.length > 0) {
      const v = stack.pop();
      if (isClose(v)) { out.push(v.close); continue; }
      if (Array.isArray(v)) {
        out.push("[");
        stack.push(close("]"));
        for (let i = v.length - 1; i >= 0; i--) { stack.push(v[i]); if (i > 0) stack.push(close(",")); }
      } else if (typeof v === "object" && v !== null) {
        out.push("{");
        stack.push(close("}"));
        const entries = Object.entries(v);
        for (let i = entries.length - 1; i >= 0; i--) {
          stack.push(entries[i]![1]);
          stack.push(close(`${JSON.stringify(entries[i]![0])}:`));
          if (i > 0) stack.push(close(","));
        }
      } else {
        out.push(JSON.stringify(v) ?? "null");
      }
    }
    return out.join("");
  }
}

/** What the serve path published for one message, captured in memory. */
interface Wire {
  sns: string[];
  events: { event: string; payload: string }[];
  keys: string[];
}

/** `serve`'s pipeline with both protocols' publishers writing to memory. */
function servePipeline(experiment: Experiment, limits: Limits, wire: Wire): PipelineDeps {
  const store: ObjectStore = {
    bucket: "fuzz-results",
    put: async (key, body) => {
      wire.keys.push(key);
      if (typeof body === "object" && "destroy" in body) body.destroy(); // a file result's stream: not read
    },
    sizeOf: async () => null,
  };
  const events = { emit: async (event: string, payload: unknown) => { wire.events.push({ event, payload: JSON.stringify(payload) }); return 1; }, close: async () => {} };
  const before = experiment.cellSets;
  return {
    publisher: new ProtocolRouter({
      "2021": new SnsS3Publisher({ topic: { publish: async (message) => { wire.sns.push(message); } }, store }),
      current: new CurrentPublisher({ store, events, api: null, log: () => {} }),
    }),
    experiments: {
      get: async () => ({
        run: (input) => runTask(experiment, input),
        revertCellSets: () => { experiment.cellSets = before; },
      }),
    },
    policy: { experimentId: EXPERIMENT, maxReceiveCount: 3, dropExpired: true, limits: { maxBytes: limits.maxRequestBytes, maxDepth: limits.maxRequestDepth } },
    taskLimits: { maxResultValues: limits.maxResultValues },
    log: () => {},
  };
}

/** The properties of what the serve path did with one message; findings as strings. */
function checkServe(outcome: string, request: unknown, wire: Wire): string[] {
  const found: string[] = [];
  if (outcome === "handed-back") found.push("handed back (no infrastructure failed)");
  const r = (typeof request === "object" && request !== null ? request : {}) as Record<string, unknown>;
  const answers = wire.sns.length + wire.events.filter((e) => e.event.startsWith("WorkResponse-")).length;
  if (outcome === "answered" && answers !== 1) found.push(`answered with ${answers} messages`);
  if (outcome === "dropped" && answers !== 0) found.push(`dropped but ${answers} answers went out`);
  const addressable = typeof r.uuid === "string" && r.uuid !== "" && r.uuid.length <= 256 && !("ETag" in r);
  if (outcome === "dropped" && addressable && typeof r.timeout === "string" && r.timeout.startsWith("2099")) {
    found.push("a 2021 request with a uuid was dropped unanswered");
  }
  for (const m of wire.sns) if (Buffer.byteLength(m) > SNS_LIMIT_BYTES) found.push(`SNS message of ${Buffer.byteLength(m)} bytes`);
  for (const e of wire.events) {
    if (!/^(WorkResponse-.+|Heartbeat-fuzz-experiment|ExperimentUpdates-fuzz-experiment)$/s.test(e.event)) found.push(`event on channel ${JSON.stringify(e.event.slice(0, 80))}`);
  }
  for (const k of wire.keys) if (k.split("/").some((part) => part === "" || part === "." || part === "..")) found.push(`object key ${JSON.stringify(k.slice(0, 80))}`);
  const published = [...wire.sns, ...wire.events.map((e) => e.payload)].join("\n");
  if (published.includes(SECRET)) found.push("the planted token was published");
  return found;
}

export async function runFuzz(opts: { budget: number; seed: number; boundMs: number }): Promise<FuzzReport> {
  // a private temp folder: anything written to it other than the cache is a finding
  const sandbox = mkdtempSync(join(tmpdir(), "cellworker-fuzz-"));
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = sandbox;
  const cacheDir = join(sandbox, "cache");
  // outputs of other commands that may run at the same time (benchmarks, the demo)
  const skip = new Set(["node_modules", ".git", "out", ".cellworker-cache", "bench/data", "bench/results"].map((p) => join(root, p)));
  const before = snapshot(root, skip);
  const experiment = await openExperiment({ path: join(root, "data", "pbmc_small"), cacheDir });
  const limits = DEFAULT_LIMITS;
  const rng = new Random(opts.seed);
  const report: FuzzReport = { seed: opts.seed, tried: 0, outcomes: {}, serveOutcomes: {}, maxLatencyMs: 0, slowest: null, heapGrowthMiB: 0, rssMiB: 0, failures: [] };
  collectGarbage();
  const heapStart = process.memoryUsage().heapUsed;
  try {
    for (let i = 0; i < opts.budget; i++) {
      const { request, task, mutation } = generate(rng, EXPERIMENT);
      const text = toText(request);
      const started = performance.now();
      let outcome: string;
      try {
        let written = "";
        const { response } = await answerLocally(text, async () => experiment, { limits, write: (t) => { written += t; } });
        outcome = response === null ? "NO RESPONSE" : response.response.error ? (response.response.errorCode ?? "ERROR?") : "ok";
        if (response === null) report.failures.push({ kind: "unanswered", task, mutation, detail: "no response on the command line" });
        if (written.includes(SECRET)) report.failures.push({ kind: "token leaked", task, mutation, detail: "the planted token is in the command line's response" });
      } catch (err) {
        outcome = "THREW";
        report.failures.push({ kind: "threw", task, mutation, detail: String((err as Error)?.message ?? err).slice(0, 200) });
      }
      const wire: Wire = { sns: [], events: [], keys: [] };
      let serveOutcome: string;
      try {
        const noop = async (): Promise<void> => {};
        serveOutcome = await handleMessage({ id: `fuzz-${i}`, body: text, receiveCount: 1, ack: noop, release: noop, extend: noop }, servePipeline(experiment, limits, wire));
        for (const detail of checkServe(serveOutcome, request, wire)) report.failures.push({ kind: "serve", task, mutation, detail });
      } catch (err) {
        serveOutcome = "THREW";
        report.failures.push({ kind: "serve threw", task, mutation, detail: String((err as Error)?.message ?? err).slice(0, 200) });
      }
      const ms = performance.now() - started;
      report.tried++;
      report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
      report.serveOutcomes[serveOutcome] = (report.serveOutcomes[serveOutcome] ?? 0) + 1;
      if (ms > report.maxLatencyMs) { report.maxLatencyMs = Math.round(ms); report.slowest = { task, mutation, ms: Math.round(ms) }; }
      if (ms > opts.boundMs) report.failures.push({ kind: "slow", task, mutation, detail: `${Math.round(ms)} ms` });
      if (({} as Record<string, unknown>).polluted !== undefined || (Object.prototype as Record<string, unknown>).polluted !== undefined) {
        report.failures.push({ kind: "prototype pollution", task, mutation, detail: "Object.prototype.polluted is set" });
        delete (Object.prototype as Record<string, unknown>).polluted;
      }
      if (outcome === "WORKER_ERROR") report.failures.push({ kind: "unexpected error", task, mutation, detail: "WORKER_ERROR (an uncaught exception inside a task)" });
    }
  } finally {
    collectGarbage();
    report.heapGrowthMiB = Math.round((process.memoryUsage().heapUsed - heapStart) / 2 ** 20 * 10) / 10;
    report.rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
    const after = snapshot(root, skip);
    for (const p of after) if (!before.has(p)) report.failures.push({ kind: "file written", task: "-", mutation: "-", detail: p });
    for (const name of readdirSync(sandbox)) {
      if (name !== "cache") report.failures.push({ kind: "temp file written", task: "-", mutation: "-", detail: name });
    }
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    rmSync(sandbox, { recursive: true, force: true });
  }
  if (report.heapGrowthMiB > 200) report.failures.push({ kind: "memory", task: "-", mutation: "-", detail: `heap grew ${report.heapGrowthMiB} MiB` });
  return report;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { budget: { type: "string" }, seed: { type: "string" }, "bound-ms": { type: "string" } } });
  const opts = { budget: Number(values.budget ?? 2000), seed: Number(values.seed ?? 1), boundMs: Number(values["bound-ms"] ?? 10_000) };
  const report = await runFuzz(opts);
  const command = `npm run fuzz -- --budget ${opts.budget} --seed ${opts.seed}${values["bound-ms"] ? ` --bound-ms ${opts.boundMs}` : ""}`;
  process.stdout.write(JSON.stringify({ command, generatedAt: new Date().toISOString(), ...report }, null, 2) + "\n");
  process.exitCode = report.failures.length === 0 ? 0 : 1;
}
