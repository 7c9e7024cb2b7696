/**
 * DifferentialExpression (reference spec §5.3, §6.4): genes that differ between two groups of
 * cells. Groups come from cell-set keys (shared/de-groups.ts); `within` (the default) runs a
 * Wilcoxon rank-sum test per gene on log-normalised values, base vs background, over every
 * gene of the experiment:
 *  - p_val: R's `wilcox.test(x, y, exact = FALSE, correct = TRUE)` (numerics/stats/wilcoxon.ts);
 *  - p_val_adj: Benjamini–Hochberg over the genes tested (numerics/stats/p-adjust.ts), with 0
 *    replaced by the smallest normal double (2.2250738585072014e-308) as the original does,
 *    so -log10 stays finite on volcano plots;
 *  - logFC: mean(base) − mean(background) of the log-normalised values (natural log, as presto);
 *  - pct_1 / pct_2: percent of base / background cells where the gene is non-zero;
 *  - auc: W / (n1·n2);
 *  - gene_names: the symbol (the id when the symbol is empty); Gene: the gene id.
 * Genes whose test is undefined (every cell of both groups has the same value, typically
 * zero; R and presto give p = NaN) are reported with p_val = 1 and p_val_adj = 1, and are not
 * counted in the Benjamini–Hochberg n (as R's p.adjust leaves NA out); so every gene of the
 * experiment is present and no NaN reaches the JSON.
 *
 * Response `{ total, data: { p_val, logFC, pct_1, pct_2, p_val_adj, auc, gene_names, Gene } }`,
 * column-oriented. Without pagination: all genes by ascending p_val (stable), total = genes.
 * With pagination (shared/pagination.ts): filters, sort, offset/limit; total counts the rows
 * passing the filters before slicing (the original counted the page). `genesOnly`:
 * `{ total, data: { gene_names, gene_id } }`, the first `limit` rows after filters and sort
 * (offset ignored, as the original).
 *
 * The presto-era cap of 10 000 sampled cells per group is not applied: the sparse test is
 * fast enough on all cells.
 *
 * `between` (pseudobulk limma-voom across samples; shared/pseudobulk-de.ts has the method,
 * the errors and the decisions): columns `p_val, logFC, AveExpr, p_val_adj, gene_names, Gene`
 * with ≥ 3 samples, `logFC, AveExpr, gene_names, Gene` with exactly 2; genes removed by
 * edgeR's filterByExpr are rows of nulls. Without pagination the rows come in the original's
 * order (ascending p_val, or decreasing |logFC| with 2 samples, then the removed genes);
 * pagination and `genesOnly` work as for `within`. The response also has `method`, a
 * sentence saying what was computed (samples used and dropped, genes kept, test).
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { groupLabels, resolveDeGroups, type DeGroups } from "./shared/de-groups.ts";
import { filterRows, paginate, parsePagination, pickRows, sortRows, type Pagination, type Table } from "./shared/pagination.ts";
import { buildGeneValueOrder, rankSumPerGeneOrdered, type GeneValueOrder } from "../numerics/stats/gene-value-order.ts";
import { adjustBH } from "../numerics/stats/p-adjust.ts";
import { pseudobulkDe } from "./shared/pseudobulk-de.ts";

const Key = z.string().max(1000);

const Body = z.object({
  name: z.literal("DifferentialExpression"),
  cellSet: Key,
  compareWith: Key,
  basis: Key.nullable().optional(),
  comparisonType: z.enum(["within", "between"]).default("within"),
  genesOnly: z.boolean().optional(),
  /** 2021 field, ignored */
  maxNum: z.number().nullable().optional(),
}).strict();

export const DE_COLUMNS = ["p_val", "logFC", "pct_1", "pct_2", "p_val_adj", "auc", "gene_names", "Gene"] as const;

/** Per-gene results of a `within` comparison, aligned with the experiment's genes. */
export interface DeTable {
  p_val: Float64Array;
  logFC: Float64Array;
  pct_1: Float64Array;
  pct_2: Float64Array;
  p_val_adj: Float64Array;
  auc: Float64Array;
}

/** Smallest normal double: what the original puts in place of p_val_adj == 0. */
const MIN_NORMAL = 2.2250738585072014e-308;

export default defineTask({
  name: "DifferentialExpression",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "whole",
  example: { name: "DifferentialExpression", cellSet: "louvain-0", compareWith: "rest", basis: "all", comparisonType: "within" },
  async run(body, { experiment: exp, pagination: rawPagination, progress }) {
    const pagination = parsePagination(rawPagination);
    if (body.comparisonType === "between") {
      return betweenSamplesResult(exp, resolveDeGroups(exp, body), pagination, body.genesOnly === true, progress);
    }
    const groups = resolveDeGroups(exp, body);
    await exp.valueOrderReady();
    const de = withinGroupsDe(exp, groups, progress);
    const table = deResultTable(exp, de);
    let total: number;
    let rows: Int32Array;
    if (!pagination) {
      rows = sortRows(table, Int32Array.from({ length: exp.nGenes }, (_, g) => g), "p_val", false);
      total = rows.length;
    } else if (body.genesOnly) {
      rows = sortRows(table, filterRows(table, pagination.filters), pagination.orderBy, pagination.orderDirection.toLowerCase() === "desc");
      total = rows.length;
      rows = rows.slice(0, pagination.limit);
    } else {
      ({ total, rows } = paginate(table, pagination));
    }
    if (body.genesOnly) {
      const picked = pickRows(table, rows, ["gene_names", "Gene"]);
      return { total, data: { gene_names: picked.gene_names, gene_id: picked.Gene } };
    }
    return { total, data: pickRows(table, rows, DE_COLUMNS) };
  },
});

/** A comparison's per-gene results as a table (rows = the experiment's genes, in order). */
export function deResultTable(exp: Experiment, de: DeTable): Table {
  return { nRows: exp.nGenes, numeric: { ...de }, text: { gene_names: geneNames(exp), Gene: exp.data.genes.ids } };
}

/**
 * The response of an unpaginated comparison, as DifferentialExpression returns it: every gene
 * by ascending p_val (stable), total = genes; `genesOnly` → `{ gene_names, gene_id }`.
 */
export function unpaginatedDeResult(exp: Experiment, de: DeTable, genesOnly = false): { total: number; data: Record<string, unknown[]> } {
  const table = deResultTable(exp, de);
  const rows = sortRows(table, Int32Array.from({ length: exp.nGenes }, (_, g) => g), "p_val", false);
  if (genesOnly) {
    const picked = pickRows(table, rows, ["gene_names", "Gene"]);
    return { total: rows.length, data: { gene_names: picked.gene_names!, gene_id: picked.Gene! } };
  }
  return { total: rows.length, data: pickRows(table, rows, DE_COLUMNS) };
}

/** Gene symbols, falling back to the id where a symbol is empty. */
export function geneNames(exp: Experiment): string[] {
  const { symbols, ids } = exp.data.genes;
  return symbols.map((s, g) => s || ids[g]!);
}

/**
 * Wilcoxon rank-sum of every gene, base vs background (see the file header): the per-gene
 * test is numerics/stats/wilcoxon.ts's `rankSumPerGene`, run as gene-value-order.ts's
 * `rankSumPerGeneOrdered` (the same numbers, linear time) on the experiment's value order; then Benjamini–Hochberg, undefined
 * tests reported as p = 1, and 0 adjusted p-values replaced as the original does.
 */
export function withinGroupsDe(exp: Experiment, groups: DeGroups, progress: (fraction: number) => void = () => {}): DeTable {
  // exp.normalizer follows Seurat's order of operations (count / total * scale), so cells
  // with equal proportions get bit-identical values and ties (hence p-values) are R's.
  const labels = groupLabels(exp.nCells, groups);
  let order = exp.state.valueOrder ?? valueOrders.get(exp);
  let passProgress = progress;
  if (!order) {
    // once per experiment: sorts every gene (about what one comparison of all cells cost
    // before); 4 bytes per non-zero, kept for the experiment's lifetime
    order = buildGeneValueOrder(exp.data.matrix, exp.normalizer, (f) => progress(0.8 * f));
    valueOrders.set(exp, order);
    passProgress = (f) => progress(0.8 + 0.2 * f);
  }
  const { p, logFC, pct1, pct2, auc } = rankSumPerGeneOrdered(exp.data.matrix, exp.normalizer, order, labels, groups.base.length, groups.background.length, passProgress);
  const nGenes = exp.nGenes;
  const adj = adjustBH(p);
  for (let g = 0; g < nGenes; g++) {
    if (Number.isNaN(p[g]!)) { p[g] = 1; adj[g] = 1; } else if (adj[g] === 0) adj[g] = MIN_NORMAL;
  }
  progress(1);
  return { p_val: p, logFC, pct_1: pct1, pct_2: pct2, p_val_adj: adj, auc };
}

/**
 * The per-gene value order (numerics/stats/gene-value-order.ts) of an experiment whose state
 * lacks one (preprocessing builds it; states made by hand do not), built by its first
 * `within` comparison and dropped with the experiment. Not in `exp.memoize`: that memo
 * is asynchronous and withinGroupsDe is called synchronously (BatchDifferentialExpression).
 */
const valueOrders = new WeakMap<Experiment, GeneValueOrder>();

/** `between` columns with ≥ 3 samples, and with exactly 2 (no test). */
export const PSEUDOBULK_COLUMNS = ["p_val", "logFC", "AveExpr", "p_val_adj", "gene_names", "Gene"] as const;
export const PSEUDOBULK_COLUMNS_NO_TEST = ["logFC", "AveExpr", "gene_names", "Gene"] as const;

/** The `between` response (see the file header): the pseudobulk table, paginated like `within`. */
export function betweenSamplesResult(exp: Experiment, groups: DeGroups, pagination: Pagination | undefined, genesOnly: boolean, progress: (fraction: number) => void): { total: number; data: Record<string, unknown[]>; method: string } {
  const pb = pseudobulkDe(exp, groups, progress);
  const numeric: Record<string, Float64Array> = pb.p_val
    ? { p_val: pb.p_val, logFC: pb.logFC, AveExpr: pb.AveExpr, p_val_adj: pb.p_val_adj! }
    : { logFC: pb.logFC, AveExpr: pb.AveExpr };
  const table: Table = { nRows: exp.nGenes, numeric, text: { gene_names: geneNames(exp), Gene: exp.data.genes.ids } };
  let total: number;
  let rows: Int32Array;
  if (!pagination) {
    rows = pb.order;
    total = rows.length;
  } else if (genesOnly) {
    rows = sortRows(table, filterRows(table, pagination.filters), pagination.orderBy, pagination.orderDirection.toLowerCase() === "desc");
    total = rows.length;
    rows = rows.slice(0, pagination.limit);
  } else {
    ({ total, rows } = paginate(table, pagination));
  }
  if (genesOnly) {
    const picked = pickRows(table, rows, ["gene_names", "Gene"]);
    return { total, data: { gene_names: picked.gene_names!, gene_id: picked.Gene! }, method: pb.method };
  }
  return { total, data: pickRows(table, rows, pb.p_val ? PSEUDOBULK_COLUMNS : PSEUDOBULK_COLUMNS_NO_TEST), method: pb.method };
}
