/**
 * Which failures of the infrastructure around a request are worth waiting out: the worker keeps
 * the message and retries (src/pipeline/request.ts) rather than answering an error or losing it.
 *
 * Transient: network failures (connection refused or reset, timeouts, DNS), HTTP 5xx and 429,
 * the services' throttling errors (which AWS sends with 400 or 503), anything the AWS SDK marks
 * retryable, and Redis connection failures. Everything else (a 4xx such as AccessDenied or
 * NoSuchBucket, a WorkerError, a programming error) is permanent: retrying would not help.
 */
import { WorkerError } from "../result/errors.ts";

const THROTTLING = new Set([
  "BandwidthLimitExceeded", "LimitExceededException", "PriorRequestNotComplete", "ProvisionedThroughputExceededException",
  "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "SlowDown", "ThrottledException", "Throttling",
  "ThrottlingException", "TooManyRequestsException", "TransactionInProgressException",
]);
const TRANSIENT_NAMES = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException", "ServiceUnavailable", "InternalError", "InternalFailure"]);
const NETWORK_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED",
  "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT",
]);
/** ioredis: a command that gave up while the connection was down */
const REDIS = /MaxRetriesPerRequest|Connection is closed|Stream isn't writeable|connect ECONNREFUSED|ECONNRESET/;

export function isTransient(err: unknown, depth = 0): boolean {
  if (typeof err !== "object" || err === null || err instanceof WorkerError) return false;
  const e = err as { name?: unknown; code?: unknown; message?: unknown; $retryable?: unknown; $metadata?: { httpStatusCode?: number }; cause?: unknown };
  const name = typeof e.name === "string" ? e.name : "";
  if (name === "AbortError") return false;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (e.$retryable !== undefined && e.$retryable !== null && e.$retryable !== false) return true;
  if (THROTTLING.has(name) || TRANSIENT_NAMES.has(name)) return true;
  if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return true;
  if (name === "MaxRetriesPerRequestError" || (typeof e.message === "string" && REDIS.test(e.message) && status === undefined)) return true;
  return e.cause !== undefined && depth < 5 && isTransient(e.cause, depth + 1);
}
