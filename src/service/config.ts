/**
 * `cellworker serve` configuration, read once from the environment into a plain object
 * (reference spec §2.1.3, the 2021 worker; every variable is documented in the README).
 */
import { join } from "node:path";
import { defaultCacheDir } from "../config.ts";

export type ClusterEnv = "development" | "test" | "staging" | "production";
export type CellSetsSource = "dynamodb" | "s3" | "local";

export interface ServiceConfig {
  clusterEnv: ClusterEnv;
  sandboxId: string;
  region: string;
  accountId: string;
  experimentId: string;
  queueName: string;
  topicArn: string;
  sourceBucket: string;
  resultsBucket: string;
  dynamoTable: string;
  cellSetsSource: CellSetsSource;
  /** CELL_SETS_SOURCE=local: the cell-sets JSON file */
  cellSetsFile: string | null;
  endpoints: { sqs?: string; sns?: string; s3?: string; dynamodb?: string };
  /** idle seconds before a clean exit */
  workTimeoutS: number;
  ignoreTimeout: boolean;
  /** SQS visibility timeout given to each received message; extended while it runs */
  visibilityTimeoutS: number;
  /** receive count above which a message is answered with an error and deleted */
  maxReceiveCount: number;
  /** long-poll wait */
  waitTimeS: number;
  /** where experiment files from S3 are kept */
  dataDir: string;
  /** processed-state caches */
  cacheDir: string;
  healthPort: number | null;
  healthHost: string;
  /** seconds a SIGTERM waits for the running task before handing its message back */
  shutdownGraceS: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const DEFAULT_EXPERIMENT = "5e959f9c9f4b120771249001";

/** CLUSTER_ENV, else derived from K8S_ENV as the original worker did, else development. */
export function clusterEnvOf(env: NodeJS.ProcessEnv): ClusterEnv {
  const explicit = env.CLUSTER_ENV;
  if (explicit) {
    if (!["development", "test", "staging", "production"].includes(explicit)) {
      throw new ConfigError(`CLUSTER_ENV must be development, test, staging or production (got "${explicit}")`);
    }
    return explicit as ClusterEnv;
  }
  if (env.K8S_ENV) return env.K8S_ENV === "production" ? "production" : "staging";
  return "development";
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer >= ${min} (got "${raw}")`);
  return n;
}

export function loadServiceConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const clusterEnv = clusterEnvOf(env);
  const local = clusterEnv === "development" || clusterEnv === "test";
  const region = env.AWS_DEFAULT_REGION || env.AWS_REGION || "eu-west-1";
  const accountId = env.AWS_ACCOUNT_ID || (local ? "000000000000" : "242905224710");
  const sandboxId = env.SANDBOX_ID || "default";
  const topic = env.SNS_TOPIC || `work-results-${clusterEnv}-${sandboxId}`;
  const source = (env.CELL_SETS_SOURCE || "dynamodb") as CellSetsSource;
  if (!["dynamodb", "s3", "local"].includes(source)) throw new ConfigError(`CELL_SETS_SOURCE must be dynamodb, s3 or local (got "${source}")`);
  if (source === "local" && !env.CELL_SETS_FILE) throw new ConfigError("CELL_SETS_SOURCE=local needs CELL_SETS_FILE");
  const general = env.AWS_ENDPOINT_URL;
  const endpoint = (service: string): string | undefined => env[`AWS_ENDPOINT_URL_${service}`] || general || undefined;
  const cacheDir = env.CELLWORKER_CACHE_DIR || defaultCacheDir(env);
  const healthPort = env.HEALTH_PORT ? intVar(env, "HEALTH_PORT", 0, 0) : null;
  return {
    clusterEnv,
    sandboxId,
    region,
    accountId,
    experimentId: env.EXPERIMENT_ID || DEFAULT_EXPERIMENT,
    queueName: env.WORK_QUEUE || "development-queue.fifo",
    topicArn: env.SNS_TOPIC_ARN || `arn:aws:sns:${region}:${accountId}:${topic}`,
    sourceBucket: env.SOURCE_BUCKET || `biomage-source-${clusterEnv}`,
    resultsBucket: env.RESULTS_BUCKET || `worker-results-${clusterEnv}`,
    dynamoTable: env.DYNAMO_TABLE || `experiments-${clusterEnv}`,
    cellSetsSource: source,
    cellSetsFile: env.CELL_SETS_FILE || null,
    endpoints: Object.fromEntries(
      (["sqs", "sns", "s3", "dynamodb"] as const).map((s) => [s, endpoint(s.toUpperCase())]).filter(([, v]) => v),
    ) as ServiceConfig["endpoints"],
    workTimeoutS: intVar(env, "WORK_TIMEOUT", 3600, 1),
    ignoreTimeout: env.IGNORE_TIMEOUT === "true",
    visibilityTimeoutS: intVar(env, "VISIBILITY_TIMEOUT", 120, 10),
    maxReceiveCount: intVar(env, "MAX_RECEIVE_COUNT", 3, 1),
    waitTimeS: intVar(env, "RECEIVE_WAIT_TIME", 20, 0),
    dataDir: env.CELLWORKER_DATA_DIR || join(cacheDir, "experiments"),
    cacheDir,
    healthPort,
    healthHost: env.HEALTH_HOST || "127.0.0.1",
    shutdownGraceS: intVar(env, "SHUTDOWN_GRACE", 20, 0),
  };
}
