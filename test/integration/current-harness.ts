/**
 * Integration stack of today's Cellenics, everything on loopback and free ports:
 * - Redis: Debian's `redis-server`, started here and killed by PID;
 * - the API/UI side of the events: a socket.io 4.7 server with the `socket.io-redis` 6.0.1
 *   adapter on ioredis 4 clients (the API's package.json), `allowEIO3` so the UI's
 *   `socket.io-client` 2.3 can connect; clients decode inline results as the UI does
 *   (base64 → zstd → JSON);
 * - S3: `s3rver` 3.7.1 (it implements object tagging, which fauxqs does not; credentials
 *   S3RVER/S3RVER). Its XML parser turns numeric-looking tag values into numbers, so test ids
 *   contain letters;
 * - SQS: the fauxqs emulator (tools/infra/emulators.ts), also SNS for the 2021 path;
 * - the API: a stub that records cell-set PATCHes and fails on demand.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server as SocketServer } from "socket.io";
import { decompress } from "fzstd";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { startEmulators, type Emulators } from "../../tools/infra/emulators.ts";

const require = createRequire(import.meta.url);
const REGION = "eu-west-1";
export const ACCOUNT = "000000000000";
export const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
export const BUCKETS = {
  source: `processed-matrix-test-${ACCOUNT}`,
  cellSets: `cell-sets-test-${ACCOUNT}`,
  results: `worker-results-test-${ACCOUNT}`,
} as const;

/** A free loopback port (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisServer { port: number; url: string; stop(): Promise<void> }

/** Debian's redis-server on a free loopback port, without persistence. */
export async function startRedis(): Promise<RedisServer> {
  if (spawnSync("redis-server", ["--version"]).error) {
    throw new Error("redis-server is not installed (Debian: apt-get install redis-server); .ci/run installs it");
  }
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const proc: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
    const up = await new Promise<boolean>((resolve) => {
      let out = "";
      const timer = setTimeout(() => resolve(false), 10_000);
      proc.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        if (/ready to accept connections/i.test(out)) { clearTimeout(timer); resolve(true); }
      });
      proc.on("exit", () => { clearTimeout(timer); resolve(false); });
    });
    if (up) {
      proc.stdout!.resume();
      proc.stderr!.resume();
      const exited = new Promise<void>((r) => proc.once("exit", () => r()));
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
          await exited;
        },
      };
    }
    if (proc.exitCode === null) proc.kill("SIGKILL");
    if (attempt >= 2) throw new Error("redis-server did not start");
  }
}

export interface S3Server { endpoint: string; s3: S3Client; stop(): Promise<void> }

/** s3rver on a free loopback port with the current deployment's buckets. */
export async function startS3(): Promise<S3Server> {
  const S3rver = require("s3rver") as new (opts: Record<string, unknown>) => { run(): Promise<AddressInfo>; close(): Promise<void> };
  const dir = mkdtempSync(join(tmpdir(), "cellworker-s3rver-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: dir });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const s3 = new S3Client({ region: REGION, endpoint, forcePathStyle: true, credentials: S3_CREDENTIALS });
  for (const Bucket of Object.values(BUCKETS)) await s3.send(new CreateBucketCommand({ Bucket }));
  return {
    endpoint,
    s3,
    async stop() {
      s3.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function putObject(s3: S3Client, bucket: string, key: string, body: Buffer | string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** The fauxqs emulator for SQS (and SNS, for the 2021 path), with a FIFO queue helper. */
export interface Sqs {
  emu: Emulators;
  sqs: SQSClient;
  sns: SNSClient;
  createFifo(name: string): Promise<string>;
  /** visible + in-flight messages of a queue */
  depth(url: string): Promise<number>;
  /** a topic whose messages land raw in a new queue: the 2021 results path */
  topicWithListener(name: string): Promise<{ topicArn: string; listenerUrl: string }>;
  stop(): Promise<void>;
}

export async function startSqs(): Promise<Sqs> {
  const emu = await startEmulators({ port: 0, dynamoPort: 0, region: REGION });
  const credentials = { accessKeyId: "test", secretAccessKey: "test" };
  const sqs = new SQSClient({ region: REGION, endpoint: emu.endpoint, credentials });
  const sns = new SNSClient({ region: REGION, endpoint: emu.endpoint, credentials });
  const createFifo = async (name: string): Promise<string> =>
    (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" } }))).QueueUrl!;
  return {
    emu, sqs, sns, createFifo,
    async depth(url) {
      const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }));
      return Number(a.Attributes!.ApproximateNumberOfMessages) + Number(a.Attributes!.ApproximateNumberOfMessagesNotVisible);
    },
    async topicWithListener(name) {
      const topicArn = (await sns.send(new CreateTopicCommand({ Name: name }))).TopicArn!;
      const listenerUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-listener` }))).QueueUrl!;
      const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: listenerUrl, AttributeNames: ["QueueArn"] }));
      await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: "sqs", Endpoint: attrs.Attributes!.QueueArn!, Attributes: { RawMessageDelivery: "true" } }));
      return { topicArn, listenerUrl };
    },
    async stop() {
      sqs.destroy();
      sns.destroy();
      await emu.stop();
    },
  };
}

/** One event as a UI client saw it, in arrival order. */
export interface SeenEvent { event: string; payload: unknown; at: number }

interface LegacySocket {
  on(event: string, fn: (...args: unknown[]) => void): void;
  close(): void;
  connected: boolean;
}

/** A UI-like client: socket.io-client 2.3 (EIO3), subscribing to events by name. */
export class UiClient {
  readonly seen: SeenEvent[] = [];
  private readonly socket: LegacySocket;
  private readonly waiters: (() => void)[] = [];
  constructor(socket: LegacySocket) {
    this.socket = socket;
  }

  /** Starts recording an event name (before the request is sent, as the UI does). */
  subscribe(...events: string[]): void {
    for (const event of events) {
      this.socket.on(event, (payload: unknown) => {
        this.seen.push({ event, payload, at: Date.now() });
        for (const w of this.waiters.splice(0)) w();
      });
    }
  }

  of(event: string): SeenEvent[] {
    return this.seen.filter((e) => e.event === event);
  }

  /** Waits until an event of this name has arrived `count` times; returns them. */
  async waitFor(event: string, ms = 90_000, count = 1): Promise<SeenEvent[]> {
    const deadline = Date.now() + ms;
    while (this.of(event).length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${event} within ${ms} ms (seen: ${this.seen.map((e) => e.event).join(", ") || "nothing"})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.of(event);
  }

  close(): void {
    this.socket.close();
  }
}

/** The UI's decoding of an inline WorkResponse: base64 → zstd → JSON. */
export function decodeInline(payload: string): unknown {
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(decompress(bytes)));
}

/** A stored result: zstd → JSON. */
export function decodeStored(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder().decode(decompress(bytes)));
}

export interface SocketHub {
  url: string;
  connect(): Promise<UiClient>;
  stop(): Promise<void>;
}

/** The API's socket.io side: socket.io 4.7 + socket.io-redis 6.0.1 on ioredis 4, EIO3 allowed. */
export async function startSocketHub(redisPort: number): Promise<SocketHub> {
  const redisAdapter = require("socket.io-redis") as (opts: Record<string, unknown>) => unknown;
  const IORedis4 = require("ioredis4") as new (port: number, host: string) => { quit(): Promise<unknown>; disconnect(): void };
  const ioClient = require("socket.io-client") as (url: string, opts?: Record<string, unknown>) => LegacySocket;
  const pubClient = new IORedis4(redisPort, "127.0.0.1");
  const subClient = new IORedis4(redisPort, "127.0.0.1");
  const http: HttpServer = createServer();
  const io = new SocketServer(http, { allowEIO3: true, cors: { origin: true } });
  io.adapter(redisAdapter({ pubClient, subClient }) as never);
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const clients: UiClient[] = [];
  return {
    url,
    async connect() {
      const socket = ioClient(url, { reconnection: false, forceNew: true });
      await new Promise<void>((resolve, reject) => {
        socket.on("connect", () => resolve());
        socket.on("connect_error", (err) => reject(err as Error));
      });
      const client = new UiClient(socket);
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) c.close();
      await new Promise<void>((r) => io.close(() => r()));
      await Promise.all([pubClient.quit().catch(() => pubClient.disconnect()), subClient.quit().catch(() => subClient.disconnect())]);
    },
  };
}

export interface RecordedRequest { method: string; url: string; headers: IncomingHttpHeaders; body: string; at: number }

/** The Cellenics API as far as the worker sees it: records requests; fails the next N on demand. */
export class StubApi {
  readonly requests: RecordedRequest[] = [];
  private failures = 0;
  private failStatus = 500;
  private server: HttpServer | null = null;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
        if (this.failures > 0) {
          this.failures--;
          res.writeHead(this.failStatus, { "content-type": "application/json" }).end('{"error":"stub failure"}');
        } else {
          res.writeHead(200, { "content-type": "application/json" }).end('"OK"');
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The next `count` requests are answered with `status`. */
  failNext(count: number, status = 500): void {
    this.failures = count;
    this.failStatus = status;
  }

  /** PATCHes received since `index`. */
  patchesSince(index: number): RecordedRequest[] {
    return this.requests.slice(index).filter((r) => r.method === "PATCH");
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); });
  }
}
