import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import { createGunzip } from "node:zlib";
import { Readable } from "node:stream";
import task, { MAX_KEYS, NO_CELLS_MATCH } from "../../src/tasks/get-normalized-expression.ts";
import { CHUNK_CHARS, csvField, normalizedCsvChunks } from "../../src/tasks/shared/normalized-csv.ts";
import { isFileResult, type FileResult } from "../../src/tasks/task.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import { Experiment } from "../../src/experiment/experiment.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { describeZodError } from "../../src/result/errors.ts";
import { ErrorCode, WorkerError } from "../../src/result/errors.ts";
import { H5_FIXTURES, PBMC3K, PBMC_SMALL } from "../helpers.ts";
import { rejectsWith as rejects } from "../task-helpers.ts";

const CACHE = join(tmpdir(), "cellworker-test-cache");
const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: CACHE });
const N = exp.nCells;
const sets = (key: string): number[] => exp.cellSets.flatMap((c) => c.children).find((s) => s.key === key)!.cellIds;

async function run(body: Record<string, unknown>, on: Experiment = exp, progress: (f: number) => void = () => {}): Promise<FileResult> {
  const parsed = task.body.safeParse({ name: "GetNormalizedExpression", ...body });
  if (!parsed.success) throw new WorkerError(ErrorCode.INVALID_INPUT, describeZodError(parsed.error, "body"));
  const out = await task.run(parsed.data, { experiment: on, pagination: undefined, progress });
  assert.ok(isFileResult(out));
  return out;
}


async function bytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
const gunzipText = async (file: FileResult): Promise<string> => (await bytes(file.open().pipe(createGunzip()))).toString("utf8");
const EMPTY = { louvain: [], sample: [], metadata: [], customCellSets: [] };

// Independent reference: dense Seurat LogNormalize values, genes x cells
const m = exp.data.matrix;
const totals = new Float64Array(N);
for (let q = 0; q < m.indices.length; q++) totals[m.indices[q]!]! += m.values[q]!;
const expected: Float64Array[] = Array.from({ length: exp.nGenes }, (_, g) => {
  const v = new Float64Array(N);
  for (let q = m.indptr[g]!; q < m.indptr[g + 1]!; q++) v[m.indices[q]!] = Math.log1p((m.values[q]! / totals[m.indices[q]!]!) * 1e4);
  return v;
});

/** Checks the §5.17 layout and every value for the given cell indices; returns the lines. */
function checkCsv(text: string, cells: number[], on: Experiment = exp): string[] {
  assert.ok(text.endsWith("\n"));
  const lines = text.slice(0, -1).split("\n");
  assert.equal(lines.length, 1 + on.nGenes);
  assert.equal(lines[0], ["", " ", ...cells.map((c) => on.data.barcodes[c])].join(","));
  assert.ok(lines[0]!.startsWith(", ,"));
  for (let g = 0; g < on.nGenes; g++) {
    const fields = lines[g + 1]!.split(",");
    assert.equal(fields.length, 2 + cells.length);
    assert.equal(fields[0], String(g + 1));
    assert.equal(fields[1], on.data.genes.ids[g]);
    cells.forEach((c, j) => {
      const want = expected[g]![c]!;
      assert.equal(fields[2 + j], want === 0 ? "0" : String(want), `gene ${g}, cell ${c}`);
    });
  }
  return lines;
}

test("no subset: every gene x every cell, gzip CSV in the original's layout at full precision", async () => {
  const file = await run({ subsetBy: EMPTY });
  assert.equal(file.kind, "file");
  assert.equal(file.contentType, "text/csv");
  assert.equal(file.contentEncoding, "gzip");
  const raw = await bytes(file.open());
  assert.deepEqual([...raw.subarray(0, 2)], [0x1f, 0x8b], "gzip magic");
  const lines = checkCsv(await gunzipText(file), [...Array(N).keys()]);
  // a few values by hand: MS4A1 (gene 1) in the first cell it is detected in
  const g = 0;
  const q = m.indptr[g]!;
  const c = m.indices[q]!;
  const value = Number(lines[g + 1]!.split(",")[2 + c]);
  assert.equal(value, Math.log1p((m.values[q]! / totals[c]!) * 1e4));
  assert.ok(value > 0);
  assert.ok(lines.slice(1).some((l) => /,0,/.test(l)));
});

test("subsets: union within a category, intersection across categories, class keys expand, data order", async () => {
  const l01 = new Set([...sets("louvain-0"), ...sets("louvain-1")]);
  const g1 = new Set(sets("groups-g1"));
  const want = [...Array(N).keys()].filter((c) => l01.has(c) && g1.has(c));
  assert.ok(want.length > 5 && want.length < N);
  const file = await run({ subsetBy: { louvain: ["louvain-1", "louvain-0"], sample: ["groups"], metadata: ["groups-g1"], customCellSets: [] } });
  checkCsv(await gunzipText(file), want);
  // missing categories mean no restriction
  checkCsv(await gunzipText(await run({ subsetBy: { metadata: ["letter.idents-B"] } })), [...Array(N).keys()].filter((c) => sets("letter.idents-B").includes(c)));
});

test("custom sets: ids not in the data are ignored; columns follow the data's order, not the set's", async () => {
  const reversed = new Experiment({ ...exp.data, cellIds: Int32Array.from({ length: N }, (_, i) => N - 1 - i) }, exp.state, [
    ...exp.cellSets,
    { key: "custom", name: "custom", rootNode: true, type: "cellSets", children: [{ key: "mine", name: "mine", cellIds: [500, 0, 1, 79, 501] }] },
  ] as CellClass[], exp.cache);
  // cell ids 0, 1, 79 are cell indices 79, 78, 0
  checkCsv(await gunzipText(await run({ subsetBy: { customCellSets: ["mine"] } }, reversed)), [0, 78, 79], reversed);
});

test("errors are thrown by run, before any byte: EMPTY_CELL_SET and unknown keys", async () => {
  const saved = exp.cellSets;
  exp.cellSets = [...saved, { key: "custom", name: "c", rootNode: true, type: "cellSets", children: [{ key: "ghosts", name: "g", cellIds: [1000, 1001] }] }] as CellClass[];
  try {
    await rejects(run({ subsetBy: { louvain: ["louvain-0"], metadata: ["louvain-1"] } }), ErrorCode.EMPTY_CELL_SET, /^No cells match requested filters\.$/);
    await rejects(run({ subsetBy: { customCellSets: ["ghosts"] } }), ErrorCode.EMPTY_CELL_SET, /^No cells match/);
    await rejects(run({ subsetBy: { sample: ["nope"] } }), ErrorCode.INVALID_INPUT, /^subsetBy\.sample: .*"nope"/);
    assert.equal(NO_CELLS_MATCH, "No cells match requested filters.");
  } finally {
    exp.cellSets = saved;
  }
});

test("body validation is strict", async () => {
  const bad = (body: Record<string, unknown>, pattern: RegExp): Promise<void> => rejects(run(body), ErrorCode.INVALID_INPUT, pattern);
  await bad({}, /subsetBy/);
  await bad({ subsetBy: null }, /subsetBy/);
  await bad({ subsetBy: { ...EMPTY, clusters: [] } }, /clusters/);
  await bad({ subsetBy: { louvain: "louvain-0" } }, /louvain/);
  await bad({ subsetBy: { louvain: [""] } }, /louvain/);
  await bad({ subsetBy: { louvain: new Array(MAX_KEYS + 1).fill("louvain-0") } }, /louvain/);
  await bad({ subsetBy: EMPTY, format: "tsv" }, /format/);
  assert.equal(task.cacheable, true);
});

test("every open() streams the same bytes again", async () => {
  const file = await run({ subsetBy: { louvain: ["louvain-2"] } });
  assert.deepEqual(await bytes(file.open()), await bytes(file.open()));
});

test("fields with commas or quotes are quoted as fwrite does", async () => {
  assert.equal(csvField("AAAC-1"), "AAAC-1");
  assert.equal(csvField("a,b"), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField("two\nlines"), '"two\nlines"');
  const barcodes = [...exp.data.barcodes];
  barcodes[0] = "odd,barcode";
  const odd = new Experiment({ ...exp.data, barcodes }, exp.state, exp.cellSets, exp.cache);
  const text = await gunzipText(await run({ subsetBy: EMPTY }, odd));
  assert.ok(text.startsWith(`, ,"odd,barcode",${barcodes[1]},`));
});

test("log-normalised-only data: the stored values as they are", async () => {
  const lognorm = await openExperiment({ path: join(H5_FIXTURES, "anndata07_seed_layout.h5ad"), cacheDir: CACHE });
  const lines = (await gunzipText(await run({ subsetBy: EMPTY }, lognorm))).trimEnd().split("\n");
  assert.equal(lines.length, 1 + lognorm.nGenes);
  const lm = lognorm.data.matrix;
  for (const g of [0, 7, 100]) {
    const fields = lines[g + 1]!.split(",").slice(2).map(Number);
    const want = new Array(lognorm.nCells).fill(0);
    for (let q = lm.indptr[g]!; q < lm.indptr[g + 1]!; q++) want[lm.indices[q]!] = lm.values[q]!;
    assert.deepEqual(fields, want);
    // same data as pbmc_small's counts, normalised (float32 storage)
    fields.forEach((v, c) => assert.ok(Math.abs(v - expected[g]![c]!) < 1e-5, `gene ${g} cell ${c}`));
  }
});

test("pbmc3k: produced lazily — a reader that stops early stops the producer (backpressure)", async () => {
  const big = await openExperiment({ path: PBMC3K, cacheDir: CACHE });
  let produced = 0;
  const file = await run({ subsetBy: EMPTY }, big, (f) => { produced = Math.max(produced, f); });
  const stream = file.open();
  const first = await new Promise<Buffer>((resolve) => stream.once("data", (c: Buffer) => { stream.pause(); resolve(c); }));
  assert.ok(first.length > 0);
  for (let i = 0; i < 50; i++) await tick();
  assert.ok(produced > 0 && produced < 0.05, `produced ${produced} of the genes while the reader waited`);
  stream.destroy();
  for (let i = 0; i < 20; i++) await tick();
  const after = produced;
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(produced, after, "the producer stopped after destroy");
  assert.ok(after < 0.05);
});

test("the chunk generator yields bounded chunks whose concatenation is the whole CSV", () => {
  const cells = Int32Array.from({ length: N }, (_, i) => i);
  const chunks = [...normalizedCsvChunks(exp, cells)];
  const longestRow = Math.max(...chunks.join("").split("\n").map((l) => l.length + 1));
  for (const c of chunks) assert.ok(c.length < CHUNK_CHARS + longestRow);
  checkCsv(chunks.join(""), [...cells]);
});
