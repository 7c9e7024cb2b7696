/**
 * The emulators' fault switch (tools/infra/faults.ts) as the AWS SDK sees it: `down` drops the
 * connection, `unavailable` is a 503, `throttle` the service's own throttling error; the SDK
 * retries each (3 attempts); `only` and `count` narrow a fault; requests are recorded; SQS in
 * the query protocol gets its XML error; the stand-alone proxy passes requests through.
 */
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { CreateTopicCommand, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { startEmulators, type Emulators } from "../../tools/infra/emulators.ts";
import { startFaultProxy } from "../../tools/infra/faults.ts";

let emu: Emulators;
let sqs: SQSClient;
let sns: SNSClient;
let s3: S3Client;
let dynamo: DynamoDBClient;
let queueUrl: string;
let topicArn: string;

before(async () => {
  emu = await startEmulators({});
  const common = { region: emu.region, endpoint: emu.endpoint, credentials: { accessKeyId: "t", secretAccessKey: "t" }, maxAttempts: 3 };
  sqs = new SQSClient(common);
  sns = new SNSClient(common);
  s3 = new S3Client({ ...common, forcePathStyle: true });
  dynamo = new DynamoDBClient(common);
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "faults-queue" }))).QueueUrl!;
  topicArn = (await sns.send(new CreateTopicCommand({ Name: "faults-topic" }))).TopicArn!;
  await s3.send(new CreateBucketCommand({ Bucket: "faults-bucket" }));
});
afterEach(() => emu.faults.clear());
after(async () => {
  for (const c of [sqs, sns, s3, dynamo]) c.destroy();
  await emu.stop();
});

interface Seen { name: string; code?: string; status?: number; attempts?: number }

async function failure(call: () => Promise<unknown>): Promise<Seen> {
  try {
    await call();
  } catch (err) {
    const e = err as { name: string; code?: string; $metadata?: { httpStatusCode?: number; attempts?: number } };
    return { name: e.name, ...(e.code ? { code: e.code } : {}), ...(e.$metadata?.httpStatusCode ? { status: e.$metadata.httpStatusCode } : {}), attempts: e.$metadata?.attempts ?? 0 };
  }
  throw new Error("the call succeeded");
}

const calls = {
  sqs: () => sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 })),
  sns: () => sns.send(new PublishCommand({ TopicArn: topicArn, Message: "m" })),
  s3: () => s3.send(new PutObjectCommand({ Bucket: "faults-bucket", Key: "k", Body: "v" })),
  dynamodb: () => dynamo.send(new ListTablesCommand({})),
} as const;

test("down: the connection is dropped; the SDK sees ECONNRESET and tries 3 times", async () => {
  for (const service of ["sqs", "sns", "s3", "dynamodb"] as const) {
    emu.faults.set({ [service]: "down" });
    const t0 = Date.now();
    assert.deepEqual(await failure(calls[service]), { name: "TimeoutError", code: "ECONNRESET", attempts: 3 }, service);
    assert.equal(emu.faults.seen({ service, since: t0 }).filter((r) => r.fault === "down").length, 3);
    emu.faults.clear();
  }
});

test("throttle: each service's real throttling error, retried by the SDK", async () => {
  const expected = {
    sqs: { name: "RequestThrottled", status: 400, attempts: 3 },
    sns: { name: "Throttling", status: 400, attempts: 3 },
    s3: { name: "SlowDown", status: 503, attempts: 3 },
    dynamodb: { name: "ThrottlingException", status: 400, attempts: 3 },
  };
  emu.faults.set({ sqs: "throttle", sns: "throttle", s3: "throttle", dynamodb: "throttle" });
  const seen = await Promise.all((["sqs", "sns", "s3", "dynamodb"] as const).map(async (s) => [s, await failure(calls[s])] as const));
  assert.deepEqual(Object.fromEntries(seen), expected);
});

test("unavailable: HTTP 503 ServiceUnavailable (a HEAD gets the status alone)", async () => {
  emu.faults.set({ sqs: "unavailable", s3: "unavailable" });
  assert.deepEqual(await failure(calls.sqs), { name: "ServiceUnavailable", status: 503, attempts: 3 });
  assert.deepEqual(await failure(calls.s3), { name: "ServiceUnavailable", status: 503, attempts: 3 });
  const head = await failure(() => s3.send(new HeadObjectCommand({ Bucket: "faults-bucket", Key: "k" })));
  assert.equal(head.status, 503);
});

test("`only` limits a fault to matching requests; `count` to the next N; clear() ends it", async () => {
  emu.faults.set({ sqs: { mode: "down", only: /^sqs ReceiveMessage / } });
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "still works" }));
  assert.equal((await failure(calls.sqs)).code, "ECONNRESET");
  emu.faults.set({ sqs: null, s3: { mode: "unavailable", count: 2 } });
  const t0 = Date.now();
  await calls.s3(); // two 503s, then the SDK's third attempt goes through
  assert.deepEqual(emu.faults.seen({ service: "s3", since: t0 }).map((r) => r.fault), ["unavailable", "unavailable", null]);
  const out = await s3.send(new GetObjectCommand({ Bucket: "faults-bucket", Key: "k" }));
  assert.equal(await out.Body!.transformToString(), "v");
  assert.ok((await calls.sqs()) !== undefined);
});

test("SQS in the query protocol (old clients) gets its XML throttling error", async () => {
  emu.faults.set({ sqs: "throttle" });
  const res = await fetch(emu.endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ Action: "ReceiveMessage", Version: "2012-11-05", QueueUrl: queueUrl }).toString(),
  });
  assert.equal(res.status, 400);
  const xml = await res.text();
  assert.match(xml, /<ErrorResponse xmlns="http:\/\/queue\.amazonaws\.com\/doc\/2012-11-05\/"><Error><Type>Sender<\/Type><Code>RequestThrottled<\/Code>/);
  assert.deepEqual(emu.faults.seen({ match: /\(query\)/ }).map((r) => r.line), [`sqs ReceiveMessage (query) faults-queue`]);
});

test("the stand-alone fault proxy passes requests through, and injects its faults", async () => {
  const proxy = await startFaultProxy({ target: emu.endpoint, service: "s3" });
  const client = new S3Client({ region: emu.region, endpoint: proxy.endpoint, credentials: { accessKeyId: "t", secretAccessKey: "t" }, forcePathStyle: true });
  try {
    await client.send(new PutObjectCommand({ Bucket: "faults-bucket", Key: "via-proxy", Body: "through" }));
    const got = await client.send(new GetObjectCommand({ Bucket: "faults-bucket", Key: "via-proxy" }));
    assert.equal(await got.Body!.transformToString(), "through");
    proxy.faults.set({ s3: "throttle" });
    assert.equal((await failure(() => client.send(new GetObjectCommand({ Bucket: "faults-bucket", Key: "via-proxy" })))).name, "SlowDown");
    assert.deepEqual(proxy.faults.seen().map((r) => r.line.split("?")[0]), [
      "s3 PUT /faults-bucket/via-proxy", "s3 GET /faults-bucket/via-proxy",
      "s3 GET /faults-bucket/via-proxy", "s3 GET /faults-bucket/via-proxy", "s3 GET /faults-bucket/via-proxy",
    ]);
  } finally {
    client.destroy();
    await proxy.stop();
  }
});
