/**
 * bytes/JSON → Envelope, or a WorkerError(INVALID_INPUT) naming the first bad field.
 * Never throws anything else.
 */
import type { z } from "zod";
import { describeZodError, invalidInput } from "../result/errors.ts";
import { CurrentEnvelopeSchema, LegacyEnvelopeSchema, type Envelope } from "./schema.ts";
import { checkRequestShape, DEFAULT_LIMITS } from "./limits.ts";


export function parseEnvelope(input: unknown): Envelope {
  let value = input;
  if (typeof input === "string" || Buffer.isBuffer(input)) {
    if (input.length > DEFAULT_LIMITS.maxBytes) throw invalidInput(`request is larger than the limit of ${DEFAULT_LIMITS.maxBytes} bytes`);
    try {
      value = JSON.parse(input.toString());
    } catch {
      throw invalidInput("request is not valid JSON");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidInput("request must be a JSON object");
  checkRequestShape(value);
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
