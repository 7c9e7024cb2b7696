/**
 * GetExpressionCellSets (reference spec §5.16, §3.4): a new custom cell set of the cells whose
 * expression passes every filter of `genesConfig`, returned and (its declared effect) appended to
 * the experiment's `scratchpad` class (created, last, when missing). Not cacheable.
 *
 *  - Genes match a symbol exactly (case-sensitive, the first gene with that symbol), as the
 *    original; any name not found → EMPTY_CELL_SET "Requested ExpressionCellSet with gene
 *    name(s) that are not present.".
 *  - Expression is the log-normalised value (Seurat `data` layer; 0 where the count is 0);
 *    `greaterThan` keeps cells with value > threshold, `lessThan` value < threshold (strict);
 *    filters are ANDed. No cell left → EMPTY_CELL_SET "No cells match requested filters.".
 *  - The set: `{ key: random UUID, name, rootNode: false, color, cellIds }` (no `type`, as the
 *    original), cell ids ascending. `name` joins the filters with ", ", each
 *    `{gene}{>|<}{threshold}` with the threshold formatted as R's as.character (15 significant
 *    digits, e.g. `CST3>0.5`, `MS4A1<1e-04`). `color`: the palette colour at the scratchpad's
 *    current number of sets (the original drew a random colour of its pool).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { defineTask } from "./task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { colorAt, type CellSet } from "../experiment/cell-sets/cell-sets.ts";
import { normalizedRow } from "../numerics/normalize.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";

export const MAX_FILTERS = 100;
export const GENES_NOT_PRESENT = "Requested ExpressionCellSet with gene name(s) that are not present.";
export const NO_CELLS_MATCH = "No cells match requested filters.";

const Filter = z.object({
  geneName: z.string().min(1).max(500),
  comparisonType: z.enum(["greaterThan", "lessThan"]),
  thresholdValue: z.number(),
}).strict();

const Body = z.object({
  name: z.literal("GetExpressionCellSets"),
  genesConfig: z.array(Filter).min(1).max(MAX_FILTERS),
}).strict();

export type ExpressionFilter = z.infer<typeof Filter>;

export default defineTask({
  name: "GetExpressionCellSets",
  body: Body,
  cacheable: false,
  effect: "append-to-scratchpad",
  matrix: "rows",
  example: { name: "GetExpressionCellSets", genesConfig: [{ geneName: "CST3", comparisonType: "greaterThan", thresholdValue: 1 }] },
  async run(body, { experiment: exp }) {
    const cellIds = await cellsPassing(exp, body.genesConfig);
    const scratchpad = exp.cellSets.find((c) => c.key === "scratchpad");
    const set: CellSet = {
      key: randomUUID(),
      name: body.genesConfig.map(filterLabel).join(", "),
      rootNode: false,
      color: colorAt(scratchpad?.children.length ?? 0),
      cellIds,
    };
    return set; // appended to the scratchpad by its declared effect
  },
});

/** Cell ids (ascending) of the cells passing every filter; throws EMPTY_CELL_SET as the original. */
export async function cellsPassing(exp: Experiment, filters: readonly ExpressionFilter[]): Promise<number[]> {
  const { symbols } = exp.data.genes;
  const genes = filters.map((f) => symbols.indexOf(f.geneName));
  if (genes.some((g) => g < 0)) throw new WorkerError(ErrorCode.EMPTY_CELL_SET, GENES_NOT_PRESENT);
  const matrix = await exp.rowsOf(genes);
  const pass = new Uint8Array(exp.nCells).fill(1);
  const value = new Float64Array(exp.nCells);
  filters.forEach((f, k) => {
    const row = normalizedRow(matrix, exp.normalizer, genes[k]!);
    value.fill(0);
    row.cells.forEach((c, p) => { value[c] = row.values[p]!; });
    const t = f.thresholdValue;
    for (let c = 0; c < exp.nCells; c++) {
      if (f.comparisonType === "greaterThan" ? !(value[c]! > t) : !(value[c]! < t)) pass[c] = 0;
    }
  });
  const ids: number[] = [];
  exp.data.cellIds.forEach((id, c) => { if (pass[c] === 1) ids.push(id); });
  if (ids.length === 0) throw new WorkerError(ErrorCode.EMPTY_CELL_SET, NO_CELLS_MATCH);
  return ids.sort((a, b) => a - b);
}

function filterLabel(f: ExpressionFilter): string {
  return `${f.geneName}${f.comparisonType === "greaterThan" ? ">" : "<"}${formatRNumber(f.thresholdValue)}`;
}

/**
 * A finite number as R's as.character shows it: at most 15 significant digits, trailing zeros
 * dropped, fixed notation unless scientific is strictly shorter (R's scipen = 0 rule; a whole
 * number in fixed notation shows every digit of the double, as R 4.2), with a
 * two-digit-minimum signed exponent: 0.5 → "0.5", 1e5 → "1e+05", 1e-4 → "1e-04",
 * 123456 → "123456", 0.1 + 0.2 → "0.3".
 */
export function formatRNumber(x: number): string {
  if (x === 0) return "0";
  const sign = x < 0 ? "-" : "";
  const [mant, expText] = Math.abs(x).toExponential(14).split("e") as [string, string];
  const digits = mant.replace(".", "").replace(/0+$/, "");
  const e = Number(expText);
  const sci = `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ""}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  let fixed: string;
  if (e < 0) fixed = `${sign}0.${"0".repeat(-e - 1)}${digits}`;
  else if (digits.length <= e + 1) fixed = `${sign}${BigInt(Math.round(Math.abs(x)))}`; // R's %.0f: every digit of the double
  else fixed = `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
  return fixed.length <= sci.length ? fixed : sci;
}
