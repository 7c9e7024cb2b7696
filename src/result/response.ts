/**
 * What a request produces. `TaskResult` is the outcome of one task (data, or an error code and
 * a user message); the 2021 protocol wraps it as a WorkResponse (reference spec §2.10):
 * `{request, results: [{content-type, content-encoding, type, body}], response: {cacheable,
 * error, errorCode?, userMessage?}}`, body being the result JSON as a string. The current
 * protocol's shapes (notification, heartbeats) live in src/publish/current.ts.
 */
import type { ErrorCode } from "./errors.ts";

/**
 * What a successful task changes in the experiment's cell sets besides answering (declared by
 * each task, src/tasks/task.ts): nothing, a class that replaces the class with its key and goes
 * first, or a set appended to the scratchpad.
 */
export type CellSetEffect = "none" | "replace-class" | "append-to-scratchpad";

export interface TaskOk {
  ok: true;
  data: unknown;
  cacheable: boolean;
  /** the task's declared effect on the cell sets (absent: none) */
  effect?: CellSetEffect;
}
export interface TaskFailed { ok: false; code: ErrorCode; message: string }
export type TaskResult = TaskOk | TaskFailed;

export interface ResultPart {
  "content-type": string;
  "content-encoding": string;
  /** "file" only on the command line (`--out FILE`): body is the path written */
  type: "inline" | "s3-path" | "file";
  body: string;
}

export interface WorkResponse {
  request: unknown;
  results: ResultPart[];
  response: { cacheable: boolean; error: boolean; errorCode?: string; userMessage?: string };
}

/**
 * Key names never echoed back (tokens, presigned URLs, credentials, cookies, sessions): a key
 * is secret when, lower-cased and without `-`, `_`, `.` and spaces, it contains one of these.
 * `auth` alone or as a suffix (`x-auth`, `basic_auth`) too, but not `author`.
 */
const SECRET_KEY_PARTS = [
  "token", "jwt", "secret", "password", "passwd", "passphrase", "authoriz", "authentic", "authjwt", "authkey", "authheader",
  "apikey", "accesskey", "privatekey", "cookie", "session", "credential", "signature", "signedurl", "bearer",
];

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_.\s]/g, "");
  return k.endsWith("auth") || k === "pwd" || SECRET_KEY_PARTS.some((part) => k.includes(part));
}

/** `Bearer …`/`Basic …` credentials, JWTs (three base64url segments, the first `eyJ…`), presigned S3 URLs. */
const SECRET_VALUE = /^\s*(bearer|basic|digest)\s+\S|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|x-amz-(signature|credential|security-token)=/i;

export function looksLikeSecret(value: string): boolean {
  return SECRET_VALUE.test(value);
}

export const REDACTED = "[redacted]";
/** Containers nested deeper than this are echoed as this marker (requests are limited to depth 32). */
const MAX_ECHO_DEPTH = 64;
export const TOO_DEEP = "[too deep]";

type Container = Record<string, unknown> | unknown[];

/**
 * A copy of the request without tokens, at any depth: secret keys are left out, secret-looking
 * strings become "[redacted]" (array positions are kept). Iterative and depth-bounded, so a
 * hostile request can neither overflow the stack nor replace the copy's prototype
 * (`__proto__` keys are copied as plain data).
 */
export function redactRequest(request: unknown): unknown {
  const pending: [Container, Container, number][] = [];
  const copy = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") return looksLikeSecret(v) ? REDACTED : v;
    if (typeof v !== "object" || v === null) return v;
    if (depth >= MAX_ECHO_DEPTH) return TOO_DEEP;
    const out: Container = Array.isArray(v) ? [] : {};
    pending.push([v as Container, out, depth]);
    return out;
  };
  const root = copy(request, 0);
  while (pending.length > 0) {
    const [src, out, depth] = pending.pop()!;
    if (Array.isArray(src)) {
      for (const x of src) (out as unknown[]).push(copy(x, depth + 1));
      continue;
    }
    for (const k of Object.keys(src)) {
      if (isSecretKey(k) || looksLikeSecret(k)) continue;
      Object.defineProperty(out, k, { value: copy(src[k], depth + 1), enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}

export function toWorkResponse(request: unknown, result: TaskResult): WorkResponse {
  if (result.ok) {
    return {
      request: redactRequest(request),
      results: [{ "content-type": "application/json", "content-encoding": "utf-8", type: "inline", body: JSON.stringify(result.data) }],
      response: { cacheable: result.cacheable, error: false },
    };
  }
  return {
    request: redactRequest(request),
    results: [{
      "content-type": "application/json",
      "content-encoding": "utf-8",
      type: "inline",
      body: JSON.stringify({ errorCode: result.code, userMessage: result.message }),
    }],
    response: { cacheable: false, error: true, errorCode: result.code, userMessage: result.message },
  };
}
