/** Which infrastructure failures the worker waits out (src/pipeline/transient.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isTransient } from "../../src/pipeline/transient.ts";
import { ErrorCode, WorkerError } from "../../src/result/errors.ts";

const aws = (name: string, status: number | undefined, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(name), { name, $metadata: status === undefined ? { attempts: 3 } : { httpStatusCode: status }, ...extra });

test("transient: network failures, 5xx, 429, throttling (400 or 503), SDK-retryable, Redis gave up", () => {
  for (const err of [
    Object.assign(new Error("socket hang up"), { name: "TimeoutError", code: "ECONNRESET" }),
    Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }),
    Object.assign(new Error("getaddrinfo EAI_AGAIN"), { code: "EAI_AGAIN" }),
    aws("ServiceUnavailable", 503), aws("InternalError", 500), aws("Unknown", 502), aws("TooManyRequests", 429),
    aws("RequestThrottled", 400), aws("Throttling", 400), aws("SlowDown", 503), aws("ThrottlingException", 400),
    aws("ProvisionedThroughputExceededException", 400), aws("Whatever", 400, { $retryable: { throttling: false } }),
    Object.assign(new Error("Reached the max retries per request limit (which is 3)."), { name: "MaxRetriesPerRequestError" }),
    new Error("Connection is closed."),
    new Error("wrapped", { cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }) }),
  ]) {
    assert.equal(isTransient(err), true, `${err.name}: ${err.message}`);
  }
});

test("permanent: 4xx client errors, WorkerErrors, aborts, programming errors, non-errors", () => {
  for (const err of [
    aws("AccessDenied", 403), aws("NoSuchBucket", 404), aws("InvalidParameter", 400), aws("AuthorizationError", 403),
    new WorkerError(ErrorCode.DATA_INVALID, "damaged"),
    Object.assign(new Error("aborted"), { name: "AbortError" }),
    new TypeError("x is undefined"),
    "a string", null, undefined, 42,
  ]) {
    assert.equal(isTransient(err), false, String((err as Error)?.name ?? err));
  }
});
