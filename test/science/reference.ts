/** Loading the Seurat reference fixtures and the comparison metrics the science tests use. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { ROOT } from "../helpers.ts";

const DIR = join(ROOT, "test", "fixtures", "reference", "pbmc3k");

export function reference<T = Record<string, unknown>>(name: string): T {
  const bytes = readFileSync(join(DIR, name));
  return JSON.parse((name.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8")) as T;
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]!; mb += b[i]!; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { const x = a[i]! - ma, y = b[i]! - mb; sab += x * y; saa += x * x; sbb += y * y; }
  return sab / Math.sqrt(saa * sbb);
}

/** Adjusted Rand index of two labelings. */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const table = new Map<string, number>();
  const rows = new Map<number, number>();
  const cols = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${a[i]}|${b[i]}`;
    table.set(key, (table.get(key) ?? 0) + 1);
    rows.set(a[i]!, (rows.get(a[i]!) ?? 0) + 1);
    cols.set(b[i]!, (cols.get(b[i]!) ?? 0) + 1);
  }
  const c2 = (x: number): number => (x * (x - 1)) / 2;
  let index = 0, sa = 0, sb = 0;
  for (const v of table.values()) index += c2(v);
  for (const v of rows.values()) sa += c2(v);
  for (const v of cols.values()) sb += c2(v);
  const expected = (sa * sb) / c2(n);
  return (index - expected) / ((sa + sb) / 2 - expected);
}

/** Each point's k nearest other points (exact, Euclidean), rows of a n x d row-major array. */
export function exactKnn(x: ArrayLike<number>, n: number, d: number, k: number): Int32Array[] {
  const out: Int32Array[] = [];
  const dist = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) { const diff = x[i * d + t]! - x[j * d + t]!; s += diff * diff; }
      dist[j] = j === i ? Infinity : s;
    }
    const idx = Int32Array.from({ length: n }, (_, j) => j).sort((p, q) => dist[p]! - dist[q]!);
    out.push(idx.slice(0, k));
  }
  return out;
}

/** Mean fraction of each cell's k nearest neighbours in `high` that are among its k nearest in `low`. */
export function knnPreservation(high: Int32Array[], low: Int32Array[]): number {
  let total = 0;
  for (let i = 0; i < high.length; i++) {
    const set = new Set(low[i]);
    let shared = 0;
    for (const j of high[i]!) if (set.has(j)) shared++;
    total += shared / high[i]!.length;
  }
  return total / high.length;
}
