/**
 * `cellworker serve` (2021 protocol) while the infrastructure fails, against the emulators with
 * injected faults (tools/infra/faults.ts): SQS receive, SNS publish, the S3 offload upload, the S3
 * sync of the experiment and DynamoDB each down (connection dropped) or throttled (the services'
 * real throttling errors, so the AWS SDK's own retries run) for a few seconds, then back. In
 * every case the worker waits with backoff (requests are counted: no hot loop), nothing is lost,
 * nothing is computed or answered twice, and it answers once the fault clears. Then damaged
 * data: truncated and corrupt data files and cell sets that are not JSON are answered with
 * DATA_INVALID naming the problem, the worker stays up, and good data is used again once
 * uploaded. (The current protocol's S3 and cell-sets bucket: faults-current.test.ts.)
 */
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { PBMC_SMALL } from "../helpers.ts";
import {
  queueUrl, request, Responses, send, startStack, startWorker, stopWorker, type Stack, type WorkerProcess, type WorkResponseJson,
} from "./harness.ts";

let stack: Stack;
let responses: Responses;
let dynamo: DynamoDBClient;
const workers: WorkerProcess[] = [];
let queueCount = 0;

before(async () => {
  stack = await startStack();
  responses = new Responses(stack);
  dynamo = new DynamoDBClient({ region: stack.emu.region, endpoint: stack.emu.dynamoEndpoint, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
});
afterEach(() => stack.emu.faults.clear()); // also when a test failed half-way
after(async () => {
  await Promise.all(workers.map(stopWorker));
  dynamo.destroy();
  await stack.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const LIST_GENES = { name: "ListGenes", selectFields: ["gene_names", "means"], orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: 3 };
const BIG_LIST_GENES = { name: "ListGenes", selectFields: ["gene_names", "gene_ids", "dispersions", "means"], orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: 100000 };

/** A fresh queue and a worker on it, ready to receive. */
async function workerOnNewQueue(extra: Record<string, string> = {}): Promise<{ url: string; w: WorkerProcess; name: string }> {
  const name = `faults-${++queueCount}-${process.pid}.fifo`;
  const url = await queueUrl(stack, name);
  const w = startWorker(stack, { WORK_QUEUE: name, ...extra });
  workers.push(w);
  await w.waitForLog(/queue found/);
  return { url, w, name };
}

/** The one response to a request: waits for it, then makes sure no second one follows. */
async function onlyResponse(uuid: string, ms = 60_000): Promise<WorkResponseJson> {
  const first = await responses.for(uuid, ms);
  assert.equal(first.length, 1, `responses for ${uuid}`);
  const all = await responses.after(uuid, 2000);
  assert.equal(all.length, 1, "answered exactly once");
  return all[0]!;
}

const logsAbout = (w: WorkerProcess, uuid: string, message: RegExp): string[] => w.logs.filter((l) => l.includes(uuid) && message.test(l));
const alive = (w: WorkerProcess): boolean => w.proc.exitCode === null && w.proc.signalCode === null;

test("SQS receive down for 6 s: the worker polls with backoff (no hot loop), then answers once", async () => {
  const { url, w, name } = await workerOnNewQueue();
  const receives = new RegExp(`^sqs ReceiveMessage ${name.replace(".", "\\.")}$`);
  const t0 = Date.now();
  stack.emu.faults.set({ sqs: { mode: "down", only: receives } });
  const r = request(LIST_GENES);
  await send(stack, url, r.json);
  await sleep(6000);
  const dropped = stack.emu.faults.seen({ match: receives, since: t0 }).filter((x) => x.fault === "down").length;
  stack.emu.faults.clear();
  // the SDK tries 3 times per call; the worker waits 1, 2, 4 s between calls
  assert.ok(dropped >= 6 && dropped <= 12, `${dropped} receive requests in 6 s`);
  const backoffs = w.logs.filter((l) => /receive failed; backing off/.test(l)).map((l) => (JSON.parse(l) as { retryInMs: number }).retryInMs);
  assert.deepEqual(backoffs.slice(0, 3), [1000, 2000, 4000]);
  const response = await onlyResponse(r.uuid, 30_000);
  assert.equal(response.response.error, false);
  assert.ok(alive(w));
});

test("SQS receive throttled (RequestThrottled): the SDK retries, the worker backs off, then answers once", async () => {
  const { url, w, name } = await workerOnNewQueue();
  const receives = new RegExp(`^sqs ReceiveMessage ${name.replace(".", "\\.")}$`);
  stack.emu.faults.set({ sqs: { mode: "throttle", only: receives } });
  const r = request(LIST_GENES);
  await send(stack, url, r.json);
  await w.waitForLog(/receive failed; backing off.*Request is throttled/);
  await sleep(2000);
  stack.emu.faults.clear();
  assert.equal((await onlyResponse(r.uuid, 30_000)).response.error, false);
});

test("SQS DeleteMessage down for 3 s after the response went out: the delete is retried, so the request is not answered twice", async () => {
  const { url, w, name } = await workerOnNewQueue();
  const deletes = new RegExp(`^sqs DeleteMessage ${name.replace(".", "\\.")}$`);
  stack.emu.faults.set({ sqs: { mode: "down", only: deletes } });
  const r = request(LIST_GENES);
  await send(stack, url, r.json);
  const [first] = await responses.for(r.uuid, 30_000);
  assert.ok(first);
  await w.waitForLog(/delete failed; retrying/, 10_000);
  await sleep(2000);
  stack.emu.faults.clear();
  // visibility is 10 s: a message left undeleted would be delivered and answered again
  assert.equal((await responses.after(r.uuid, 12_000)).length, 1, "answered exactly once");
  assert.equal(logsAbout(w, r.uuid, /task started/).length, 1);
  assert.ok(!w.logs.some((l) => /delete failed \(the message may be delivered again\)/.test(l)));
});

for (const mode of ["down", "throttle"] as const) {
  test(`SNS publish ${mode === "down" ? "down" : "throttled (Throttling)"} for a while: retried in place, computed once, answered once after recovery`, async () => {
    const { url, w } = await workerOnNewQueue();
    stack.emu.faults.set({ sns: { mode, only: /^sns Publish$/ } });
    const r = request(LIST_GENES);
    await send(stack, url, r.json);
    await w.waitForLog(new RegExp(`publishing the response failed; retrying.*${r.uuid}.*"attempt":2`), 30_000);
    stack.emu.faults.clear();
    const response = await onlyResponse(r.uuid);
    assert.equal(response.response.error, false);
    assert.deepEqual((JSON.parse(response.results[0]!.body) as { gene_names: string[] }).gene_names.length, 3);
    assert.equal(logsAbout(w, r.uuid, /task started/).length, 1, "computed once");
    assert.match(logsAbout(w, r.uuid, /task started/)[0]!, /"receiveCount":1/);
    assert.equal(logsAbout(w, r.uuid, /handed back|returned to the queue/).length, 0);
    assert.ok(logsAbout(w, r.uuid, /publishing the response succeeded after a retry/).length === 1);
  });
}

for (const mode of ["down", "throttle"] as const) {
  test(`S3 offload upload ${mode === "down" ? "down" : "throttled (SlowDown)"}: retried in place, then the s3-path response, once`, async () => {
    const { url, w } = await workerOnNewQueue();
    stack.emu.faults.set({ s3: { mode, only: /^s3 PUT \/worker-results-test\// } });
    const r = request(BIG_LIST_GENES);
    await send(stack, url, r.json);
    await w.waitForLog(new RegExp(`publishing the response failed; retrying.*${r.uuid}`), 30_000);
    await sleep(1500);
    stack.emu.faults.clear();
    const response = await onlyResponse(r.uuid);
    assert.equal(response.results[0]!.type, "s3-path");
    const [bucket, ...key] = response.results[0]!.body.split("/");
    const object = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key.join("/") }));
    assert.equal((JSON.parse(await object.Body!.transformToString()) as { total: number }).total, 32738);
    assert.equal(logsAbout(w, r.uuid, /task started/).length, 1);
  });
}

test("S3 unavailable (503) while the experiment is synced: the request waits, then gets its real answer (not an error)", async () => {
  const { url, w } = await workerOnNewQueue();
  await w.waitForLog(/experiment data synced|"message":"worker started"/);
  stack.emu.faults.set({ s3: { mode: "unavailable", only: /^s3 GET \/biomage-source-test/ } });
  const r = request(LIST_GENES);
  await send(stack, url, r.json);
  await w.waitForLog(new RegExp(`loading the experiment failed; retrying.*${r.uuid}`), 30_000);
  await sleep(1500);
  stack.emu.faults.clear();
  const response = await onlyResponse(r.uuid);
  assert.equal(response.response.error, false, JSON.stringify(response.response));
});

test("DynamoDB throttled while the cell sets are read: waited out, then answered", async () => {
  const { url, w } = await workerOnNewQueue({ AWS_ENDPOINT_URL_DYNAMODB: stack.emu.endpoint });
  stack.emu.faults.set({ dynamodb: { mode: "throttle", only: /^dynamodb GetItem$/ } });
  const r = request({ name: "GetEmbedding", type: "pca" });
  await send(stack, url, r.json);
  await w.waitForLog(new RegExp(`loading the experiment failed; retrying.*${r.uuid}`), 30_000);
  stack.emu.faults.clear();
  const response = await onlyResponse(r.uuid);
  assert.equal(response.response.error, false, JSON.stringify(response.response));
});

// damaged data: an experiment of its own (pbmc_small)

const DAMAGED = "damaged-data-experiment";
const putSource = (file: string, body: Buffer | string): Promise<unknown> =>
  stack.s3.send(new PutObjectCommand({ Bucket: "biomage-source-test", Key: `${DAMAGED}/${file}`, Body: body }));

async function ask(url: string, body: Record<string, unknown> = LIST_GENES): Promise<WorkResponseJson> {
  const r = request(body, { experimentId: DAMAGED });
  await send(stack, url, r.json);
  const [response] = await responses.for(r.uuid);
  return response!;
}

test("a truncated or corrupt data file: DATA_INVALID naming the file and the problem, the worker stays up; a good file is used again", async () => {
  for (const f of ["matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz"]) await putSource(f, readFileSync(join(PBMC_SMALL, f)));
  const { url, w } = await workerOnNewQueue({ EXPERIMENT_ID: DAMAGED });
  assert.equal((await ask(url)).response.error, false);

  const matrix = readFileSync(join(PBMC_SMALL, "matrix.mtx.gz"));
  await putSource("matrix.mtx.gz", matrix.subarray(0, Math.floor(matrix.length / 2)));
  const truncated = await ask(url);
  assert.equal(truncated.response.errorCode, "DATA_INVALID");
  assert.equal(truncated.response.userMessage, "matrix.mtx.gz: the gzip stream is truncated (unexpected end of file)", "names the file, not where the worker keeps it");

  await putSource("matrix.mtx.gz", randomBytes(4000));
  const corrupt = await ask(url);
  assert.equal(corrupt.response.errorCode, "DATA_INVALID");
  assert.match(corrupt.response.userMessage!, /^matrix\.mtx\.gz: not valid gzip data/);

  await putSource("matrix.mtx.gz", matrix);
  await putSource("features.tsv.gz", gzipSync("not a features table"));
  const garbage = await ask(url);
  assert.equal(garbage.response.errorCode, "DATA_INVALID");
  assert.match(garbage.response.userMessage!, /^features\.tsv\.gz: has 1 genes but matrix\.mtx\.gz has 230 rows$/);
  assert.ok(alive(w));

  await putSource("features.tsv.gz", readFileSync(join(PBMC_SMALL, "features.tsv.gz")));
  const healed = await ask(url);
  assert.equal(healed.response.error, false, JSON.stringify(healed.response));
  assert.equal((JSON.parse(healed.results[0]!.body) as { total: number }).total, 230);
  assert.ok(alive(w));
});

test("cell sets that are not valid (DynamoDB item with garbage; cell-sets.json that is not JSON): DATA_INVALID, worker up, fixed data used", async () => {
  const table = "experiments-test";
  const putItem = (cellSets: unknown): Promise<unknown> => dynamo.send(new PutItemCommand({ TableName: table, Item: marshall({ experimentId: DAMAGED, cellSets }) }));
  const { url, w } = await workerOnNewQueue({ EXPERIMENT_ID: DAMAGED });
  for (const garbage of ["{not json", { cellSets: 42 }, [{ key: "louvain", children: "nope" }]]) {
    await putItem(garbage);
    const response = await ask(url, { name: "GetEmbedding", type: "pca" });
    assert.equal(response.response.errorCode, "DATA_INVALID", JSON.stringify(garbage));
    assert.equal(response.response.userMessage, `The cell sets stored for experiment ${DAMAGED} (DynamoDB ${table}) are not valid Cellenics cell sets.`);
  }
  assert.ok(alive(w));
  await putItem([]);
  assert.equal((await ask(url, { name: "GetEmbedding", type: "pca" })).response.error, false);

  // the 2021 alternative: cell-sets.json beside the data in the source bucket
  const { url: url2, w: w2 } = await workerOnNewQueue({ EXPERIMENT_ID: DAMAGED, CELL_SETS_SOURCE: "s3" });
  await putSource("cell-sets.json", "{not json");
  const notJson = await ask(url2, { name: "GetEmbedding", type: "pca" });
  assert.equal(notJson.response.errorCode, "DATA_INVALID");
  assert.equal(notJson.response.userMessage, "cell-sets.json: cell sets are not valid JSON");
  assert.ok(alive(w2));
  await putSource("cell-sets.json", JSON.stringify({ cellSets: [{ key: "louvain", name: "louvain clusters", rootNode: true, type: "cellSets", children: [{ key: "louvain-0", name: "all", rootNode: false, type: "cellSets", color: "#000000", cellIds: Array.from({ length: 80 }, (_, i) => i) }] }] }));
  const fixed = await ask(url2, { name: "GeneExpression", genes: ["MS4A1"], cellSets: ["louvain-0"] });
  assert.equal(fixed.response.error, false, JSON.stringify(fixed.response));
});
