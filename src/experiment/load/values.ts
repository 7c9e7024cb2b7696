/**
 * Checks on the values a loader reads, before they become the experiment's matrix: every value
 * must be finite once stored as a 32-bit float (the matrix's element type: 1e39 is finite as a
 * double but Infinity as a float), and counts must be non-negative integers. Loaders turn the
 * index these return into a DATA_INVALID naming the file and the entry.
 */

/** Arrays loaders read values into. */
export type ValueArray = ArrayLike<number> & { readonly length: number };

/** Is `v` finite once stored as a 32-bit float? */
export function isStorable(v: number): boolean {
  return Number.isFinite(Math.fround(v));
}

/** Is `v` a count: a non-negative integer that is finite as a 32-bit float? */
export function isCount(v: number): boolean {
  return v >= 0 && Number.isInteger(v) && isStorable(v);
}

const isIntegerArray = (a: ValueArray): boolean =>
  a instanceof Int32Array || a instanceof Uint32Array || a instanceof Int16Array || a instanceof Uint16Array ||
  a instanceof Int8Array || a instanceof Uint8Array;

/** Index of the first value that is NaN or infinite as a 32-bit float, or undefined. */
export function firstNonFinite(values: ValueArray): number | undefined {
  if (isIntegerArray(values)) return undefined;
  for (let i = 0; i < values.length; i++) if (!isStorable(values[i]!)) return i;
  return undefined;
}

/** Index of the first value that is not a count (see isCount), or undefined. */
export function firstNonCount(values: ValueArray): number | undefined {
  for (let i = 0; i < values.length; i++) if (!isCount(values[i]!)) return i;
  return undefined;
}

