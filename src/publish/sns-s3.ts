/**
 * The 2021 Cellenics protocol (reference spec §2.10): the WorkResponse is published to the
 * SNS topic the API listens on; when it would be too large for SNS, each result body is first
 * uploaded to the results bucket (`{requestId}/{random uuid}`) and referenced as
 * `{type: "s3-path", body: "bucket/key"}`. A request so large that even then the message would
 * not fit (its echo alone is over the limit) is echoed by its identifying fields and task name
 * only, so that every request is answered.
 *
 * The message is published as the plain JSON string. The original wrapped it in
 * `MessageStructure: "json"` with only a "default" key, which delivers the same body to every
 * subscriber; emulators (fauxqs) do not honour MessageStructure.
 */
import { randomUUID } from "node:crypto";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { Address, Publisher } from "./publisher.ts";
import type { ObjectStore } from "./object-store.ts";
import { safeObjectKey } from "./object-keys.ts";
import { toWorkResponse, redactRequest, type TaskResult, type WorkResponse } from "../result/response.ts";
import { needsOffload, SNS_LIMIT_BYTES } from "../result/encode.ts";
import { isFileResult, type FileResult } from "../result/file-result.ts";
import { minimalEcho } from "../envelope/limits.ts";

/** Where SNS messages go. */
export interface Topic {
  publish(message: string): Promise<void>;
}

/** The SNS topic `topicArn` (AWS SDK v3). */
export function snsTopic(sns: SNSClient, topicArn: string): Topic {
  return { publish: async (message) => { await sns.send(new PublishCommand({ TopicArn: topicArn, Message: message })); } };
}

export class SnsS3Publisher implements Publisher {
  private readonly topic: Topic;
  private readonly store: ObjectStore;

  constructor(opts: { topic: Topic; store: ObjectStore }) {
    this.topic = opts.topic;
    this.store = opts.store;
  }

  accepts(to: Address): boolean {
    return to.era === "2021" && to.id !== null;
  }

  async publish(to: Address, result: TaskResult): Promise<void> {
    const requestId = to.id ?? "request";
    if (result.ok && isFileResult(result.data)) {
      const body = await this.uploadFile(result.data, requestId);
      await this.send({
        request: redactRequest(to.echo),
        results: [{ "content-type": result.data.contentType, "content-encoding": result.data.contentEncoding, type: "s3-path", body }],
        response: { cacheable: false, error: false },
      }, requestId);
      return;
    }
    await this.send(toWorkResponse(to.echo, result), requestId);
  }

  /** Streams a file result into the results bucket (multipart, bounded memory); returns `bucket/key`. */
  private async uploadFile(file: FileResult, requestId: string): Promise<string> {
    const key = `${safeObjectKey(requestId)}/${randomUUID()}`;
    await this.store.put(key, file.open(), { contentType: file.contentType });
    return `${this.store.bucket}/${key}`;
  }

  private async send(response: WorkResponse, requestId: string): Promise<void> {
    let message = response;
    if (needsOffload(message)) {
      const results = await Promise.all(
        message.results.map(async (part) => {
          if (part.type !== "inline") return part;
          const key = `${safeObjectKey(requestId)}/${randomUUID()}`;
          await this.store.put(key, part.body, { contentType: part["content-type"] });
          return { ...part, type: "s3-path" as const, body: `${this.store.bucket}/${key}` };
        }),
      );
      message = { ...message, results };
    }
    let text = JSON.stringify(message);
    if (Buffer.byteLength(text) > SNS_LIMIT_BYTES) {
      // the echoed request itself is too large for SNS: echo what identifies it
      text = JSON.stringify({ ...message, request: identifyingEcho(message.request) });
    }
    await this.topic.publish(text);
  }
}

/** The request's identifying fields and task name (what the API needs to route the answer). */
function identifyingEcho(request: unknown): Record<string, unknown> {
  const echo: Record<string, unknown> = minimalEcho(request) ?? {};
  const body = (request as { body?: { name?: unknown } } | null)?.body;
  if (typeof body?.name === "string" && body.name.length <= 256) echo.body = { name: body.name };
  return echo;
}
