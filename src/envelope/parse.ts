/**
 * text → request value → Envelope, or a WorkerError(INVALID_INPUT) naming the first bad field.
 * Never throws anything else.
 */
import type { z } from "zod";
import { describeZodError, invalidInput } from "../result/errors.ts";
import { CurrentEnvelopeSchema, LegacyEnvelopeSchema, type Envelope } from "./schema.ts";
import { checkRequestShape, DEFAULT_LIMITS, tooLarge, type RequestLimits } from "./limits.ts";

/**
 * A request's text (a string, or UTF-8 bytes) as a JSON value. Its size in bytes is checked
 * before anything else, so an oversized request is never parsed; a leading UTF-8 byte-order
 * mark is ignored. Not JSON: INVALID_INPUT "request is not valid JSON".
 */
export function parseRequestText(text: string | Buffer, limits: RequestLimits = DEFAULT_LIMITS): unknown {
  const bytes = typeof text === "string" ? Buffer.byteLength(text, "utf8") : text.length;
  if (bytes > limits.maxBytes) throw tooLarge(limits);
  let str = typeof text === "string" ? text : text.toString("utf8");
  if (str.charCodeAt(0) === 0xfeff) str = str.slice(1);
  try {
    return JSON.parse(str);
  } catch {
    throw invalidInput("request is not valid JSON");
  }
}

/** A parsed request's envelope (size and depth checked first, against `limits`). */
export function parseEnvelope(value: unknown, limits: RequestLimits = DEFAULT_LIMITS): Envelope {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidInput("request must be a JSON object");
  checkRequestShape(value, limits);
  const raw = value as Record<string, unknown>;
  const current = "ETag" in raw;
  const parsed = current ? CurrentEnvelopeSchema.safeParse(raw) : LegacyEnvelopeSchema.safeParse(raw);
  if (!parsed.success) {
    const hint = current || "uuid" in raw ? "" : " (a request needs an ETag or a uuid)";
    throw invalidInput(describeZodError(parsed.error) + hint);
  }
  const timeoutMs = parseTimeout(parsed.data.timeout);
  if (Number.isNaN(timeoutMs)) throw invalidInput(`timeout: "${parsed.data.timeout}" is not a date-time`);
  const d = parsed.data as z.infer<typeof CurrentEnvelopeSchema> & z.infer<typeof LegacyEnvelopeSchema>;
  return {
    era: current ? "current" : "2021",
    id: current ? d.ETag : d.uuid,
    experimentId: d.experimentId,
    timeoutMs,
    body: d.body,
    pagination: current ? (d.requestProps?.pagination ?? d.pagination) : d.pagination,
    raw,
  };
}

/** ISO-8601; a date-time without zone is UTC (as the original worker, running in UTC, read it). */
export function parseTimeout(text: string): number {
  const t = text.trim();
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(t);
  const iso = t.includes("T") ? t : t.replace(" ", "T");
  return Date.parse(hasZone || !/\d\d:\d\d/.test(iso) ? iso : `${iso}Z`);
}
