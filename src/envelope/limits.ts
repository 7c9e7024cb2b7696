/**
 * Shape limits checked before anything else looks at a request: nesting depth and size.
 * The walk is iterative, so a hostile request cannot overflow the stack here, and it stops
 * as soon as a limit is passed.
 */
import { invalidInput } from "../result/errors.ts";

export interface RequestLimits {
  /** deepest allowed nesting of arrays/objects */
  maxDepth: number;
  /** approximate size: string lengths plus 8 bytes per other value */
  maxBytes: number;
}

export const DEFAULT_LIMITS: RequestLimits = {
  maxDepth: 32,
  maxBytes: Number(process.env.MAX_REQUEST_BYTES) > 0 ? Number(process.env.MAX_REQUEST_BYTES) : 16 * 2 ** 20,
};

/** Throws INVALID_INPUT when `value` is nested too deeply or is too large. */
export function checkRequestShape(value: unknown, limits: RequestLimits = DEFAULT_LIMITS): void {
  const stack: [unknown, number][] = [[value, 0]];
  let bytes = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "string") bytes += v.length;
    else bytes += 8;
    if (bytes > limits.maxBytes) throw invalidInput(`request is larger than the limit of ${limits.maxBytes} bytes`);
    if (v === null || typeof v !== "object") continue;
    if (depth >= limits.maxDepth) throw invalidInput(`request nests deeper than ${limits.maxDepth} levels`);
    if (Array.isArray(v)) for (const x of v) stack.push([x, depth + 1]);
    else for (const [k, x] of Object.entries(v)) { bytes += k.length; stack.push([x, depth + 1]); }
  }
}

/** The identifying top-level fields of a request that failed the shape check (safe to echo). */
export function minimalEcho(value: unknown): Record<string, unknown> | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const out: Record<string, unknown> = {};
  for (const k of ["uuid", "ETag", "socketId", "experimentId", "timeout"]) {
    const v = (value as Record<string, unknown>)[k];
    if (typeof v === "string" && v.length <= 256) out[k] = v;
  }
  return out;
}
