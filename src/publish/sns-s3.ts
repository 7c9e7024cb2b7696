/**
 * The 2021 Cellenics protocol (reference spec §2.10): the WorkResponse is published to the
 * SNS topic the API listens on; when it would be too large for SNS, each result body is first
 * uploaded to the results bucket (`{requestId}/{random uuid}`) and referenced as
 * `{type: "s3-path", body: "bucket/key"}`.
 *
 * The message is published as the plain JSON string. The original wrapped it in
 * `MessageStructure: "json"` with only a "default" key, which delivers the same body to every
 * subscriber; emulators (fauxqs) do not honour MessageStructure.
 */
import { randomUUID } from "node:crypto";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Publisher } from "./publisher.ts";
import { toWorkResponse, redactRequest, type TaskResult, type WorkResponse } from "../result/response.ts";
import { needsOffload } from "../result/encode.ts";
import { isFileResult, type FileResult } from "../result/file-result.ts";

export class SnsS3Publisher implements Publisher {
  private readonly sns: SNSClient;
  private readonly s3: S3Client;
  private readonly topicArn: string;
  private readonly resultsBucket: string;

  constructor(opts: { sns: SNSClient; s3: S3Client; topicArn: string; resultsBucket: string }) {
    this.sns = opts.sns;
    this.s3 = opts.s3;
    this.topicArn = opts.topicArn;
    this.resultsBucket = opts.resultsBucket;
  }

  async publishResult(request: unknown, result: TaskResult, requestId: string): Promise<void> {
    if (result.ok && isFileResult(result.data)) {
      const body = await this.uploadFile(result.data, requestId);
      await this.publish({
        request: redactRequest(request),
        results: [{ "content-type": result.data.contentType, "content-encoding": result.data.contentEncoding, type: "s3-path", body }],
        response: { cacheable: false, error: false },
      });
      return;
    }
    await this.publish(toWorkResponse(request, result), requestId);
  }

  /** Streams a file result into the results bucket (multipart, bounded memory); returns `bucket/key`. */
  private async uploadFile(file: FileResult, requestId: string): Promise<string> {
    const key = `${safeKeyPart(requestId)}/${randomUUID()}`;
    await new Upload({
      client: this.s3,
      params: { Bucket: this.resultsBucket, Key: key, Body: file.open(), ContentType: file.contentType },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    }).done();
    return `${this.resultsBucket}/${key}`;
  }

  private async publish(response: WorkResponse, requestId = "request"): Promise<void> {
    let message = response;
    if (needsOffload(response)) {
      const results = await Promise.all(
        response.results.map(async (part) => {
          const key = `${safeKeyPart(requestId)}/${randomUUID()}`;
          await this.s3.send(new PutObjectCommand({ Bucket: this.resultsBucket, Key: key, Body: part.body, ContentType: part["content-type"] }));
          return { ...part, type: "s3-path" as const, body: `${this.resultsBucket}/${key}` };
        }),
      );
      message = { ...response, results };
    }
    await this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Message: JSON.stringify(message) }));
  }
}

/** Request ids come from users: keep S3 keys to a safe alphabet. */
function safeKeyPart(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 200);
  return cleaned === "" || /^\.+$/.test(cleaned) ? "request" : cleaned;
}
