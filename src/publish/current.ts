/**
 * Today's Cellenics protocol (reference spec §2.9): results in S3 under the request's ETag,
 * events through socket.io's Redis adapter.
 *
 * For one request, in the original's order:
 * 1. cacheable success: `COMPRESSING_DATA`, zstd level 3 (JSON results), `UPLOADING_DATA`,
 *    upload to `worker-results…/{ETag}` with the two tags the API authorises signed URLs by
 *    (`experimentId`, `requestType`). File results (a FileResult: the normalized-matrix gzip
 *    CSV) are streamed as they are, without zstd and without content metadata, as the
 *    original uploaded them (multipart, so the file is never whole in memory). The tags go
 *    with the upload (so the object is never visible untagged) and again as
 *    PutObjectTagging, which is what the original did and what emulators without tagging
 *    headers honour.
 * 2. `ExperimentUpdates-{experimentId}` with the notification when `requestProps.broadcast`.
 * 3. Heartbeat `FINISHED_TASK`.
 * 4. `WorkResponse-{ETag}`: the base64 string of the zstd bytes when they are at most 250,000
 *    (cacheable, no error, not a file), else the notification object
 *    `{type: "WorkResponse", request, response: {cacheable, error, signedUrl, errorCode?, userMessage?}}`.
 *
 * The echoed request never carries the user's `Authorization` (the original broadcast it to
 * every client) nor any other token or the signed URL; the broadcast copy carries no signed URL
 * either (`signedUrl: null`): only the requester's own `WorkResponse-{ETag}` has it.
 * Heartbeats are best effort; a failed upload or event rejects (the message is retried).
 */
import type { Readable } from "node:stream";
import { HeadObjectCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { SocketEvents } from "./socket-events.ts";
import { heartbeat, StatusCode } from "./heartbeat.ts";
import { wireErrorCode } from "./wire-error-codes.ts";
import { redactRequest, type TaskResult } from "../result/response.ts";
import { isFileResult } from "../result/file-result.ts";
import { compressResult, INLINE_LIMIT_BYTES, serializeResult } from "../result/encode.ts";
import type { Logger } from "../log.ts";

/** What the publisher needs of a current-protocol request (a valid envelope, or the ETag of an invalid one). */
export interface CurrentRequest {
  etag: string;
  /** null when an invalid request has none: then no heartbeat or broadcast is sent */
  experimentId: string | null;
  taskName: string | null;
  /** the request as received */
  raw: Record<string, unknown>;
}

export interface WorkResponseNotification {
  type: "WorkResponse";
  request: unknown;
  response: { cacheable: boolean; error: boolean; signedUrl: string | null; errorCode?: string; userMessage?: string };
}

/** The fields of an SQS message the publisher reads, from a parsed or unparsed request. */
export function currentRequestOf(raw: Record<string, unknown>, etag: string): CurrentRequest {
  const body = raw.body as { name?: unknown } | undefined;
  return {
    etag,
    experimentId: typeof raw.experimentId === "string" && raw.experimentId !== "" ? raw.experimentId.slice(0, 256) : null,
    taskName: typeof body?.name === "string" ? body.name : null,
    raw,
  };
}

export class CurrentPublisher {
  private readonly s3: S3Client;
  private readonly bucket: string;
  private readonly events: SocketEvents;
  private readonly log: Logger;

  constructor(opts: { s3: S3Client; resultsBucket: string; events: SocketEvents; log: Logger }) {
    this.s3 = opts.s3;
    this.bucket = opts.resultsBucket;
    this.events = opts.events;
    this.log = opts.log;
  }

  /** Whether a non-empty result is already stored under this ETag (spec §2.5 duplicate check). */
  async resultExists(etag: string): Promise<boolean> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: etag }));
      return (head.ContentLength ?? 0) > 0;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) return false;
      throw err;
    }
  }

  /** Sends a heartbeat; never throws (a lost heartbeat only shortens the UI's patience). */
  async heartbeat(experimentId: string | null, code: StatusCode, taskName: string | null, progressPercent: number | null = null): Promise<void> {
    if (experimentId === null) return;
    try {
      await this.events.emit(`Heartbeat-${experimentId}`, heartbeat(code, taskName, progressPercent));
    } catch (err) {
      this.log("heartbeat not sent", { status: code, error: (err as Error).message });
    }
  }

  /** Stores (when cacheable) and announces one result. */
  async publish(req: CurrentRequest, result: TaskResult): Promise<void> {
    let inline: string | null = null;
    const cacheable = result.ok && result.cacheable;
    if (result.ok && cacheable) {
      if (isFileResult(result.data)) {
        await this.heartbeat(req.experimentId, StatusCode.UPLOADING_DATA, req.taskName);
        await this.store(req, result.data.open());
      } else {
        await this.heartbeat(req.experimentId, StatusCode.COMPRESSING_DATA, req.taskName);
        const compressed = await compressResult(serializeResult(result.data));
        await this.heartbeat(req.experimentId, StatusCode.UPLOADING_DATA, req.taskName);
        await this.store(req, compressed);
        if (compressed.length <= INLINE_LIMIT_BYTES) inline = compressed.toString("base64");
      }
    }
    const response: WorkResponseNotification["response"] = result.ok
      ? { cacheable, error: false, signedUrl: signedUrlOf(req.raw) }
      : { cacheable: false, error: true, signedUrl: signedUrlOf(req.raw), errorCode: wireErrorCode(result.code), userMessage: result.message };
    const notification: WorkResponseNotification = { type: "WorkResponse", request: redactRequest(req.raw), response };
    if (req.experimentId !== null && isBroadcast(req.raw)) {
      await this.events.emit(`ExperimentUpdates-${req.experimentId}`, { ...notification, response: { ...response, signedUrl: null } });
    }
    await this.heartbeat(req.experimentId, StatusCode.FINISHED_TASK, req.taskName);
    await this.events.emit(`WorkResponse-${req.etag}`, inline ?? notification);
  }

  /** A request whose result is already stored: the requester is pointed at it, nothing is recomputed. */
  async notifyStored(req: CurrentRequest): Promise<void> {
    const notification: WorkResponseNotification = {
      type: "WorkResponse",
      request: redactRequest(req.raw),
      response: { cacheable: true, error: false, signedUrl: signedUrlOf(req.raw) },
    };
    await this.events.emit(`WorkResponse-${req.etag}`, notification);
  }

  private async store(req: CurrentRequest, body: Uint8Array | Readable): Promise<void> {
    const tags = [
      { Key: "experimentId", Value: req.experimentId ?? "" },
      { Key: "requestType", Value: req.taskName ?? "" },
    ];
    const params = { Bucket: this.bucket, Key: req.etag, Tagging: new URLSearchParams(tags.map((t): [string, string] => [t.Key, t.Value])).toString() };
    if (body instanceof Uint8Array) {
      await this.s3.send(new PutObjectCommand({ ...params, Body: body }));
    } else {
      try {
        await new Upload({ client: this.s3, params: { ...params, Body: body }, queueSize: 2, partSize: 8 * 1024 * 1024 }).done();
      } finally {
        body.destroy(); // stops the producer if the upload failed half-way
      }
    }
    await this.s3.send(new PutObjectTaggingCommand({ Bucket: this.bucket, Key: req.etag, Tagging: { TagSet: tags } }));
  }
}

function signedUrlOf(raw: Record<string, unknown>): string | null {
  return typeof raw.signedUrl === "string" ? raw.signedUrl : null;
}

function isBroadcast(raw: Record<string, unknown>): boolean {
  const props = raw.requestProps as { broadcast?: unknown } | undefined;
  return typeof props === "object" && props !== null && Boolean(props.broadcast);
}
