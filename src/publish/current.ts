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
 * Events go only to the channels of the experiment this worker serves (`Address.experimentId`
 * is null for a request naming another one), and an ETag is used as an object key only when
 * it is safe as one.
 *
 * Cell sets a task changed are saved through the API (publish/api-client.ts) with the
 * requester's `Authorization`; a failure is answered with `CELL_SETS_UPDATE_FAILED`.
 */
import type { Readable } from "node:stream";
import type { SocketEvents } from "./socket-events.ts";
import { heartbeat, StatusCode } from "./heartbeat.ts";
import { wireErrorCode } from "./wire-error-codes.ts";
import type { Address, CellSetChange, Publisher } from "./publisher.ts";
import type { ObjectStore } from "./object-store.ts";
import { isSafeObjectKey } from "./object-keys.ts";
import { cellSetPatchOf } from "./cell-set-patch.ts";
import { CellSetsUpdateError, type CellenicsApi } from "./api-client.ts";
import { redactRequest, type TaskFailed, type TaskResult } from "../result/response.ts";
import { ErrorCode, toFailure } from "../result/errors.ts";
import { isFileResult } from "../result/file-result.ts";
import { compressResult, INLINE_LIMIT_BYTES, serializeResult } from "../result/encode.ts";
import type { Logger } from "../log.ts";

export interface WorkResponseNotification {
  type: "WorkResponse";
  request: unknown;
  response: { cacheable: boolean; error: boolean; signedUrl: string | null; errorCode?: string; userMessage?: string };
}

export class CurrentPublisher implements Publisher {
  private readonly store: ObjectStore;
  private readonly events: SocketEvents;
  private readonly api: CellenicsApi | null;
  private readonly log: Logger;

  constructor(opts: { store: ObjectStore; events: SocketEvents; api?: CellenicsApi | null; log: Logger }) {
    this.store = opts.store;
    this.events = opts.events;
    this.api = opts.api ?? null;
    this.log = opts.log;
  }

  accepts(to: Address): boolean {
    return to.era === "current" && to.id !== null;
  }

  /** Whether a non-empty result is already stored under this ETag (spec §2.5 duplicate check). */
  async alreadyAnswered(to: Address): Promise<boolean> {
    if (to.id === null || !isSafeObjectKey(to.id)) return false;
    return ((await this.store.sizeOf(to.id)) ?? 0) > 0;
  }

  /** Sends a heartbeat; never throws (a lost heartbeat only shortens the UI's patience). */
  async status(to: Address, code: StatusCode, progressPercent: number | null = null): Promise<void> {
    if (to.experimentId === null) return;
    try {
      await this.events.emit(`Heartbeat-${to.experimentId}`, heartbeat(code, to.taskName, progressPercent));
    } catch (err) {
      this.log("heartbeat not sent", { status: code, error: (err as Error).message });
    }
  }

  /** Stores (when cacheable) and announces one result. */
  async publish(to: Address, result: TaskResult): Promise<void> {
    const etag = this.etagOf(to);
    let inline: string | null = null;
    const cacheable = result.ok && result.cacheable;
    if (result.ok && cacheable) {
      if (isFileResult(result.data)) {
        await this.status(to, StatusCode.UPLOADING_DATA);
        await this.put(to, etag, result.data.open());
      } else {
        await this.status(to, StatusCode.COMPRESSING_DATA);
        const compressed = await compressResult(serializeResult(result.data));
        await this.status(to, StatusCode.UPLOADING_DATA);
        await this.put(to, etag, compressed);
        if (compressed.length <= INLINE_LIMIT_BYTES) inline = compressed.toString("base64");
      }
    }
    const signedUrl = signedUrlOf(to.echo);
    const response: WorkResponseNotification["response"] = result.ok
      ? { cacheable, error: false, signedUrl }
      : { cacheable: false, error: true, signedUrl, errorCode: wireErrorCode(result.code), userMessage: result.message };
    const notification: WorkResponseNotification = { type: "WorkResponse", request: redactRequest(to.echo), response };
    if (to.experimentId !== null && isBroadcast(to.echo)) {
      await this.events.emit(`ExperimentUpdates-${to.experimentId}`, { ...notification, response: { ...response, signedUrl: null } });
    }
    await this.status(to, StatusCode.FINISHED_TASK);
    await this.events.emit(`WorkResponse-${etag}`, inline ?? notification);
  }

  /** A request whose result is already stored: the requester is pointed at it, nothing is recomputed. */
  async answerFromStore(to: Address): Promise<void> {
    const notification: WorkResponseNotification = {
      type: "WorkResponse",
      request: redactRequest(to.echo),
      response: { cacheable: true, error: false, signedUrl: signedUrlOf(to.echo) },
    };
    await this.events.emit(`WorkResponse-${this.etagOf(to)}`, notification);
  }

  /** PATCHes the cell-set change of a task's result through the API (spec §3.4). */
  async saveCellSets(to: Address, change: CellSetChange): Promise<TaskFailed | null> {
    const task = to.taskName ?? "This task";
    if (change.authorization === null || change.authorization === "") {
      return { ok: false, code: ErrorCode.INVALID_INPUT, message: `${task} saves cell sets through the API and needs the request's Authorization.` };
    }
    if (!this.api) return { ok: false, code: ErrorCode.CELL_SETS_UPDATE_FAILED, message: "The new cell sets could not be saved: no API is configured." };
    if (to.experimentId === null) return { ok: false, code: ErrorCode.INVALID_INPUT, message: "The request names no experiment this worker serves." };
    let patch;
    try {
      patch = cellSetPatchOf(change);
    } catch (err) {
      this.log("task result has not the shape of a cell-set change", { task, error: (err as Error).message });
      return { ok: false, code: ErrorCode.WORKER_ERROR, message: toFailure(err).message };
    }
    try {
      await this.api.patchCellSets(to.experimentId, change.authorization, patch);
      this.log("cell sets saved through the API", { id: to.id, task });
      return null;
    } catch (err) {
      const reason = err instanceof CellSetsUpdateError ? err.message : "unexpected error";
      this.log("cell sets could not be saved", { id: to.id, task, reason });
      return { ok: false, code: ErrorCode.CELL_SETS_UPDATE_FAILED, message: `The new cell sets could not be saved: ${reason}. Please try again.` };
    }
  }

  private etagOf(to: Address): string {
    if (to.id === null) throw new Error("a current-protocol answer needs the request's ETag");
    return to.id;
  }

  private async put(to: Address, etag: string, body: Uint8Array | Readable): Promise<void> {
    if (!isSafeObjectKey(etag)) throw new Error("the ETag cannot be used as an object key");
    await this.store.put(etag, body, { tags: { experimentId: to.experimentId ?? "", requestType: to.taskName ?? "" } });
  }
}

function signedUrlOf(echo: Record<string, unknown> | null): string | null {
  return typeof echo?.signedUrl === "string" ? echo.signedUrl : null;
}

function isBroadcast(echo: Record<string, unknown> | null): boolean {
  const props = echo?.requestProps as { broadcast?: unknown } | undefined;
  return typeof props === "object" && props !== null && Boolean(props.broadcast);
}
