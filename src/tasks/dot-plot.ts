/**
 * DotPlot (reference spec §5.8): per (group, gene), how strongly and how widely the gene is
 * expressed, as Seurat's `DotPlot(features, group.by)` computes it (Seurat 5 colour value).
 *
 * Cells: those of the data, restricted to the set `filterBy.key` of class `filterBy.group`
 * unless `filterBy.group` is "all" (any case). Groups: the children of class `groupBy`; a cell's
 * group is the LAST child containing it (the original overwrote labels in child order), cells
 * in no child are dropped; group names are the children's names made unique R-style (`a`,
 * `a.1`, …).
 *
 * Genes: with `useMarkerGenes`, the first `numberOfMarkers` marker genes of each child
 * (shared/markers.ts, the MarkerHeatmap algorithm: overlapping children allowed, ≤ 1000
 * seeded cells per child) computed on the filtered cells only, and memoised under their own
 * scope, never shared with MarkerHeatmap (the original's cache mixed filtered and unfiltered
 * lists); else `customGenesList` matched case-insensitively on the symbol, request order, each
 * gene once (unknown names dropped; none known → GENE_NOT_FOUND).
 *
 * Values, over the cells of each group (x = log-normalised values):
 *  - avg.exp = mean(expm1(x)); cellsPercentage = 100 · (share of cells with x > 0);
 *  - avgExpression = per gene across groups: scale(log1p(avg.exp)) (mean 0, sample sd 1),
 *    clipped to [−2.5, 2.5]; log1p(avg.exp) unscaled when there is one group; null where the
 *    scaling is undefined (the same value in every group, e.g. a gene never detected).
 *
 * Response, column-oriented, one entry per (group, gene):
 * `{ cellSetsIdx, geneNameIdx, avgExpression, cellsPercentage, cellSetsNames, geneNames }`.
 * `cellSetsNames` are the groups present, `geneNames` the genes' symbols, both sorted as
 * the original's R sorted them (ICU "en" collation, digits compared as numbers: "Cluster 2"
 * before "Cluster 10"); rows by group in that order, then genes in feature order. `[]` when
 * `groupBy` has no children, the filter leaves no cell, no cell is in a group, the marker
 * search finds nothing (e.g. a single group), or `customGenesList` is empty.
 * `clusterNames` (sent by the UI so that renaming clusters refetches) is accepted and unused.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { findNode, isClass, type CellClass } from "../experiment/cell-sets/cell-sets.ts";
import { normalizedValue } from "../numerics/normalize.ts";
import { ErrorCode, invalidInput, WorkerError } from "../result/errors.ts";
import { resolveGenes } from "./gene-expression.ts";
import { cachedRankedMarkers, childGroups, uniqueByName } from "./shared/markers.ts";
import { topMarkerGenes } from "../numerics/markers.ts";

export const MAX_MARKERS = 1000;
export const MAX_CUSTOM_GENES = 2000;
/** Seurat DotPlot's col.min / col.max */
export const SCALE_CLIP = 2.5;

const Key = z.string().min(1).max(1000);

const Body = z.object({
  name: z.literal("DotPlot"),
  useMarkerGenes: z.boolean(),
  numberOfMarkers: z.number().int().min(1).max(MAX_MARKERS).default(3),
  customGenesList: z.array(z.string().max(500)).max(MAX_CUSTOM_GENES).default([]),
  groupBy: Key,
  filterBy: z.object({
    group: Key,
    key: Key.nullable().optional(),
  }).strict().default({ group: "All" }),
  clusterNames: z.array(z.string().max(1000)).max(100_000).optional(),
}).strict();

export type DotPlotBody = z.infer<typeof Body>;

export interface DotPlotResult {
  cellSetsIdx: number[];
  geneNameIdx: number[];
  avgExpression: (number | null)[];
  cellsPercentage: number[];
  cellSetsNames: string[];
  geneNames: string[];
}

export default defineTask({
  name: "DotPlot",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: (body) => (body.useMarkerGenes ? "whole" : "rows"),
  example: { name: "DotPlot", useMarkerGenes: true, numberOfMarkers: 3, customGenesList: [], groupBy: "louvain", filterBy: { group: "All" } },
  async run(body, { experiment: exp, progress }) {
    return dotPlot(exp, body, progress);
  },
});

/** ICU "en" collation with numeric ordering; code points break the remaining ties. */
const collator = new Intl.Collator("en", { numeric: true });
export const compareNames = (a: string, b: string): number => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);

const quote = (key: string): string => JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}…` : key);

export async function dotPlot(
  exp: Experiment,
  body: Omit<DotPlotBody, "name">,
  progress: (fraction: number) => void = () => {},
): Promise<DotPlotResult | []> {
  const groupBy = classOf(exp, body.groupBy, "groupBy");
  const scope = filterScope(exp, body.filterBy);
  if (groupBy.children.length === 0) return [];
  if (scope && !scope.some((x) => x === 1)) return [];
  const inScope = scope ? (i: number) => scope[i] === 1 : undefined;

  // labels: the last child containing the cell
  const names = makeUnique(groupBy.children.map((c) => c.name));
  const label = new Int32Array(exp.nCells).fill(-1);
  groupBy.children.forEach((child, k) => {
    for (const id of child.cellIds) {
      const i = exp.cellIndex(id);
      if (i >= 0 && (!inScope || inScope(i))) label[i] = k;
    }
  });
  const size = new Float64Array(names.length);
  for (const l of label) if (l >= 0) size[l]!++;
  const present = names.map((_, k) => k).filter((k) => size[k]! > 0).sort((a, b) => compareNames(names[a]!, names[b]!));
  if (present.length === 0) return [];

  let genes: number[];
  if (body.useMarkerGenes) {
    const groups = childGroups(exp, body.groupBy, "groupBy", inScope);
    if (groups.filter((g) => g.length > 0).length < 2) return [];
    const ranked = await cachedRankedMarkers(exp, "dotplot", groups, progress);
    genes = uniqueByName(exp, topMarkerGenes(ranked, body.numberOfMarkers)).genes;
  } else {
    if (body.customGenesList.length === 0) return [];
    const found = resolveGenes(exp, body.customGenesList);
    if (found.genes.length === 0) {
      const shown = found.missing.slice(0, 20).join(", ") + (found.missing.length > 20 ? ` and ${found.missing.length - 20} more` : "");
      throw new WorkerError(ErrorCode.GENE_NOT_FOUND, `None of the requested genes were found: ${shown}.`);
    }
    genes = uniqueByName(exp, found.genes).genes;
  }
  if (genes.length === 0) return [];

  const { symbols, ids } = exp.data.genes;
  const geneName = genes.map((g) => symbols[g] || ids[g]!);
  const geneNames = [...geneName].sort(compareNames);
  const nameIdx = new Map(geneNames.map((n, i) => [n, i]));

  // per gene, per group: mean of expm1 and share expressing
  const nGroups = names.length;
  const avg = genes.map(() => new Float64Array(nGroups));
  const pct = genes.map(() => new Float64Array(nGroups));
  const m = await exp.rowsOf(genes);
  const expSum = new Float64Array(nGroups);
  const expressing = new Float64Array(nGroups);
  genes.forEach((g, f) => {
    expSum.fill(0);
    expressing.fill(0);
    for (let q = m.indptr[g]!, end = m.indptr[g + 1]!; q < end; q++) {
      const c = m.indices[q]!;
      const l = label[c]!;
      if (l < 0) continue;
      const v = normalizedValue(exp.normalizer, m.values[q]!, c);
      expSum[l]! += Math.expm1(v);
      if (v > 0) expressing[l]!++;
    }
    for (const k of present) {
      avg[f]![k] = expSum[k]! / size[k]!;
      pct[f]![k] = (expressing[k]! / size[k]!) * 100;
    }
  });

  const scaled = genes.map((_, f) => scaleAcrossGroups(present.map((k) => avg[f]![k]!)));
  const out: DotPlotResult = { cellSetsIdx: [], geneNameIdx: [], avgExpression: [], cellsPercentage: [], cellSetsNames: present.map((k) => names[k]!), geneNames };
  present.forEach((k, row) => {
    genes.forEach((_, f) => {
      const s = scaled[f]![row]!;
      out.cellSetsIdx.push(row);
      out.geneNameIdx.push(nameIdx.get(geneName[f]!)!);
      out.avgExpression.push(Number.isNaN(s) ? null : s);
      out.cellsPercentage.push(pct[f]![k]!);
    });
  });
  return out;
}

/**
 * Seurat 5 DotPlot's colour value of one gene across groups: log1p, then `scale` (centre on
 * the mean, divide by the sample sd) and clip to [−2.5, 2.5]; with one group only log1p.
 * NaN when the sd is 0 (as R's scale gives 0/0).
 */
export function scaleAcrossGroups(avgExp: readonly number[]): Float64Array {
  const x = Float64Array.from(avgExp, (a) => Math.log1p(a));
  const n = x.length;
  if (n === 1) return x;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) { x[i] = x[i]! - mean; ss += x[i]! * x[i]!; }
  const sd = Math.sqrt(ss / (n - 1));
  for (let i = 0; i < n; i++) {
    const v = x[i]! / sd;
    x[i] = v > SCALE_CLIP ? SCALE_CLIP : v < -SCALE_CLIP ? -SCALE_CLIP : v;
  }
  return x;
}

/** R's make.unique(names): later repeats get ".1", ".2", … avoiding every name already used. */
export function makeUnique(names: readonly string[]): string[] {
  const used = new Set(names);
  const seen = new Set<string>();
  const next = new Map<string, number>();
  return names.map((name) => {
    if (!seen.has(name)) { seen.add(name); return name; }
    let cnt = next.get(name) ?? 1;
    while (used.has(`${name}.${cnt}`)) cnt++;
    const unique = `${name}.${cnt}`;
    used.add(unique);
    next.set(name, cnt + 1);
    return unique;
  });
}

function classOf(exp: Experiment, key: string, field: string): CellClass {
  const node = findNode(exp.cellSets, key);
  if (!node) throw invalidInput(`${field}: there is no cell class with key ${quote(key)}.`);
  if (!isClass(node)) throw invalidInput(`${field}: ${quote(key)} is a cell set, not a class of cell sets.`);
  return node;
}

/** 1 per cell index in the filter, or null when not filtering. */
function filterScope(exp: Experiment, filterBy: DotPlotBody["filterBy"]): Uint8Array | null {
  if (filterBy.group.toLowerCase() === "all") return null;
  const cls = classOf(exp, filterBy.group, "filterBy.group");
  const set = filterBy.key ? cls.children.find((c) => c.key === filterBy.key) : undefined;
  if (!set) {
    throw invalidInput(filterBy.key
      ? `filterBy.key: class ${quote(filterBy.group)} has no cell set with key ${quote(filterBy.key)}.`
      : `filterBy.key: give the key of a cell set of class ${quote(filterBy.group)} (or filterBy.group "All").`);
  }
  const scope = new Uint8Array(exp.nCells);
  for (const id of set.cellIds) {
    const i = exp.cellIndex(id);
    if (i >= 0) scope[i] = 1;
  }
  return scope;
}
