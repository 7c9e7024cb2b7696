/**
 * Server-side pagination of a column-oriented result table (the DE table; reference spec
 * §2.4.1, §5.3): validate the `pagination` object, filter, stable-sort, slice.
 *
 * Semantics, including the deliberate differences from the original worker:
 *  - filters are ANDed (the original applied only the first text filter). `numeric` with
 *    `comparison` is strict (`greaterThan` → `>`, `lessThan` → `<`); `numeric` with
 *    `min`/`max` is inclusive. A NaN value never passes a numeric filter. `text` filters on
 *    `gene_names` are literal, case-insensitive (shared/name-filter.ts), never a regex;
 *  - sorting is stable (ties keep table order), NaN last in both directions, text compares
 *    case-insensitively then by code unit; `orderDirection` is case-insensitive;
 *  - `total` is the number of rows that pass the filters, counted before offset/limit (the
 *    original counted the page);
 *  - rows with NaN are kept (the original dropped them after slicing);
 *  - an unknown `orderBy` or filter column is INVALID_INPUT naming the field.
 */
import { z } from "zod";
import { describeZodError } from "../../result/errors.ts";
import { invalidInput } from "../../result/errors.ts";
import { nameMatcher } from "./name-filter.ts";

export const MAX_PAGE_LIMIT = 100_000;
const MAX_FILTERS = 100;

const NumericFilter = z.object({
  columnName: z.string().max(200),
  type: z.literal("numeric"),
  comparison: z.enum(["greaterThan", "lessThan"]).optional(),
  value: z.number().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
}).strict().superRefine((f, ctx) => {
  if (f.comparison !== undefined) {
    if (f.value === undefined) ctx.addIssue({ code: "custom", path: ["value"], message: "a numeric filter with a comparison needs a value" });
    if (f.min !== undefined || f.max !== undefined) ctx.addIssue({ code: "custom", path: ["comparison"], message: "use either comparison/value or min/max, not both" });
  } else {
    if (f.value !== undefined) ctx.addIssue({ code: "custom", path: ["comparison"], message: 'a numeric filter with a value needs comparison "greaterThan" or "lessThan"' });
    else if (f.min === undefined && f.max === undefined) ctx.addIssue({ code: "custom", path: [], message: "a numeric filter needs comparison and value, or min and/or max" });
  }
});

const TextFilter = z.object({
  columnName: z.literal("gene_names"),
  type: z.literal("text"),
  expression: z.string().max(1000),
}).strict();

export const PaginationSchema = z.object({
  orderBy: z.string().max(200),
  orderDirection: z.string().regex(/^(asc|desc)$/i, 'must be "ASC" or "DESC"'),
  offset: z.number().int().min(0),
  limit: z.number().int().min(0).max(MAX_PAGE_LIMIT),
  responseKey: z.union([z.number(), z.string().max(200)]).nullable().optional(),
  filters: z.array(z.discriminatedUnion("type", [NumericFilter, TextFilter])).max(MAX_FILTERS).optional(),
}).strict();

export type Pagination = z.infer<typeof PaginationSchema>;
export type PaginationFilter = NonNullable<Pagination["filters"]>[number];

/** The validated pagination, or undefined when absent (undefined/null); INVALID_INPUT naming the field otherwise. */
export function parsePagination(raw: unknown): Pagination | undefined {
  if (raw === undefined || raw === null) return undefined;
  const parsed = PaginationSchema.safeParse(raw);
  if (!parsed.success) throw invalidInput(describeZodError(parsed.error, "pagination"));
  return parsed.data;
}

/** A column-oriented table: numeric columns and text columns, all `nRows` long. */
export interface Table {
  nRows: number;
  numeric: Record<string, ArrayLike<number>>;
  text: Record<string, readonly string[]>;
}

const columnNames = (t: Table): string => [...Object.keys(t.numeric), ...Object.keys(t.text)].join(", ");

/** Rows (ascending) that pass every filter. */
export function filterRows(table: Table, filters: readonly PaginationFilter[] = []): Int32Array {
  const tests: ((row: number) => boolean)[] = filters.map((f, k) => {
    if (f.type === "text") {
      const col = table.text[f.columnName];
      if (!col) throw invalidInput(`pagination.filters.${k}.columnName: the table has no text column "${f.columnName}"`);
      const match = nameMatcher(f.expression);
      return (row) => match(col[row]!);
    }
    const col = Object.hasOwn(table.numeric, f.columnName) ? table.numeric[f.columnName]! : undefined;
    if (!col) throw invalidInput(`pagination.filters.${k}.columnName: no numeric column "${f.columnName.slice(0, 200)}" (expected one of ${Object.keys(table.numeric).join(", ")})`);
    if (f.comparison !== undefined) {
      const value = f.value!;
      return f.comparison === "greaterThan" ? (row) => col[row]! > value : (row) => col[row]! < value;
    }
    const min = f.min ?? -Infinity;
    const max = f.max ?? Infinity;
    return (row) => { const v = col[row]!; return v >= min && v <= max; };
  });
  const out = new Int32Array(table.nRows);
  let n = 0;
  for (let row = 0; row < table.nRows; row++) {
    let ok = true;
    for (const test of tests) if (!test(row)) { ok = false; break; }
    if (ok) out[n++] = row;
  }
  return out.slice(0, n);
}

/** `rows` stably sorted by a column (in place, returned). NaN last in both directions. */
export function sortRows(table: Table, rows: Int32Array, orderBy: string, descending: boolean): Int32Array {
  const sign = descending ? -1 : 1;
  // Int32Array#sort with a comparator is stable; ties fall back to the incoming order by position
  const position = new Int32Array(table.nRows);
  rows.forEach((row, i) => { position[row] = i; });
  if (Object.hasOwn(table.numeric, orderBy)) {
    const col = table.numeric[orderBy]!;
    return rows.sort((a, b) => {
      const x = col[a]!;
      const y = col[b]!;
      const xNaN = Number.isNaN(x);
      const yNaN = Number.isNaN(y);
      if (xNaN || yNaN) return xNaN && yNaN ? position[a]! - position[b]! : xNaN ? 1 : -1;
      return sign * (x < y ? -1 : x > y ? 1 : 0) || position[a]! - position[b]!;
    });
  }
  if (Object.hasOwn(table.text, orderBy)) {
    const raw = table.text[orderBy]!;
    const lower = raw.map((s) => s.toLowerCase());
    const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
    return rows.sort((a, b) => sign * (cmp(lower[a]!, lower[b]!) || cmp(raw[a]!, raw[b]!)) || position[a]! - position[b]!);
  }
  throw invalidInput(`pagination.orderBy: no column "${orderBy.slice(0, 200)}" (expected one of ${columnNames(table)})`);
}

/**
 * Filter, sort and slice: the rows of the requested page, and `total`, the number of rows
 * passing the filters before offset/limit.
 */
export function paginate(table: Table, p: Pagination): { total: number; rows: Int32Array } {
  const rows = sortRows(table, filterRows(table, p.filters), p.orderBy, p.orderDirection.toLowerCase() === "desc");
  return { total: rows.length, rows: rows.slice(Math.min(p.offset, rows.length), Math.min(p.offset + p.limit, rows.length)) };
}

/** Plain-array columns of `table` restricted to `rows` (non-finite numbers become null). */
export function pickRows(table: Table, rows: ArrayLike<number>, columns: readonly string[]): Record<string, (number | string | null)[]> {
  const out: Record<string, (number | string | null)[]> = {};
  for (const name of columns) {
    const num = Object.hasOwn(table.numeric, name) ? table.numeric[name] : undefined;
    const text = Object.hasOwn(table.text, name) ? table.text[name] : undefined;
    if (!num && !text) throw new Error(`pickRows: no column ${name}`);
    const col = new Array<number | string | null>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      if (num) { const v = num[rows[i]!]!; col[i] = Number.isFinite(v) ? v : null; } else col[i] = text![rows[i]!]!;
    }
    out[name] = col;
  }
  return out;
}
