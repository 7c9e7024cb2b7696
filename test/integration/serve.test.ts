/**
 * `cellworker serve` end to end against SQS/SNS/S3/DynamoDB emulators on loopback: real
 * messages in, real SNS deliveries out (read from a queue subscribed to the topic).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, gunzipSync } from "node:zlib";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { PBMC_SMALL, ROOT } from "../helpers.ts";
import {
  EXPERIMENT, queueUrl, request, Responses, send, startStack, startWorker, stopWorker, type Stack, type WorkerProcess,
} from "./harness.ts";

let stack: Stack;
let responses: Responses;
const workers: WorkerProcess[] = [];
let queueCount = 0;

before(async () => {
  stack = await startStack();
  responses = new Responses(stack);
});
after(async () => {
  await Promise.all(workers.map(stopWorker));
  await stack.stop();
});

/** A fresh queue and a worker on it. */
async function workerOnNewQueue(extra: Record<string, string> = {}): Promise<{ url: string; w: WorkerProcess; name: string }> {
  const name = `it-${++queueCount}-${process.pid}.fifo`;
  const url = await queueUrl(stack, name);
  const w = startWorker(stack, { WORK_QUEUE: name, ...extra });
  workers.push(w);
  return { url, w, name };
}

const body = (r: { results: { body: string }[] }): unknown => JSON.parse(r.results[0]!.body);

test("the original README's three sample requests are answered on the topic", async () => {
  const { url, w } = await workerOnNewQueue();
  const sent = [];
  for (const file of ["get-embedding-pca", "list-genes", "gene-expression"]) {
    const sample = JSON.parse(readFileSync(join(ROOT, "examples", "requests", `${file}.json`), "utf8"));
    const r = request(sample.body);
    sent.push(r);
    await send(stack, url, r.json);
  }
  const [pca, genes, expression] = await Promise.all(sent.map((r) => responses.for(r.uuid)));
  for (const rs of [pca, genes, expression]) {
    assert.equal(rs!.length, 1);
    assert.deepEqual(rs![0]!.response, { cacheable: true, error: false });
    assert.equal(rs![0]!.results[0]!.type, "inline");
  }
  const embedding = body(pca![0]!) as unknown[];
  assert.equal(embedding.length, 2700);
  const list = body(genes![0]!) as { total: number; gene_names: string[] };
  assert.equal(list.total, 32738);
  assert.deepEqual(list.gene_names.slice(0, 3), ["PPBP", "LYZ", "S100A9"]);
  const expr = body(expression![0]!) as { orderedGeneNames: string[]; cellIds: number[] };
  assert.deepEqual(expr.orderedGeneNames, ["TGFB1", "CST3"]);
  assert.ok(expr.cellIds.length > 2000);
  const line = await w.waitForLog(/"message":"request".*"task":"ListGenes"/);
  assert.match(line, /"outcome":"ok"/);
  assert.doesNotMatch(w.logs.join("\n"), /"body":\{/); // no request bodies in logs
});

test("a valid request too large to echo on SNS (300 kB) is still answered: its echo keeps the identifying fields", async () => {
  const { url } = await workerOnNewQueue();
  // valid, but the echo alone (an extra 300 kB field) is over SNS's limit
  const r = request({ name: "GetEmbedding", type: "pca" }, { padding: "x".repeat(300_000) });
  await send(stack, url, r.json);
  const [response] = await responses.for(r.uuid);
  assert.deepEqual(response!.response, { cacheable: true, error: false });
  const echo = response!.request as Record<string, unknown>;
  assert.equal(echo.uuid, r.uuid);
  assert.equal(echo.socketId, "it");
  assert.equal(echo.experimentId, EXPERIMENT);
  assert.deepEqual(echo.body, { name: "GetEmbedding" });
  assert.equal(echo.padding, undefined, "the large field is not echoed");
});

test("a result too large for SNS is offloaded to S3 and can be read back", async () => {
  const { url } = await workerOnNewQueue();
  const r = request({ name: "ListGenes", selectFields: ["gene_names", "gene_ids", "dispersions", "means"], orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: 100000 });
  await send(stack, url, r.json);
  const [response] = await responses.for(r.uuid);
  assert.equal(response!.results[0]!.type, "s3-path");
  const [bucket, ...key] = response!.results[0]!.body.split("/");
  assert.equal(bucket, "worker-results-test");
  assert.equal(key[0], r.uuid);
  const object = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key.join("/") }));
  const result = JSON.parse(await object.Body!.transformToString());
  assert.equal(result.total, 32738);
  assert.equal(result.gene_ids.length, 32738);
});

test("expired, malformed and unknown-task requests: dropped, deleted, answered with an error", async () => {
  const { url, w } = await workerOnNewQueue();
  const expired = request({ name: "ListGenes", selectFields: ["gene_names"], orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: 1 }, { timeout: "2000-01-01T00:00:00Z" });
  const unknown = request({ name: "Frobnicate" });
  const invalid = request({ name: "GeneExpression", genes: "CST3" });
  await send(stack, url, expired.json);
  await send(stack, url, "{this is not json");
  await send(stack, url, unknown.json);
  await send(stack, url, invalid.json);
  const [u] = await responses.for(unknown.uuid);
  assert.equal(u!.response.error, true);
  assert.equal(u!.response.errorCode, "TASK_NOT_FOUND");
  assert.deepEqual(JSON.parse(u!.results[0]!.body), { errorCode: "TASK_NOT_FOUND", userMessage: 'Unknown task "Frobnicate".' });
  const [i] = await responses.for(invalid.uuid);
  assert.equal(i!.response.errorCode, "INVALID_INPUT");
  assert.match(i!.response.userMessage!, /^body\.genes/);
  assert.deepEqual(await responses.after(expired.uuid, 1500), []);
  await w.waitForLog(/expired request dropped/);
  await w.waitForLog(/unparseable message deleted/);
  const attrs = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }));
  assert.equal(attrs.Attributes!.ApproximateNumberOfMessages, "0");
  assert.equal(attrs.Attributes!.ApproximateNumberOfMessagesNotVisible, "0");
  assert.equal(w.proc.exitCode, null, "the worker is still running");
});

test("a poison message (delivered more than MAX_RECEIVE_COUNT times) is answered with an error and deleted", async () => {
  const name = `it-poison-${process.pid}.fifo`;
  const url = await queueUrl(stack, name);
  const r = request({ name: "GetEmbedding", type: "pca" });
  await send(stack, url, r.json);
  for (let i = 0; i < 3; i++) { // three failed deliveries, as if three workers had died on it
    const out = await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0, WaitTimeSeconds: 1 }));
    assert.equal(out.Messages?.length, 1);
  }
  const w = startWorker(stack, { WORK_QUEUE: name, MAX_RECEIVE_COUNT: "3" });
  workers.push(w);
  const [response] = await responses.for(r.uuid);
  assert.equal(response!.response.error, true);
  assert.equal(response!.response.errorCode, "WORKER_ERROR");
  assert.match(response!.response.userMessage!, /failed 3 times/);
  await w.waitForLog(/poison message/);
});

test("a worker killed with SIGKILL mid-task loses nothing: the next worker answers", async () => {
  const { url, w, name } = await workerOnNewQueue({ VISIBILITY_TIMEOUT: "10" });
  const r = request({ name: "GetEmbedding", type: "tsne", config: { perplexity: 29, learningRate: 200 } });
  await send(stack, url, r.json);
  await w.waitForLog(/task started.*GetEmbedding/);
  w.proc.kill("SIGKILL");
  await w.exited;
  const next = startWorker(stack, { WORK_QUEUE: name, VISIBILITY_TIMEOUT: "10" });
  workers.push(next);
  const rs = await responses.for(r.uuid, 90_000);
  assert.equal(rs.length, 1);
  assert.equal(rs[0]!.response.error, false);
  assert.equal((body(rs[0]!) as unknown[]).length, 2700);
  await next.waitForLog(/task started.*"receiveCount":2/);
});

test("SIGTERM during a task: the task finishes, its response is published, the worker exits 0", async () => {
  const { url, w } = await workerOnNewQueue({ SHUTDOWN_GRACE: "60" });
  const r = request({ name: "GetEmbedding", type: "umap", config: { minimumDistance: 0.31, distanceMetric: "euclidean" } });
  await send(stack, url, r.json);
  await w.waitForLog(/task started.*GetEmbedding/);
  w.proc.kill("SIGTERM");
  assert.equal(await w.exited, 0);
  const rs = await responses.for(r.uuid);
  assert.equal(rs.length, 1);
  assert.equal(rs[0]!.response.error, false);
  assert.ok(w.logs.some((l) => /"message":"stopping".*SIGTERM/.test(l)));
});

test("SIGTERM with no grace hands the running message back to the queue", async () => {
  const { url, w, name } = await workerOnNewQueue({ SHUTDOWN_GRACE: "0", VISIBILITY_TIMEOUT: "60" });
  const r = request({ name: "GetEmbedding", type: "umap", config: { minimumDistance: 0.32, distanceMetric: "cosine" } });
  await send(stack, url, r.json);
  await w.waitForLog(/task started/);
  w.proc.kill("SIGTERM");
  await w.exited;
  // visibility was 60 s: only the hand-back makes it available to the next worker this soon
  const next = startWorker(stack, { WORK_QUEUE: name });
  workers.push(next);
  const rs = await responses.for(r.uuid, 45_000);
  assert.ok(rs.length >= 1);
  assert.ok(rs.every((x) => x.results[0]!.body === rs[0]!.results[0]!.body), "duplicates are identical");
});

test("a queue that appears after the worker started is found (with backoff, no hot loop)", async () => {
  const name = `it-late-${process.pid}.fifo`;
  const w = startWorker(stack, { WORK_QUEUE: name });
  workers.push(w);
  await w.waitForLog(/queue does not exist yet/);
  await new Promise((r) => setTimeout(r, 2500));
  const lookups = w.logs.filter((l) => /queue does not exist yet/.test(l)).length;
  assert.ok(lookups <= 3, `${lookups} lookups in ~3 s`);
  const url = await queueUrl(stack, name);
  const r = request({ name: "GetEmbedding", type: "pca" });
  await send(stack, url, r.json);
  const rs = await responses.for(r.uuid, 60_000);
  assert.equal(rs[0]!.response.error, false);
});

test("changed data in S3 is synced and used by the next request", async () => {
  const id = "resync-experiment";
  const put = (file: string, bytes: Buffer): Promise<unknown> => stack.s3.send(new PutObjectCommand({ Bucket: "biomage-source-test", Key: `${id}/${file}`, Body: bytes }));
  for (const f of ["matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz"]) await put(f, readFileSync(join(PBMC_SMALL, f)));
  const { url } = await workerOnNewQueue({ EXPERIMENT_ID: id });
  const ask = async (): Promise<{ means: number[] }> => {
    const r = request({ name: "ListGenes", selectFields: ["gene_names", "means"], orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: 5 }, { experimentId: id });
    await send(stack, url, r.json);
    const [response] = await responses.for(r.uuid);
    assert.equal(response!.response.error, false, JSON.stringify(response!.response));
    return body(response!) as { means: number[] };
  };
  const before = await ask();
  // double every count
  const text = gunzipSync(readFileSync(join(PBMC_SMALL, "matrix.mtx.gz"))).toString();
  let header = 0;
  const doubled = text.split("\n").map((line) => {
    if (line.startsWith("%") || line === "") return line;
    if (header++ === 0) return line;
    const [g, c, v] = line.split(" ");
    return `${g} ${c} ${Number(v) * 2}`;
  }).join("\n");
  await put("matrix.mtx.gz", gzipSync(doubled));
  const afterChange = await ask();
  afterChange.means.forEach((m, i) => assert.ok(Math.abs(m - 2 * before.means[i]!) < 1e-9, `${m} vs 2 x ${before.means[i]}`));
});

test("a request for another experiment is refused, and the idle timeout exits 0", async () => {
  const { url, w } = await workerOnNewQueue({ WORK_TIMEOUT: "4" });
  const r = request({ name: "GetEmbedding", type: "pca" }, { experimentId: "someone-else" });
  await send(stack, url, r.json);
  const [response] = await responses.for(r.uuid);
  assert.equal(response!.response.errorCode, "INVALID_INPUT");
  assert.match(response!.response.userMessage!, new RegExp(`serves experiment ${EXPERIMENT}`));
  assert.equal(await w.exited, 0);
  assert.ok(w.logs.some((l) => /idle timeout exceeded/.test(l)));
});

test("a task past TASK_TIMEOUT is stopped: TIMEOUT error response, and the worker goes on", async () => {
  const { url, w } = await workerOnNewQueue({ TASK_TIMEOUT: "1" });
  const slow = request({ name: "GetEmbedding", type: "tsne", config: { perplexity: 28, learningRate: 200 } });
  const quick = request({ name: "GetEmbedding", type: "pca" });
  await send(stack, url, slow.json);
  await send(stack, url, quick.json);
  const [timedOut] = await responses.for(slow.uuid);
  assert.equal(timedOut!.response.errorCode, "TIMEOUT");
  assert.match(timedOut!.response.userMessage!, /longer than 1 s/);
  const [ok] = await responses.for(quick.uuid);
  assert.equal(ok!.response.error, false);
  await w.waitForLog(/passed its time limit/);
});
