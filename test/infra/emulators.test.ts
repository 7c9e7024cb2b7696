import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { GetObjectCommand, S3Client, type GetObjectCommandOutput } from "@aws-sdk/client-s3";
import { DynamoDBClient, GetItemCommand, type GetItemCommandOutput } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { canonicalQueueUrl, rewriteQueueUrl, startEmulators, type Emulators } from "../../tools/infra/emulators.ts";
import { DEMO_EXPERIMENT_ID, LOCAL_CREDENTIALS, localNames, provision, type Provisioned } from "../../tools/infra/provision.ts";
import { followResults, summarizeMessage } from "../../tools/infra/results.ts";
import { queryErrorXml, queryResponseXml, queryToJson } from "../../tools/infra/sqs-query.ts";
import { PBMC3K } from "../helpers.ts";

const REGION = "eu-west-1";
const names = localNames();
const requestLog: string[] = [];
let emu: Emulators;
let prov: Provisioned;
let startMs: number;
let port: number;
let sqs: SQSClient;
const tmp = mkdtempSync(join(tmpdir(), "cellworker-infra-test-"));

before(async () => {
  const t0 = performance.now();
  emu = await startEmulators({ port: 0, dynamoPort: 0, host: "127.0.0.1", region: REGION, onRequest: (l) => requestLog.push(l) });
  startMs = performance.now() - t0;
  port = Number(new URL(emu.endpoint).port);
  prov = await provision({ endpoint: emu.endpoint, dynamoEndpoint: emu.dynamoEndpoint, region: REGION });
  sqs = new SQSClient({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS });
});

after(async () => {
  sqs?.destroy();
  await emu?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** Receives everything waiting on a queue (canonical URL), deleting it. */
async function drain(queueUrl: string, waitS = 0): Promise<{ Body?: string; MessageAttributes?: Record<string, { StringValue?: string }> }[]> {
  const out = [];
  for (;;) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitS, MessageAttributeNames: ["All"] }));
    if (!r.Messages?.length) return out;
    for (const m of r.Messages) {
      out.push(m);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
    waitS = 0;
  }
}

test("emulators start on free loopback ports", (t) => {
  t.diagnostic(`startEmulators took ${startMs.toFixed(0)} ms`);
  assert.match(emu.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(emu.dynamoEndpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(emu.endpoint, emu.dynamoEndpoint);
});

test("provision creates the 2021 worker's resources, uploads the demo experiment and is idempotent", async () => {
  assert.equal(prov.queueUrl, `http://sqs.${REGION}.localhost:${port}/000000000000/development-queue.fifo`);
  assert.equal(prov.topicArn, `arn:aws:sns:${REGION}:000000000000:work-results-development-default`);
  assert.equal(prov.listenerQueueName, "work-results-development-default-listener");
  assert.equal(prov.sourceBucket, "biomage-source-development");
  assert.equal(prov.resultsBucket, "worker-results-development");
  assert.equal(prov.table, "experiments-development");
  assert.equal(prov.experimentId, DEMO_EXPERIMENT_ID);
  const files = ["barcodes.tsv.gz", "features.tsv.gz", "matrix.mtx.gz"];
  assert.deepEqual(prov.uploaded, files.map((f) => `${DEMO_EXPERIMENT_ID}/${f}`));
  assert.equal(prov.itemCreated, true);

  const s3 = new S3Client({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  const dynamo = new DynamoDBClient({ region: REGION, endpoint: emu.dynamoEndpoint, credentials: LOCAL_CREDENTIALS });
  // DynamoDB is also served through the main endpoint
  const dynamoViaProxy = new DynamoDBClient({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS });
  try {
    for (const f of files) {
      const obj: GetObjectCommandOutput = await s3.send(new GetObjectCommand({ Bucket: prov.sourceBucket, Key: `${DEMO_EXPERIMENT_ID}/${f}` }));
      assert.deepEqual(Buffer.from(await obj.Body!.transformToByteArray()), readFileSync(join(PBMC3K, f)), f);
    }
    for (const client of [dynamo, dynamoViaProxy]) {
      const item: GetItemCommandOutput = await client.send(new GetItemCommand({ TableName: prov.table, Key: { experimentId: { S: DEMO_EXPERIMENT_ID } } }));
      assert.deepEqual(unmarshall(item.Item!), { experimentId: DEMO_EXPERIMENT_ID, cellSets: [] });
    }
  } finally {
    s3.destroy();
    dynamo.destroy();
    dynamoViaProxy.destroy();
  }

  const again = await provision({ endpoint: emu.endpoint, dynamoEndpoint: emu.dynamoEndpoint, region: REGION });
  assert.deepEqual(again.uploaded, []);
  assert.deepEqual(again.unchanged, prov.uploaded);
  assert.equal(again.itemCreated, false);
  assert.equal(again.queueUrl, prov.queueUrl);
  assert.equal(again.subscriptionArn, prov.subscriptionArn);
});

test("provision uploads files larger than fauxqs's 11 MiB request limit in parts, and skips Markdown", async () => {
  const dir = join(tmp, "big-experiment");
  mkdirSync(dir);
  const big = randomBytes(19 * 1024 * 1024 + 123);
  writeFileSync(join(dir, "matrix.mtx.gz"), big);
  writeFileSync(join(dir, "SOURCE.md"), "notes");
  const p = await provision({ endpoint: emu.endpoint, dynamoEndpoint: emu.dynamoEndpoint, region: REGION, experimentId: "bigexp", dataDir: dir });
  assert.deepEqual(p.uploaded, ["bigexp/matrix.mtx.gz"]);
  assert.equal(p.itemCreated, true);
  const s3 = new S3Client({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  try {
    const obj: GetObjectCommandOutput = await s3.send(new GetObjectCommand({ Bucket: p.sourceBucket, Key: "bigexp/matrix.mtx.gz" }));
    assert.ok(Buffer.from(await obj.Body!.transformToByteArray()).equals(big));
  } finally {
    s3.destroy();
  }
});

test("LocalStack-style queue URLs are rewritten to fauxqs's canonical URL; others are left alone", () => {
  const canon = canonicalQueueUrl("development-queue.fifo", REGION, 4566);
  assert.equal(canon, "http://sqs.eu-west-1.localhost:4566/000000000000/development-queue.fifo");
  for (const url of [
    "http://localhost:4566/queue/development-queue.fifo",
    "http://127.0.0.1:4566/queue/development-queue.fifo",
    "http://localhost:4566/000000000000/development-queue.fifo",
    "http://127.0.0.1/000000000000/development-queue.fifo/",
    "http://localhost:4566/queue/eu-west-1/000000000000/development-queue.fifo",
  ]) assert.equal(rewriteQueueUrl(url, REGION, 4566), canon, url);
  assert.equal(rewriteQueueUrl("http://localhost:4566/queue/us-east-2/000000000000/q", REGION, 4566), "http://sqs.us-east-2.localhost:4566/000000000000/q");
  for (const url of [canon, "https://sqs.eu-west-1.amazonaws.com/123456789012/q", "http://example.com/queue/q"]) {
    assert.equal(rewriteQueueUrl(url, REGION, 4566), url);
  }
});

test("(a) SDK SendMessage to LocalStack-style URLs arrives on the canonical URL", async () => {
  const bodies = [`{"n":1,"t":${Date.now()}}`, `{"n":2,"t":${Date.now()}}`, `{"n":3,"t":${Date.now()}}`];
  const urls = [
    `http://localhost:${port}/queue/development-queue.fifo`,
    `http://127.0.0.1:${port}/000000000000/development-queue.fifo`,
    // the README's default port, whatever port the emulator really has
    "http://localhost:4566/queue/development-queue.fifo",
  ];
  for (let i = 0; i < urls.length; i++) {
    await sqs.send(new SendMessageCommand({ QueueUrl: urls[i], MessageBody: bodies[i], MessageGroupId: "g" }));
  }
  const got = await drain(prov.queueUrl);
  assert.deepEqual(got.map((m) => m.Body), bodies);
});

/** POSTs a form-encoded SQS query request the way awscli 2.9 does. */
async function queryRequest(params: Record<string, string>): Promise<{ status: number; xml: string }> {
  const res = await fetch(`${emu.endpoint}/`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${REGION}/sqs/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams({ Version: "2012-11-05", ...params }).toString(),
  });
  return { status: res.status, xml: await res.text() };
}

const unescapeXml = (s: string): string =>
  s.replace(/&#13;/g, "\r").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");

test("the SQS query protocol (awscli 2.9) is translated both ways, with LocalStack-style URLs", async () => {
  const body = `{"x":"a&b <c> \r\n 'q' \\"}`;
  const sent = await queryRequest({
    Action: "SendMessage",
    QueueUrl: `http://localhost:${port}/queue/development-queue.fifo`,
    MessageBody: body,
    MessageGroupId: "q",
    "MessageAttribute.1.Name": "kind",
    "MessageAttribute.1.Value.DataType": "String",
    "MessageAttribute.1.Value.StringValue": "test",
  });
  assert.equal(sent.status, 200, sent.xml);
  assert.match(sent.xml, /^<\?xml[^>]*>\n<SendMessageResponse xmlns="http:\/\/queue\.amazonaws\.com\/doc\/2012-11-05\/"><SendMessageResult>/);
  const md5 = (await import("node:crypto")).createHash("md5").update(body).digest("hex");
  assert.match(sent.xml, new RegExp(`<MD5OfMessageBody>${md5}</MD5OfMessageBody>`));
  assert.match(sent.xml, /<MessageId>[0-9a-f-]{36}<\/MessageId>/);
  assert.match(sent.xml, /<SequenceNumber>\d+<\/SequenceNumber>/);

  const received = await queryRequest({
    Action: "ReceiveMessage",
    QueueUrl: `http://127.0.0.1:${port}/000000000000/development-queue.fifo`,
    MaxNumberOfMessages: "10",
    "MessageAttributeName.1": "All",
    "AttributeName.1": "MessageGroupId",
  });
  assert.equal(received.status, 200, received.xml);
  const messages = [...received.xml.matchAll(/<Message>(.*?)<\/Message>/gs)].map((m) => m[1]!);
  assert.equal(messages.length, 1, received.xml);
  const m = messages[0]!;
  assert.equal(unescapeXml(/<Body>(.*?)<\/Body>/s.exec(m)![1]!), body);
  assert.equal(/<MD5OfBody>(.*?)<\/MD5OfBody>/.exec(m)![1], md5);
  assert.match(m, /<Attribute><Name>MessageGroupId<\/Name><Value>q<\/Value><\/Attribute>/);
  assert.match(m, /<MessageAttribute><Name>kind<\/Name><Value>(?=.*<StringValue>test<\/StringValue>)(?=.*<DataType>String<\/DataType>).*<\/Value><\/MessageAttribute>/);
  const handle = unescapeXml(/<ReceiptHandle>(.*?)<\/ReceiptHandle>/.exec(m)![1]!);

  const deleted = await queryRequest({ Action: "DeleteMessage", QueueUrl: `http://localhost:${port}/queue/development-queue.fifo`, ReceiptHandle: handle });
  assert.equal(deleted.status, 200, deleted.xml);
  assert.match(deleted.xml, /<DeleteMessageResponse [^>]*><ResponseMetadata><RequestId>[0-9a-f-]+<\/RequestId><\/ResponseMetadata><\/DeleteMessageResponse>$/);

  const urls = await queryRequest({ Action: "GetQueueUrl", QueueName: "development-queue.fifo" });
  assert.match(urls.xml, new RegExp(`<GetQueueUrlResult><QueueUrl>${prov.queueUrl.replace(/\./g, "\\.")}</QueueUrl></GetQueueUrlResult>`));

  const missing = await queryRequest({ Action: "SendMessage", QueueUrl: `http://localhost:${port}/queue/nope.fifo`, MessageBody: "x", MessageGroupId: "g" });
  assert.equal(missing.status, 400);
  assert.match(missing.xml, /<ErrorResponse [^>]*><Error><Type>Sender<\/Type><Code>AWS\.SimpleQueueService\.NonExistentQueue<\/Code><Message>The specified queue does not exist\.<\/Message>/);
  assert.ok(requestLog.includes("sqs SendMessage (query) development-queue.fifo"), requestLog.join("\n"));
  assert.deepEqual(await drain(prov.queueUrl), []);
});

test("query-protocol shapes: flattened lists, Name/Value maps, batch entries, integers; XML answers", () => {
  const { action, input } = queryToJson(new URLSearchParams({
    Action: "SendMessageBatch",
    Version: "2012-11-05",
    QueueUrl: "u",
    "SendMessageBatchRequestEntry.2.Id": "b",
    "SendMessageBatchRequestEntry.2.MessageBody": "two",
    "SendMessageBatchRequestEntry.1.Id": "a",
    "SendMessageBatchRequestEntry.1.MessageBody": "one",
    "SendMessageBatchRequestEntry.1.DelaySeconds": "5",
    "SendMessageBatchRequestEntry.1.MessageAttribute.1.Name": "k",
    "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType": "Number",
    "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue": "7",
  }));
  assert.equal(action, "SendMessageBatch");
  assert.deepEqual(input, {
    QueueUrl: "u",
    Entries: [
      { Id: "a", MessageBody: "one", DelaySeconds: 5, MessageAttributes: { k: { DataType: "Number", StringValue: "7" } } },
      { Id: "b", MessageBody: "two" },
    ],
  });
  assert.deepEqual(queryToJson(new URLSearchParams({
    Action: "CreateQueue", QueueName: "q", "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "60", "Tag.1.Key": "team", "Tag.1.Value": "x",
  })).input, { QueueName: "q", Attributes: { VisibilityTimeout: "60" }, tags: { team: "x" } });
  assert.deepEqual(queryToJson(new URLSearchParams({
    Action: "ReceiveMessage", QueueUrl: "u", "AttributeName.1": "All", "MessageAttributeName.1": "a", "MessageAttributeName.2": "b", WaitTimeSeconds: "20",
  })).input, { QueueUrl: "u", AttributeNames: ["All"], MessageAttributeNames: ["a", "b"], WaitTimeSeconds: 20 });

  assert.equal(
    queryResponseXml("SendMessageBatch", { Successful: [{ Id: "a", MessageId: "m" }], Failed: [{ Id: "b", SenderFault: true, Code: "C", Message: "x<y" }] }, "r"),
    '<?xml version="1.0" encoding="UTF-8"?>\n<SendMessageBatchResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageBatchResult>' +
      "<SendMessageBatchResultEntry><Id>a</Id><MessageId>m</MessageId></SendMessageBatchResultEntry>" +
      "<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>C</Code><Message>x&lt;y</Message></BatchResultErrorEntry>" +
      "</SendMessageBatchResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></SendMessageBatchResponse>",
  );
  assert.match(queryResponseXml("ListQueues", { QueueUrls: ["a", "b"] }, "r"), /<ListQueuesResult><QueueUrl>a<\/QueueUrl><QueueUrl>b<\/QueueUrl><\/ListQueuesResult>/);
  assert.match(queryResponseXml("GetQueueAttributes", { Attributes: { A: "1" } }, "r"), /<GetQueueAttributesResult><Attribute><Name>A<\/Name><Value>1<\/Value><\/Attribute><\/GetQueueAttributesResult>/);
  assert.match(queryResponseXml("ListQueueTags", { Tags: { k: "v" } }, "r"), /<ListQueueTagsResult><Tag><Key>k<\/Key><Value>v<\/Value><\/Tag><\/ListQueueTagsResult>/);
  assert.match(queryResponseXml("ReceiveMessage", {}, "r"), /<ReceiveMessageResponse [^>]*><ResponseMetadata>/);
  // without the x-amzn-query-error header the code comes from __type; 5xx are the receiver's fault
  assert.match(queryErrorXml(400, '{"__type":"com.amazonaws.sqs#InvalidParameterValue","message":"bad"}', undefined, "r"),
    /<Type>Sender<\/Type><Code>InvalidParameterValue<\/Code><Message>bad<\/Message>/);
  assert.match(queryErrorXml(500, "boom", undefined, "r"), /<Type>Receiver<\/Type><Code>InternalFailure<\/Code><Message>boom<\/Message>/);
});

const executable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** `aws` commands to try: the one on PATH and, if different, Debian's /usr/bin/aws. */
function awsCandidates(): string[] {
  const onPath = (process.env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, "aws")).find(executable);
  const out = onPath ? [onPath] : [];
  if (executable("/usr/bin/aws") && !out.includes("/usr/bin/aws")) out.push("/usr/bin/aws");
  return out;
}

const run = promisify(execFile);

test("(b) the README's awscli send-message command reaches the work queue", async (t) => {
  const candidates = awsCandidates();
  if (candidates.length === 0) {
    t.skip("`aws` is not installed (apt-get install awscli): the README's aws command was not tried");
    return;
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_DEFAULT_REGION: REGION,
    AWS_PAGER: "",
    AWS_CONFIG_FILE: join(tmp, "no-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(tmp, "no-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
  };
  for (const k of ["AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_SESSION_TOKEN"]) delete env[k];
  const request = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "examples", "requests", "list-genes.json"), "utf8"));
  let n = 0;
  for (const aws of candidates) {
    let version: string;
    try {
      version = (await run(aws, ["--version"], { env })).stdout.trim();
    } catch (err) {
      t.diagnostic(`${aws} does not run (${(err as Error).message.split("\n")[0]}); skipped`);
      continue;
    }
    for (const host of ["localhost", "127.0.0.1"]) {
      // a distinct body each time: the FIFO queue deduplicates identical bodies for 5 minutes
      const payload = join(tmp, `payload-${++n}.json`);
      writeFileSync(payload, JSON.stringify({ ...request, uuid: `cli-${n}-${Date.now()}` }, null, 2) + "\n");
      const readme = "aws --endpoint-url=http://localhost:4566 sqs send-message --queue-url http://localhost:4566/queue/development-queue.fifo " +
        '--message-body "$(< payload.json)" --message-group-id "$(date +%s)"';
      const command = readme.replaceAll("localhost:4566", `${host}:${port}`).replace(/^aws /, `'${aws}' `).replace("payload.json", `'${payload}'`);
      const before = requestLog.length;
      const out = await run("bash", ["-c", command], { env });
      assert.match(out.stdout, /"MessageId": "[0-9a-f-]{36}"/, `${version}: ${out.stdout}${out.stderr}`);
      const got = await drain(prov.queueUrl, 2);
      assert.deepEqual(got.map((m) => m.Body), [readFileSync(payload, "utf8").trimEnd()], version);
      const protocol = requestLog.slice(before).find((l) => l.startsWith("sqs SendMessage"));
      t.diagnostic(`${aws}: ${version} -> ${protocol} (${host})`);
    }
  }
});

const workResponse = (uuid: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  request: { uuid, socketId: "s", experimentId: DEMO_EXPERIMENT_ID, timeout: "2099-12-31 00:00:00", body: { name: "ListGenes" } },
  results: [{ "content-type": "application/json", "content-encoding": "utf-8", type: "inline", body: '{"rows":[],"total":0}' }],
  response: { cacheable: true, error: false },
  ...extra,
});

test("(c) a WorkResponse published to the topic reaches the listener queue and followResults prints it", async () => {
  const sns = new SNSClient({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS });
  try {
    await sns.send(new PublishCommand({ TopicArn: prov.topicArn, Message: JSON.stringify(workResponse("u-plain")) }));
    // the original worker's MessageStructure "json" envelope (fauxqs delivers it as published)
    await sns.send(new PublishCommand({
      TopicArn: prov.topicArn, MessageStructure: "json", Message: JSON.stringify({ default: JSON.stringify(workResponse("u-structured")) }),
    }));
    const lines: string[] = [];
    const { count } = await followResults({ endpoint: emu.endpoint, region: REGION, follow: false, full: true, print: (l) => lines.push(l) });
    assert.equal(count, 2);
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^\d\d:\d\d:\d\d ListGenes u-plain ok 1 result, 21 bytes inline$/);
    assert.deepEqual(JSON.parse(lines[1]!), workResponse("u-plain"));
    assert.match(lines[2]!, /^\d\d:\d\d:\d\d ListGenes u-structured ok 1 result, 21 bytes inline$/);
    assert.deepEqual(JSON.parse(lines[3]!), workResponse("u-structured"));
    // read messages were deleted
    assert.equal((await followResults({ endpoint: emu.endpoint, region: REGION, follow: false, print: () => {} })).count, 0);

    // follow: waits for new results until aborted
    const followed: string[] = [];
    const controller = new AbortController();
    const following = followResults({
      endpoint: emu.endpoint, region: REGION, follow: true, signal: controller.signal, print: (l) => followed.push(l),
      queueName: names.listenerQueueName,
    });
    await new Promise((r) => setTimeout(r, 300));
    await sns.send(new PublishCommand({ TopicArn: prov.topicArn, Message: JSON.stringify(workResponse("u-followed")) }));
    const deadline = Date.now() + 5000;
    while (followed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(followed[0] ?? "", /ListGenes u-followed ok/);
    const t0 = Date.now();
    controller.abort();
    assert.deepEqual(await following, { count: 1 });
    assert.ok(Date.now() - t0 < 2000, "an aborted long poll returns promptly");
  } finally {
    sns.destroy();
  }
});

test("result summaries: errors, S3-offloaded bodies, SNS envelopes, non-responses", () => {
  assert.equal(summarizeMessage(JSON.stringify(workResponse("u1", {
    results: [{ "content-type": "application/json", "content-encoding": "utf-8", type: "inline", body: '{"errorCode":"INVALID_INPUT","userMessage":"bad gene"}' }],
    response: { cacheable: false, error: true, errorCode: "INVALID_INPUT", userMessage: "bad gene" },
  }))), "ListGenes u1 error INVALID_INPUT: bad gene");
  // 2021 error responses carry the code only in the result body
  assert.equal(summarizeMessage(JSON.stringify(workResponse("u2", {
    results: [{ type: "inline", body: '{"errorCode":"R_WORKER_ERROR","userMessage":"oops"}' }],
    response: { cacheable: false, error: true },
  }))), "ListGenes u2 error R_WORKER_ERROR: oops");
  assert.equal(summarizeMessage(JSON.stringify(workResponse("u3", {
    results: [{ type: "s3-path", body: "worker-results-development/u3/a" }, { type: "s3-path", body: "worker-results-development/u3/b" }],
  }))), "ListGenes u3 ok 2 results, s3-path worker-results-development/u3/a worker-results-development/u3/b");
  const modern = { ...workResponse("x"), request: { ETag: "abc123", body: { name: "GetEmbedding" } } };
  assert.equal(summarizeMessage(JSON.stringify({ Type: "Notification", Message: JSON.stringify(modern) })), "GetEmbedding abc123 ok 1 result, 21 bytes inline");
  assert.match(summarizeMessage('{"hello":1}'), /^\(not a WorkResponse\) \{"hello":1\}$/);
  assert.match(summarizeMessage("plain text"), /^\(not JSON\) plain text$/);
});

function portClosed(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(p, "127.0.0.1");
    s.once("connect", () => { s.destroy(); resolve(false); });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

test("a port in use is reported and nothing is left running", async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const busy = (blocker.address() as AddressInfo).port;
  try {
    await assert.rejects(startEmulators({ port: busy, dynamoPort: 0 }), { code: "EADDRINUSE" });
  } finally {
    blocker.close();
  }
});

test("stop closes every listener (proxy, fauxqs, DynamoDB), also with a long poll in flight", async () => {
  const ports = [emu.endpoint, emu.fauxqsEndpoint, emu.dynamoEndpoint].map((u) => Number(new URL(u).port));
  for (const p of ports) assert.equal(await portClosed(p), false, `port ${p} open before stop`);
  const poller = new SQSClient({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const polling = poller.send(new ReceiveMessageCommand({ QueueUrl: prov.listenerQueueUrl, WaitTimeSeconds: 20 })).then(() => "answered", () => "failed");
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  await emu.stop();
  assert.ok(Date.now() - t0 < 1000, `stop took ${Date.now() - t0} ms`);
  await polling;
  poller.destroy();
  for (const p of ports) assert.equal(await portClosed(p), true, `port ${p} still open after stop`);
  await emu.stop(); // a second stop is harmless
});
