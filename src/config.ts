/**
 * The one configuration: every environment variable the worker reads, read at start-up (never
 * at module load) into plain objects that are passed down. `limitsOf` and `cliOf` serve every
 * command; `loadServiceConfig` adds what `cellworker serve` needs, from the environment and, in
 * today's Cellenics, the pod's labels. Every variable is documented in the README.
 *
 * Two deployments share one worker: `2021` (reference spec §2.1.3: SNS results, DynamoDB cell
 * sets, `biomage-source-{env}`) and `current` (today's Cellenics, §2.1.1: ETag-addressed results
 * in `worker-results-{env}-{account}`, socket.io events through Redis, cell sets in
 * `cell-sets-{env}-{account}` written through the API, the experiment assigned by pod label).
 * The deployment only picks defaults for resource names; each request is still answered in the
 * protocol of its own envelope (ETag → current, uuid → 2021).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Where the socket.io servers' Redis is. */
export interface RedisConfig {
  /** redis://host:port or rediss://host:port (TLS) */
  url: string;
  tls: boolean;
  /** verify the server certificate (TLS only) */
  rejectUnauthorized: boolean;
}

/** Limits that protect the worker from requests and data too large to handle. */
export interface Limits {
  /** largest request accepted, bytes (MAX_REQUEST_BYTES) */
  maxRequestBytes: number;
  /** deepest nesting of a request */
  maxRequestDepth: number;
  /** most non-zero values one GeneExpression response may carry (MAX_RESULT_VALUES) */
  maxResultValues: number;
  /** derived results kept per experiment (CELLWORKER_MEMO_ENTRIES) */
  memoEntries: number;
  /** refuse experiments that would need more memory than this (CELLWORKER_MEMORY_BUDGET_MB); null: no limit */
  memoryBudgetMb: number | null;
}

export const DEFAULT_LIMITS: Limits = {
  maxRequestBytes: 16 * 2 ** 20,
  maxRequestDepth: 32,
  maxResultValues: 20_000_000,
  memoEntries: 64,
  memoryBudgetMb: null,
};

/** Default processed-state cache folder: $CELLWORKER_CACHE_DIR, else $XDG_CACHE_HOME/cellworker, else ~/.cache/cellworker. */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.CELLWORKER_CACHE_DIR) return env.CELLWORKER_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "cellworker");
}

/** CELLWORKER_LOG_FORMAT, else `fallback` (text on the command line, json for serve). */
export function logFormat(env: NodeJS.ProcessEnv, fallback: "text" | "json" = "text"): "text" | "json" {
  const f = env.CELLWORKER_LOG_FORMAT;
  return f === "json" || f === "text" ? f : fallback;
}

/** The limits, from the environment (an unset or empty variable keeps the default). */
export function limitsOf(env: NodeJS.ProcessEnv): Limits {
  const budget = env.CELLWORKER_MEMORY_BUDGET_MB;
  return {
    maxRequestBytes: intVar(env, "MAX_REQUEST_BYTES", DEFAULT_LIMITS.maxRequestBytes, 1),
    maxRequestDepth: DEFAULT_LIMITS.maxRequestDepth,
    maxResultValues: intVar(env, "MAX_RESULT_VALUES", DEFAULT_LIMITS.maxResultValues, 1),
    memoEntries: intVar(env, "CELLWORKER_MEMO_ENTRIES", DEFAULT_LIMITS.memoEntries, 1),
    memoryBudgetMb: budget === undefined || budget === "" ? null : positiveNumber("CELLWORKER_MEMORY_BUDGET_MB", budget),
  };
}

function positiveNumber(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number (got "${raw}")`);
  return n;
}

export const DEFAULT_LABELS_FILE = "/etc/podinfo/labels";

/** `experimentId` → `EXPERIMENT_ID`. */
export function envNameOf(label: string): string {
  return label.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** A label, else the environment variable of the same name; undefined when neither is set. */
export function labelOrEnv(labels: Record<string, string>, env: NodeJS.ProcessEnv, label: string): string | undefined {
  const v = labels[label] || env[envNameOf(label)];
  return v ? v : undefined;
}

export type ClusterEnv = "development" | "test" | "staging" | "production";
export type CellSetsSource = "dynamodb" | "s3" | "local" | "cell-sets-bucket";
export type Deployment = "current" | "2021";

export interface ServiceConfig {
  deployment: Deployment;
  clusterEnv: ClusterEnv;
  sandboxId: string;
  region: string;
  accountId: string;
  experimentId: string;
  /** current deployment: sha1("{experimentId}-{sandboxId}") unless labelled/set */
  workQueueHash: string | null;
  queueName: string;
  topicArn: string;
  sourceBucket: string;
  resultsBucket: string;
  /** current deployment: where the API keeps `{experimentId}` cell-set documents */
  cellSetsBucket: string;
  dynamoTable: string;
  cellSetsSource: CellSetsSource;
  /** CELL_SETS_SOURCE=local: the cell-sets JSON file */
  cellSetsFile: string | null;
  endpoints: { sqs?: string; sns?: string; s3?: string; dynamodb?: string };
  /** Redis for socket.io events (current protocol); null: ETag requests cannot be answered */
  redis: RedisConfig | null;
  /** the Cellenics API, for cell-set PATCHes */
  apiUrl: string;
  /** attempts of one API call (network failure or non-2xx), backoff doubling from apiRetryBackoffMs */
  apiAttempts: number;
  apiRetryBackoffMs: number;
  apiTimeoutMs: number;
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
  /** run tasks in a compute thread (default) or on the main thread */
  compute: "thread" | "in-process";
  /** wall-time limit of one task (thread mode) */
  taskTimeoutS: number;
  /** time limit for reading + preprocessing the experiment (thread mode) */
  loadTimeoutS: number;
  limits: Limits;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const DEFAULT_EXPERIMENT = "5e959f9c9f4b120771249001";
/** the HMS account, whose production workers idle for 40 minutes (spec §2.1.1) */
const HMS_ACCOUNT = "160782110667";

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

/** The labels file: PODINFO_LABELS, else /etc/podinfo/labels. */
export function labelsFileOf(env: NodeJS.ProcessEnv): string {
  return env.PODINFO_LABELS || DEFAULT_LABELS_FILE;
}

/**
 * CELLWORKER_DEPLOYMENT, else `current` when the pod has a labels file or WORK_QUEUE_HASH is
 * set (as in today's chart), else `2021`.
 */
export function deploymentOf(env: NodeJS.ProcessEnv): Deployment {
  const explicit = env.CELLWORKER_DEPLOYMENT;
  if (explicit) {
    if (explicit !== "current" && explicit !== "2021") throw new ConfigError(`CELLWORKER_DEPLOYMENT must be current or 2021 (got "${explicit}")`);
    return explicit;
  }
  return env.WORK_QUEUE_HASH || existsSync(labelsFileOf(env)) ? "current" : "2021";
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer >= ${min} (got "${raw}")`);
  return n;
}

function boolVar(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(`${name} must be true or false (got "${raw}")`);
}

/** LABELS_POLL_MS: how often an unassigned pod re-reads its labels file (default 5000, as the original). */
export function labelsPollMsOf(env: NodeJS.ProcessEnv): number {
  return intVar(env, "LABELS_POLL_MS", 5000, 10);
}

/** HEALTH_PORT / HEALTH_HOST, needed before the rest (the probes answer while a pod waits for its label). */
export function healthOf(env: NodeJS.ProcessEnv): { port: number | null; host: string } {
  return { port: env.HEALTH_PORT ? intVar(env, "HEALTH_PORT", 0, 0) : null, host: env.HEALTH_HOST || "127.0.0.1" };
}

function redisOf(env: NodeJS.ProcessEnv, local: boolean, deployment: Deployment): RedisConfig | null {
  let url = env.REDIS_URL;
  if (!url) {
    if (deployment !== "current") return null;
    if (!local) throw new ConfigError("REDIS_URL is required in staging and production (e.g. rediss://master.biomage-redis-production.xxxx.cache.amazonaws.com:6379)");
    url = "redis://127.0.0.1:6379";
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError("REDIS_URL must be a URL such as redis://host:6379 or rediss://host:6379");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw new ConfigError("REDIS_URL must start with redis:// or rediss://");
  return {
    url,
    tls: boolVar(env, "REDIS_TLS", parsed.protocol === "rediss:"),
    rejectUnauthorized: boolVar(env, "REDIS_TLS_REJECT_UNAUTHORIZED", true),
  };
}

/**
 * The configuration. `labels` are the pod's labels (current deployment): `experimentId`,
 * `sandboxId`, `workQueueHash` override the environment variables of the same names.
 */
export function loadServiceConfig(env: NodeJS.ProcessEnv = process.env, labels: Record<string, string> = {}): ServiceConfig {
  const deployment = deploymentOf(env);
  const current = deployment === "current";
  const clusterEnv = clusterEnvOf(env);
  const local = clusterEnv === "development" || clusterEnv === "test";
  const region = env.AWS_DEFAULT_REGION || env.AWS_REGION || "eu-west-1";
  if (current && !local && !env.AWS_ACCOUNT_ID) throw new ConfigError("AWS_ACCOUNT_ID is required in staging and production (it names the buckets)");
  const accountId = env.AWS_ACCOUNT_ID || (local ? "000000000000" : "242905224710");
  const lookup = (label: string): string | undefined => (current ? labelOrEnv(labels, env, label) : env[envNameOf(label)] || undefined);
  const sandboxId = lookup("sandboxId") ?? "default";
  const experimentId = lookup("experimentId") ?? DEFAULT_EXPERIMENT;
  const explicitHash = current ? lookup("workQueueHash") ?? null : null;
  const workQueueHash = current ? explicitHash ?? createHash("sha1").update(`${experimentId}-${sandboxId}`).digest("hex") : null;
  const topic = env.SNS_TOPIC || `work-results-${clusterEnv}-${sandboxId}`;
  const source = (env.CELL_SETS_SOURCE || (current ? "cell-sets-bucket" : "dynamodb")) as CellSetsSource;
  if (!["dynamodb", "s3", "local", "cell-sets-bucket"].includes(source)) {
    throw new ConfigError(`CELL_SETS_SOURCE must be cell-sets-bucket, dynamodb, s3 or local (got "${source}")`);
  }
  if (source === "local" && !env.CELL_SETS_FILE) throw new ConfigError("CELL_SETS_SOURCE=local needs CELL_SETS_FILE");
  const general = env.AWS_ENDPOINT_URL;
  const endpoint = (service: string): string | undefined => env[`AWS_ENDPOINT_URL_${service}`] || general || undefined;
  const cacheDir = env.CELLWORKER_CACHE_DIR || defaultCacheDir(env);
  const health = healthOf(env);
  const suffix = current ? `${clusterEnv}-${accountId}` : clusterEnv;
  let queueName = env.WORK_QUEUE;
  if (!queueName) {
    queueName = current && (explicitHash || !local) ? `queue-job-${workQueueHash}-${clusterEnv}.fifo` : "development-queue.fifo";
  }
  const defaultTimeout = current ? (accountId === HMS_ACCOUNT && env.K8S_ENV === "production" ? 2400 : 600) : 3600;
  return {
    deployment,
    clusterEnv,
    sandboxId,
    region,
    accountId,
    experimentId,
    workQueueHash,
    queueName,
    topicArn: env.SNS_TOPIC_ARN || `arn:aws:sns:${region}:${accountId}:${topic}`,
    sourceBucket: env.SOURCE_BUCKET || (current ? `processed-matrix-${suffix}` : `biomage-source-${clusterEnv}`),
    resultsBucket: env.RESULTS_BUCKET || `worker-results-${suffix}`,
    cellSetsBucket: env.CELL_SETS_BUCKET || `cell-sets-${clusterEnv}-${accountId}`,
    dynamoTable: env.DYNAMO_TABLE || `experiments-${clusterEnv}`,
    cellSetsSource: source,
    cellSetsFile: env.CELL_SETS_FILE || null,
    endpoints: Object.fromEntries(
      (["sqs", "sns", "s3", "dynamodb"] as const).map((s) => [s, endpoint(s.toUpperCase())]).filter(([, v]) => v),
    ) as ServiceConfig["endpoints"],
    redis: redisOf(env, local, deployment),
    apiUrl: (env.API_URL || (local ? "http://127.0.0.1:3000" : `http://api-${sandboxId}.api-${sandboxId}.svc.cluster.local:3000`)).replace(/\/+$/, ""),
    apiAttempts: intVar(env, "API_ATTEMPTS", 3, 1),
    apiRetryBackoffMs: intVar(env, "API_RETRY_BACKOFF_MS", 500, 0),
    apiTimeoutMs: intVar(env, "API_TIMEOUT_MS", 30_000, 1),
    workTimeoutS: intVar(env, "WORK_TIMEOUT", defaultTimeout, 1),
    ignoreTimeout: env.IGNORE_TIMEOUT === "true",
    visibilityTimeoutS: intVar(env, "VISIBILITY_TIMEOUT", 120, 2),
    maxReceiveCount: intVar(env, "MAX_RECEIVE_COUNT", 3, 1),
    waitTimeS: intVar(env, "RECEIVE_WAIT_TIME", 20, 0),
    dataDir: env.CELLWORKER_DATA_DIR || join(cacheDir, "experiments"),
    cacheDir,
    healthPort: health.port,
    healthHost: health.host,
    shutdownGraceS: intVar(env, "SHUTDOWN_GRACE", 20, 0),
    compute: computeMode(env),
    taskTimeoutS: intVar(env, "TASK_TIMEOUT", 900, 1),
    loadTimeoutS: intVar(env, "LOAD_TIMEOUT", 1800, 1),
    limits: limitsOf(env),
  };
}

function computeMode(env: NodeJS.ProcessEnv): "thread" | "in-process" {
  const v = env.CELLWORKER_COMPUTE || "thread";
  if (v !== "thread" && v !== "in-process") throw new ConfigError(`CELLWORKER_COMPUTE must be thread or in-process (got "${v}")`);
  return v;
}
