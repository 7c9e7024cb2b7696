/**
 * Shape limits checked before anything else looks at a request: nesting depth and size.
 * The walk is iterative, so a hostile request cannot overflow the stack here, and it stops
 * as soon as a limit is passed. No environment is read here: callers pass the limits.
 */
import { invalidInput, type WorkerError } from "../result/errors.ts";

export interface RequestLimits {
  /** deepest allowed nesting of arrays/objects */
  maxDepth: number;
  /**
   * largest request: its bytes before parsing (envelope/parse.ts), and after, its approximate
   * size (string and key lengths plus 2 for their quotes, 8 bytes per other value)
   */
  maxBytes: number;
}

/** The defaults; deployments pass their own limits (from the configuration) to every function here. */
export const DEFAULT_LIMITS: Readonly<RequestLimits> = Object.freeze({ maxDepth: 32, maxBytes: 16 * 2 ** 20 });

export const tooLarge = (limits: RequestLimits): WorkerError => invalidInput(`request is larger than the limit of ${limits.maxBytes} bytes`);

/** A container being walked: its keys (null for an array) and the next position. */
interface Frame { node: object; keys: string[] | null; next: number; depth: number }

/**
 * Throws INVALID_INPUT when `value` is nested too deeply or is too large. Depth-first with an
 * explicit stack (at most `maxDepth` frames); each element is looked at only when its turn
 * comes, so a huge array or object is refused after at most `maxBytes / 2` elements.
 */
export function checkRequestShape(value: unknown, limits: RequestLimits = DEFAULT_LIMITS): void {
  let bytes = 0;
  const frames: Frame[] = [];
  const visit = (v: unknown, depth: number): void => {
    bytes += typeof v === "string" ? v.length + 2 : 8;
    if (bytes > limits.maxBytes) throw tooLarge(limits);
    if (v === null || typeof v !== "object") return;
    if (depth >= limits.maxDepth) throw invalidInput(`request nests deeper than ${limits.maxDepth} levels`);
    frames.push({ node: v, keys: Array.isArray(v) ? null : Object.keys(v), next: 0, depth });
  };
  visit(value, 0);
  while (frames.length > 0) {
    const f = frames[frames.length - 1]!;
    if (f.keys === null) {
      const array = f.node as unknown[];
      if (f.next >= array.length) frames.pop();
      else visit(array[f.next++], f.depth + 1);
      continue;
    }
    if (f.next >= f.keys.length) {
      frames.pop();
      continue;
    }
    const key = f.keys[f.next++]!;
    bytes += key.length + 2;
    visit((f.node as Record<string, unknown>)[key], f.depth + 1);
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
