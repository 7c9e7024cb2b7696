/**
 * GeneExpression (reference spec §5.5): log-normalised expression of some genes as a
 * compressed-sparse-COLUMN matrix (mathjs layout: rows = cells, columns = genes), with
 * per-gene stats over ALL cells of the experiment (rawMean, sample rawStdev, truncatedMin =
 * minimum, truncatedMax = 95th percentile retried at 0.96 … 1.00 while 0).
 *
 * Rows: by default row r = cell id r (0..maxCellId; ids not in the data are implicit zero
 * rows). With `cellSets` (keys; classes expand to their children): the cells of the data in
 * the union, by ascending cell id. With `downsampleSettings.cellIds`: exactly those ids, in
 * that order. With `downsampleSettings.{selectedCellSet, groupedTracks}`: the bucketed
 * heatmap sample (spec §3.3) drawn with a fixed seed, so the same request gives the same
 * cells. Whenever rows are a selection, `cellIds` echoes the row → cell id map.
 *
 * Genes match symbols case-insensitively, keep the request order and appear once; the ones
 * not found are listed in `missingGenes`; none found is a GENE_NOT_FOUND error (the original
 * published a cached `null`). Works from the gene-major rows only; nothing is densified.
 *
 * Size: the numbers the response would carry (each non-zero once per row showing its cell, so
 * a repeated cell id repeats its values, plus the echoed cell ids) are counted before anything
 * is built; more than the limit (`limits.maxResultValues`, default DEFAULT_MAX_RESULT_VALUES)
 * is INVALID_INPUT.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { cellIdsOf, findNode, isClass, type CellClass } from "../experiment/cell-sets/cell-sets.ts";
import { normalizedRow } from "../numerics/normalize.ts";
import type { GeneMajorMatrix } from "../numerics/sparse.ts";
import { summarizeWithZeros } from "../numerics/summaries.ts";
import { Random } from "../numerics/random.ts";
import { ErrorCode, invalidInput, WorkerError } from "../result/errors.ts";

export const MAX_GENES = 10_000;
export const MAX_CELL_IDS = 2_000_000;
/**
 * Most non-zero values one response may carry (about 25 bytes each in JSON) unless the task
 * context's `limits.maxResultValues` says otherwise: past this the result would not fit a JSON
 * string, so the request is refused before anything is built.
 */
export const DEFAULT_MAX_RESULT_VALUES = 20_000_000;
/**
 * Most rows the heatmap sampler may split into buckets before drawing from them (cells repeated
 * by overlapping tracks count once per copy), unless the selection alone has more cells.
 */
export const MAX_BUCKETED_ROWS = MAX_CELL_IDS;
/** cells drawn per bucket by the heatmap sampler (spec §3.3) */
export const BUCKET_SIZE = 1000;
export const DOWNSAMPLE_SEED = 0;

const Key = z.string().min(1).max(500);

const Body = z.object({
  name: z.literal("GeneExpression"),
  genes: z.array(z.string().max(500)).min(1).max(MAX_GENES),
  downsampleSettings: z.object({
    cellIds: z.array(z.number().int().nonnegative()).max(MAX_CELL_IDS).optional(),
    selectedCellSet: Key.optional(),
    groupedTracks: z.array(Key).max(100).optional(),
  }).strict().optional(),
  cellSets: z.array(Key).min(1).max(10_000).optional(),
}).strict().refine((b) => !(b.cellSets && b.downsampleSettings), {
  message: "give either cellSets or downsampleSettings, not both",
});

export type GeneExpressionBody = z.infer<typeof Body>;

export interface GeneExpressionResult {
  orderedGeneNames: string[];
  missingGenes: string[];
  stats: { rawMean: (number | null)[]; rawStdev: (number | null)[]; truncatedMin: (number | null)[]; truncatedMax: (number | null)[] };
  rawExpression: { values: number[]; index: number[]; ptr: number[]; size: [number, number] };
  cellIds?: number[];
}

export default defineTask({
  name: "GeneExpression",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "rows",
  example: { name: "GeneExpression", genes: ["CST3", "PPBP"], downsampleSettings: { selectedCellSet: "louvain", groupedTracks: ["louvain"] } },
  async run(body, { experiment: exp, progress, limits }) {
    const matrix = await exp.rowsOf(resolveGenes(exp, body.genes).genes);
    return geneExpression(exp, body, { progress, maxResultValues: limits?.maxResultValues, matrix });
  },
});

export interface GeneExpressionOptions {
  progress?: (fraction: number) => void;
  /** DEFAULT_MAX_RESULT_VALUES when absent */
  maxResultValues?: number | undefined;
  /** a matrix holding (at least) the requested genes' rows (Experiment.rowsOf); the experiment's own when absent */
  matrix?: GeneMajorMatrix;
}

export function geneExpression(
  exp: Experiment,
  body: Omit<GeneExpressionBody, "name">,
  { progress = () => {}, maxResultValues: maxValues = DEFAULT_MAX_RESULT_VALUES, matrix: m = exp.data.matrix }: GeneExpressionOptions = {},
): GeneExpressionResult {
  const { genes, missing } = resolveGenes(exp, body.genes);
  if (genes.length === 0) {
    const shown = missing.slice(0, 20).join(", ") + (missing.length > 20 ? ` and ${missing.length - 20} more` : "");
    throw new WorkerError(ErrorCode.GENE_NOT_FOUND, `None of the requested genes were found: ${shown}.`);
  }
  const rows = selectedCellIds(exp, body);
  const rowMap = rowsByCell(exp, rows);
  const nRows = rows ? rows.length : exp.maxCellId + 1;
  const nValues = checkResultSize(exp, m, body, genes, rowMap, rows, maxValues);
  const stats: GeneExpressionResult["stats"] = { rawMean: [], rawStdev: [], truncatedMin: [], truncatedMax: [] };
  // sized up front (filled in order below): growing by push re-allocates and copies, which at a
  // million cells was most of the task's time; past V8's fast-array length, grown instead
  const values: number[] = nValues <= PREALLOCATE_MAX ? new Array<number>(nValues) : [];
  const index: number[] = nValues <= PREALLOCATE_MAX ? new Array<number>(nValues) : [];
  let filled = 0;
  const ptr: number[] = [0];
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  let longest = 0;
  for (const g of genes) longest = Math.max(longest, m.indptr[g + 1]! - m.indptr[g]!);
  if (rowScratch.length < longest) rowScratch = new Float64Array(longest);
  genes.forEach((g, k) => {
    const row = normalizedRow(m, exp.normalizer, g, rowScratch);
    filled = appendColumn(rowMap, row.cells, row.values, values, index, filled);
    ptr.push(filled);
    // the row's values are not needed in cell order any more: summarised in place
    const s = summarizeWithZeros(row.values, exp.nCells, true);
    stats.rawMean.push(finite(s.mean));
    stats.rawStdev.push(finite(s.sd));
    stats.truncatedMin.push(finite(s.min));
    stats.truncatedMax.push(finite(s.truncatedMax));
    if (k % 500 === 499) progress((k + 1) / genes.length);
  });
  values.length = filled;
  index.length = filled;
  const out: GeneExpressionResult = {
    orderedGeneNames: genes.map((g) => exp.data.genes.symbols[g]!),
    missingGenes: missing,
    stats,
    rawExpression: { values, index, ptr, size: [nRows, genes.length] },
  };
  if (rows) out.cellIds = Array.from(rows);
  return out;
}

/** Gene indices in request order (each once) and the requested names not found (each once). */
export function resolveGenes(exp: Experiment, requested: readonly string[]): { genes: number[]; missing: string[] } {
  const genes: number[] = [];
  const seen = new Set<number>();
  const missing: string[] = [];
  const missingSeen = new Set<string>();
  for (const name of requested) {
    const g = exp.geneBySymbol(name);
    if (g === undefined) {
      const key = name.toLowerCase();
      if (!missingSeen.has(key)) { missingSeen.add(key); missing.push(name); }
    } else if (!seen.has(g)) {
      seen.add(g);
      genes.push(g);
    }
  }
  return { genes, missing };
}

/** The row → cell id map of the request, or null for the full matrix (row = cell id). */
function selectedCellIds(exp: Experiment, body: Omit<GeneExpressionBody, "name">): Int32Array | null {
  if (body.cellSets) {
    const ids = new Set<number>();
    for (const key of body.cellSets) {
      const cells = cellIdsOf(exp.cellSets, key);
      if (!cells) throw invalidInput(`cellSets: cell set "${key.slice(0, 100)}" does not exist`);
      for (const id of cells) if (exp.cellIndex(id) >= 0) ids.add(id);
    }
    return Int32Array.from(ids).sort();
  }
  const ds = body.downsampleSettings;
  if (!ds) return null;
  if (ds.cellIds) {
    const unknown = ds.cellIds.filter((id) => exp.cellIndex(id) < 0);
    if (unknown.length > 0) {
      throw invalidInput(`downsampleSettings.cellIds: ${unknown.length} cell id(s) not in this experiment (${unknown.slice(0, 10).join(", ")}${unknown.length > 10 ? ", …" : ""})`);
    }
    return Int32Array.from(ds.cellIds);
  }
  if (ds.selectedCellSet === undefined) throw invalidInput("downsampleSettings: give cellIds, or selectedCellSet and groupedTracks");
  return bucketedHeatmapCells(exp.cellSets, ds.selectedCellSet, ds.groupedTracks ?? [], (id) => exp.cellIndex(id) >= 0, new Random(DOWNSAMPLE_SEED));
}

/**
 * Spec §3.3 "bucketed heatmap cells", seeded: the cells of `selected` that are in `louvain`
 * (when that class exists) and in the data, split by every child of each grouped track in
 * turn (plus a leftover bucket of cells in no child); at most BUCKET_SIZE cells drawn per
 * bucket, kept in cell-id order within the bucket; buckets concatenated in order. Empty when
 * there are no tracks or no enabled cells.
 *
 * Overlapping children repeat a cell: one copy per child it is in, so every track whose
 * children overlap multiplies the copies, exponentially in the number of such tracks. The
 * copies (rows before sampling) are counted first, from how many children of each track hold
 * each cell; more than `maxRows` (or the number of selected cells, if larger) is
 * INVALID_INPUT. The split itself visits each copy once per track and never compares a bucket
 * with children that hold none of its cells.
 */
export function bucketedHeatmapCells(
  sets: CellClass[],
  selected: string,
  groupedTracks: readonly string[],
  inData: (id: number) => boolean,
  random: Random,
  maxRows: number = MAX_BUCKETED_ROWS,
): Int32Array {
  const selectedCells = cellIdsOf(sets, selected);
  if (!selectedCells) throw invalidInput(`downsampleSettings.selectedCellSet: cell set "${selected.slice(0, 100)}" does not exist`);
  const tracks = groupedTracks.map((key) => {
    const node = findNode(sets, key);
    if (!node) throw invalidInput(`downsampleSettings.groupedTracks: cell set "${key.slice(0, 100)}" does not exist`);
    return isClass(node) ? node.children : [node];
  });
  const louvain = sets.some((c) => c.key === "louvain") ? cellIdsOf(sets, "louvain")! : null;
  const enabled = [...selectedCells].filter((id) => (!louvain || louvain.has(id)) && inData(id)).sort((a, b) => a - b);
  if (tracks.length === 0 || enabled.length === 0) return new Int32Array(0);
  const position = new Map<number, number>();
  enabled.forEach((id, i) => position.set(id, i));

  // copies of each enabled cell after all tracks: the product of max(1, children holding it)
  const limit = Math.max(maxRows, enabled.length);
  const copies = new Float64Array(enabled.length).fill(1);
  for (const children of tracks) {
    const { start } = membership(children, position);
    for (let i = 0; i < enabled.length; i++) copies[i]! *= Math.max(1, start[i + 1]! - start[i]!);
  }
  let rows = 0;
  for (const c of copies) rows += c;
  if (rows > limit) {
    const count = Number.isSafeInteger(rows) ? `${rows} rows before sampling, more than ${limit}` : `more than ${limit} rows before sampling`;
    throw invalidInput(
      `downsampleSettings.groupedTracks: these ${tracks.length} tracks have overlapping cell sets that would repeat the ${enabled.length} selected cells as ${count}; ` +
      "choose fewer tracks, or tracks whose cell sets do not overlap.",
    );
  }

  // buckets as one flat array of positions in `enabled` (bucket b: cells[bounds[b] .. bounds[b+1]),
  // ascending, so in cell-id order) that each track rewrites once
  let cells = Int32Array.from(enabled, (_, i) => i);
  let bounds = Int32Array.of(0, enabled.length);
  for (const children of tracks) {
    const { start, child } = membership(children, position);
    const leftover = children.length;
    let size = 0;
    for (const i of cells) size += Math.max(1, start[i + 1]! - start[i]!);
    const nextCells = new Int32Array(size);
    const nextBounds = new Int32Array(size + 1);
    const keys = new Float64Array(size);
    let o = 0, nb = 0;
    for (let b = 0; b + 1 < bounds.length; b++) {
      const from = bounds[b]!, n = bounds[b + 1]! - from;
      if (n === 1) {
        // one cell: one bucket per child holding it (or the leftover bucket)
        const i = cells[from]!;
        for (let q = start[i]!; q < Math.max(start[i + 1]!, start[i]! + 1); q++) { nextCells[o++] = i; nextBounds[++nb] = o; }
        continue;
      }
      // (child, place in the bucket) as one sortable number: children in order, leftover last,
      // each part keeping the bucket's order
      let m = 0;
      let inOrder = true; // e.g. every cell in the same one child: nothing to sort
      for (let j = 0; j < n; j++) {
        const i = cells[from + j]!;
        const first = m;
        if (start[i] === start[i + 1]) keys[m++] = leftover * n + j;
        else for (let q = start[i]!; q < start[i + 1]!; q++) keys[m++] = child[q]! * n + j;
        if (first > 0 && keys[first]! < keys[first - 1]!) inOrder = false;
      }
      const sorted = inOrder ? keys.subarray(0, m) : keys.subarray(0, m).sort();
      let previous = -1;
      for (let r = 0; r < m; r++) {
        const key = sorted[r]!;
        const k = Math.floor(key / n);
        if (k !== previous && previous !== -1) nextBounds[++nb] = o;
        previous = k;
        nextCells[o++] = cells[from + (key - k * n)]!;
      }
      nextBounds[++nb] = o;
    }
    cells = nextCells;
    bounds = nextBounds.slice(0, nb + 1);
  }
  let total = 0;
  for (let b = 0; b + 1 < bounds.length; b++) total += Math.min(bounds[b + 1]! - bounds[b]!, BUCKET_SIZE);
  const out = new Int32Array(total);
  let o = 0;
  for (let b = 0; b + 1 < bounds.length; b++) {
    const bucket = cells.subarray(bounds[b]!, bounds[b + 1]!);
    // a bucket of at most BUCKET_SIZE cells is taken whole (the sampler draws nothing for it)
    if (bucket.length <= BUCKET_SIZE) for (const i of bucket) out[o++] = enabled[i]!;
    else for (const j of random.sampleIndices(bucket.length, BUCKET_SIZE)) out[o++] = enabled[bucket[j]!]!;
  }
  return out;
}

/**
 * Which children of one track hold each enabled cell (CSR over positions: children
 * child[start[i] .. start[i+1]), ascending, each once even if a child lists the cell twice).
 */
function membership(children: readonly { cellIds: number[] }[], position: Map<number, number>): { start: Int32Array; child: Int32Array } {
  const n = position.size;
  const start = new Int32Array(n + 1);
  const last = new Int32Array(n).fill(-1);
  children.forEach((c, k) => {
    for (const id of c.cellIds) {
      const i = position.get(id);
      if (i !== undefined && last[i] !== k) { last[i] = k; start[i + 1]!++; }
    }
  });
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const child = new Int32Array(start[n]!);
  const fill = start.slice(0, n);
  last.fill(-1);
  children.forEach((c, k) => {
    for (const id of c.cellIds) {
      const i = position.get(id);
      if (i !== undefined && last[i] !== k) { last[i] = k; child[fill[i]!++] = k; }
    }
  });
  return { start, child };
}

/**
 * Refuses, before anything is built, a response that would carry more than `maxValues`
 * numbers: one per non-zero of each gene in each row showing its cell (a cell id repeated in
 * the selection repeats its values), plus one per echoed cell id. Otherwise returns how many
 * values the columns hold.
 */
function checkResultSize(
  exp: Experiment, m: GeneMajorMatrix, body: Omit<GeneExpressionBody, "name">, genes: readonly number[], map: RowMap, rows: Int32Array | null, maxValues: number,
): number {
  const { indptr, indices, values } = m;
  let total = rows ? rows.length : 0;
  for (const g of genes) {
    for (let p = indptr[g]!; p < indptr[g + 1]!; p++) {
      if (values[p] === 0) continue;
      const c = indices[p]!;
      total += map.start ? map.start[c + 1]! - map.start[c]! : 1;
    }
  }
  if (total <= maxValues) return total - (rows ? rows.length : 0);
  if (!rows) {
    throw invalidInput(`genes: these ${genes.length} genes have ${total} non-zero values, more than one response can carry (${maxValues}); request fewer genes.`);
  }
  let distinct = 0;
  for (let c = 0; c < exp.nCells; c++) if (map.start![c + 1]! > map.start![c]!) distinct++;
  const field = body.cellSets ? "cellSets" : body.downsampleSettings?.cellIds ? "downsampleSettings.cellIds" : "downsampleSettings.groupedTracks";
  throw invalidInput(
    `${field}: these ${rows.length} rows (${distinct} distinct cell${distinct === 1 ? "" : "s"}) would carry ${total} values with these ${genes.length} genes, ` +
    `more than one response can carry (${maxValues}); request fewer rows or genes.`,
  );
}

/**
 * For each cell index, the output rows it fills (CSR: rows[start[c] .. start[c+1]), ascending;
 * `start` null: cell c fills exactly row rows[c], the whole matrix's case), and whether walking
 * cells in index order already gives ascending rows.
 */
interface RowMap { start: Int32Array | null; rows: Int32Array; ordered: boolean }

function rowsByCell(exp: Experiment, selection: Int32Array | null): RowMap {
  if (!selection) {
    // row = cell id: the experiment's own ids (only read)
    const ids = exp.data.cellIds;
    let ordered = true;
    for (let c = 1; c < ids.length && ordered; c++) if (ids[c]! <= ids[c - 1]!) ordered = false;
    return { start: null, rows: ids, ordered };
  }
  const nCells = exp.nCells;
  const start = new Int32Array(nCells + 1);
  const cellOfRow = Int32Array.from(selection, (id) => exp.cellIndex(id));
  for (const c of cellOfRow) start[c + 1]!++;
  for (let c = 0; c < nCells; c++) start[c + 1]! += start[c]!;
  const rows = new Int32Array(cellOfRow.length);
  const fill = start.slice(0, nCells);
  cellOfRow.forEach((c, r) => { rows[fill[c]!++] = r; });
  let ordered = true;
  for (let i = 1; i < rows.length && ordered; i++) if (rows[i]! <= rows[i - 1]!) ordered = false;
  return { start, rows, ordered };
}

/** Writes one gene's non-zero values as a CSC column (row indices ascending) from position `from`; returns the end. */
function appendColumn(map: RowMap, cells: Int32Array, vals: Float64Array, values: number[], index: number[], from: number): number {
  let at = from;
  const { start, rows } = map;
  if (start === null) {
    for (let p = 0; p < cells.length; p++) {
      const v = vals[p]!;
      if (v === 0) continue;
      index[at] = rows[cells[p]!]!;
      values[at++] = v;
    }
  } else {
    for (let p = 0; p < cells.length; p++) {
      const v = vals[p]!;
      if (v === 0) continue;
      const c = cells[p]!;
      for (let q = start[c]!; q < start[c + 1]!; q++) {
        index[at] = rows[q]!;
        values[at++] = v;
      }
    }
  }
  if (map.ordered) return at;
  const n = at - from;
  if (n < 2) return at;
  let order: ArrayLike<number>;
  let maxRow = 0;
  for (let i = from; i < at; i++) if (index[i]! > maxRow) maxRow = index[i]!;
  if (n < SORT_KEY_SCALE && maxRow < 2 ** 27) {
    // row and position packed in one double (rows < 2^27, positions < 2^25: exact below 2^53),
    // so the typed array's native numeric sort orders them: no comparator calls
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = index[from + i]! * SORT_KEY_SCALE + i;
    keys.sort();
    const pos = new Int32Array(n);
    for (let i = 0; i < n; i++) pos[i] = keys[i]! % SORT_KEY_SCALE;
    order = pos;
  } else {
    order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => index[from + a]! - index[from + b]!);
  }
  const sortedIndex = Int32Array.from(order, (i) => index[from + i]!);
  const sortedValues = Float64Array.from(order, (i) => values[from + i]!);
  for (let i = 0; i < n; i++) { index[from + i] = sortedIndex[i]!; values[from + i] = sortedValues[i]!; }
  return at;
}

/**
 * One gene row's normalised values, kept from request to request (8 bytes per cell at most):
 * memory touched for the first time is slow (the row of a gene at a million cells is megabytes),
 * and the row is only needed until its column and summary are written.
 */
let rowScratch = new Float64Array(0);

/** Longest result arrays allocated at their final size (V8 keeps arrays up to 32 Mi elements in fast mode). */
const PREALLOCATE_MAX = 16_000_000;

/** 2^25: see appendColumn */
const SORT_KEY_SCALE = 33_554_432;
