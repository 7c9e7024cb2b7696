/**
 * Composition root of `cellworker serve`: configuration → AWS clients → transport, publisher,
 * experiment provider, cell-set store → worker loop; health endpoints; signal handling.
 */
import type { Server } from "node:http";
import { loadServiceConfig, type ServiceConfig } from "./config.ts";
import { createAwsClients } from "./aws.ts";
import { SqsTransport } from "../transport/sqs.ts";
import { SnsS3Publisher } from "../publish/sns-s3.ts";
import { S3ExperimentProvider } from "./experiment-provider.ts";
import { DynamoCellSetStore, FileCellSetStore, type CellSetStore } from "../experiment/cell-sets/store.ts";
import { cellSetsFileOf } from "../experiment/source/s3-sync.ts";
import { Worker } from "./worker.ts";
import { startHealthServer } from "./health.ts";
import { createLogger, type Logger } from "../log.ts";
import { logFormat } from "../config.ts";
import { join } from "node:path";
import { existsSync, readdirSync } from "node:fs";

export async function serve(env: NodeJS.ProcessEnv = process.env, log: Logger = createLogger({ format: logFormat(env, "json") })): Promise<number> {
  const config = loadServiceConfig(env);
  log("configuration", describe(config));
  const aws = createAwsClients(config);
  let transportReady = false;
  const transport = new SqsTransport(aws.sqs, {
    queueName: config.queueName,
    waitTimeS: config.waitTimeS,
    visibilityTimeoutS: config.visibilityTimeoutS,
    log,
    onReady: () => { transportReady = true; },
  });
  const experiments = new S3ExperimentProvider({
    s3: aws.s3,
    bucket: config.sourceBucket,
    experimentId: config.experimentId,
    dataDir: config.dataDir,
    cacheDir: config.cacheDir,
    cellSets: cellSetStore(config, aws),
    log,
  });
  const worker = new Worker({
    transport,
    publisher: new SnsS3Publisher({ sns: aws.sns, s3: aws.s3, topicArn: config.topicArn, resultsBucket: config.resultsBucket }),
    experiments,
    log,
    options: config,
  });
  let health: Server | null = null;
  if (config.healthPort !== null) {
    health = await startHealthServer(config.healthPort, config.healthHost, () => transportReady && experiments.loaded);
    log("health endpoints listening", { address: `${config.healthHost}:${(health.address() as { port: number }).port}` });
  }
  const onSignal = (signal: NodeJS.Signals): void => { void worker.stop(signal); };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // load the experiment up front so the first request does not pay for it (errors are answered per request)
  experiments.get().catch((err: Error) => log("experiment not loaded yet", { error: err.message }));
  try {
    return await worker.run();
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    health?.close();
    aws.destroy();
    log("worker stopped");
  }
}

function cellSetStore(config: ServiceConfig, aws: ReturnType<typeof createAwsClients>): CellSetStore {
  switch (config.cellSetsSource) {
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
    clusterEnv: c.clusterEnv, experimentId: c.experimentId, queue: c.queueName, topicArn: c.topicArn,
    sourceBucket: c.sourceBucket, resultsBucket: c.resultsBucket, cellSets: c.cellSetsSource,
    endpoints: c.endpoints, workTimeoutS: c.workTimeoutS, ignoreTimeout: c.ignoreTimeout,
  };
}
