/**
 * `cellworker serve` (today's protocol: results in S3 under the ETag, socket.io events through
 * Redis) while S3 fails: s3rver behind a fault-injecting proxy (tools/infra/faults.ts). S3 down
 * altogether for a while (duplicate check, sync, cell sets and upload all fail), uploads
 * throttled with S3's `SlowDown`, and a cell-sets object that is not JSON. The worker waits
 * faults out and answers once, stores the result once, and answers bad cell sets with
 * DATA_INVALID.
 */
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand, GetObjectTaggingCommand } from "@aws-sdk/client-s3";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { PBMC_SMALL } from "../helpers.ts";
import { startFaultProxy, type FaultProxy } from "../../tools/infra/faults.ts";
import { spawnWorker, stopWorker, type WorkerProcess } from "./harness.ts";
import {
  BUCKETS, decodeInline, decodeStored, putObject, startRedis, startS3, startSocketHub, startSqs, StubApi,
  type RedisServer, type S3Server, type SocketHub, type Sqs, type UiClient,
} from "./current-harness.ts";

const EXPERIMENT = "faultscurrentexperiment";
let redis: RedisServer;
let s3: S3Server;
let proxy: FaultProxy;
let sqs: Sqs;
let hub: SocketHub;
let api: StubApi;
let client: UiClient;
let worker: WorkerProcess;
let queueUrl: string;
const scratch = mkdtempSync(join(tmpdir(), "cellworker-it-faults-current-"));

before(async () => {
  [redis, s3, sqs, api] = await Promise.all([startRedis(), startS3(), startSqs(), new StubApi().start()]);
  proxy = await startFaultProxy({ target: s3.endpoint, service: "s3" });
  hub = await startSocketHub(redis.port);
  for (const f of readdirSync(PBMC_SMALL).filter((n) => !n.endsWith(".md"))) {
    await putObject(s3.s3, BUCKETS.source, `${EXPERIMENT}/${f}`, readFileSync(join(PBMC_SMALL, f)));
  }
  const queue = `faults-current-${process.pid}.fifo`;
  queueUrl = await sqs.createFifo(queue);
  client = await hub.connect();
  worker = spawnWorker({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CELLWORKER_DEPLOYMENT: "current",
    PODINFO_LABELS: join(scratch, "no-labels"),
    EXPERIMENT_ID: EXPERIMENT,
    SANDBOX_ID: "faults",
    WORK_QUEUE: queue,
    CLUSTER_ENV: "test",
    AWS_DEFAULT_REGION: "eu-west-1",
    AWS_ENDPOINT_URL: sqs.emu.endpoint,
    AWS_ENDPOINT_URL_S3: proxy.endpoint,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    REDIS_URL: redis.url,
    API_URL: api.url,
    CELLWORKER_CACHE_DIR: join(tmpdir(), "cellworker-test-cache"),
    CELLWORKER_DATA_DIR: join(scratch, "data"),
    RECEIVE_WAIT_TIME: "1",
    VISIBILITY_TIMEOUT: "30",
    CELLWORKER_LOG_FORMAT: "json",
  });
  await worker.waitForLog(/queue found/);
});

afterEach(() => proxy.faults.clear());
after(async () => {
  if (worker) await stopWorker(worker);
  await hub?.stop();
  await Promise.all([api?.stop(), sqs?.stop(), proxy?.stop()]);
  await s3?.stop();
  await redis?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function request(body: Record<string, unknown>): { etag: string; json: string } {
  const etag = randomBytes(16).toString("hex");
  return {
    etag,
    json: JSON.stringify({
      ETag: etag, experimentId: EXPERIMENT, timeout: new Date(Date.now() + 600_000).toISOString(), body,
      requestProps: { broadcast: false, cacheUniquenessKey: null }, Authorization: "Bearer it", signedUrl: `http://127.0.0.1:9/${etag}`,
    }),
  };
}

async function send(r: { etag: string; json: string }): Promise<void> {
  client.subscribe(`WorkResponse-${r.etag}`);
  await sqs.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: r.json, MessageGroupId: "work" }));
}

/** The one WorkResponse of a request (a second one within 2 s fails the test). */
async function onlyResponse(etag: string, ms = 60_000): Promise<unknown> {
  await client.waitFor(`WorkResponse-${etag}`, ms);
  await sleep(2000);
  const all = client.of(`WorkResponse-${etag}`);
  assert.equal(all.length, 1, "answered exactly once");
  return all[0]!.payload;
}

const alive = (): boolean => worker.proc.exitCode === null && worker.proc.signalCode === null;
const tasksStarted = (etag: string): number => worker.logs.filter((l) => l.includes(etag) && /task started/.test(l)).length;

test("S3 down altogether for 5 s: the request waits, then is computed once, stored under its ETag and answered once", async () => {
  const r = request({ name: "GetEmbedding", type: "pca" });
  const t0 = Date.now();
  proxy.faults.set({ s3: "down" });
  await send(r);
  await worker.waitForLog(new RegExp(`loading the experiment failed; retrying.*${r.etag}`), 30_000);
  await sleep(5000 - (Date.now() - t0));
  const during = proxy.faults.seen({ since: t0 }).length;
  proxy.faults.clear();
  const payload = await onlyResponse(r.etag);
  assert.equal(typeof payload, "string", "the inline result");
  assert.equal((decodeInline(payload as string) as unknown[]).length, 80);
  assert.equal(tasksStarted(r.etag), 1);
  assert.ok(during <= 25, `${during} S3 requests in 5 s (3 SDK attempts per call, backoff 1, 2, 4 s)`);
  assert.ok(alive());
});

test("S3 uploads throttled (SlowDown): the upload is retried in place; stored with its tags and answered once", async () => {
  const r = request({ name: "ListGenes", selectFields: ["gene_names"], orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: 5 });
  proxy.faults.set({ s3: { mode: "throttle", only: new RegExp(`^s3 PUT /${BUCKETS.results}/`) } });
  await send(r);
  await worker.waitForLog(new RegExp(`publishing the response failed; retrying.*${r.etag}`), 30_000);
  proxy.faults.clear();
  const payload = await onlyResponse(r.etag);
  const stored = await s3.s3.send(new GetObjectCommand({ Bucket: BUCKETS.results, Key: r.etag }));
  const bytes = await stored.Body!.transformToByteArray();
  assert.equal(Buffer.from(bytes).toString("base64"), payload);
  assert.deepEqual((decodeStored(bytes) as { gene_names: string[] }).gene_names.length, 5);
  const tags = await s3.s3.send(new GetObjectTaggingCommand({ Bucket: BUCKETS.results, Key: r.etag }));
  assert.deepEqual(Object.fromEntries(tags.TagSet!.map((t) => [t.Key, String(t.Value)])), { experimentId: EXPERIMENT, requestType: "ListGenes" });
  assert.equal(tasksStarted(r.etag), 1);
});

test("a cell-sets object that is not JSON: DATA_INVALID naming it, the worker stays up; removed, requests work again", async () => {
  await putObject(s3.s3, BUCKETS.cellSets, EXPERIMENT, "{not json");
  try {
    const r = request({ name: "GetEmbedding", type: "pca" });
    await send(r);
    const n = (await onlyResponse(r.etag)) as { response: { error: boolean; errorCode: string; userMessage: string } };
    assert.equal(n.response.error, true);
    assert.equal(n.response.errorCode, "DATA_INVALID");
    assert.equal(n.response.userMessage, `The cell sets stored for experiment ${EXPERIMENT} (s3://${BUCKETS.cellSets}/${EXPERIMENT}) are not valid Cellenics cell sets.`);
    assert.ok(alive());
  } finally {
    await s3.s3.send(new DeleteObjectCommand({ Bucket: BUCKETS.cellSets, Key: EXPERIMENT }));
  }
  const ok = request({ name: "GetEmbedding", type: "pca" });
  await send(ok);
  assert.equal(typeof (await onlyResponse(ok.etag)), "string");
});
