/**
 * SQS long-poll transport (AWS SDK v3). The queue URL is looked up once and re-looked-up
 * with exponential backoff while the queue does not exist yet (the API creates it lazily);
 * a message is deleted only on `ack`, after its response went out.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Delivery, Transport } from "./transport.ts";
import type { Logger } from "../log.ts";
import { BackoffTimer, sleep } from "../retry.ts";

export interface SqsTransportOptions {
  queueName: string;
  waitTimeS: number;
  visibilityTimeoutS: number;
  log: Logger;
  /** first and maximum delay between queue-URL lookups */
  backoffMs?: { initial: number; max: number };
  /** called once the queue URL is known */
  onReady?: () => void;
}

const isMissingQueue = (err: unknown): boolean => {
  const e = err as { name?: string; Code?: string; message?: string };
  return e?.name === "QueueDoesNotExist" || e?.name === "AWS.SimpleQueueService.NonExistentQueue" || /NonExistentQueue|does not exist/i.test(e?.message ?? "");
};

export class SqsTransport implements Transport {
  private readonly client: SQSClient;
  private readonly opts: SqsTransportOptions;
  private url: string | null = null;
  /** pauses after a failed lookup or receive, reset by a successful receive */
  private readonly backoff: BackoffTimer;

  constructor(client: SQSClient, opts: SqsTransportOptions) {
    this.client = client;
    this.opts = opts;
    this.backoff = new BackoffTimer({ initialMs: opts.backoffMs?.initial ?? 1000, maxMs: opts.backoffMs?.max ?? 30_000 });
  }

  /** The queue URL, waiting with exponential backoff while the queue does not exist. */
  async queueUrl(signal: AbortSignal): Promise<string | null> {
    while (this.url === null && !signal.aborted) {
      try {
        const out = await this.client.send(new GetQueueUrlCommand({ QueueName: this.opts.queueName }), { abortSignal: signal });
        this.url = out.QueueUrl ?? null;
        if (this.url) {
          this.opts.log("queue found", { queue: this.opts.queueName });
          this.opts.onReady?.();
        }
      } catch (err) {
        if (signal.aborted) return null;
        const missing = isMissingQueue(err);
        const delay = this.backoff.next();
        this.opts.log(missing ? "queue does not exist yet; waiting" : "queue lookup failed; retrying", {
          queue: this.opts.queueName, retryInMs: delay, ...(missing ? {} : { error: (err as Error).message }),
        });
        await sleep(delay, signal);
      }
    }
    return this.url;
  }

  async receive(signal: AbortSignal): Promise<Delivery | null> {
    const url = await this.queueUrl(signal);
    if (!url || signal.aborted) return null;
    let out;
    try {
      out = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: this.opts.waitTimeS,
          VisibilityTimeout: this.opts.visibilityTimeoutS,
          MessageSystemAttributeNames: ["ApproximateReceiveCount"],
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (signal.aborted) return null;
      if (isMissingQueue(err)) this.url = null; // deleted under us: look it up again
      const delay = this.backoff.next();
      this.opts.log("receive failed; backing off", { error: (err as Error).message, retryInMs: delay });
      await sleep(delay, signal);
      return null;
    }
    this.backoff.reset();
    const msg = out.Messages?.[0];
    if (!msg?.ReceiptHandle) return null;
    const handle = msg.ReceiptHandle;
    const visibility = (seconds: number): Promise<void> =>
      this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: handle, VisibilityTimeout: seconds })).then(() => {});
    return {
      id: msg.MessageId ?? "",
      body: msg.Body ?? "",
      receiveCount: Number(msg.Attributes?.ApproximateReceiveCount ?? "1"),
      ack: () => this.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle })).then(() => {}),
      release: (delaySeconds = 0) => visibility(Math.max(0, Math.min(43_200, Math.round(delaySeconds)))),
      extend: (seconds) => visibility(seconds),
    };
  }
}
