/**
 * Reads WorkResponses back from the listener queue that `provision` subscribes to the results
 * topic, one summary line each (task, request uuid or ETag, ok/error, result size or S3 path),
 * optionally followed by the full JSON. Messages are deleted once printed. Without `follow` it
 * drains what is waiting and returns; with it, it long-polls until the signal aborts.
 */
import { DeleteMessageBatchCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { LOCAL_CREDENTIALS, localNames } from "./provision.ts";

export interface FollowResultsOptions {
  /** SQS endpoint (the local emulators' endpoint) */
  endpoint: string;
  /** default: work-results-development-default-listener */
  queueName?: string;
  region?: string;
  /** keep long-polling (until `signal` aborts) instead of returning once the queue is empty */
  follow: boolean;
  print: (line: string) => void;
  /** also print each message's full JSON on its own line */
  full?: boolean;
  signal?: AbortSignal;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** long-poll wait while following (seconds, ≤ 20) */
  waitTimeS?: number;
}

interface ResultPartLike { type?: unknown; body?: unknown }
interface WorkResponseLike {
  request?: { uuid?: unknown; ETag?: unknown; body?: { name?: unknown } };
  results: ResultPartLike[];
  response: { error?: unknown; errorCode?: unknown; userMessage?: unknown };
}

/**
 * The WorkResponse in a message body: raw delivery gives the published string itself; an SNS
 * envelope (`{Type: "Notification", Message}`) and a `MessageStructure: "json"` wrapper
 * (`{default: "…"}`) are unwrapped too.
 */
export function unwrapMessage(body: string): unknown {
  let value: unknown = JSON.parse(body);
  for (let depth = 0; depth < 3; depth++) {
    const v = value as Record<string, unknown> | null;
    if (v && typeof v === "object" && v.Type === "Notification" && typeof v.Message === "string") value = JSON.parse(v.Message);
    else if (v && typeof v === "object" && Object.keys(v).length === 1 && typeof v.default === "string") value = JSON.parse(v.default);
    else break;
  }
  return value;
}

function isWorkResponse(v: unknown): v is WorkResponseLike {
  const r = v as WorkResponseLike | null;
  return !!r && typeof r === "object" && Array.isArray(r.results) && !!r.response && typeof r.response === "object";
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

/** One line for a message body: `GetEmbedding 509520fe-… ok 1 result, 43210 bytes inline`. */
export function summarizeMessage(body: string): string {
  let value: unknown;
  try {
    value = unwrapMessage(body);
  } catch {
    return `(not JSON) ${body.slice(0, 120)}`;
  }
  if (!isWorkResponse(value)) return `(not a WorkResponse) ${JSON.stringify(value).slice(0, 120)}`;
  const name = str(value.request?.body?.name) ?? "?";
  const id = str(value.request?.uuid) ?? str(value.request?.ETag) ?? "?";
  const head = `${name} ${id}`;
  if (value.response.error) {
    let code = str(value.response.errorCode);
    let message = str(value.response.userMessage);
    const first = value.results[0];
    if ((!code || !message) && first && first.type !== "s3-path" && typeof first.body === "string") {
      try {
        const b = JSON.parse(first.body) as { errorCode?: unknown; userMessage?: unknown };
        code ??= str(b.errorCode);
        message ??= str(b.userMessage);
      } catch { /* body is not JSON */ }
    }
    return `${head} error ${code ?? "?"}: ${message ?? ""}`.trimEnd();
  }
  const n = value.results.length;
  const paths = value.results.filter((r) => r.type === "s3-path").map((r) => String(r.body));
  const inlineBytes = value.results.filter((r) => r.type !== "s3-path")
    .reduce((sum, r) => sum + Buffer.byteLength(typeof r.body === "string" ? r.body : JSON.stringify(r.body ?? "")), 0);
  const parts = [`${n} result${n === 1 ? "" : "s"}`];
  if (paths.length < n) parts.push(`${inlineBytes} bytes inline`);
  if (paths.length) parts.push(`s3-path ${paths.join(" ")}`);
  return `${head} ok ${parts.join(", ")}`;
}

const isAbort = (err: unknown, signal?: AbortSignal): boolean =>
  !!signal?.aborted || (err as { name?: string })?.name === "AbortError";

/** Prints and deletes results; returns how many messages were read. */
export async function followResults(opts: FollowResultsOptions): Promise<{ count: number }> {
  const client = new SQSClient({
    endpoint: opts.endpoint,
    region: opts.region ?? "eu-west-1",
    credentials: opts.credentials ?? LOCAL_CREDENTIALS,
  });
  const queueName = opts.queueName ?? localNames().listenerQueueName;
  const signal = opts.signal;
  let count = 0;
  try {
    const queueUrl = (await client.send(new GetQueueUrlCommand({ QueueName: queueName }), { abortSignal: signal })).QueueUrl!;
    while (!signal?.aborted) {
      let messages;
      try {
        messages = (await client.send(new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: opts.follow ? Math.min(20, opts.waitTimeS ?? 20) : 0,
          MessageSystemAttributeNames: ["SentTimestamp"],
        }), { abortSignal: signal })).Messages ?? [];
      } catch (err) {
        if (isAbort(err, signal)) break;
        throw err;
      }
      if (messages.length === 0) {
        if (opts.follow) continue;
        break;
      }
      for (const m of messages) {
        const sent = Number(m.Attributes?.SentTimestamp);
        const time = Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString().slice(11, 19) : "--:--:--";
        opts.print(`${time} ${summarizeMessage(m.Body ?? "")}`);
        if (opts.full) {
          let full = m.Body ?? "";
          try {
            full = JSON.stringify(unwrapMessage(full));
          } catch { /* print as received */ }
          opts.print(full);
        }
        count++;
      }
      await client.send(new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }));
    }
    return { count };
  } catch (err) {
    if (isAbort(err, signal)) return { count };
    throw err;
  } finally {
    client.destroy();
  }
}
