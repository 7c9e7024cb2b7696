/**
 * AWS SDK v3 clients for the service, one per service, with the endpoint overrides that point
 * them at emulators. Credentials come from the SDK's default chain.
 */
import { SQSClient } from "@aws-sdk/client-sqs";
import { SNSClient } from "@aws-sdk/client-sns";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { ServiceConfig } from "../config.ts";

export interface AwsClients {
  sqs: SQSClient;
  sns: SNSClient;
  s3: S3Client;
  dynamodb: DynamoDBClient;
  destroy(): void;
}

export function createAwsClients(config: Pick<ServiceConfig, "region" | "endpoints">): AwsClients {
  const { region, endpoints } = config;
  const common = { region, maxAttempts: 3 };
  const sqs = new SQSClient({ ...common, ...(endpoints.sqs ? { endpoint: endpoints.sqs } : {}) });
  const sns = new SNSClient({ ...common, ...(endpoints.sns ? { endpoint: endpoints.sns } : {}) });
  // emulators serve S3 path-style only
  const s3 = new S3Client({ ...common, ...(endpoints.s3 ? { endpoint: endpoints.s3, forcePathStyle: true } : {}) });
  const dynamodb = new DynamoDBClient({ ...common, ...(endpoints.dynamodb ? { endpoint: endpoints.dynamodb } : {}) });
  return { sqs, sns, s3, dynamodb, destroy: () => { sqs.destroy(); sns.destroy(); s3.destroy(); dynamodb.destroy(); } };
}
