/**
 * Where answers go. One interface, implemented by the 2021 protocol (SNS + S3 offload,
 * publish/sns-s3.ts), today's Cellenics protocol (S3 under the ETag + socket.io events,
 * publish/current.ts), both behind publish/by-protocol.ts in `serve`, and stdout / a file on
 * the command line (publish/stdout.ts). The request pipeline (src/pipeline/request.ts) calls
 * these in one order for every request and knows nothing of the protocols.
 */
import type { TaskFailed, TaskResult } from "../result/response.ts";
import type { StatusCode } from "./heartbeat.ts";

/** Who asked: enough to answer a request, valid or not. */
export interface Address {
  /** the envelope's protocol; null when the request could not be read far enough to tell */
  era: "current" | "2021" | null;
  /** the ETag (current) or uuid (2021) the answer is addressed to; null when the request has none */
  id: string | null;
  /** the request to echo (tokens are removed when it is sent); its identifying fields only when it was too large or deep */
  echo: Record<string, unknown> | null;
  /** the experiment whose channels may carry events about this request: null unless it is the one this worker serves */
  experimentId: string | null;
  /** the task's name, for status messages and result tags */
  taskName: string | null;
}

/** A task's change to the experiment's cell sets (its declared effect and the result it returned). */
export interface CellSetChange {
  effect: "replace-class" | "append-to-scratchpad";
  /** the class (replace-class) or set (append-to-scratchpad) the task returned */
  data: unknown;
  /** the requester's Authorization, when the protocol saves through the API */
  authorization: string | null;
}

export interface Publisher {
  /** Whether a request at this address can be answered at all (else the pipeline drops it with a log line). */
  accepts(to: Address): boolean;
  /** Sends the answer. Throws when it could not (the pipeline retries transient failures). */
  publish(to: Address, result: TaskResult): Promise<void>;
  /** The duplicate check: whether this request's answer is already stored (not recomputed). */
  alreadyAnswered?(to: Address): Promise<boolean>;
  /** Points the requester at the stored answer. Throws when it could not. */
  answerFromStore?(to: Address): Promise<void>;
  /** A status event (e.g. a heartbeat with progress). Best effort: never throws. */
  status?(to: Address, code: StatusCode, progressPercent?: number | null): Promise<void>;
  /** Saves a task's cell-set change where this protocol keeps cell sets: null when saved, else the failure to answer. */
  saveCellSets?(to: Address, change: CellSetChange): Promise<TaskFailed | null>;
}
