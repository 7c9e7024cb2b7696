/**
 * `npm run infra`: local AWS for `cellworker serve` without an AWS account. Starts the
 * emulators (SQS/SNS/S3 on 127.0.0.1:4566, DynamoDB on 127.0.0.1:4567), creates the queue,
 * topic, buckets, table and demo experiment, prints the environment to run the worker with and
 * an example request, then stays up until Ctrl-C. State lives in memory only.
 *
 *   npm run infra [-- --port 4566 --dynamo-port 4567 --verbose]
 */
import { parseArgs } from "node:util";
import { startEmulators } from "../tools/infra/emulators.ts";
import { DEMO_EXPERIMENT_ID, localNames, provision } from "../tools/infra/provision.ts";

const USAGE = "usage: npm run infra [-- --port N (default 4566)] [--dynamo-port N (default 4567)] [--verbose]";

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string", default: "4566" },
        "dynamo-port": { type: "string", default: "4567" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    process.stderr.write(`infra: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const port = Number(values.port);
  const dynamoPort = Number(values["dynamo-port"]);
  if (![port, dynamoPort].every((p) => Number.isInteger(p) && p >= 0 && p < 65536)) {
    process.stderr.write(`infra: ports must be integers 0..65535\n${USAGE}\n`);
    return 2;
  }
  const region = "eu-west-1";
  const clusterEnv = "development";
  const sandboxId = "default";
  let emulators;
  try {
    emulators = await startEmulators({
      port, dynamoPort, region, host: "127.0.0.1",
      ...(values.verbose ? { onRequest: (line: string) => process.stderr.write(`infra: ${line}\n`) } : {}),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(e.code === "EADDRINUSE"
      ? `infra: port in use (${e.message}); is another \`npm run infra\` or LocalStack running? Use --port/--dynamo-port.\n`
      : `infra: could not start the emulators: ${e.stack ?? e.message}\n`);
    return 1;
  }
  const names = localNames(clusterEnv, sandboxId);
  const p = await provision({ endpoint: emulators.endpoint, dynamoEndpoint: emulators.dynamoEndpoint, region, names, experimentId: DEMO_EXPERIMENT_ID });
  const payload = "examples/requests/list-genes.json";
  const ep = emulators.endpoint;
  const env = [
    `AWS_ENDPOINT_URL=${ep}`,
    `AWS_ENDPOINT_URL_DYNAMODB=${emulators.dynamoEndpoint}`,
    "AWS_ACCESS_KEY_ID=test",
    "AWS_SECRET_ACCESS_KEY=test",
    `AWS_DEFAULT_REGION=${region}`,
    `CLUSTER_ENV=${clusterEnv}`,
  ];
  process.stdout.write([
    `Local AWS is up (in memory; Ctrl-C stops it):`,
    `  SQS/SNS/S3  ${ep}   (fauxqs; LocalStack-style queue URLs and the SQS query protocol accepted)`,
    `  DynamoDB    ${emulators.dynamoEndpoint}   (dynalite; also reachable through ${ep})`,
    ``,
    `  work queue      ${p.queueName}   (send to ${ep}/queue/${p.queueName})`,
    `  results topic   ${p.topicArn}`,
    `  results queue   ${p.listenerQueueName}   (subscribed to the topic, raw delivery)`,
    `  buckets         ${p.sourceBucket} (experiment ${p.experimentId}: ${p.uploaded.length + p.unchanged.length} files), ${p.resultsBucket}`,
    `  table           ${p.table} (item ${p.experimentId}, cell sets: defaults)`,
    ``,
    `Run the worker in another terminal:`,
    `  ${env.join(" \\\n  ")} \\`,
    `  npx cellworker serve`,
    ``,
    `Send a request (awscli, from the repository root):`,
    `  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=${region}`,
    `  aws --endpoint-url=http://localhost:${new URL(ep).port} sqs send-message --queue-url http://localhost:${new URL(ep).port}/queue/${p.queueName} \\`,
    `    --message-body "$(< ${payload})" --message-group-id "$(date +%s)"`,
    ``,
    `Read results:  npm run results -- --follow`,
    ``,
  ].join("\n"));

  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      done();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  process.stdout.write("\nstopping local AWS\n");
  await emulators.stop();
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`infra: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
