/**
 * Integration-test stack: the SQS/SNS/S3 and DynamoDB emulators on free loopback ports,
 * provisioned as a `test` cluster, plus helpers to send requests, read the responses that
 * reach the topic's listener queue, and run `cellworker serve` as a child process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import {
  CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient,
} from "@aws-sdk/client-sqs";
import { S3Client } from "@aws-sdk/client-s3";
import { startEmulators, type Emulators } from "../../tools/infra/emulators.ts";
import { localNames, provision, LOCAL_CREDENTIALS, type Provisioned } from "../../tools/infra/provision.ts";
import { CLI, PBMC3K } from "../helpers.ts";
import { onLines } from "../../tools/infra/lines.ts";

export const EXPERIMENT = "e52b39624588791a7889e39c617f669e";
const REGION = "eu-west-1";

export interface Stack {
  emu: Emulators;
  prov: Provisioned;
  sqs: SQSClient;
  s3: S3Client;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const emu = await startEmulators({ port: 0, dynamoPort: 0, region: REGION });
  const prov = await provision({
    endpoint: emu.endpoint, dynamoEndpoint: emu.dynamoEndpoint, region: REGION,
    names: localNames("test"), experimentId: EXPERIMENT, dataDir: PBMC3K,
  });
  const sqs = new SQSClient({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS });
  const s3 = new S3Client({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  const dataDir = mkdtempSync(join(tmpdir(), "cellworker-it-data-"));
  return {
    emu, prov, sqs, s3, dataDir,
    async stop() {
      sqs.destroy();
      s3.destroy();
      await emu.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A WorkRequest in the 2021 envelope with a fresh uuid. */
export function request(body: Record<string, unknown>, extra: Record<string, unknown> = {}): { uuid: string; json: string } {
  const uuid = randomUUID();
  return { uuid, json: JSON.stringify({ uuid, socketId: "it", experimentId: EXPERIMENT, timeout: new Date(Date.now() + 600_000).toISOString(), body, ...extra }) };
}

export async function queueUrl(stack: Stack, name: string): Promise<string> {
  const out = await stack.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" } }));
  return out.QueueUrl!;
}

export async function send(stack: Stack, url: string, body: string): Promise<void> {
  await stack.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageGroupId: "work" }));
}

/** Responses published to the topic (read from the listener queue), kept across calls. */
export class Responses {
  private readonly seen: Record<string, unknown>[] = [];
  private readonly stack: Stack;
  constructor(stack: Stack) { this.stack = stack; }

  private async poll(waitS: number): Promise<void> {
    const out = await this.stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: this.stack.prov.listenerQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitS }));
    for (const m of out.Messages ?? []) {
      this.seen.push(JSON.parse(m.Body!));
      await this.stack.sqs.send(new DeleteMessageCommand({ QueueUrl: this.stack.prov.listenerQueueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }

  /** All responses for a request uuid seen within `ms` (waits until at least one arrives). */
  async for(uuid: string, ms = 60_000): Promise<WorkResponseJson[]> {
    const deadline = Date.now() + ms;
    const mine = (): WorkResponseJson[] => this.seen.filter((r) => (r.request as { uuid?: string })?.uuid === uuid) as unknown as WorkResponseJson[];
    while (mine().length === 0 && Date.now() < deadline) await this.poll(1);
    return mine();
  }

  /** Waits `ms` and returns whatever arrived for `uuid` (for "no response" checks). */
  async after(uuid: string, ms: number): Promise<WorkResponseJson[]> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) await this.poll(1);
    return this.seen.filter((r) => (r.request as { uuid?: string })?.uuid === uuid) as unknown as WorkResponseJson[];
  }
}

export interface WorkResponseJson {
  request: Record<string, unknown>;
  results: { "content-type": string; "content-encoding": string; type: string; body: string }[];
  response: { cacheable: boolean; error: boolean; errorCode?: string; userMessage?: string };
}

export interface WorkerProcess {
  proc: ChildProcess;
  logs: string[];
  /** resolves with the first log line matching, or rejects after `ms` */
  waitForLog(pattern: RegExp, ms?: number): Promise<string>;
  exited: Promise<number | null>;
}

export function workerEnv(stack: Stack, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ENDPOINT_URL: stack.emu.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: stack.emu.dynamoEndpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_DEFAULT_REGION: REGION,
    CLUSTER_ENV: "test",
    EXPERIMENT_ID: EXPERIMENT,
    CELLWORKER_CACHE_DIR: join(tmpdir(), "cellworker-test-cache"),
    CELLWORKER_DATA_DIR: stack.dataDir,
    RECEIVE_WAIT_TIME: "1",
    VISIBILITY_TIMEOUT: "10",
    CELLWORKER_LOG_FORMAT: "json",
    ...extra,
  };
}

export function startWorker(stack: Stack, extra: Record<string, string> = {}): WorkerProcess {
  return spawnWorker(workerEnv(stack, extra));
}

/** `cellworker serve` as a child process with exactly this environment; stderr lines are kept. */
export function spawnWorker(env: NodeJS.ProcessEnv): WorkerProcess {
  const proc = spawn(process.execPath, [CLI, "serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const logs: string[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  onLines(proc.stderr!, (line) => {
    logs.push(line);
    for (const w of [...waiters]) if (w.pattern.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
  });
  proc.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return {
    proc,
    logs,
    exited,
    waitForLog(pattern, ms = 60_000) {
      const hit = logs.find((l) => pattern.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no log line matching ${pattern} within ${ms} ms; logs:\n${logs.slice(-20).join("\n")}`)), ms);
        waiters.push({ pattern, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      });
    },
  };
}

export async function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.proc.exitCode === null && w.proc.signalCode === null) {
    w.proc.kill("SIGTERM");
    const t = setTimeout(() => w.proc.kill("SIGKILL"), 10_000);
    await w.exited;
    clearTimeout(t);
  }
}
