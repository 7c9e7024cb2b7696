/**
 * Creates what `cellworker serve` expects to find (reference spec §2.1.3, the 2021 worker) on
 * local emulators: the FIFO work queue, the results topic, the source and results buckets, the
 * experiments table with the demo experiment's item, the demo experiment's files in the source
 * bucket, and a `…-listener` queue subscribed to the topic (raw delivery) so results can be read
 * back (`npm run results`). Idempotent: run it again and it finds everything in place; existing
 * objects of the same size and an existing table item are left alone.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  CreateTopicCommand, ListSubscriptionsByTopicCommand, SetSubscriptionAttributesCommand, SNSClient, SubscribeCommand,
} from "@aws-sdk/client-sns";
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";

export const DEMO_EXPERIMENT_ID = "5e959f9c9f4b120771249001";
export const DEMO_DATA_DIR = resolve(import.meta.dirname, "..", "..", "data", "pbmc3k");
/** The emulators accept any key; these keep the SDK's credential chain from looking elsewhere. */
export const LOCAL_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

export interface LocalNames {
  queueName: string;
  topicName: string;
  sourceBucket: string;
  resultsBucket: string;
  table: string;
  listenerQueueName: string;
}

/** Resource names of the 2021 worker for a cluster environment and sandbox. */
export function localNames(clusterEnv = "development", sandboxId = "default"): LocalNames {
  const topicName = `work-results-${clusterEnv}-${sandboxId}`;
  return {
    queueName: "development-queue.fifo",
    topicName,
    sourceBucket: `biomage-source-${clusterEnv}`,
    resultsBucket: `worker-results-${clusterEnv}`,
    table: `experiments-${clusterEnv}`,
    listenerQueueName: `${topicName}-listener`,
  };
}

export interface ProvisionOptions {
  /** SQS/SNS/S3 endpoint */
  endpoint: string;
  dynamoEndpoint: string;
  region?: string;
  names?: Partial<LocalNames>;
  experimentId?: string;
  /** folder whose files go under `{experimentId}/` in the source bucket (Markdown files are skipped) */
  dataDir?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface Provisioned extends LocalNames {
  region: string;
  experimentId: string;
  queueUrl: string;
  topicArn: string;
  listenerQueueUrl: string;
  listenerQueueArn: string;
  subscriptionArn: string;
  /** source-bucket keys written this time */
  uploaded: string[];
  /** source-bucket keys already there with the same size */
  unchanged: string[];
  /** whether the table item was written this time (false: it existed) */
  itemCreated: boolean;
}

const errName = (err: unknown): string => (err as { name?: string })?.name ?? "";

export async function provision(opts: ProvisionOptions): Promise<Provisioned> {
  const region = opts.region ?? "eu-west-1";
  const names = { ...localNames(), ...opts.names };
  const experimentId = opts.experimentId ?? DEMO_EXPERIMENT_ID;
  const dataDir = opts.dataDir ?? DEMO_DATA_DIR;
  const common = { region, credentials: opts.credentials ?? LOCAL_CREDENTIALS, endpoint: opts.endpoint, maxAttempts: 2 };
  const sqs = new SQSClient(common);
  const sns = new SNSClient(common);
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const dynamo = new DynamoDBClient({ ...common, endpoint: opts.dynamoEndpoint });
  try {
    const queueUrl = (await sqs.send(new CreateQueueCommand({
      QueueName: names.queueName,
      Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
    }))).QueueUrl!;
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: names.topicName }))).TopicArn!;

    for (const bucket of [names.sourceBucket, names.resultsBucket]) {
      try {
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      } catch (err) {
        if (!["BucketAlreadyOwnedByYou", "BucketAlreadyExists"].includes(errName(err))) throw err;
      }
    }

    const uploaded: string[] = [];
    const unchanged: string[] = [];
    const files = (await readdir(dataDir, { withFileTypes: true })).filter((f) => f.isFile() && !f.name.endsWith(".md")).map((f) => f.name).sort();
    for (const file of files) {
      const key = `${experimentId}/${file}`;
      const size = (await stat(join(dataDir, file))).size;
      let existing: number | undefined;
      try {
        existing = (await s3.send(new HeadObjectCommand({ Bucket: names.sourceBucket, Key: key }))).ContentLength;
      } catch (err) {
        if (!["NotFound", "NoSuchKey"].includes(errName(err))) throw err;
      }
      if (existing === size) {
        unchanged.push(key);
        continue;
      }
      await upload(s3, names.sourceBucket, key, await readFile(join(dataDir, file)));
      uploaded.push(key);
    }

    await ensureTable(dynamo, names.table);
    let itemCreated = true;
    try {
      await dynamo.send(new PutItemCommand({
        TableName: names.table,
        // no cell sets stored: the worker builds its default classes (louvain, scratchpad, metadata)
        Item: marshall({ experimentId, cellSets: [] }),
        ConditionExpression: "attribute_not_exists(experimentId)",
      }));
    } catch (err) {
      if (errName(err) !== "ConditionalCheckFailedException") throw err;
      itemCreated = false;
    }

    const listenerQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: names.listenerQueueName }))).QueueUrl!;
    const listenerQueueArn = (await sqs.send(new GetQueueAttributesCommand({
      QueueUrl: listenerQueueUrl, AttributeNames: ["QueueArn"],
    }))).Attributes!.QueueArn!;
    const subscriptionArn = await ensureSubscription(sns, topicArn, listenerQueueArn);

    return {
      ...names, region, experimentId, queueUrl, topicArn, listenerQueueUrl, listenerQueueArn, subscriptionArn,
      uploaded, unchanged, itemCreated,
    };
  } finally {
    sqs.destroy();
    sns.destroy();
    s3.destroy();
    dynamo.destroy();
  }
}

/** Parts for files above this (fauxqs takes request bodies up to 11 MiB). */
const PART_BYTES = 8 * 1024 * 1024;

async function upload(s3: S3Client, bucket: string, key: string, data: Buffer): Promise<void> {
  if (data.length <= PART_BYTES) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
    return;
  }
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  try {
    const parts = [];
    for (let start = 0, n = 1; start < data.length; start += PART_BYTES, n++) {
      const { ETag } = await s3.send(new UploadPartCommand({
        Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: data.subarray(start, start + PART_BYTES),
      }));
      parts.push({ ETag, PartNumber: n });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (err) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    throw err;
  }
}

async function ensureTable(dynamo: DynamoDBClient, table: string): Promise<void> {
  try {
    await dynamo.send(new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: "experimentId", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "experimentId", AttributeType: "S" }],
      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
    }));
  } catch (err) {
    if (errName(err) !== "ResourceInUseException") throw err;
  }
  // dynalite keeps a new table CREATING for createTableMs (0 here, 500 ms by default)
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = (await dynamo.send(new DescribeTableCommand({ TableName: table }))).Table?.TableStatus;
    if (status === "ACTIVE") return;
    if (Date.now() > deadline) throw new Error(`table ${table} still ${status} after 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The topic's raw-delivery subscription for the queue, made if missing. */
async function ensureSubscription(sns: SNSClient, topicArn: string, queueArn: string): Promise<string> {
  let token: string | undefined;
  do {
    const page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token }));
    const found = page.Subscriptions?.find((s) => s.Protocol === "sqs" && s.Endpoint === queueArn);
    if (found?.SubscriptionArn) {
      await sns.send(new SetSubscriptionAttributesCommand({
        SubscriptionArn: found.SubscriptionArn, AttributeName: "RawMessageDelivery", AttributeValue: "true",
      }));
      return found.SubscriptionArn;
    }
    token = page.NextToken;
  } while (token);
  const out = await sns.send(new SubscribeCommand({
    TopicArn: topicArn, Protocol: "sqs", Endpoint: queueArn, Attributes: { RawMessageDelivery: "true" }, ReturnSubscriptionArn: true,
  }));
  return out.SubscriptionArn!;
}
