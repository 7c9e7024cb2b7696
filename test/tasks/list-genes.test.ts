import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import listGenesTask, { MAX_LIMIT } from "../../src/tasks/list-genes.ts";
import { parseNameFilter, nameMatcher } from "../../src/tasks/shared/name-filter.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { LoadedData } from "../../src/experiment/types.ts";
import { ErrorCode, WorkerError } from "../../src/result/errors.ts";
import { PBMC3K, zeroState } from "../helpers.ts";
import { runBody } from "../task-helpers.ts";

const exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
const symbols = exp.data.genes.symbols;

/** Validates and runs the body as the compute host does. */
/** A ListGenes result: the total and one array per selected field. */
type Columns = { total: number; gene_names: unknown[]; gene_ids: unknown[]; dispersions: unknown[]; means: unknown[]; highly_variable: unknown[] };

async function run(body: Record<string, unknown>, experiment: Experiment = exp): Promise<Columns> {
  return (await runBody(listGenesTask, experiment, body)) as Columns;
}

const page = (extra: Record<string, unknown> = {}) =>
  run({ selectFields: ["gene_names"], orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: MAX_LIMIT, ...extra });

async function rejectsInvalid(body: Record<string, unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(run(body), (err: unknown) => {
    assert.ok(err instanceof WorkerError);
    assert.equal(err.code, ErrorCode.INVALID_INPUT);
    assert.match(err.message, pattern);
    return true;
  });
}

const base = { selectFields: ["gene_names", "dispersions"], orderBy: "dispersions", orderDirection: "DESC", offset: 0, limit: 5 };

test("dispersions DESC: Seurat's vst top genes for pbmc3k, total before paging", async () => {
  const r = await run(base);
  assert.deepEqual(Object.keys(r), ["total", "gene_names", "dispersions"]);
  assert.equal(r.total, 32738);
  assert.deepEqual(r.gene_names, ["PPBP", "LYZ", "S100A9", "IGLL5", "GNLY"]);
  const idx = (s: string) => symbols.indexOf(s);
  assert.deepEqual(r.dispersions, ["PPBP", "LYZ", "S100A9", "IGLL5", "GNLY"].map((s) => exp.state.gene.dispersions[idx(s)]));
  assert.ok(Math.abs((r.dispersions[0] as number) - 11.18) < 0.01, "PPBP standardized variance ≈ 11.18 (Seurat)");
});

test("every column, in request order, with values from the data", async () => {
  const r = await run({ ...base, selectFields: ["highly_variable", "gene_ids", "means", "gene_names", "dispersions"], limit: 3 });
  assert.deepEqual(Object.keys(r), ["total", "highly_variable", "gene_ids", "means", "gene_names", "dispersions"]);
  assert.deepEqual(r.gene_names, ["PPBP", "LYZ", "S100A9"]);
  assert.deepEqual(r.gene_ids, r.gene_names.map((s) => exp.data.genes.ids[symbols.indexOf(s as string)]));
  assert.match(r.gene_ids[0] as string, /^ENSG\d+$/);
  assert.deepEqual(r.highly_variable, [true, true, true]);
  // means = mean raw count over all cells, recomputed from the matrix
  const m = exp.data.matrix;
  const expectedMeans = (r.gene_names as string[]).map((s) => {
    const g = symbols.indexOf(s);
    let sum = 0;
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) sum += m.values[p]!;
    return sum / m.nCells;
  });
  (r.means as number[]).forEach((v, i) => assert.ok(Math.abs(v - expectedMeans[i]!) < 1e-12));
  const hv = await run({ selectFields: ["highly_variable"], orderBy: "highly_variable", orderDirection: "desc", offset: 0, limit: MAX_LIMIT });
  assert.equal(hv.highly_variable.filter((v) => v === true).length, 2000);
  assert.ok(hv.highly_variable.slice(0, 2000).every((v) => v === true));
  assert.ok(hv.highly_variable.every((v) => typeof v === "boolean"));
});

test("sorting is stable in both directions: ties keep gene order", async () => {
  const d = exp.state.gene.dispersions;
  for (const dir of ["asc", "desc"]) {
    const r = await run({ selectFields: ["gene_ids"], orderBy: "dispersions", orderDirection: dir, offset: 0, limit: MAX_LIMIT });
    const byId = new Map(exp.data.genes.ids.map((id, g) => [id, g]));
    const order = (r.gene_ids as string[]).map((id) => byId.get(id)!);
    assert.equal(new Set(order).size, 32738);
    for (let i = 1; i < order.length; i++) {
      const a = d[order[i - 1]!]!, b = d[order[i]!]!;
      assert.ok(dir === "asc" ? a <= b : a >= b, `${dir} at ${i}`);
      if (a === b) assert.ok(order[i - 1]! < order[i]!, `tie order at ${i}`);
    }
  }
});

test("gene_names order is case-insensitive", async () => {
  const r = await page({ limit: 40000 });
  const expected = [...symbols].sort((a, b) => {
    const x = a.toLowerCase(), y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
  });
  assert.deepEqual(r.gene_names, expected);
  const desc = await page({ orderDirection: "desc", limit: 3 });
  assert.deepEqual(desc.gene_names, expected.slice(-3).reverse());
});

test("orderDirection is case-insensitive", async () => {
  const a = await run({ ...base, orderDirection: "desc" });
  const b = await run({ ...base, orderDirection: "Desc" });
  const c = await run({ ...base, orderDirection: "DESC" });
  assert.deepEqual(a, c);
  assert.deepEqual(b, c);
  const asc = await run({ ...base, orderDirection: "asc" });
  assert.notDeepEqual(asc.gene_names, c.gene_names);
});

/** Matches computed here with plain string operations, independently of name-filter.ts. */
const expected = (pred: (lower: string) => boolean) => symbols.filter((s) => pred(s.toLowerCase())).sort((a, b) => {
  const x = a.toLowerCase(), y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
});

test("every filter form, case-insensitive, total before paging", async () => {
  const cases: [string, (s: string) => boolean, number?][] = [
    ["^CD3", (s) => s.startsWith("cd3"), 18],
    ["CD3", (s) => s.includes("cd3"), 25],
    ["cd3", (s) => s.includes("cd3"), 25],
    ["%CD3%", (s) => s.includes("cd3"), 25],
    ["CD3%", (s) => s.startsWith("cd3"), 18],
    ["%3E", (s) => s.endsWith("3e"), 10],
    ["%3E$", (s) => s.endsWith("3e"), 10],
    ["3e$", (s) => s.endsWith("3e"), 10],
    ["^cd3e$", (s) => s === "cd3e", 1],
    ["CD3E", (s) => s.includes("cd3e")],
    ["%-as1", (s) => s.endsWith("-as1")],
    ["34P13.7", (s) => s.includes("34p13.7")],
  ];
  for (const [filter, pred, count] of cases) {
    const want = expected(pred);
    if (count !== undefined) assert.equal(want.length, count, `independent count for ${filter}`);
    const r = await page({ geneNamesFilter: filter });
    assert.equal(r.total, want.length, filter);
    assert.deepEqual(r.gene_names, want, filter);
    const small = await page({ geneNamesFilter: filter, limit: 2 });
    assert.equal(small.total, want.length, `${filter}: total counts matches, not the page`);
    assert.deepEqual(small.gene_names, want.slice(0, 2));
  }
  assert.deepEqual((await page({ geneNamesFilter: "^cd3e$" })).gene_names, ["CD3E"]);
});

test("regex-looking filters are literal text (no match, no regex evaluation)", async () => {
  for (const f of ["(a+)+$", ".*", "^.*$", "[A-Z]+", "CD3|CD4", "CD3.", "\\d", "C?D3", "%CD_%"]) {
    const r = await page({ geneNamesFilter: f });
    assert.equal(r.total, 0, f);
    assert.deepEqual(r.gene_names, [], f);
  }
  // a catastrophic-backtracking pattern is plain text too (speed is the benchmark's business, not a test's)
  assert.equal((await page({ geneNamesFilter: "^(a+)+$" + "a".repeat(900) })).total, 0);
  // "." is a literal dot: matches symbols with a dot only
  const dot = await page({ geneNamesFilter: "." });
  assert.equal(dot.total, symbols.filter((s) => s.includes(".")).length);
  assert.ok(dot.total > 0);
});

test("filter parsing: pattern → mode and literal text", () => {
  assert.deepEqual(parseNameFilter("^Cd3"), { mode: "prefix", text: "cd3" });
  assert.deepEqual(parseNameFilter("CD3$"), { mode: "suffix", text: "cd3" });
  assert.deepEqual(parseNameFilter("CD3"), { mode: "contains", text: "cd3" });
  assert.deepEqual(parseNameFilter("^CD3$"), { mode: "exact", text: "cd3" });
  assert.deepEqual(parseNameFilter("%CD3%"), { mode: "contains", text: "cd3" });
  assert.deepEqual(parseNameFilter("CD3%"), { mode: "prefix", text: "cd3" });
  assert.deepEqual(parseNameFilter("%CD3"), { mode: "suffix", text: "cd3" });
  assert.deepEqual(parseNameFilter("%3E$"), { mode: "suffix", text: "3e" });
  assert.deepEqual(parseNameFilter("(a+)+$"), { mode: "suffix", text: "(a+)+" });
  assert.deepEqual(parseNameFilter("a%b"), { mode: "contains", text: "a%b" });
  assert.deepEqual(parseNameFilter(""), { mode: "contains", text: "" });
  assert.equal(nameMatcher("^hla-")("HLA-DRA"), true);
  assert.equal(nameMatcher("^hla-")("XHLA-DRA"), false);
});

test("an empty filter matches every gene", async () => {
  assert.equal((await page({ geneNamesFilter: "", limit: 0 })).total, 32738);
  assert.equal((await page({ geneNamesFilter: "%", limit: 0 })).total, 32738);
});

test("offset/limit paging: pages concatenate to the whole ordered list", async () => {
  const all = await run({ ...base, limit: MAX_LIMIT, geneNamesFilter: "RPL" });
  assert.ok(all.total > 50);
  const pages: unknown[] = [];
  for (let offset = 0; offset < all.total; offset += 7) {
    const p = await run({ ...base, offset, limit: 7, geneNamesFilter: "RPL" });
    assert.equal(p.total, all.total);
    assert.ok(p.gene_names.length <= 7);
    pages.push(...p.gene_names);
  }
  assert.deepEqual(pages, all.gene_names);
  const unfiltered = await run({ ...base, offset: 10, limit: 3 });
  const top = await run({ ...base, limit: 13 });
  assert.deepEqual(unfiltered.gene_names, top.gene_names.slice(10));
  const past = await run({ ...base, offset: 40000, limit: 10 });
  assert.deepEqual(past, { total: 32738, gene_names: [], dispersions: [] });
  const none = await run({ ...base, limit: 0, geneNamesFilter: "CD3" });
  assert.deepEqual(none, { total: 25, gene_names: [], dispersions: [] });
  const last = await run({ ...base, offset: 32736, limit: 10 });
  assert.equal(last.gene_names.length, 2);
});

test("invalid bodies are INVALID_INPUT", async () => {
  await rejectsInvalid({ ...base, selectFields: ["gene_names", "pvalue"] }, /selectFields/);
  await rejectsInvalid({ ...base, selectFields: [] }, /selectFields/);
  await rejectsInvalid({ ...base, orderBy: "pvalue" }, /orderBy/);
  await rejectsInvalid({ ...base, orderDirection: "down" }, /orderDirection/);
  await rejectsInvalid({ ...base, orderDirection: "ascending" }, /orderDirection/);
  await rejectsInvalid({ ...base, limit: MAX_LIMIT + 1 }, /limit/);
  await rejectsInvalid({ ...base, limit: -1 }, /limit/);
  await rejectsInvalid({ ...base, offset: -1 }, /offset/);
  await rejectsInvalid({ ...base, offset: 1.5 }, /offset/);
  await rejectsInvalid({ ...base, geneNamesFilter: 3 }, /geneNamesFilter/);
  await rejectsInvalid({ ...base, extra: true }, /extra/);
  const { limit: _, ...noLimit } = base;
  await rejectsInvalid(noLimit, /limit/);
  assert.equal((await run({ ...base, limit: MAX_LIMIT })).gene_names.length, 32738);
});

test("NaN values sort last in both directions and are sent as null", async () => {
  const nGenes = 5, nCells = 2;
  const data: LoadedData = {
    format: "10x-mtx", path: "synthetic", matrixKind: "counts", matrixSource: "synthetic",
    matrix: { nGenes, nCells, indptr: new Float64Array(nGenes + 1), indices: new Int32Array(0), values: new Float32Array(0) },
    genes: { ids: ["G0", "G1", "G2", "G3", "G4"], symbols: ["a", "b", "c", "d", "e"] },
    barcodes: ["x", "y"], cellIds: Int32Array.from([0, 1]), obs: [], embeddings: {}, notes: [],
  };
  const state = zeroState(nCells, nGenes, {
    gene: { means: Float64Array.from([1, 2, 3, 4, 5]), dispersions: Float64Array.from([2, NaN, 1, 2, NaN]), highlyVariable: new Uint8Array(nGenes) },
  });
  const tiny = new Experiment(data, state, [], { status: "disabled", file: null });
  const q = (orderDirection: string) => run({ selectFields: ["gene_names", "dispersions"], orderBy: "dispersions", orderDirection, offset: 0, limit: 10 }, tiny);
  assert.deepEqual(await q("DESC"), { total: 5, gene_names: ["a", "d", "c", "b", "e"], dispersions: [2, 2, 1, null, null] });
  assert.deepEqual(await q("ASC"), { total: 5, gene_names: ["c", "a", "d", "b", "e"], dispersions: [1, 2, 2, null, null] });
});
