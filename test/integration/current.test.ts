/**
 * `cellworker serve` as a drop-in for today's Cellenics worker pod, end to end on loopback:
 * the pod waits for its labels, reads requests from `queue-job-{hash}-test.fifo`, stores results
 * in S3 under their ETag (s3rver, with tags), sends socket.io events through Redis that a
 * socket.io 4.7 server with the API's `socket.io-redis` 6.0.1 adapter relays to UI-like
 * `socket.io-client` 2.3 clients, and saves cell sets through a stub API.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { Readable } from "node:stream";
import { PBMC3K } from "../helpers.ts";
import { CurrentPublisher } from "../../src/publish/current.ts";
import { S3ObjectStore } from "../../src/publish/object-store.ts";
import { RedisSocketEvents } from "../../src/publish/socket-events.ts";
import type { FileResult } from "../../src/result/file-result.ts";
import { registry } from "../../src/tasks/registry.ts";
import { gunzipSync } from "node:zlib";
import { EXPERIMENT, spawnWorker, stopWorker, type WorkerProcess } from "./harness.ts";
import {
  BUCKETS, decodeInline, decodeStored, putObject, startRedis, startS3, startSocketHub, startSqs, StubApi,
  type RedisServer, type S3Server, type SeenEvent, type SocketHub, type Sqs, type UiClient,
} from "./current-harness.ts";

const SANDBOX = "itsandbox";
const HASH = createHash("sha1").update(`${EXPERIMENT}-${SANDBOX}`).digest("hex");
const QUEUE = `queue-job-${HASH}-test.fifo`;
const JWT = "Bearer eyJhbGciOi.it-secret-jwt.signature";

let redis: RedisServer;
let s3: S3Server;
let sqs: Sqs;
let hub: SocketHub;
let api: StubApi;
let worker: WorkerProcess;
let client: UiClient;
let queueUrl: string;
let legacy: { topicArn: string; listenerUrl: string };
let labelsFile: string;
const scratch = mkdtempSync(join(tmpdir(), "cellworker-it-current-"));

before(async () => {
  [redis, s3, sqs, api] = await Promise.all([startRedis(), startS3(), startSqs(), new StubApi().start()]);
  hub = await startSocketHub(redis.port);
  for (const f of readdirSync(PBMC3K).filter((n) => !n.endsWith(".md"))) {
    await putObject(s3.s3, BUCKETS.source, `${EXPERIMENT}/${f}`, readFileSync(join(PBMC3K, f)));
  }
  queueUrl = await sqs.createFifo(QUEUE);
  legacy = await sqs.topicWithListener(`work-results-test-${SANDBOX}`);
  labelsFile = join(scratch, "labels");
  writeFileSync(labelsFile, 'app="worker"\npod-template-hash="5d8f7c9b6"\n'); // unassigned: no experimentId
  client = await hub.connect();
  client.subscribe(`Heartbeat-${EXPERIMENT}`, `ExperimentUpdates-${EXPERIMENT}`);
  worker = spawnWorker({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PODINFO_LABELS: labelsFile,
    LABELS_POLL_MS: "200",
    CLUSTER_ENV: "test",
    AWS_DEFAULT_REGION: "eu-west-1",
    AWS_ENDPOINT_URL: sqs.emu.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    REDIS_URL: redis.url,
    API_URL: api.url,
    API_RETRY_BACKOFF_MS: "100",
    CELLWORKER_CACHE_DIR: join(tmpdir(), "cellworker-test-cache"),
    CELLWORKER_DATA_DIR: join(scratch, "data"),
    RECEIVE_WAIT_TIME: "1",
    VISIBILITY_TIMEOUT: "30",
    CELLWORKER_LOG_FORMAT: "json",
  });
});

after(async () => {
  if (worker) await stopWorker(worker);
  await hub?.stop();
  await Promise.all([api?.stop(), sqs?.stop(), s3?.stop()]);
  await redis?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const etag = (): string => randomBytes(16).toString("hex");

/** A request as today's API puts it on the queue. */
function request(body: Record<string, unknown>, extra: Record<string, unknown> = {}): { etag: string; json: string; signedUrl: string } {
  const id = etag();
  const signedUrl = `http://127.0.0.1:9/${BUCKETS.results}/${id}?X-Amz-Signature=it-signature-${id}`;
  const msg = {
    ETag: id,
    experimentId: EXPERIMENT,
    timeout: new Date(Date.now() + 600_000).toISOString(),
    body,
    requestProps: { broadcast: false, cacheUniquenessKey: null },
    Authorization: JWT,
    signedUrl,
    ...extra,
  };
  return { etag: id, json: JSON.stringify(msg), signedUrl };
}

async function send(json: string): Promise<void> {
  await sqs.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: json, MessageGroupId: "work" }));
}

/** Sends a request and waits for its WorkResponse-{ETag}; returns it and everything seen meanwhile. */
async function ask(r: { etag: string; json: string }): Promise<{ payload: unknown; events: SeenEvent[] }> {
  const mark = client.seen.length;
  client.subscribe(`WorkResponse-${r.etag}`);
  await send(r.json);
  const [response] = await client.waitFor(`WorkResponse-${r.etag}`);
  return { payload: response!.payload, events: client.seen.slice(mark) };
}

interface Notification {
  type: string;
  request: Record<string, unknown>;
  response: { cacheable: boolean; error: boolean; signedUrl: string | null; errorCode?: string; userMessage?: string };
}

interface HeartbeatJson { type: string; status_code: string; user_message: string; progress_percent: number | null }

const heartbeats = (events: SeenEvent[]): HeartbeatJson[] => events.filter((e) => e.event === `Heartbeat-${EXPERIMENT}`).map((e) => e.payload as HeartbeatJson);

async function stored(key: string): Promise<{ bytes: Uint8Array; tags: Record<string, string> } | null> {
  try {
    const out = await s3.s3.send(new GetObjectCommand({ Bucket: BUCKETS.results, Key: key }));
    const bytes = await out.Body!.transformToByteArray();
    const t = await s3.s3.send(new GetObjectTaggingCommand({ Bucket: BUCKETS.results, Key: key }));
    return { bytes, tags: Object.fromEntries((t.TagSet ?? []).map((x) => [x.Key!, String(x.Value)])) };
  } catch (err) {
    if ((err as { name?: string }).name === "NoSuchKey") return null;
    throw err;
  }
}

/** No token or Authorization anywhere in an event; the signed URL only as response.signedUrl. */
function assertNoSecrets(payload: unknown, signedUrl: string): void {
  const n = payload as Notification;
  const text = JSON.stringify(n);
  assert.doesNotMatch(text, /it-secret-jwt/);
  assert.doesNotMatch(text, /authorization/i);
  assert.ok(!JSON.stringify({ ...n, response: { ...n.response, signedUrl: null } }).includes(signedUrl.split("?")[1]!), "the signed URL only as response.signedUrl");
}

test("an unassigned pod waits for its labels, then serves the labelled experiment from queue-job-{hash}-{env}.fifo", async () => {
  await worker.waitForLog(/waiting for an experiment to be assigned/);
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(!worker.logs.some((l) => /"message":"configuration"/.test(l)), "no configuration before the label");
  const tmp = `${labelsFile}.tmp`;
  writeFileSync(tmp, `app="worker"\nexperimentId="${EXPERIMENT}"\nsandboxId="${SANDBOX}"\nworkQueueHash="${HASH}"\n`);
  renameSync(tmp, labelsFile);
  const config = JSON.parse(await worker.waitForLog(/"message":"configuration"/)) as Record<string, unknown>;
  assert.equal(config.deployment, "current");
  assert.equal(config.experimentId, EXPERIMENT);
  assert.equal(config.queue, QUEUE);
  assert.equal(config.sourceBucket, BUCKETS.source);
  assert.equal(config.resultsBucket, BUCKETS.results);
  assert.equal(config.cellSetsBucket, BUCKETS.cellSets);
  await worker.waitForLog(/queue found/);
  // the experiment is downloaded and loaded right away; the waiting UI is told
  const loading = await client.waitFor(`Heartbeat-${EXPERIMENT}`, 60_000, 2);
  assert.deepEqual(loading.map((e) => (e.payload as HeartbeatJson).status_code), ["DOWNLOAD_EXPERIMENT", "LOAD_TO_MEMORY"]);
  assert.equal((loading[0]!.payload as HeartbeatJson).user_message, "Accessing the Seurat object for your analysis");
});

test("a small result: stored zstd-compressed under its ETag with both tags, and pushed inline (base64 → zstd → JSON)", async () => {
  const r = request({ name: "GetEmbedding", type: "pca" });
  const { payload, events } = await ask(r);
  assert.equal(typeof payload, "string", "inline results are strings, as the UI tells them apart by typeof");
  const embedding = decodeInline(payload as string) as ([number, number] | null)[];
  assert.equal(embedding.length, 2700);
  assert.ok(embedding.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite)));
  const object = await stored(r.etag);
  assert.ok(object, "the result is stored under the ETag");
  assert.equal(Buffer.from(object.bytes.subarray(0, 4)).toString("hex"), "28b52ffd", "a zstd frame");
  assert.ok(object.bytes.length <= 250_000);
  assert.equal(Buffer.from(object.bytes).toString("base64"), payload, "the inline payload is the stored bytes");
  assert.deepEqual(decodeStored(object.bytes), embedding);
  assert.deepEqual(object.tags, { experimentId: EXPERIMENT, requestType: "GetEmbedding" });
  // heartbeats in the original's order, then the response
  assert.deepEqual(heartbeats(events).map((h) => h.status_code), ["STARTED_TASK", "COMPRESSING_DATA", "UPLOADING_DATA", "FINISHED_TASK"]);
  assert.deepEqual(heartbeats(events)[0], { type: "WorkResponse", status_code: "STARTED_TASK", user_message: "Working on the requested task Embedding", progress_percent: null });
  assert.equal(heartbeats(events)[3]!.user_message, "Displaying results for the requested task Embedding");
  assert.equal(events.at(-1)!.event, `WorkResponse-${r.etag}`);
});

test("a large result (> 250,000 compressed bytes): a notification with the signed URL, the data in S3", async () => {
  const r = request({ name: "ListGenes", selectFields: ["gene_names", "gene_ids", "dispersions", "means"], orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: 100000 });
  const { payload } = await ask(r);
  assert.equal(typeof payload, "object");
  const n = payload as Notification;
  assert.equal(n.type, "WorkResponse");
  assert.deepEqual(n.response, { cacheable: true, error: false, signedUrl: r.signedUrl });
  assert.equal((n.request.body as { name: string }).name, "ListGenes");
  assert.equal(n.request.ETag, r.etag);
  assertNoSecrets(n, r.signedUrl);
  const object = await stored(r.etag);
  assert.ok(object && object.bytes.length > 250_000, `compressed size ${object?.bytes.length}`);
  const result = decodeStored(object.bytes) as { total: number; gene_ids: string[]; means: number[] };
  assert.equal(result.total, 32738);
  assert.equal(result.gene_ids.length, 32738);
  assert.deepEqual(object.tags, { experimentId: EXPERIMENT, requestType: "ListGenes" });
});

test("error results: a notification with errorCode and userMessage (UI-facing codes), nothing stored", async () => {
  const unknown = request({ name: "Frobnicate" });
  const noGene = request({ name: "GeneExpression", genes: ["NOT-A-GENE-1", "NOT-A-GENE-2"] });
  // a request naming another experiment (with broadcast) must not reach that experiment's channels
  const other = request({ name: "GetEmbedding", type: "pca" }, { experimentId: "another-experiment", requestProps: { broadcast: true, cacheUniquenessKey: null } });
  const invalid = request({ name: "GetEmbedding", type: "pca" }, { timeout: 42 });
  client.subscribe("Heartbeat-another-experiment", "ExperimentUpdates-another-experiment");
  const mark = client.seen.length;
  const results = [];
  for (const r of [unknown, noGene, other, invalid]) results.push({ r, ...(await ask(r)) });
  const expected = [
    ["TASK_NOT_FOUND", /^Unknown task "Frobnicate"\.$/],
    ["R_WORKER_GENE_NOT_FOUND", /NOT-A-GENE-1/],
    ["INVALID_INPUT", new RegExp(`serves experiment ${EXPERIMENT}, not another-experiment`)],
    ["INVALID_INPUT", /^timeout: /],
  ] as const;
  for (const [i, { r, payload, events }] of results.entries()) {
    const n = payload as Notification;
    assert.equal(n.type, "WorkResponse");
    assert.equal(n.response.error, true);
    assert.equal(n.response.cacheable, false);
    assert.equal(n.response.signedUrl, r.signedUrl);
    assert.equal(n.response.errorCode, expected[i]![0]);
    assert.match(n.response.userMessage!, expected[i]![1]);
    assertNoSecrets(n, r.signedUrl);
    assert.equal(await stored(r.etag), null, "error results are not stored");
    if (i < 2) assert.deepEqual(heartbeats(events).map((h) => h.status_code), ["STARTED_TASK", "FINISHED_TASK"]);
    if (i === 2) assert.deepEqual(events.filter((e) => !e.event.startsWith("WorkResponse-")), [], "no heartbeat or broadcast for another experiment's request");
  }
  assert.deepEqual(client.seen.slice(mark).filter((e) => e.event.includes("another-experiment")), []);
});

test("a request whose result is already stored under its ETag is not recomputed; the requester is pointed at it", async () => {
  const r = request({ name: "GetEmbedding", type: "tsne", config: { perplexity: 31, learningRate: 200 } });
  const sentinel = Buffer.from("stored earlier by another worker");
  await putObject(s3.s3, BUCKETS.results, r.etag, sentinel);
  const before = (await s3.s3.send(new HeadObjectCommand({ Bucket: BUCKETS.results, Key: r.etag }))).LastModified;
  const { payload, events } = await ask(r);
  assert.deepEqual((payload as Notification).response, { cacheable: true, error: false, signedUrl: r.signedUrl });
  assert.deepEqual(heartbeats(events), [], "no task was started");
  const object = await stored(r.etag);
  assert.ok(object && Buffer.from(object.bytes).equals(sentinel), "the stored result is untouched");
  assert.deepEqual((await s3.s3.send(new HeadObjectCommand({ Bucket: BUCKETS.results, Key: r.etag }))).LastModified, before);
  await worker.waitForLog(new RegExp(`already stored under this ETag.*${r.etag}`));
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(await sqs.depth(queueUrl), 0, "the message was deleted");
});

test("ClusterCells: cell sets PATCHed through the API with the user's token; the broadcast carries no token", async () => {
  const r = request({ name: "ClusterCells", type: "louvain", config: { resolution: 0.8 }, cellSetKey: "louvain", cellSetName: "louvain clusters" }, {
    requestProps: { broadcast: true, cacheUniquenessKey: null },
  });
  const patches = api.requests.length;
  const { payload, events } = await ask(r);
  const n = payload as Notification;
  assert.deepEqual(n.response, { cacheable: false, error: false, signedUrl: r.signedUrl });
  assertNoSecrets(n, r.signedUrl);
  // ExperimentUpdates before FINISHED_TASK before WorkResponse (the original's order)
  const order = events.map((e) => (e.event.startsWith("Heartbeat-") ? (e.payload as HeartbeatJson).status_code : e.event.split("-")[0]));
  assert.deepEqual(order, ["STARTED_TASK", "ExperimentUpdates", "FINISHED_TASK", "WorkResponse"]);
  const broadcast = events.find((e) => e.event === `ExperimentUpdates-${EXPERIMENT}`)!.payload as Notification;
  assert.equal(broadcast.type, "WorkResponse");
  assert.equal((broadcast.request.body as { name: string }).name, "ClusterCells");
  assert.deepEqual(broadcast.response, { cacheable: false, error: false, signedUrl: null });
  assertNoSecrets(broadcast, r.signedUrl);
  assert.doesNotMatch(JSON.stringify(broadcast), /it-signature/);
  // the PATCH (spec §3.4)
  const [patch, ...more] = api.patchesSince(patches);
  assert.ok(patch);
  assert.equal(more.length, 0);
  assert.equal(patch.url, `/v2/experiments/${EXPERIMENT}/cellSets`);
  assert.equal(patch.headers["content-type"], "application/boschni-json-merger+json");
  assert.equal(patch.headers.authorization, JWT);
  const body = JSON.parse(patch.body) as [{ $match: { query: string; value: unknown } }, { $prepend: { key: string; name: string; rootNode: boolean; type: string; children: { key: string; cellIds: number[] }[] } }];
  assert.equal(body.length, 2);
  assert.deepEqual(body[0], { $match: { query: '$[?(@.key == "louvain")]', value: { $remove: true } } });
  const cls = body[1].$prepend;
  assert.equal(cls.key, "louvain");
  assert.equal(cls.rootNode, true);
  assert.equal(cls.type, "cellSets");
  assert.ok(cls.children.length >= 5);
  cls.children.forEach((c, i) => assert.equal(c.key, `louvain-${i}`));
  const all = cls.children.flatMap((c) => c.cellIds);
  assert.equal(all.length, 2700);
  assert.equal(new Set(all).size, 2700);
  assert.equal(await stored(r.etag), null, "ClusterCells is not cacheable");
});

test("a failing API: retried with backoff, then an error result (broadcast too); a transient failure succeeds", async () => {
  const failing = request({ name: "ClusterCells", type: "louvain", config: { resolution: 0.8 } }, { requestProps: { broadcast: true, cacheUniquenessKey: null } });
  const mark = api.requests.length;
  api.failNext(100, 503);
  const { payload, events } = await ask(failing);
  api.failNext(0);
  const n = payload as Notification;
  assert.equal(n.response.error, true);
  assert.equal(n.response.errorCode, "CELL_SETS_UPDATE_FAILED");
  assert.match(n.response.userMessage!, /could not be saved: the API answered 503 \(3 attempts\)/);
  const attempts = api.patchesSince(mark);
  assert.equal(attempts.length, 3);
  assert.ok(attempts[1]!.at - attempts[0]!.at >= 90, "backoff before the second attempt");
  assert.ok(attempts[2]!.at - attempts[1]!.at >= 190, "doubled before the third");
  const broadcast = events.find((e) => e.event === `ExperimentUpdates-${EXPERIMENT}`)!.payload as Notification;
  assert.equal(broadcast.response.error, true);
  assert.equal(broadcast.response.errorCode, "CELL_SETS_UPDATE_FAILED");

  const transient = request({ name: "ClusterCells", type: "louvain", config: { resolution: 0.8 } });
  const mark2 = api.requests.length;
  api.failNext(1, 500);
  const ok = await ask(transient);
  assert.equal((ok.payload as Notification).response.error, false);
  assert.equal(api.patchesSince(mark2).length, 2);
});

test("progress heartbeats during a long computation: rising percentages, at most one every 2 s", async () => {
  const r = request({ name: "DifferentialExpression", cellSet: "louvain-1", compareWith: "rest", basis: "all" });
  const { payload, events } = await ask(r);
  assert.equal(typeof payload === "string" || (payload as Notification).response.error === false, true);
  const beats = events.filter((e) => e.event === `Heartbeat-${EXPERIMENT}`);
  const codes = beats.map((e) => (e.payload as HeartbeatJson).status_code);
  assert.equal(codes[0], "STARTED_TASK");
  assert.deepEqual(codes.slice(-3), ["COMPRESSING_DATA", "UPLOADING_DATA", "FINISHED_TASK"]);
  const progress = beats.filter((e) => (e.payload as HeartbeatJson).progress_percent !== null);
  assert.ok(progress.length >= 1, "at least one progress heartbeat");
  let last = 0;
  for (const [i, e] of progress.entries()) {
    const h = e.payload as HeartbeatJson;
    assert.equal(h.status_code, "STARTED_TASK");
    assert.equal(h.user_message, "Working on the requested task Differential Expression");
    assert.ok(Number.isInteger(h.progress_percent) && h.progress_percent! > last && h.progress_percent! <= 100, `progress ${h.progress_percent} after ${last}`);
    last = h.progress_percent!;
    if (i > 0) assert.ok(e.at - progress[i - 1]!.at >= 1800, "at most one progress heartbeat every 2 s");
  }
});

test("a 2021 request (uuid) to the same worker is answered the 2021 way, on SNS", async () => {
  const uuid = randomUUID();
  const mark = client.seen.length;
  await send(JSON.stringify({ uuid, socketId: "it", experimentId: EXPERIMENT, timeout: new Date(Date.now() + 600_000).toISOString(), body: { name: "GetEmbedding", type: "pca" } }));
  let found: { request: { uuid: string }; results: { body: string }[]; response: { error: boolean } } | undefined;
  const deadline = Date.now() + 60_000;
  while (!found && Date.now() < deadline) {
    const out = await sqs.sqs.send(new ReceiveMessageCommand({ QueueUrl: legacy.listenerUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of out.Messages ?? []) {
      const msg = JSON.parse(m.Body!);
      if (msg.request?.uuid === uuid) found = msg;
      await sqs.sqs.send(new DeleteMessageCommand({ QueueUrl: legacy.listenerUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
  assert.ok(found, "a response on the topic");
  assert.equal(found.response.error, false);
  assert.equal((JSON.parse(found.results[0]!.body) as unknown[]).length, 2700);
  assert.deepEqual(client.seen.slice(mark).filter((e) => !e.event.startsWith("Heartbeat-")), [], "no socket events for a 2021 request");
});

test("a file result (the normalized-matrix gzip CSV) is stored byte for byte, without zstd, with both tags; never inline", async () => {
  // the publisher in process, on the same Redis and S3 as the worker
  const events = new RedisSocketEvents({ url: redis.url, tls: false, rejectUnauthorized: true }, () => {});
  const publisher = new CurrentPublisher({ store: new S3ObjectStore(s3.s3, BUCKETS.results), events, log: () => {} });
  try {
    const bytes = randomBytes(9 * 1024 * 1024 + 123); // more than one 8 MiB part
    let opened = 0;
    const file: FileResult = {
      kind: "file", contentType: "text/csv", contentEncoding: "gzip",
      open: () => { opened++; return Readable.from((function* () { for (let o = 0; o < bytes.length; o += 1 << 20) yield bytes.subarray(o, o + (1 << 20)); })()); },
    };
    const r = request({ name: "GetNormalizedExpression", subsetBy: {} });
    const raw = JSON.parse(r.json) as Record<string, unknown>;
    const mark = client.seen.length;
    client.subscribe(`WorkResponse-${r.etag}`);
    await publisher.publish({ era: "current", id: r.etag, experimentId: EXPERIMENT, taskName: "GetNormalizedExpression", echo: raw }, { ok: true, data: file, cacheable: true });
    const [response] = await client.waitFor(`WorkResponse-${r.etag}`);
    assert.deepEqual((response!.payload as Notification).response, { cacheable: true, error: false, signedUrl: r.signedUrl });
    assert.equal(opened, 1);
    const object = await stored(r.etag);
    assert.ok(object && Buffer.from(object.bytes).equals(bytes), "stored as it is");
    assert.deepEqual(object.tags, { experimentId: EXPERIMENT, requestType: "GetNormalizedExpression" });
    assert.deepEqual(heartbeats(client.seen.slice(mark)).map((h) => h.status_code), ["UPLOADING_DATA", "FINISHED_TASK"]);
  } finally {
    await events.close();
  }
});

const unregistered = (name: string): string | false => (registry.has(name) ? false : `${name} is not registered yet`);

test("GetExpressionCellSets: the new set is PATCHed into scratchpad; an empty set is R_WORKER_EMPTY_CELL_SET, as the UI expects", { skip: unregistered("GetExpressionCellSets") }, async () => {
  const r = request({ name: "GetExpressionCellSets", genesConfig: [{ geneName: "CST3", comparisonType: "greaterThan", thresholdValue: 0.5 }] }, {
    requestProps: { broadcast: true, cacheUniquenessKey: null },
  });
  const mark = api.requests.length;
  const { payload, events } = await ask(r);
  assert.deepEqual((payload as Notification).response, { cacheable: false, error: false, signedUrl: r.signedUrl });
  const broadcast = events.find((e) => e.event === `ExperimentUpdates-${EXPERIMENT}`)!.payload as Notification;
  assert.equal((broadcast.request.body as { name: string }).name, "GetExpressionCellSets");
  assertNoSecrets(broadcast, r.signedUrl);
  const [patch, ...more] = api.patchesSince(mark);
  assert.ok(patch);
  assert.equal(more.length, 0);
  assert.equal(patch.headers.authorization, JWT);
  const body = JSON.parse(patch.body) as [{ $match: { query: string; value: { children: [{ $insert: { index: string; value: { key: string; name: string; rootNode: boolean; cellIds: number[] } } }] } } }];
  assert.equal(body.length, 1);
  assert.equal(body[0].$match.query, '$[?(@.key == "scratchpad")]');
  const insert = body[0].$match.value.children[0].$insert;
  assert.equal(insert.index, "-");
  assert.equal(insert.value.name, "CST3>0.5");
  assert.equal(insert.value.rootNode, false);
  assert.ok(insert.value.cellIds.length > 100 && insert.value.cellIds.length < 2700);

  const empty = request({ name: "GetExpressionCellSets", genesConfig: [{ geneName: "CST3", comparisonType: "greaterThan", thresholdValue: 1e9 }] }, {
    requestProps: { broadcast: true, cacheUniquenessKey: null },
  });
  const mark2 = api.requests.length;
  const failed = await ask(empty);
  const n = failed.payload as Notification;
  assert.equal(n.response.errorCode, "R_WORKER_EMPTY_CELL_SET");
  assert.equal(n.response.userMessage, "No cells match requested filters.");
  const b = failed.events.find((e) => e.event === `ExperimentUpdates-${EXPERIMENT}`)!.payload as Notification;
  assert.equal(b.response.errorCode, "R_WORKER_EMPTY_CELL_SET");
  assert.equal(api.patchesSince(mark2).length, 0, "nothing to save");
});

test("GetNormalizedExpression through the worker: the gzip CSV stored as it is under the ETag", { skip: unregistered("GetNormalizedExpression") }, async () => {
  const r = request({ name: "GetNormalizedExpression", subsetBy: { louvain: ["louvain-8"], sample: [], metadata: [], customCellSets: [] } });
  const { payload, events } = await ask(r);
  assert.deepEqual((payload as Notification).response, { cacheable: true, error: false, signedUrl: r.signedUrl });
  const object = await stored(r.etag);
  assert.ok(object);
  assert.equal(Buffer.from(object.bytes.subarray(0, 2)).toString("hex"), "1f8b", "gzip, not zstd");
  assert.deepEqual(object.tags, { experimentId: EXPERIMENT, requestType: "GetNormalizedExpression" });
  const lines = gunzipSync(object.bytes).toString("utf8").trimEnd().split("\n");
  assert.equal(lines.length, 32738 + 1);
  assert.ok(lines[0]!.startsWith(", ,"));
  assert.ok(!heartbeats(events).some((h) => h.status_code === "COMPRESSING_DATA"));
});

// last: the experiment keeps the cell sets it read from the bucket
test("cell sets are read from the cell-sets bucket for every request", async () => {
  const key = "it-custom-set";
  const de = (): { etag: string; json: string; signedUrl: string } => request({ name: "DifferentialExpression", cellSet: key, compareWith: "background", basis: "all", genesOnly: true }, {
    requestProps: { broadcast: false, cacheUniquenessKey: null, pagination: { orderBy: "p_val", orderDirection: "ASC", offset: 0, limit: 5, responseKey: 0 } },
  });
  const missing = await ask(de());
  assert.equal((missing.payload as Notification).response.error, true, "the set does not exist yet");
  const cellSets = {
    cellSets: [
      { key: "louvain", name: "louvain clusters", rootNode: true, type: "cellSets", children: [0, 1].map((half) => ({ key: `louvain-${half}`, name: `Cluster ${half}`, rootNode: false, type: "cellSets", color: "#00ff00", cellIds: Array.from({ length: 1350 }, (_, i) => half * 1350 + i) })) },
      { key: "scratchpad", name: "Custom cell sets", rootNode: true, type: "cellSets", children: [{ key, name: "first 300", rootNode: false, color: "#ff0000", cellIds: Array.from({ length: 300 }, (_, i) => i) }] },
    ],
  };
  await putObject(s3.s3, BUCKETS.cellSets, EXPERIMENT, JSON.stringify(cellSets));
  try {
    const found = await ask(de());
    assert.equal(typeof found.payload, "string", JSON.stringify(found.payload));
    const result = decodeInline(found.payload as string) as { data: { gene_names: string[] } };
    assert.equal(result.data.gene_names.length, 5);
  } finally {
    await s3.s3.send(new DeleteObjectCommand({ Bucket: BUCKETS.cellSets, Key: EXPERIMENT }));
  }
});
