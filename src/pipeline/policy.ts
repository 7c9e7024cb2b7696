/**
 * What to do with a received request before any work or event: read it (size cap before
 * parsing), check its envelope, then the rules of the deployment — expired requests are
 * dropped, a request for another experiment is refused (and gets no events on that
 * experiment's channels), so is (where the policy checks bodies: the command line) an unknown
 * task or a body its schema refuses, before the experiment is loaded; a request whose answer is already stored is pointed at it, and one
 * delivered too often (poison) is answered with an error instead of being computed again.
 */
import { parseEnvelope, parseRequestText } from "../envelope/parse.ts";
import { checkRequestShape, minimalEcho, type RequestLimits } from "../envelope/limits.ts";
import type { Envelope } from "../envelope/schema.ts";
import type { Address, Publisher } from "../publish/publisher.ts";
import { ErrorCode, toFailure } from "../result/errors.ts";
import type { TaskFailed } from "../result/response.ts";

export interface Policy {
  /** the experiment this worker serves; null: any (the command line) */
  experimentId: string | null;
  /** deliveries after which a request is answered with an error instead of computed; null: no limit */
  maxReceiveCount: number | null;
  /** drop requests whose `timeout` has passed (serve); the command line runs them regardless */
  dropExpired: boolean;
  limits: RequestLimits;
  /**
   * Checks the task name and body before anything is loaded (throws the WorkerError to answer).
   * The command line passes the task registry's check, so a bad body costs nothing; `serve`
   * leaves it to the compute thread, which keeps the task code (and its start-up cost) off the
   * main thread.
   */
  validate?: (body: { name: string; [field: string]: unknown }) => void;
}

export type Verdict =
  /** nothing to answer (or nobody to answer to): the message is deleted */
  | { kind: "drop"; reason: string; fields: Record<string, unknown> }
  /** refused without computing */
  | { kind: "refuse"; to: Address; result: TaskFailed; why: string; expiresAt: number | null; dropIfUnpublished: boolean }
  /** its answer is already stored: point the requester at it */
  | { kind: "answered-before"; to: Address; expiresAt: number }
  | { kind: "compute"; to: Address; envelope: Envelope };

/** Decides what to do with one received message; never throws. */
export async function admit(text: string, receiveCount: number, policy: Policy, publisher: Publisher, now = Date.now()): Promise<Verdict> {
  let raw: unknown;
  try {
    raw = parseRequestText(text, policy.limits);
  } catch (err) {
    const to: Address = { era: null, id: null, echo: null, experimentId: null, taskName: null };
    if (!publisher.accepts(to)) return { kind: "drop", reason: "unparseable message deleted", fields: { bytes: text.length, error: toFailure(err).message } };
    return refuse(to, err, "unreadable request");
  }
  let envelope: Envelope;
  try {
    envelope = parseEnvelope(raw, policy.limits);
  } catch (err) {
    const to = addressOf(raw, policy);
    if (!publisher.accepts(to)) return { kind: "drop", reason: "invalid request without an address deleted", fields: { error: toFailure(err).message } };
    return refuse(to, err, "invalid request");
  }
  const ours = policy.experimentId === null || envelope.experimentId === policy.experimentId;
  const to: Address = { era: envelope.era, id: envelope.id, echo: envelope.raw, experimentId: ours ? envelope.experimentId : null, taskName: envelope.body.name };
  const fields = { id: envelope.id, task: envelope.body.name };
  if (policy.dropExpired && envelope.timeoutMs <= now) {
    return { kind: "drop", reason: "expired request dropped", fields: { ...fields, expiredAt: new Date(envelope.timeoutMs).toISOString() } };
  }
  if (!publisher.accepts(to)) return { kind: "drop", reason: `no ${envelope.era} protocol configured: the request cannot be answered; dropped`, fields };
  if (!ours) {
    const message = `This worker serves experiment ${policy.experimentId}, not ${envelope.experimentId.slice(0, 80)}.`;
    return { kind: "refuse", to, result: { ok: false, code: ErrorCode.INVALID_INPUT, message }, why: "request for another experiment", expiresAt: envelope.timeoutMs, dropIfUnpublished: false };
  }
  try {
    policy.validate?.(envelope.body);
  } catch (err) {
    return refuse(to, err, "invalid task or body", envelope.timeoutMs);
  }
  if (await alreadyAnswered(publisher, to)) return { kind: "answered-before", to, expiresAt: envelope.timeoutMs };
  if (policy.maxReceiveCount !== null && receiveCount > policy.maxReceiveCount) {
    const message = `This request failed ${receiveCount - 1} times and was dropped.`;
    return { kind: "refuse", to, result: { ok: false, code: ErrorCode.WORKER_ERROR, message }, why: "poison message answered with an error", expiresAt: envelope.timeoutMs, dropIfUnpublished: true };
  }
  return { kind: "compute", to, envelope };
}

function refuse(to: Address, err: unknown, why: string, expiresAt: number | null = null): Verdict {
  const f = toFailure(err);
  return { kind: "refuse", to, result: { ok: false, code: f.code, message: f.message }, why, expiresAt, dropIfUnpublished: false };
}

/** The duplicate check; a failing check is not a reason to refuse (the request is computed). */
async function alreadyAnswered(publisher: Publisher, to: Address): Promise<boolean> {
  try {
    return (await publisher.alreadyAnswered?.(to)) ?? false;
  } catch {
    return false;
  }
}

/**
 * Where to answer a request that failed validation: its protocol and id when it has an ETag
 * or uuid we can answer to; it is echoed whole only when small and shallow (else its
 * identifying fields). No events go to any experiment's channels for it.
 */
function addressOf(raw: unknown, policy: Policy): Address {
  const none: Address = { era: null, id: null, echo: minimalEcho(raw), experimentId: null, taskName: null };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return none;
  let echo = none.echo;
  try {
    checkRequestShape(raw, policy.limits);
    echo = raw as Record<string, unknown>;
  } catch {
    // too deep or too large to echo
  }
  const r = raw as Record<string, unknown>;
  const era = typeof r.ETag === "string" ? "current" : typeof r.uuid === "string" ? "2021" : null;
  const id = era === "current" ? r.ETag : era === "2021" ? r.uuid : null;
  const usable = typeof id === "string" && id !== "" && id.length <= 256;
  const name = (r.body as { name?: unknown } | undefined)?.name;
  return { era: usable ? era : null, id: usable ? id : null, echo, experimentId: null, taskName: typeof name === "string" ? name.slice(0, 100) : null };
}
