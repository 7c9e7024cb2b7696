/**
 * What a request produces. `TaskResult` is the outcome of one task (data, or an error code and
 * a user message); the 2021 protocol wraps it as a WorkResponse (reference spec §2.10):
 * `{request, results: [{content-type, content-encoding, type, body}], response: {cacheable,
 * error, errorCode?, userMessage?}}`, body being the result JSON as a string. The current
 * protocol's shapes (notification, heartbeats) live in src/publish/current.ts.
 */
import type { ErrorCode } from "./errors.ts";

export interface TaskOk { ok: true; data: unknown; cacheable: boolean }
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

/** Request fields never echoed back (tokens, presigned URLs, credentials). */
const SECRET_KEYS = new Set(["authorization", "authjwt", "signedurl", "token", "accesstoken", "idtoken", "refreshtoken", "password", "cookie", "apikey"]);

/** A copy of the request without tokens, at any depth. */
export function redactRequest(request: unknown): unknown {
  if (Array.isArray(request)) return request.map(redactRequest);
  if (typeof request !== "object" || request === null) return request;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(request)) if (!SECRET_KEYS.has(k.toLowerCase())) out[k] = redactRequest(v);
  return out;
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
