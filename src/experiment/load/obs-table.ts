/**
 * Turning columns of text (from a CSV or a TSV) into typed obs columns: all-numeric columns
 * become numeric, TRUE/FALSE columns boolean, other columns categorical (levels in order of
 * first appearance; empty or NA cells are missing) when they have at most `maxLevels` levels,
 * else plain strings.
 */
import type { ObsColumn } from "../types.ts";

const MISSING = new Set(["", "NA", "NaN", "nan", "null"]);

export function typeColumn(name: string, cells: string[], maxLevels = 100): ObsColumn {
  const present = cells.filter((v) => !MISSING.has(v));
  if (present.length > 0 && present.every((v) => /^(TRUE|FALSE|True|False|true|false)$/.test(v))) {
    return { name, kind: "boolean", values: Uint8Array.from(cells, (v) => (/^t/i.test(v) ? 1 : 0)) };
  }
  if (present.length > 0 && present.every((v) => v.trim() !== "" && Number.isFinite(Number(v)))) {
    return { name, kind: "numeric", values: Float64Array.from(cells, (v) => (MISSING.has(v) ? NaN : Number(v))) };
  }
  const levels = new Map<string, number>();
  for (const v of present) if (!levels.has(v)) levels.set(v, levels.size);
  if (levels.size > maxLevels) return { name, kind: "string", values: cells };
  return {
    name,
    kind: "categorical",
    categories: [...levels.keys()],
    codes: Int32Array.from(cells, (v) => levels.get(v) ?? -1),
  };
}
