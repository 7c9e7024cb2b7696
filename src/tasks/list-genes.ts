/**
 * ListGenes (reference spec §5.2, §6.2): one page of the gene table, column-oriented:
 * `{ total, <field>: [...] }` for each requested field, in request order.
 *
 * Columns: `gene_names` (symbol), `gene_ids`, `dispersions` (vst standardized variance),
 * `means`, `highly_variable` (booleans). Non-finite numbers are sent as null.
 * Differences from the original, on purpose: `total` counts the genes matching the filter
 * before offset/limit (the original counted the page); `orderDirection` is case-insensitive;
 * an unknown field or order column is INVALID_INPUT; rows with NaN are kept (sorted last)
 * rather than dropped; the filter is literal text (shared/name-filter.ts), never a regex.
 *
 * Speed: each (column, direction) order is computed once per experiment and memoised, so a
 * request is one pass over that order (filter test + slice).
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { matchesLower, parseNameFilter } from "./shared/name-filter.ts";
import type { Experiment } from "../experiment/experiment.ts";

export const GENE_COLUMNS = ["gene_names", "gene_ids", "dispersions", "means", "highly_variable"] as const;
export type GeneColumn = (typeof GENE_COLUMNS)[number];

export const MAX_LIMIT = 100_000;

const Column = z.enum(GENE_COLUMNS);

const Body = z.object({
  name: z.literal("ListGenes"),
  selectFields: z.array(Column).min(1).max(GENE_COLUMNS.length * 2),
  orderBy: Column,
  orderDirection: z.string().regex(/^(asc|desc)$/i, 'must be "ASC" or "DESC"'),
  offset: z.number().int().min(0),
  limit: z.number().int().min(0).max(MAX_LIMIT),
  geneNamesFilter: z.string().max(1000).optional(),
}).strict();

export type ListGenesBody = z.infer<typeof Body>;
export type ListGenesResult = { total: number } & Partial<Record<GeneColumn, (string | number | boolean | null)[]>>;

export default defineTask({
  name: "ListGenes",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "none",
  example: { name: "ListGenes", selectFields: ["gene_names", "dispersions"], orderBy: "dispersions", orderDirection: "DESC", offset: 0, limit: 20, geneNamesFilter: "CD" },
  async run(body, { experiment: exp }) {
    return listGenes(exp, body);
  },
});

/** The page of the gene table a ListGenes body asks for. */
export async function listGenes(exp: Experiment, body: Omit<ListGenesBody, "name">): Promise<ListGenesResult> {
  const descending = body.orderDirection.toLowerCase() === "desc";
  const order = await sortedGenes(exp, body.orderBy, descending);
  const { offset, limit } = body;
  let total: number;
  let page: Int32Array;
  if (body.geneNamesFilter === undefined) {
    total = order.length;
    page = order.subarray(Math.min(offset, total), Math.min(offset + limit, total));
  } else {
    const filter = parseNameFilter(body.geneNamesFilter);
    const lower = await lowerSymbols(exp);
    const picked: number[] = [];
    total = 0;
    for (let i = 0; i < order.length; i++) {
      const g = order[i]!;
      if (!matchesLower(filter, lower[g]!)) continue;
      if (total >= offset && total < offset + limit) picked.push(g);
      total++;
    }
    page = Int32Array.from(picked);
  }
  const out: ListGenesResult = { total };
  for (const field of body.selectFields) out[field] = columnValues(exp, field, page);
  return out;
}

function columnValues(exp: Experiment, field: GeneColumn, genes: Int32Array): (string | number | boolean | null)[] {
  const out = new Array<string | number | boolean | null>(genes.length);
  const { symbols, ids } = exp.data.genes;
  const { dispersions, means, highlyVariable } = exp.state.gene;
  const num = (v: number): number | null => (Number.isFinite(v) ? v : null);
  for (let i = 0; i < genes.length; i++) {
    const g = genes[i]!;
    switch (field) {
      case "gene_names": out[i] = symbols[g]!; break;
      case "gene_ids": out[i] = ids[g]!; break;
      case "dispersions": out[i] = num(dispersions[g]!); break;
      case "means": out[i] = num(means[g]!); break;
      case "highly_variable": out[i] = highlyVariable[g] === 1; break;
    }
  }
  return out;
}

function lowerSymbols(exp: Experiment): Promise<string[]> {
  return exp.memoize("list-genes:lower-symbols", async () => exp.data.genes.symbols.map((s) => s.toLowerCase()));
}

/**
 * Gene indices sorted by a column: stable (ties keep gene order in both directions), NaN last
 * in both directions. Names and ids compare case-insensitively, then by code unit.
 */
function sortedGenes(exp: Experiment, column: GeneColumn, descending: boolean): Promise<Int32Array> {
  return exp.memoize(`list-genes:order:${column}:${descending ? "desc" : "asc"}`, async () => {
    const n = exp.nGenes;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    const sign = descending ? -1 : 1;
    let cmp: (a: number, b: number) => number;
    if (column === "gene_names" || column === "gene_ids") {
      const raw = column === "gene_names" ? exp.data.genes.symbols : exp.data.genes.ids;
      const lower = column === "gene_names" ? await lowerSymbols(exp) : raw.map((s) => s.toLowerCase());
      const strCmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
      cmp = (a, b) => sign * (strCmp(lower[a]!, lower[b]!) || strCmp(raw[a]!, raw[b]!)) || a - b;
    } else {
      const values = column === "dispersions" ? exp.state.gene.dispersions
        : column === "means" ? exp.state.gene.means
        : exp.state.gene.highlyVariable;
      cmp = (a, b) => {
        const x = values[a]!;
        const y = values[b]!;
        const xNaN = Number.isNaN(x);
        const yNaN = Number.isNaN(y);
        if (xNaN || yNaN) return xNaN && yNaN ? a - b : xNaN ? 1 : -1;
        return sign * (x < y ? -1 : x > y ? 1 : 0) || a - b;
      };
    }
    return idx.sort(cmp);
  });
}
