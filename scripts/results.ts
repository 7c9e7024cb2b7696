/**
 * `npm run results [-- --follow] [--full]`: prints the WorkResponses the worker published to
 * the results topic, read from the listener queue that `npm run infra` subscribed to it (and
 * deletes them). Without --follow it prints what is waiting and exits.
 */
import { parseArgs } from "node:util";
import { followResults } from "../tools/infra/results.ts";
import { localNames } from "../tools/infra/provision.ts";

const USAGE = "usage: npm run results -- [--follow] [--full] [--endpoint URL] [--queue NAME] [--region REGION]";

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        follow: { type: "boolean", short: "f" },
        full: { type: "boolean" },
        endpoint: { type: "string" },
        queue: { type: "string" },
        region: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    process.stderr.write(`results: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const endpoint = values.endpoint ?? (env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL || "http://127.0.0.1:4566");
  const queueName = values.queue ?? localNames(env.CLUSTER_ENV || "development", env.SANDBOX_ID || "default").listenerQueueName;
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  if (values.follow) process.stderr.write(`results: following ${queueName} at ${endpoint} (Ctrl-C stops)\n`);
  try {
    const { count } = await followResults({
      endpoint,
      queueName,
      region: values.region ?? (env.AWS_DEFAULT_REGION || env.AWS_REGION || "eu-west-1"),
      follow: values.follow ?? false,
      full: values.full ?? false,
      print: (line) => process.stdout.write(line + "\n"),
      signal: controller.signal,
      ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } }
        : {}),
    });
    if (!values.follow && count === 0) process.stderr.write("results: no results waiting\n");
    return 0;
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: string };
    const refused = /ECONNREFUSED/.test(String(e.code ?? "") + String(e.message ?? "") + String((err as { cause?: unknown }).cause ?? ""));
    process.stderr.write(refused
      ? `results: nothing listening at ${endpoint}; start it with \`npm run infra\`\n`
      : `results: ${e.name ?? "error"}: ${e.message ?? String(err)}\n`);
    return 1;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
