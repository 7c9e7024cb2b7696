import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import geneExpressionTask, { BUCKET_SIZE, bucketedHeatmapCells, DEFAULT_MAX_RESULT_VALUES, MAX_GENES, type GeneExpressionResult } from "../../src/tasks/gene-expression.ts";
import type { TaskContext } from "../../src/tasks/task.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { LoadedData } from "../../src/experiment/types.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { quantileWithZeros, summarizeWithZeros } from "../../src/numerics/summaries.ts";
import { Random } from "../../src/numerics/random.ts";
import { describeZodError } from "../../src/result/errors.ts";
import { ErrorCode, WorkerError } from "../../src/result/errors.ts";
import { PBMC3K, PBMC_SMALL, zeroState } from "../helpers.ts";

const exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
const m = exp.data.matrix;
const symbols = exp.data.genes.symbols;

/** Validates and runs the body as the compute host does. */
async function run(body: Record<string, unknown>, experiment: Experiment = exp, limits?: TaskContext["limits"]): Promise<GeneExpressionResult> {
  const parsed = geneExpressionTask.body.safeParse({ name: "GeneExpression", ...body });
  if (!parsed.success) throw new WorkerError(ErrorCode.INVALID_INPUT, describeZodError(parsed.error, "body"));
  return (await geneExpressionTask.run(parsed.data, { experiment, pagination: undefined, progress: () => {}, ...(limits ? { limits } : {}) })) as GeneExpressionResult;
}

async function rejectsWith(body: Record<string, unknown>, code: string, pattern: RegExp, limits?: TaskContext["limits"], experiment: Experiment = exp): Promise<void> {
  await assert.rejects(run(body, experiment, limits), (err: unknown) => {
    assert.ok(err instanceof WorkerError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

// ---- independent reference computations (dense, straight from the raw counts) ----

const totals = new Float64Array(m.nCells);
for (let p = 0; p < m.indices.length; p++) totals[m.indices[p]!]! += m.values[p]!;

/** log1p(count / total * 1e4) of gene g for every cell index. */
function denseLogNorm(g: number): Float64Array {
  const out = new Float64Array(m.nCells);
  for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) out[m.indices[p]!] = Math.log1p((m.values[p]! / totals[m.indices[p]!]!) * 1e4);
  return out;
}

function quantile7(x: Float64Array, p: number): number {
  const s = Float64Array.from(x).sort();
  const h = (s.length - 1) * p;
  const lo = Math.floor(h), hi = Math.ceil(h);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

function denseStats(x: Float64Array) {
  const n = x.length;
  const mean = x.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  let pct = 0.95;
  let max = quantile7(x, pct);
  while (max === 0 && pct <= 1) { pct += 0.01; if (pct <= 1 + 1e-9) max = quantile7(x, Math.min(pct, 1)); }
  return { mean, sd, min: Math.min(...x), max };
}

const close = (a: number | null, b: number, what: string, tol = 1e-10) =>
  assert.ok(a !== null && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** The dense cells × genes matrix described by a CSC result. */
function densify(r: GeneExpressionResult): Float64Array[] {
  const { values, index, ptr, size } = r.rawExpression;
  assert.equal(ptr.length, size[1] + 1);
  const cols = Array.from({ length: size[1] }, () => new Float64Array(size[0]));
  for (let j = 0; j < size[1]; j++) {
    for (let p = ptr[j]!; p < ptr[j + 1]!; p++) {
      assert.ok(index[p]! >= 0 && index[p]! < size[0]);
      if (p > ptr[j]!) assert.ok(index[p]! > index[p - 1]!, "row indices ascending within a column");
      assert.notEqual(values[p], 0);
      cols[j]![index[p]!] = values[p]!;
    }
  }
  return cols;
}

const gene = (s: string) => symbols.indexOf(s);

test("full matrix: rows = cell ids, values = log1p(count/total*1e4) recomputed from the counts", async () => {
  const r = await run({ genes: ["CST3", "MS4A1"] });
  assert.deepEqual(r.orderedGeneNames, ["CST3", "MS4A1"]);
  assert.deepEqual(r.missingGenes, []);
  assert.equal(r.cellIds, undefined);
  assert.deepEqual(r.rawExpression.size, [exp.maxCellId + 1, 2]);
  assert.equal(exp.maxCellId, 2699);
  const cols = densify(r);
  ["CST3", "MS4A1"].forEach((s, j) => {
    const want = denseLogNorm(gene(s));
    const nnz = want.filter((v) => v !== 0).length;
    assert.equal(r.rawExpression.ptr[j + 1]! - r.rawExpression.ptr[j]!, nnz);
    for (let c = 0; c < m.nCells; c++) close(cols[j]![exp.data.cellIds[c]!]!, want[c]!, `${s} cell ${c}`, 1e-12);
  });
  // a few cells spelled out from the raw matrix
  for (const c of [0, 1, 100, 2699]) {
    const g = gene("CST3");
    let count = 0;
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) if (m.indices[p] === c) count = m.values[p]!;
    close(cols[0]![c]!, Math.log1p((count / totals[c]!) * 10000), `CST3 cell ${c}`, 1e-12);
  }
  // plain JSON arrays, round-trips unchanged
  assert.ok(Array.isArray(r.rawExpression.values) && Array.isArray(r.stats.rawMean));
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
});

test("stats over all cells match a dense computation (CST3 truncatedMax, sample sd)", async () => {
  const picks = ["CST3", "MS4A1", "PPBP", "LYZ"];
  const r = await run({ genes: picks });
  picks.forEach((s, j) => {
    const d = denseStats(denseLogNorm(gene(s)));
    close(r.stats.rawMean[j]!, d.mean, `${s} mean`);
    close(r.stats.rawStdev[j]!, d.sd, `${s} sd`);
    assert.equal(r.stats.truncatedMin[j], 0);
    close(r.stats.truncatedMax[j]!, d.max, `${s} truncatedMax`);
  });
  close(r.stats.truncatedMax[0]!, quantile7(denseLogNorm(gene("CST3")), 0.95), "CST3 = its 95th percentile");
  assert.ok(r.stats.truncatedMax[0]! > 4.2 && r.stats.truncatedMax[0]! < 4.4);
});

test("truncatedMax retries 0.96, 0.97 … 1.00 while the percentile is 0", async () => {
  const nnz = (g: number) => m.indptr[g + 1]! - m.indptr[g]!;
  const g96 = symbols.findIndex((_, g) => nnz(g) >= 60 && nnz(g) < 130); // 95th is 0, a later one is not
  const g100 = symbols.findIndex((_, g) => nnz(g) >= 2 && nnz(g) < 20); // only the maximum is non-zero
  const zero = symbols.findIndex((_, g) => nnz(g) === 0);
  const r = await run({ genes: [symbols[g96]!, symbols[g100]!, symbols[zero]!] });
  const d96 = denseLogNorm(g96);
  assert.equal(quantile7(d96, 0.95), 0);
  close(r.stats.truncatedMax[0]!, denseStats(d96).max, "retried percentile");
  assert.ok(r.stats.truncatedMax[0]! > 0);
  close(r.stats.truncatedMax[1]!, Math.max(...denseLogNorm(g100)), "falls back to the maximum");
  assert.deepEqual([r.stats.rawMean[2], r.stats.rawStdev[2], r.stats.truncatedMin[2], r.stats.truncatedMax[2]], [0, 0, 0, 0]);
  assert.equal(r.rawExpression.ptr[3]! - r.rawExpression.ptr[2]!, 0);
});

test("numerics: quantile with implicit zeros equals the dense quantile, negatives included", () => {
  const random = new Random(7);
  for (let trial = 0; trial < 50; trial++) {
    const n = 1 + random.int(40);
    const dense = Float64Array.from({ length: n }, () => (random.next() < 0.5 ? 0 : Math.round((random.next() - 0.3) * 100) / 10));
    const stored = dense.filter((v) => v !== 0);
    const sorted = Float64Array.from(stored).sort();
    for (const p of [0, 0.1, 0.5, 0.95, 0.99, 1]) close(quantileWithZeros(sorted, n - stored.length, p), quantile7(dense, p), `n=${n} p=${p}`, 1e-12);
    const s = summarizeWithZeros(stored, n);
    close(s.min, Math.min(...dense), "min", 0);
    close(s.mean, dense.reduce((a, b) => a + b, 0) / n, "mean");
    if (n > 1) close(s.sd, denseStats(dense).sd, "sd");
  }
});

test("genes: case-insensitive, request order kept, duplicates once, missing listed", async () => {
  const r = await run({ genes: ["ms4a1", "NOPE", "Cst3", "MS4A1", "nope", "CD79B", "xyz"] });
  assert.deepEqual(r.orderedGeneNames, ["MS4A1", "CST3", "CD79B"]);
  assert.deepEqual(r.missingGenes, ["NOPE", "xyz"]);
  assert.deepEqual(r.rawExpression.size, [2700, 3]);
  assert.equal(r.stats.rawMean.length, 3);
  const single = await run({ genes: ["CST3"] });
  assert.deepEqual(r.stats.rawMean[1], single.stats.rawMean[0]);
  const cols = densify(r);
  assert.deepEqual(cols[1], densify(single)[0]);
});

test("no gene found → GENE_NOT_FOUND naming them", async () => {
  await rejectsWith({ genes: ["NOPE1", "nope2"] }, ErrorCode.GENE_NOT_FOUND, /NOPE1, nope2/);
  const many = Array.from({ length: 30 }, (_, i) => `missing${i}`);
  await rejectsWith({ genes: many }, ErrorCode.GENE_NOT_FOUND, /missing0, .*missing19 and 10 more/);
});

test("cellSets: rows = union of the sets in cell-id order, cellIds echoed, stats still over all cells", async () => {
  const louvain = exp.cellSets.find((c) => c.key === "louvain")!;
  const [c0, c1] = [louvain.children[0]!, louvain.children[1]!];
  const r = await run({ genes: ["CST3", "LYZ"], cellSets: [c0.key, c1.key] });
  const want = [...new Set([...c0.cellIds, ...c1.cellIds])].sort((a, b) => a - b);
  assert.deepEqual(r.cellIds, want);
  assert.deepEqual(r.rawExpression.size, [want.length, 2]);
  const full = densify(await run({ genes: ["CST3", "LYZ"] }));
  const sub = densify(r);
  for (let j = 0; j < 2; j++) want.forEach((id, row) => assert.equal(sub[j]![row], full[j]![id]));
  const all = await run({ genes: ["CST3", "LYZ"] });
  assert.deepEqual(r.stats, all.stats);
  // a class key expands to its children
  const cls = await run({ genes: ["CST3"], cellSets: ["louvain"] });
  assert.equal(cls.cellIds!.length, 2700);
  await rejectsWith({ genes: ["CST3"], cellSets: [c0.key, "no-such-set"] }, ErrorCode.INVALID_INPUT, /no-such-set/);
  await rejectsWith({ genes: ["CST3"], cellSets: [] }, ErrorCode.INVALID_INPUT, /cellSets/);
});

test("downsampleSettings.cellIds: exactly those rows, in order; unknown ids rejected", async () => {
  const ids = [5, 3, 2699, 5, 0];
  const r = await run({ genes: ["CST3"], downsampleSettings: { cellIds: ids } });
  assert.deepEqual(r.cellIds, ids);
  assert.deepEqual(r.rawExpression.size, [5, 1]);
  const full = densify(await run({ genes: ["CST3"] }))[0]!;
  assert.deepEqual(Array.from(densify(r)[0]!), ids.map((id) => full[id]!));
  await rejectsWith({ genes: ["CST3"], downsampleSettings: { cellIds: [1, 2700, 99999] } }, ErrorCode.INVALID_INPUT, /2700, 99999/);
  await rejectsWith({ genes: ["CST3"], downsampleSettings: { cellIds: [-1] } }, ErrorCode.INVALID_INPUT, /cellIds/);
});

test("repeated downsampleSettings.cellIds count once per row against the values limit, and so does the cellIds echo", async () => {
  // cell id 0 expresses both genes; together they have 170 + 356 non-zeros, well under the limit
  const genes = ["TNFRSF25", "AKR7A2"];
  const limits = { maxResultValues: 1000 };
  const nnz = genes.reduce((n, s) => n + m.indptr[gene(s) + 1]! - m.indptr[gene(s)]!, 0);
  assert.equal(nnz, 526);
  const repeated = (n: number) => ({ genes, downsampleSettings: { cellIds: Array.from({ length: n }, () => 0) } });
  // 200 rows: 400 values + 200 echoed ids fit
  const ok = await run(repeated(200), exp, limits);
  assert.equal(ok.rawExpression.values.length, 400);
  assert.equal(ok.cellIds!.length, 200);
  // 600 rows: 1200 values do not
  await rejectsWith(repeated(600), ErrorCode.INVALID_INPUT, /^downsampleSettings\.cellIds: these 600 rows \(1 distinct cell\) would carry 1800 values with these 2 genes, more than one response can carry \(1000\)/, limits);
  // 400 rows: 800 values fit, but not with the 400 echoed ids
  await rejectsWith(repeated(400), ErrorCode.INVALID_INPUT, /would carry 1200 values/, limits);
});

test("one cell id 2,000,000 times with 20 of its genes is refused up front under the default limit", async () => {
  const expressed: string[] = [];
  for (let g = 0; g < m.nGenes && expressed.length < 20; g++) {
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) if (m.indices[p] === 0 && m.values[p] !== 0) { expressed.push(symbols[g]!); break; }
  }
  assert.equal(expressed.length, 20);
  const cellIds = new Array<number>(2_000_000).fill(0);
  await rejectsWith({ genes: expressed, downsampleSettings: { cellIds } }, ErrorCode.INVALID_INPUT, /^downsampleSettings\.cellIds: these 2000000 rows \(1 distinct cell\) would carry 42000000 values with these 20 genes, more than one response can carry \(20000000\); [^\n]*$/);
});

/** Adds a class to the shared experiment for the duration of fn. */
async function withClass(cls: CellClass, fn: () => Promise<void>): Promise<void> {
  const saved = exp.cellSets;
  exp.cellSets = [...saved, cls];
  try { await fn(); } finally { exp.cellSets = saved; }
}

test("bucketed downsampling: grouped by track children, ≤ 1000 per bucket, deterministic", async () => {
  const halves: CellClass = {
    key: "halves", name: "halves", rootNode: true, type: "cellSets",
    children: [
      { key: "h-low", name: "low", cellIds: Array.from({ length: 1350 }, (_, i) => i) },
      { key: "h-high", name: "high", cellIds: Array.from({ length: 1250 }, (_, i) => 1350 + i) },
    ],
  };
  await withClass(halves, async () => {
    const body = { genes: ["CST3", "MS4A1"], downsampleSettings: { selectedCellSet: "louvain", groupedTracks: ["halves"] } };
    const a = await run(body);
    const b = await run(body);
    assert.deepEqual(a, b);
    const ids = a.cellIds!;
    assert.equal(ids.length, BUCKET_SIZE + BUCKET_SIZE + 100);
    const low = ids.slice(0, 1000), high = ids.slice(1000, 2000), rest = ids.slice(2000);
    assert.ok(low.every((id) => id < 1350));
    assert.ok(high.every((id) => id >= 1350 && id < 2600));
    assert.deepEqual(rest, Array.from({ length: 100 }, (_, i) => 2600 + i), "leftover bucket: cells in no child");
    for (const part of [low, high]) {
      assert.equal(new Set(part).size, part.length);
      for (let i = 1; i < part.length; i++) assert.ok(part[i]! > part[i - 1]!);
    }
    assert.deepEqual(a.rawExpression.size, [2100, 2]);
    const full = densify(await run({ genes: ["CST3", "MS4A1"] }));
    const sub = densify(a);
    ids.forEach((id, row) => assert.equal(sub[1]![row], full[1]![id]));
  });
});

test("bucketed downsampling by louvain: every cell once, grouped by cluster", async () => {
  const louvain = exp.cellSets.find((c) => c.key === "louvain")!;
  assert.ok(louvain.children.every((c) => c.cellIds.length <= BUCKET_SIZE));
  const r = await run({ genes: ["CST3"], downsampleSettings: { selectedCellSet: "louvain", groupedTracks: ["louvain"] } });
  assert.deepEqual(r.cellIds, louvain.children.flatMap((c) => c.cellIds));
  // cells outside louvain or the data are dropped; no tracks → no cells
  const extra: CellClass = { key: "extra", name: "extra", rootNode: true, type: "cellSets", children: [{ key: "extra-1", name: "x", cellIds: [1, 2, 3, 5000] }] };
  await withClass(extra, async () => {
    const e = await run({ genes: ["CST3"], downsampleSettings: { selectedCellSet: "extra", groupedTracks: ["louvain"] } });
    assert.deepEqual([...e.cellIds!].sort((a, b) => a - b), [1, 2, 3]);
    const none = await run({ genes: ["CST3"], downsampleSettings: { selectedCellSet: "extra", groupedTracks: [] } });
    assert.deepEqual(none.cellIds, []);
    assert.deepEqual(none.rawExpression, { values: [], index: [], ptr: [0, 0], size: [0, 1] });
  });
  await rejectsWith({ genes: ["CST3"], downsampleSettings: { selectedCellSet: "nope", groupedTracks: ["louvain"] } }, ErrorCode.INVALID_INPUT, /"nope"/);
  await rejectsWith({ genes: ["CST3"], downsampleSettings: { selectedCellSet: "louvain", groupedTracks: ["louvain", "bad-track"] } }, ErrorCode.INVALID_INPUT, /bad-track/);
  await rejectsWith({ genes: ["CST3"], downsampleSettings: {} }, ErrorCode.INVALID_INPUT, /selectedCellSet/);
});

/** The straightforward bucketing (track by track, every bucket filtered by every child), as a reference. */
function referenceBuckets(sets: CellClass[], selected: string, tracks: string[], inData: (id: number) => boolean, random: Random): number[] {
  const children = tracks.map((key) => {
    const cls = sets.find((c) => c.key === key);
    const nodes: { cellIds: number[] }[] = cls ? cls.children : [sets.flatMap((c) => c.children).find((c) => c.key === key)!];
    return nodes.map((c) => new Set(c.cellIds));
  });
  const sel = sets.find((c) => c.key === selected);
  const selectedCells = new Set(sel ? sel.children.flatMap((c) => c.cellIds) : sets.flatMap((c) => c.children).find((c) => c.key === selected)!.cellIds);
  const louvain = sets.find((c) => c.key === "louvain");
  const inLouvain = louvain ? new Set(louvain.children.flatMap((c) => c.cellIds)) : null;
  let buckets = [[...selectedCells].filter((id) => (!inLouvain || inLouvain.has(id)) && inData(id)).sort((a, b) => a - b)];
  if (children.length === 0 || buckets[0]!.length === 0) return [];
  for (const kids of children) {
    buckets = buckets.flatMap((b) => [...kids.map((k) => b.filter((id) => k.has(id))), b.filter((id) => !kids.some((k) => k.has(id)))].filter((part) => part.length > 0));
  }
  return buckets.flatMap((b) => Array.from(random.sampleIndices(b.length, Math.min(b.length, BUCKET_SIZE)), (i) => b[i]!));
}

test("bucketed downsampling with overlapping and repeated tracks: the same cells as the straightforward bucketing", () => {
  const random = new Random(11);
  const pick = (n: number, p: number) => Array.from({ length: n }, (_, i) => i).filter(() => random.next() < p);
  for (let trial = 0; trial < 40; trial++) {
    const nCells = 50 + random.int(2500);
    const classes: CellClass[] = Array.from({ length: 1 + random.int(4) }, (_, c) => ({
      key: `c${c}`, name: `c${c}`, rootNode: true, type: "cellSets",
      // overlapping children, a repeated id inside a child, and cells in no child
      children: Array.from({ length: 1 + random.int(4) }, (_, k) => ({ key: `c${c}-${k}`, name: "x", cellIds: [...pick(nCells, 0.2 + 0.6 * random.next()), 3, 3] })),
    }));
    if (trial % 2 === 0) classes.push({ key: "louvain", name: "louvain", rootNode: true, type: "cellSets", children: [{ key: "l-0", name: "l", cellIds: pick(nCells, 0.9) }] });
    const keys = [...classes.map((c) => c.key), ...classes.flatMap((c) => c.children.map((k) => k.key))];
    const tracks = Array.from({ length: random.int(4) }, () => keys[random.int(keys.length)]!);
    const selected = keys[random.int(keys.length)]!;
    const inData = (id: number) => id % 7 !== 0;
    const want = referenceBuckets(classes, selected, tracks, inData, new Random(0));
    const got = bucketedHeatmapCells(classes, selected, tracks, inData, new Random(0));
    assert.deepEqual(Array.from(got), want, `trial ${trial}: tracks ${tracks.join(",")} of ${selected}`);
  }
});

test("bucketed downsampling: overlapping tracks that would repeat cells without bound are INVALID_INPUT, up front", async () => {
  // two children that both hold every cell: each use of the class doubles every cell
  const twice: CellClass = {
    key: "twice", name: "twice", rootNode: true, type: "cellSets",
    children: [0, 1].map((k) => ({ key: `twice-${k}`, name: `${k}`, cellIds: Array.from({ length: 2700 }, (_, i) => i) })),
  };
  await withClass(twice, async () => {
    const body = (n: number) => ({ genes: ["CST3"], downsampleSettings: { selectedCellSet: "louvain", groupedTracks: Array.from({ length: n }, () => "twice") } });
    // 2700 cells × 2^20 copies
    await rejectsWith(body(20), ErrorCode.INVALID_INPUT, /^downsampleSettings\.groupedTracks: these 20 tracks have overlapping cell sets that would repeat the 2700 selected cells as 2831155200 rows before sampling, more than 2000000; [^\n]*$/);
    // 100 tracks, the most the schema allows: the count saturates, still refused
    await rejectsWith(body(100), ErrorCode.INVALID_INPUT, /^downsampleSettings\.groupedTracks: these 100 tracks have overlapping cell sets that would repeat the 2700 selected cells as more than 2000000 rows before sampling/);
    // 3 tracks: 8 copies of each cell in 8 buckets, 1000 drawn from each
    const r = await run(body(3));
    assert.equal(r.cellIds!.length, 8 * BUCKET_SIZE);
  });
  // the limit is on rows before sampling; the selected cells alone never exceed it
  const sets: CellClass[] = [twice];
  const all = (id: number) => id >= 0;
  assert.equal(bucketedHeatmapCells(sets, "twice", ["twice"], all, new Random(0), 5400).length, 2 * BUCKET_SIZE);
  assert.throws(() => bucketedHeatmapCells(sets, "twice", ["twice"], all, new Random(0), 5399), /as 5400 rows before sampling, more than 5399/);
  assert.equal(bucketedHeatmapCells(sets, "twice", ["twice-0"], all, new Random(0), 10).length, BUCKET_SIZE);
});

test("limits and malformed bodies are INVALID_INPUT", async () => {
  await rejectsWith({ genes: Array.from({ length: MAX_GENES + 1 }, () => "CST3") }, ErrorCode.INVALID_INPUT, /genes/);
  const ok = await run({ genes: Array.from({ length: MAX_GENES }, (_, i) => (i % 2 ? "CST3" : "cst3")) });
  assert.deepEqual(ok.orderedGeneNames, ["CST3"]);
  await rejectsWith({ genes: [] }, ErrorCode.INVALID_INPUT, /genes/);
  await rejectsWith({ genes: "CST3" }, ErrorCode.INVALID_INPUT, /genes/);
  await rejectsWith({ genes: ["CST3"], scale: true }, ErrorCode.INVALID_INPUT, /scale/);
  await rejectsWith({ genes: ["CST3"], downsampleSettings: { cellIds: [1], other: 1 } }, ErrorCode.INVALID_INPUT, /other/);
  await rejectsWith({ genes: ["CST3"], cellSets: ["louvain"], downsampleSettings: { cellIds: [1] } }, ErrorCode.INVALID_INPUT, /either/);
});

// ---- synthetic experiments: cell ids out of file order, and 100k cells ----

function synthetic(nGenes: number, nCells: number, cellIds: Int32Array, entries: (g: number) => { cells: number[]; counts: number[] }): Experiment {
  const indptr = new Float64Array(nGenes + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let g = 0; g < nGenes; g++) {
    const e = entries(g);
    indices.push(...e.cells);
    values.push(...e.counts);
    indptr[g + 1] = indices.length;
  }
  const totalCounts = new Float64Array(nCells);
  indices.forEach((c, p) => { totalCounts[c]! += values[p]!; });
  const data: LoadedData = {
    format: "h5ad", path: "synthetic", matrixKind: "counts", matrixSource: "X",
    matrix: { nGenes, nCells, indptr, indices: Int32Array.from(indices), values: Float32Array.from(values) },
    genes: { ids: Array.from({ length: nGenes }, (_, g) => `ID${g}`), symbols: Array.from({ length: nGenes }, (_, g) => `G${g}`) },
    barcodes: Array.from({ length: nCells }, (_, c) => `B${c}`), cellIds, obs: [], embeddings: {}, notes: [],
  };
  const state = zeroState(nCells, nGenes, { qc: { totalCounts, genesDetected: new Int32Array(nCells), percentMito: new Float64Array(nCells) } });
  return new Experiment(data, state, [], { status: "disabled", file: null });
}

test("cell ids out of file order: rows sorted per column, absent ids are zero rows", async () => {
  // cells (file order) have ids 4, 0, 2; ids 1 and 3 are not in the data
  const tiny = synthetic(2, 3, Int32Array.from([4, 0, 2]), (g) =>
    g === 0 ? { cells: [0, 1, 2], counts: [1, 2, 3] } : { cells: [0, 2], counts: [5, 1] });
  const r = await run({ genes: ["G0", "G1"] }, tiny);
  assert.deepEqual(r.rawExpression.size, [5, 2]);
  const total = [6, 2, 4]; // per cell index
  const v = (count: number, c: number) => Math.log1p((count / total[c]!) * 1e4);
  assert.deepEqual(r.rawExpression.index, [0, 2, 4, 2, 4]);
  assert.deepEqual(r.rawExpression.ptr, [0, 3, 5]);
  assert.deepEqual(r.rawExpression.values, [v(2, 1), v(3, 2), v(1, 0), v(1, 2), v(5, 0)]);
  // stats over the 3 cells of the data, not the 5 rows
  close(r.stats.rawMean[1]!, (v(5, 0) + v(1, 2)) / 3, "mean over cells");
  const sel = await run({ genes: ["G1"], downsampleSettings: { cellIds: [2, 4, 0] } }, tiny);
  assert.deepEqual(sel.rawExpression, { values: [v(1, 2), v(5, 0)], index: [0, 1], ptr: [0, 2], size: [3, 1] });
});

test("2 genes on 100k cells: the result has one row per cell id and only the non-zeros", async () => {
  const nCells = 100_000;
  const random = new Random(3);
  const big = synthetic(3, nCells, Int32Array.from({ length: nCells }, (_, i) => i), () => {
    const cells: number[] = [];
    const counts: number[] = [];
    for (let c = 0; c < nCells; c++) if (random.next() < 0.3) { cells.push(c); counts.push(1 + random.int(20)); }
    return { cells, counts };
  });
  const r = await run({ genes: ["G0", "G2"] }, big);
  assert.deepEqual(r.rawExpression.size, [nCells, 2]);
  const nnz = (g: number): number => big.data.matrix.indptr[g + 1]! - big.data.matrix.indptr[g]!;
  assert.deepEqual(r.rawExpression.ptr, [0, nnz(0), nnz(0) + nnz(2)]);
  assert.equal(r.rawExpression.values.length, nnz(0) + nnz(2));
});

test("a request whose values could not fit one response is refused before anything is built", async () => {
  const small = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
  const body = { genes: ["CST3", "PPBP", "LYZ"] };
  await rejectsWith(body, ErrorCode.INVALID_INPUT, /^genes: these 3 genes have \d+ non-zero values, more than one response can carry \(10\)/, { maxResultValues: 10 }, small);
  // without a limit in the context, the default applies
  assert.equal((await run(body, small)).orderedGeneNames.length, 3);
  assert.equal(DEFAULT_MAX_RESULT_VALUES, 20_000_000);
});
