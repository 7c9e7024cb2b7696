/**
 * Composition root of `cellworker serve`: health endpoints; in today's Cellenics, the wait for
 * the pod's experiment assignment; configuration → AWS clients → transport, publishers (2021:
 * SNS + S3; current: S3 + socket.io events through Redis + the API for cell sets, routed by
 * each request's protocol), experiment provider, cell-set store → the request pipeline's
 * policy → queue loop; signal handling.
 */
import type { Server } from "node:http";
import { deploymentOf, healthOf, labelsFileOf, labelsPollMsOf, loadServiceConfig, logFormat, type ServiceConfig } from "../config.ts";
import { waitForAssignment } from "./assignment.ts";
import { createAwsClients } from "./aws.ts";
import { SqsTransport } from "../transport/sqs.ts";
import { SnsS3Publisher, snsTopic } from "../publish/sns-s3.ts";
import { CurrentPublisher } from "../publish/current.ts";
import { ProtocolRouter } from "../publish/by-protocol.ts";
import { S3ObjectStore } from "../publish/object-store.ts";
import { RedisSocketEvents, type SocketEvents } from "../publish/socket-events.ts";
import { StatusCode } from "../publish/heartbeat.ts";
import { CellenicsApi } from "../publish/api-client.ts";
import { S3ExperimentProvider } from "./experiment-provider.ts";
import { DynamoCellSetStore, FileCellSetStore, type CellSetStore } from "../experiment/cell-sets/store.ts";
import { S3BucketCellSetStore } from "../experiment/cell-sets/s3-bucket-store.ts";
import { cellSetsFileOf } from "../experiment/source/s3-sync.ts";
import { QueueWorker } from "./queue-worker.ts";
import { startHealthServer } from "./health.ts";
import { createLogger, type Logger } from "../log.ts";
import { join } from "node:path";
import { existsSync, readdirSync } from "node:fs";

/** A message the worker gives back (infrastructure down too long, or a bug) is visible again after this many seconds. */
const HAND_BACK_DELAY_S = 30;

export async function serve(env: NodeJS.ProcessEnv = process.env, log: Logger = createLogger({ format: logFormat(env, "json") })): Promise<number> {
  const deployment = deploymentOf(env);
  const healthConfig = healthOf(env);
  let ready = (): boolean => false;
  let health: Server | null = null;
  let worker: QueueWorker | null = null;
  const waiting = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    waiting.abort();
    if (worker) void worker.stop(signal);
    else log("stopping", { reason: signal });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  let events: SocketEvents | null = null;
  let aws: ReturnType<typeof createAwsClients> | null = null;
  let experiments: S3ExperimentProvider | null = null;
  try {
    if (healthConfig.port !== null) {
      health = await startHealthServer(healthConfig.port, healthConfig.host, () => ready());
      log("health endpoints listening", { address: `${healthConfig.host}:${(health.address() as { port: number }).port}` });
    }
    let labels: Record<string, string> = {};
    if (deployment === "current") {
      const file = labelsFileOf(env);
      const assigned = await waitForAssignment({
        file, env, pollMs: labelsPollMsOf(env), signal: waiting.signal,
        onWaiting: () => log("waiting for an experiment to be assigned", { labelsFile: file }),
      });
      if (!assigned) return 0; // stopped while unassigned
      labels = assigned;
    }
    const config = loadServiceConfig(env, labels);
    log("configuration", describe(config));
    aws = createAwsClients(config);
    let transportReady = false;
    const transport = new SqsTransport(aws.sqs, {
      queueName: config.queueName,
      waitTimeS: config.waitTimeS,
      visibilityTimeoutS: config.visibilityTimeoutS,
      log,
      onReady: () => { transportReady = true; },
    });
    const { experimentId } = config;
    const provider = new S3ExperimentProvider({
      s3: aws.s3,
      bucket: config.sourceBucket,
      experimentId: config.experimentId,
      dataDir: config.dataDir,
      cacheDir: config.cacheDir,
      cellSets: cellSetStore(config, aws),
      log,
      compute: config.compute,
      taskTimeoutMs: config.taskTimeoutS * 1000,
      loadTimeoutMs: config.loadTimeoutS * 1000,
      limits: config.limits,
    });
    experiments = provider;
    ready = () => transportReady && provider.loaded;
    events = config.redis ? new RedisSocketEvents(config.redis, log) : null;
    const results = new S3ObjectStore(aws.s3, config.resultsBucket);
    const api = new CellenicsApi({ baseUrl: config.apiUrl, attempts: config.apiAttempts, backoffMs: config.apiRetryBackoffMs, timeoutMs: config.apiTimeoutMs, log });
    const current = events ? new CurrentPublisher({ store: results, events, api, log }) : null;
    worker = new QueueWorker({
      transport,
      pipeline: {
        publisher: new ProtocolRouter({ "2021": new SnsS3Publisher({ topic: snsTopic(aws.sns, config.topicArn), store: results }), current }),
        experiments: provider,
        policy: {
          experimentId,
          maxReceiveCount: config.maxReceiveCount,
          dropExpired: true,
          limits: { maxBytes: config.limits.maxRequestBytes, maxDepth: config.limits.maxRequestDepth },
        },
        taskLimits: { maxResultValues: config.limits.maxResultValues },
        retries: { backoff: { initialMs: 1000, maxMs: 30_000 }, windowS: 900, handBackDelayS: HAND_BACK_DELAY_S, visibilityTimeoutS: config.visibilityTimeoutS },
        log,
      },
      log,
      options: { ...config, handBackDelayS: HAND_BACK_DELAY_S },
    });
    if (waiting.signal.aborted) return 0;
    // load the experiment up front so the first request does not pay for it (errors are answered per request);
    // in today's Cellenics the UI that caused the assignment is waiting: tell it (spec §2.6.1)
    const assignment = { era: "current", id: null, echo: null, experimentId, taskName: null } as const;
    const hooks = current && config.deployment === "current"
      ? {
        downloading: () => void current.status(assignment, StatusCode.DOWNLOAD_EXPERIMENT),
        loading: () => void current.status(assignment, StatusCode.LOAD_TO_MEMORY),
      }
      : {};
    provider.get(hooks).catch((err: Error) => log("experiment not loaded yet", { error: err.message }));
    return await worker.run();
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    health?.close();
    await experiments?.close();
    await events?.close();
    aws?.destroy();
    log("worker stopped");
  }
}

function cellSetStore(config: ServiceConfig, aws: ReturnType<typeof createAwsClients>): CellSetStore {
  switch (config.cellSetsSource) {
    case "cell-sets-bucket":
      return new S3BucketCellSetStore(aws.s3, config.cellSetsBucket);
    case "dynamodb":
      return new DynamoCellSetStore(aws.dynamodb, config.dynamoTable);
    case "local":
      return new FileCellSetStore(() => config.cellSetsFile);
    case "s3": {
      const dir = join(config.dataDir, config.experimentId);
      return new FileCellSetStore(() => {
        if (!existsSync(dir)) return null;
        return cellSetsFileOf({ dir, downloaded: [], files: readdirSync(dir) });
      });
    }
  }
}

/** The configuration as logged: names and switches only, never credentials. */
function describe(c: ServiceConfig): Record<string, unknown> {
  return {
    deployment: c.deployment, clusterEnv: c.clusterEnv, experimentId: c.experimentId, sandboxId: c.sandboxId, queue: c.queueName,
    topicArn: c.topicArn, sourceBucket: c.sourceBucket, resultsBucket: c.resultsBucket, cellSets: c.cellSetsSource,
    ...(c.cellSetsSource === "cell-sets-bucket" ? { cellSetsBucket: c.cellSetsBucket } : {}),
    redis: c.redis ? { endpoint: redisEndpoint(c.redis.url), tls: c.redis.tls, verify: c.redis.rejectUnauthorized } : null,
    api: c.apiUrl, endpoints: c.endpoints, workTimeoutS: c.workTimeoutS, ignoreTimeout: c.ignoreTimeout,
  };
}

/** host:port of a Redis URL (never its password). */
function redisEndpoint(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(invalid)";
  }
}
