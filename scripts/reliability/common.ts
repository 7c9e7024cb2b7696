/**
 * What the reliability scripts (kill trials, the queue load test) share: the emulators
 * provisioned with one experiment, `cellworker serve` as a child process whose log lines are
 * kept, and a reader of the responses the worker publishes (from the topic's listener queue).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient,
} from "@aws-sdk/client-sqs";
import { startEmulators, type Emulators } from "../../tools/infra/emulators.ts";
import { localNames, provision, LOCAL_CREDENTIALS, type Provisioned } from "../../tools/infra/provision.ts";
import { onLines } from "../../tools/infra/lines.ts";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const CLI = join(ROOT, "src", "cli.ts");
export const DATA = { pbmcSmall: join(ROOT, "data", "pbmc_small"), pbmc3k: join(ROOT, "data", "pbmc3k") };
const REGION = "eu-west-1";

export interface QueueStack {
  emu: Emulators;
  prov: Provisioned;
  sqs: SQSClient;
  /** worker data folder (experiment files synced from S3) */
  dataDir: string;
  /** a new FIFO work queue; returns its URL */
  createQueue(name: string): Promise<string>;
  /** messages waiting plus in flight */
  depth(url: string): Promise<number>;
  /** the environment of `cellworker serve` on this stack */
  env(extra: Record<string, string>): NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startQueueStack(opts: { experimentId: string; dataDir: string; cacheDir: string }): Promise<QueueStack> {
  const emu = await startEmulators({ region: REGION });
  const prov = await provision({
    endpoint: emu.endpoint, dynamoEndpoint: emu.dynamoEndpoint, region: REGION, names: localNames("test"), experimentId: opts.experimentId, dataDir: opts.dataDir,
  });
  const sqs = new SQSClient({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS });
  const dataDir = mkdtempSync(join(tmpdir(), "cellworker-reliability-data-"));
  return {
    emu, prov, sqs, dataDir,
    async createQueue(name) {
      return (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" } }))).QueueUrl!;
    },
    async depth(url) {
      const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }));
      return Number(a.Attributes!.ApproximateNumberOfMessages) + Number(a.Attributes!.ApproximateNumberOfMessagesNotVisible);
    },
    env(extra) {
      return {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ENDPOINT_URL: emu.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: emu.dynamoEndpoint,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: REGION,
        CLUSTER_ENV: "test",
        EXPERIMENT_ID: opts.experimentId,
        CELLWORKER_CACHE_DIR: opts.cacheDir,
        CELLWORKER_DATA_DIR: dataDir,
        CELLWORKER_LOG_FORMAT: "json",
        ...extra,
      };
    },
    async stop() {
      sqs.destroy();
      await emu.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sends request bodies (JSON strings) to a FIFO queue, ten per call; each its own message group unless `group` is given. */
export async function sendAll(sqs: SQSClient, url: string, messages: { id: string; json: string }[], group?: string): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const batch = messages.slice(i, i + 10);
    const out = await sqs.send(new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: batch.map((m, j) => ({ Id: String(j), MessageBody: m.json, MessageGroupId: group ?? m.id })),
    }));
    if (out.Failed?.length) throw new Error(`send failed: ${JSON.stringify(out.Failed)}`);
  }
}

/** A 2021 WorkRequest with a given uuid. */
export function workRequest(uuid: string, experimentId: string, body: Record<string, unknown>): string {
  return JSON.stringify({ uuid, socketId: "reliability", experimentId, timeout: new Date(Date.now() + 3_600_000).toISOString(), body });
}

export interface Response {
  uuid: string;
  at: number;
  /** the response JSON as published (for comparing duplicates) */
  body: string;
  error: boolean;
  errorCode: string | null;
}

/** Reads the responses published to the topic (its listener queue), keeping all of them, in arrival order. */
export class ResponseReader {
  readonly all: Response[] = [];
  private readonly sqs: SQSClient;
  private readonly url: string;
  constructor(sqs: SQSClient, listenerUrl: string) {
    this.sqs = sqs;
    this.url = listenerUrl;
  }

  /** One receive (long poll up to `waitS`); returns how many arrived. */
  async poll(waitS = 1): Promise<number> {
    const out = await this.sqs.send(new ReceiveMessageCommand({ QueueUrl: this.url, MaxNumberOfMessages: 10, WaitTimeSeconds: waitS }));
    const msgs = out.Messages ?? [];
    const at = Date.now();
    for (const m of msgs) {
      const parsed = JSON.parse(m.Body!) as { request?: { uuid?: string }; response?: { error?: boolean; errorCode?: string } };
      this.all.push({ uuid: parsed.request?.uuid ?? "", at, body: m.Body!, error: parsed.response?.error === true, errorCode: parsed.response?.errorCode ?? null });
    }
    if (msgs.length) {
      await this.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: this.url, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    }
    return msgs.length;
  }

  of(uuid: string): Response[] {
    return this.all.filter((r) => r.uuid === uuid);
  }

  /** Polls until every uuid has a response or `ms` passed; true when all were answered. */
  async untilAnswered(uuids: string[], ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    const open = new Set(uuids.filter((u) => this.of(u).length === 0));
    while (open.size > 0 && Date.now() < deadline) {
      await this.poll(1);
      for (const u of [...open]) if (this.of(u).length > 0) open.delete(u);
    }
    return open.size === 0;
  }

  /** Polls until the listener queue stays empty for one long poll. */
  async drain(waitS = 1): Promise<void> {
    while ((await this.poll(waitS)) > 0) { /* keep reading */ }
  }
}

export interface ServeProcess {
  proc: ChildProcess;
  pid: number;
  logs: { at: number; line: string }[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(pattern: RegExp, ms: number): Promise<string | null>;
}

/** `cellworker serve` as a child process; its stderr lines are kept with their arrival time. */
export function spawnServe(env: NodeJS.ProcessEnv): ServeProcess {
  const proc = spawn(process.execPath, [CLI, "serve"], { env, stdio: ["ignore", "ignore", "pipe"] });
  const logs: { at: number; line: string }[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string | null) => void }[] = [];
  onLines(proc.stderr!, (line) => {
    logs.push({ at: Date.now(), line });
    for (const w of [...waiters]) if (w.pattern.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on("exit", (code, signal) => {
    for (const w of waiters.splice(0)) w.resolve(null);
    resolve({ code, signal });
  }));
  return {
    proc, pid: proc.pid!, logs, exited,
    waitForLog(pattern, ms) {
      const hit = logs.find((l) => pattern.test(l.line));
      if (hit) return Promise.resolve(hit.line);
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(null);
      return new Promise((resolve) => {
        const w = { pattern, resolve: (l: string | null) => { clearTimeout(timer); resolve(l); } };
        const timer = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); resolve(null); }, ms);
        waiters.push(w);
      });
    },
  };
}

/** Stops a worker: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopServe(w: ServeProcess, graceMs = 10_000): Promise<void> {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null) return;
  w.proc.kill("SIGTERM");
  const t = setTimeout(() => w.proc.kill("SIGKILL"), graceMs);
  await w.exited;
  clearTimeout(t);
}

/** A small seeded generator (mulberry32) for reproducible schedules. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The command line that produced a report, for the report. */
export function commandLine(argv: string[]): string {
  return ["npm run reliability --", ...argv].join(" ");
}
