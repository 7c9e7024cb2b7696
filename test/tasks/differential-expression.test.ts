import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import deTask from "../../src/tasks/differential-expression.ts";
import { resolveDeGroups, groupLabels } from "../../src/tasks/shared/de-groups.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { ErrorCode, WorkerError } from "../../src/result/errors.ts";
import { normalUpperTail } from "../../src/numerics/stats/wilcoxon.ts";
import { PBMC3K } from "../helpers.ts";
import { runBody, rejectsWith as rejects } from "../task-helpers.ts";

const exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
const N_CELLS = exp.nCells; // pbmc3k: cell id = cell index
const N_GENES = exp.nGenes;
const { ids: geneIds, symbols } = exp.data.genes;

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const louvain = exp.cellSets.find((c) => c.key === "louvain")!;
const cluster0 = louvain.children.find((c) => c.key === "louvain-0")!.cellIds;

// Keys chosen to collide with the keywords: "forest-set" contains "rest", "small-set" contains "all".
const SETS: CellClass[] = [
  louvain,
  {
    key: "scratchpad", name: "Custom cell sets", rootNode: true, type: "cellSets", children: [
      { key: "forest-set", name: "forest", cellIds: range(0, 400) },
      { key: "small-set", name: "small", cellIds: range(300, 900) },
      { key: "tiny", name: "tiny", cellIds: [0, 1, 2] },
      { key: "ghost", name: "QC-filtered only", cellIds: [5000, 5001] },
    ],
  },
  {
    key: "sample", name: "Samples", rootNode: true, type: "metadataCategorical", children: [
      // sample sets also hold ids of cells that are not in the data
      { key: "s-even", name: "even", cellIds: [...range(0, N_CELLS).filter((i) => i % 2 === 0), 2700, 2702] },
      { key: "s-odd", name: "odd", cellIds: [...range(0, N_CELLS).filter((i) => i % 2 === 1), 2701] },
    ],
  },
];
exp.cellSets = SETS;

const set = (ids: Iterable<number>): Set<number> => new Set(ids);
const sorted = (s: Set<number>): number[] => [...s].filter((i) => i < N_CELLS).sort((a, b) => a - b);
const minus = (a: Iterable<number>, b: Iterable<number>): Set<number> => { const bb = set(b); return set([...a].filter((x) => !bb.has(x))); };
const inter = (a: Iterable<number>, b: Iterable<number>): Set<number> => { const bb = set(b); return set([...a].filter((x) => bb.has(x))); };
const cellsOf = (key: string): number[] => SETS.flatMap((c) => c.children).find((s) => s.key === key)!.cellIds;

function groups(cellSet: string, compareWith: string, basis?: string | null): { base: number[]; background: number[] } {
  const g = resolveDeGroups(exp, { cellSet, compareWith, basis });
  return { base: [...g.base], background: [...g.background] };
}

function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WorkerError);
    assert.equal(err.code, ErrorCode.INVALID_INPUT);
    assert.match(err.message, pattern);
    return true;
  });
}

// ------------------------------------------------------------------ cell-set resolution

test("a key that names a set wins over the keywords, even containing 'rest' or 'all'; overlap removed from both", () => {
  const g = groups("louvain-0", "forest-set");
  assert.deepEqual(g.base, sorted(minus(cluster0, cellsOf("forest-set"))));
  assert.deepEqual(g.background, sorted(minus(cellsOf("forest-set"), cluster0)));
  const h = groups("forest-set", "small-set");
  assert.deepEqual(h.base, range(0, 300));
  assert.deepEqual(h.background, range(400, 900));
});

test("'rest' (or a non-key containing it): the other sets of the base's class, overlap removed", () => {
  const others = louvain.children.filter((c) => c.key !== "louvain-0").flatMap((c) => c.cellIds);
  const g = groups("louvain-0", "rest");
  assert.deepEqual(g.base, sorted(set(cluster0)));
  assert.deepEqual(g.background, sorted(set(others)));
  assert.deepEqual(groups("louvain-0", "The REST of them"), g);
  // scratchpad sets overlap: cells of forest-set also in small-set/tiny leave both groups
  const s = groups("forest-set", "rest");
  assert.deepEqual(s.base, range(3, 300));
  assert.deepEqual(s.background, range(400, 900));
});

test("'background', 'all' or a non-key containing 'all': every cell of every set minus the base", () => {
  const expected = sorted(minus(range(0, N_CELLS), cluster0));
  for (const kw of ["background", "all", "All cells"]) {
    const g = groups("louvain-0", kw);
    assert.deepEqual(g.base, sorted(set(cluster0)), kw);
    assert.deepEqual(g.background, expected, kw);
  }
  // no overlap removal here: the base keeps cells that are also elsewhere
  const t = groups("tiny", "background");
  assert.deepEqual(t.base, [0, 1, 2]);
  assert.deepEqual(t.background, range(3, N_CELLS));
});

test("basis: a set key (even containing 'all') restricts both groups; absent/''/'all' does not", () => {
  const even = cellsOf("s-even");
  const g = groups("louvain-0", "rest", "s-even");
  assert.deepEqual(g.base, sorted(inter(cluster0, even)));
  assert.ok(g.background.every((i) => i % 2 === 0));
  const small = groups("louvain-0", "background", "small-set");
  assert.deepEqual(small.base, sorted(inter(cluster0, range(300, 900))));
  assert.deepEqual(small.background, sorted(minus(range(300, 900), cluster0)));
  const unrestricted = groups("louvain-0", "rest");
  for (const b of [undefined, null, "", "all", "ALL-cells"]) assert.deepEqual(groups("louvain-0", "rest", b), unrestricted, String(b));
});

test("a class key means the union of its children; ids absent from the data are dropped", () => {
  const g = groups("scratchpad", "louvain-1");
  const scratch = set([...range(0, 900)]);
  const c1 = cellsOf("louvain-1");
  assert.deepEqual(g.base, sorted(minus(scratch, c1)));
  assert.deepEqual(g.background, sorted(minus(c1, scratch)));
  const s = groups("s-even", "s-odd");
  assert.equal(s.base.length, N_CELLS / 2);
  assert.ok(s.base.every((i) => i % 2 === 0 && i < N_CELLS));
  const labels = groupLabels(N_CELLS, resolveDeGroups(exp, { cellSet: "tiny", compareWith: "s-odd" }));
  // cell 1 is in both sets: removed from both
  assert.deepEqual([...labels.subarray(0, 6)], [1, 0, 1, 2, 0, 2]);
});

test("empty groups and unknown keys are INVALID_INPUT with the original's messages / naming the key", () => {
  invalid(() => groups("ghost", "rest"), /^No cell id fullfills the 1st cell set\.$/);
  invalid(() => groups("tiny", "tiny"), /^No cell id fullfills the 1st cell set\.$/);
  invalid(() => groups("forest-set", "tiny"), /^No cell id fullfills the 2nd cell set\.$/);
  invalid(() => groups("louvain-0", "rest", "ghost"), /^No cell id fullfills the 1st cell set\.$/);
  invalid(() => groups("tiny", "s-odd", "s-even"), /^No cell id fullfills the 2nd cell set\.$/);
  invalid(() => groups("nope-1", "rest"), /^cellSet: .*"nope-1"/);
  invalid(() => groups("tiny", "nope-2"), /^compareWith: .*"nope-2"/);
  invalid(() => groups("tiny", "rest", "nope-3"), /^basis: .*"nope-3"/);
});

// ------------------------------------------------------------------ the task

type Column = "p_val" | "logFC" | "pct_1" | "pct_2" | "p_val_adj" | "auc" | "gene_names" | "Gene";
type DeResult = { total: number; data: { [K in Column]: (number | string)[] } };

/** Validates and runs the body as the compute host does; WorkerErrors become `{code, message}`. */
async function run(body: Record<string, unknown>, pagination?: unknown): Promise<DeResult> {
  return (await runBody(deTask, exp, { name: "DifferentialExpression", ...body }, pagination)) as DeResult;
}


// Independent reference: Seurat LogNormalize values and a dense rank-sum test.
const m = exp.data.matrix;
const totals = new Float64Array(N_CELLS);
for (let q = 0; q < m.indices.length; q++) totals[m.indices[q]!]! += m.values[q]!;
function denseValues(g: number): Float64Array {
  const v = new Float64Array(N_CELLS);
  for (let q = m.indptr[g]!; q < m.indptr[g + 1]!; q++) v[m.indices[q]!] = Math.log1p((m.values[q]! / totals[m.indices[q]!]!) * 1e4);
  return v;
}
function denseDe(g: number, base: number[], bg: number[]): { p: number; logFC: number; pct1: number; pct2: number; auc: number } {
  const v = denseValues(g);
  const all = [...base.map((c) => ({ v: v[c]!, one: true })), ...bg.map((c) => ({ v: v[c]!, one: false }))].sort((a, b) => a.v - b.v);
  let r1 = 0;
  let ties = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    for (let k = i; k < j; k++) if (all[k]!.one) r1 += (i + 1 + j) / 2;
    ties += (j - i) ** 3 - (j - i);
    i = j;
  }
  const n1 = base.length;
  const n2 = bg.length;
  const w = r1 - (n1 * (n1 + 1)) / 2;
  const d = w - (n1 * n2) / 2;
  const sigma = Math.sqrt((n1 * n2 / 12) * (n1 + n2 + 1 - ties / ((n1 + n2) * (n1 + n2 - 1))));
  const mean = (cells: number[]) => cells.reduce((s, c) => s + v[c]!, 0) / cells.length;
  const pct = (cells: number[]) => (100 * cells.filter((c) => v[c]! > 0).length) / cells.length;
  return { p: 2 * normalUpperTail(Math.abs((d - Math.sign(d) * 0.5) / sigma)), logFC: mean(base) - mean(bg), pct1: pct(base), pct2: pct(bg), auc: w / (n1 * n2) };
}

const close = (a: number, b: number, rel: number, what: string): void =>
  assert.ok(a === b || Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b}`);

const full = await run({ cellSet: "louvain-0", compareWith: "rest", basis: "all" });
const rowOfGene = new Map<string, number>((full.data.Gene as string[]).map((id, r) => [id, r]));
const geneIndex = new Map<string, number>(geneIds.map((id, g) => [id, g]));
/** full-result column value of gene index g */
const col = (name: Column, g: number): number | string => full.data[name][rowOfGene.get(geneIds[g]!)!]!;

test("no pagination: every gene, all columns, ascending p_val, total = genes, plain JSON without NaN", () => {
  assert.deepEqual(Object.keys(full), ["total", "data"]);
  assert.deepEqual(Object.keys(full.data), ["p_val", "logFC", "pct_1", "pct_2", "p_val_adj", "auc", "gene_names", "Gene"]);
  assert.equal(full.total, N_GENES);
  for (const c of Object.values(full.data)) assert.equal(c.length, N_GENES);
  assert.equal(rowOfGene.size, N_GENES);
  const p = full.data.p_val as number[];
  for (let i = 1; i < p.length; i++) assert.ok(p[i - 1]! <= p[i]!, `row ${i}`);
  (full.data.Gene as string[]).forEach((id, r) => assert.equal(full.data.gene_names![r], symbols[geneIndex.get(id)!]));
  assert.ok(!JSON.stringify(full).includes("null"));
  // cluster 0 of pbmc3k is naive CD4 T cells: its top genes are up (positive logFC)
  assert.ok((full.data.logFC[0] as number) !== 0);
});

test("values equal an independent dense computation (p_val, logFC, pct, auc)", () => {
  const others = louvain.children.filter((c) => c.key !== "louvain-0").flatMap((c) => c.cellIds);
  const base = [...cluster0].sort((a, b) => a - b);
  for (const row of [0, 1, 10, 100, 1000, 5000, 12000]) {
    const g = geneIndex.get(full.data.Gene[row] as string)!;
    const ref = denseDe(g, base, others);
    close(col("p_val", g) as number, ref.p, 1e-9, `p_val of ${symbols[g]}`);
    close(col("logFC", g) as number, ref.logFC, 1e-12, `logFC of ${symbols[g]}`);
    close(col("auc", g) as number, ref.auc, 1e-14, `auc of ${symbols[g]}`);
    assert.equal(col("pct_1", g), ref.pct1);
    assert.equal(col("pct_2", g), ref.pct2);
  }
});

test("p_val_adj is Benjamini–Hochberg over the genes tested; untested genes get p_val = p_val_adj = 1", () => {
  // genes detected in no cell cannot be tested (R: p = NaN)
  const untested = range(0, N_GENES).filter((g) => m.indptr[g + 1] === m.indptr[g]);
  assert.ok(untested.length > 1000);
  for (const g of untested.slice(0, 50)) {
    assert.equal(col("p_val", g), 1);
    assert.equal(col("p_val_adj", g), 1);
    assert.equal(col("auc", g), 0.5);
    assert.equal(col("logFC", g), 0);
    assert.equal(col("pct_1", g), 0);
    assert.equal(col("pct_2", g), 0);
  }
  const untestedSet = new Set(untested);
  const tested = range(0, N_GENES).filter((g) => !untestedSet.has(g)).map((g) => col("p_val", g) as number).sort((a, b) => a - b);
  const n = tested.length;
  // BH: adj(p) = min over q >= p of n·q / #{tested <= q}
  const scaled = tested.map((q, i) => { let r = i; while (r + 1 < n && tested[r + 1] === q) r++; return (n / (r + 1)) * q; });
  const suffixMin = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) suffixMin[i] = Math.min(scaled[i]!, i + 1 < n ? suffixMin[i + 1]! : Infinity);
  for (const row of [0, 3, 50, 700, 4000]) {
    const p = full.data.p_val[row] as number;
    const i = tested.indexOf(p);
    const expected = Math.max(Math.min(1, suffixMin[i]!), 2.2250738585072014e-308);
    close(full.data.p_val_adj[row] as number, expected, 1e-12, `p_val_adj row ${row}`);
  }
});

/** The full table in gene order, for computing expected pages. */
const byGene = range(0, N_GENES).map((g) => ({
  g,
  p_val: col("p_val", g) as number, logFC: col("logFC", g) as number, pct_1: col("pct_1", g) as number,
  pct_2: col("pct_2", g) as number, p_val_adj: col("p_val_adj", g) as number, auc: col("auc", g) as number,
  gene_names: symbols[g]!, Gene: geneIds[g]!,
}));
type Row = (typeof byGene)[number];
const pageOf = (rows: Row[]) => ({
  p_val: rows.map((r) => r.p_val), logFC: rows.map((r) => r.logFC), pct_1: rows.map((r) => r.pct_1), pct_2: rows.map((r) => r.pct_2),
  p_val_adj: rows.map((r) => r.p_val_adj), auc: rows.map((r) => r.auc), gene_names: rows.map((r) => r.gene_names), Gene: rows.map((r) => r.Gene),
});
const body = { cellSet: "louvain-0", compareWith: "rest", basis: "all" };
const pg = (extra: Record<string, unknown>) => ({ orderBy: "p_val_adj", orderDirection: "ASC", offset: 0, limit: 20, responseKey: 0, ...extra });

test("pagination: numeric (strict comparison, inclusive min/max) and text filters, sort, slice, total before slicing", async () => {
  const filters = [
    { columnName: "logFC", type: "numeric", comparison: "greaterThan", value: 0.1 },
    { columnName: "pct_2", type: "numeric", min: 20, max: 90 },
    { columnName: "gene_names", type: "text", expression: "^rp" },
  ];
  const r = await run(body, pg({ filters, orderBy: "logFC", orderDirection: "DESC", offset: 3, limit: 7 }));
  const matching = byGene.filter((x) => x.logFC > 0.1 && x.pct_2 >= 20 && x.pct_2 <= 90 && x.gene_names.toLowerCase().startsWith("rp"));
  assert.ok(matching.length > 3, `${matching.length}`); // the page past offset 3 is not empty
  const ordered = [...matching].sort((a, b) => b.logFC - a.logFC || a.g - b.g);
  assert.equal(r.total, matching.length);
  assert.deepEqual(r.data, pageOf(ordered.slice(3, 10)));
  // lowercase direction means the same; lessThan is strict
  const lower = await run(body, pg({ filters, orderBy: "logFC", orderDirection: "desc", offset: 3, limit: 7 }));
  assert.deepEqual(lower, r);
  const lt = await run(body, pg({ filters: [{ columnName: "p_val_adj", type: "numeric", comparison: "lessThan", value: 1 }], limit: 100000 }));
  assert.equal(lt.total, byGene.filter((x) => x.p_val_adj < 1).length);
  assert.ok((lt.data.p_val_adj as number[]).every((v) => v < 1));
  const range01 = await run(body, pg({ filters: [{ columnName: "auc", type: "numeric", min: 0.5, max: 0.5 }], limit: 0 }));
  assert.equal(range01.total, byGene.filter((x) => x.auc === 0.5).length);
  assert.deepEqual(range01.data.Gene, []);
});

test("pagination: text filters are literal and case-insensitive; sort by name; offset past the end", async () => {
  const suffix = await run(body, pg({ filters: [{ columnName: "gene_names", type: "text", expression: "%l7a%" }], orderBy: "gene_names", limit: 100 }));
  const want = byGene.filter((x) => x.gene_names.toLowerCase().includes("l7a"))
    .sort((a, b) => (a.gene_names.toLowerCase() < b.gene_names.toLowerCase() ? -1 : a.gene_names.toLowerCase() > b.gene_names.toLowerCase() ? 1 : a.g - b.g));
  assert.deepEqual(suffix.data.gene_names, want.map((x) => x.gene_names));
  assert.ok(want.length >= 2);
  // "." is not a wildcard: RP11-... genes do not match "^RP11.3"
  const dot = await run(body, pg({ filters: [{ columnName: "gene_names", type: "text", expression: "^RP11.3" }] }));
  assert.equal(dot.total, 0);
  assert.ok(byGene.some((x) => /^RP11.3/.test(x.gene_names)), "a regex would have matched");
  const past = await run(body, pg({ offset: 1e6, limit: 10 }));
  assert.equal(past.total, N_GENES);
  assert.deepEqual(past.data.Gene, []);
  const sortedByP = await run(body, pg({ orderBy: "p_val", limit: 5 }));
  assert.deepEqual(sortedByP.data.Gene, full.data.Gene.slice(0, 5));
});

test("genesOnly: gene names and ids; with pagination the first `limit` rows after filters and sort, offset ignored", async () => {
  const filters = [{ columnName: "logFC", type: "numeric", comparison: "lessThan", value: 0 }];
  const r = await run({ ...body, genesOnly: true }, pg({ filters, orderBy: "logFC", orderDirection: "ASC", offset: 50, limit: 12 }));
  const matching = byGene.filter((x) => x.logFC < 0).sort((a, b) => a.logFC - b.logFC || a.g - b.g);
  assert.deepEqual(r, { total: matching.length, data: { gene_names: matching.slice(0, 12).map((x) => x.gene_names), gene_id: matching.slice(0, 12).map((x) => x.Gene) } });
  const all = await run({ ...body, genesOnly: true });
  assert.equal(all.total, N_GENES);
  assert.deepEqual(all.data, { gene_names: full.data.gene_names, gene_id: full.data.Gene });
  const notOnly = await run({ ...body, genesOnly: false }, null);
  assert.deepEqual(notOnly, full);
});

test("task errors: empty groups, unknown keys", async () => {
  await rejects(run({ cellSet: "ghost", compareWith: "rest" }), ErrorCode.INVALID_INPUT, /^No cell id fullfills the 1st cell set\.$/);
  await rejects(run({ cellSet: "forest-set", compareWith: "tiny" }), ErrorCode.INVALID_INPUT, /^No cell id fullfills the 2nd cell set\.$/);
  await rejects(run({ cellSet: "louvain-99", compareWith: "rest" }), ErrorCode.INVALID_INPUT, /^cellSet: .*"louvain-99"/);
});

test("body and pagination validation: schema failures name the field; limits protect the worker", async () => {
  const bad = async (b: Record<string, unknown>, p: unknown, pattern: RegExp) => rejects(run(b, p), ErrorCode.INVALID_INPUT, pattern);
  await bad({ compareWith: "rest" }, undefined, /^body\.cellSet: /);
  await bad({ ...body, extra: 1 }, undefined, /^body: .*extra/);
  await bad({ ...body, comparisonType: "across" }, undefined, /^body\.comparisonType: /);
  await bad({ ...body, genesOnly: "yes" }, undefined, /^body\.genesOnly: /);
  await bad({ ...body, cellSet: "x".repeat(1001) }, undefined, /^body\.cellSet: /);
  await bad(body, pg({ limit: 100_001 }), /^pagination\.limit: /);
  await bad(body, pg({ limit: 1.5 }), /^pagination\.limit: /);
  await bad(body, pg({ offset: -1 }), /^pagination\.offset: /);
  await bad(body, pg({ orderDirection: "up" }), /^pagination\.orderDirection: /);
  await bad(body, pg({ orderBy: "nope" }), /^pagination\.orderBy: .*"nope"/);
  await bad(body, pg({ surprise: true }), /^pagination: .*surprise/);
  await bad(body, pg({ filters: [{ columnName: "nope", type: "numeric", comparison: "greaterThan", value: 1 }] }), /^pagination\.filters\.0\.columnName: .*"nope"/);
  await bad(body, pg({ filters: [{ columnName: "gene_names", type: "numeric", min: 1 }] }), /^pagination\.filters\.0\.columnName: /);
  await bad(body, pg({ filters: [{ columnName: "logFC", type: "numeric", comparison: "greaterThan" }] }), /^pagination\.filters\.0\.value: /);
  await bad(body, pg({ filters: [{ columnName: "logFC", type: "numeric", comparison: "atLeast", value: 1 }] }), /^pagination\.filters\.0\.comparison: /);
  await bad(body, pg({ filters: [{ columnName: "logFC", type: "numeric" }] }), /^pagination\.filters\.0: /);
  await bad(body, pg({ filters: [{ columnName: "Gene", type: "text", expression: "a" }] }), /^pagination\.filters\.0\.columnName: /);
  await bad(body, pg({ filters: [{ columnName: "gene_names", type: "regex", expression: "a" }] }), /^pagination\.filters\.0\.type: /);
  await bad(body, pg({ filters: [{ columnName: "gene_names", type: "text", expression: "a".repeat(1001) }] }), /^pagination\.filters\.0\.expression: /);
  await bad(body, "page 1", /^pagination: /);
  // accepted: the ignored 2021 maxNum, a null basis, omitted comparisonType
  const ok = await run({ cellSet: "tiny", compareWith: "s-odd", basis: null, maxNum: 100 }, pg({ limit: 1 }));
  assert.equal(ok.total, N_GENES);
});
