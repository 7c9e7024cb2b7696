/**
 * WorkRequest envelopes: the current Cellenics one (`ETag`, results in S3 under it) and the
 * 2021 one (`uuid`/`socketId`, results on SNS). The body is only checked for a task name here;
 * each task validates the rest with its own schema.
 */
import { z } from "zod";

const BodySchema = z.object({ name: z.string().min(1) }).loose();

const PaginationSchema = z.unknown();

const common = {
  experimentId: z.string().min(1).max(256),
  timeout: z.string().min(1).max(64),
  body: BodySchema,
};

/**
 * A request's ETag is the S3 key its result is stored under, as it is: 1–256 characters of
 * [A-Za-z0-9._:-] (real ETags are md5 hex), never only dots (`.`, `..`), so never a path.
 * The same rule as `isSafeObjectKey` in publish/object-keys.ts, which checks it again before
 * a key is used (test/publish/object-keys.test.ts keeps the two in step).
 */
const ETAG_PATTERN = /^[A-Za-z0-9._:-]{1,256}$/;

export function isValidEtag(etag: string): boolean {
  return ETAG_PATTERN.test(etag) && !/^\.+$/.test(etag);
}

const EtagSchema = z.string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9._:-]*$/, "only letters, digits and . _ : - are allowed")
  .refine((s) => !/^\.+$/.test(s), "cannot be only dots");

export const CurrentEnvelopeSchema = z.object({
  ...common,
  ETag: EtagSchema,
  requestProps: z.object({ pagination: PaginationSchema.optional() }).loose().optional(),
  pagination: PaginationSchema.optional(),
}).loose();

export const LegacyEnvelopeSchema = z.object({
  ...common,
  uuid: z.string().min(1).max(256),
  socketId: z.string().max(256).optional(),
  pagination: PaginationSchema.optional(),
}).loose();


/** A parsed request: which protocol era, and the fields the worker uses. */
export interface Envelope {
  era: "current" | "2021";
  /** ETag (current) or uuid (2021): what the response is addressed to */
  id: string;
  experimentId: string;
  /** expiry instant (ms since epoch) */
  timeoutMs: number;
  body: { name: string; [k: string]: unknown };
  /** requestProps.pagination (current) or top-level pagination (2021) */
  pagination: unknown;
  /** the request as received, for echoing (tokens removed by the publisher) */
  raw: Record<string, unknown>;
}
