/**
 * `rankSumPerGeneOrdered` with the value order of `buildGeneValueOrder`
 * (numerics/stats/gene-value-order.ts) gives `rankSumPerGene`'s results bit for bit (NaN
 * payloads aside): on
 * pbmc_small's counts for several group pairs (one order reused by all of them), and on small
 * matrices with what real counts rarely hold: negative values, stored zeros, NaN, ±Infinity,
 * many ties, counts above the small-count table, the identity normaliser, more cells than one
 * tile of the cell-order pass. Comparisons where every cell is in a group (a cluster against
 * the rest) take the all-cell mid-ranks' path; the others the value order's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openExperiment } from "../../src/experiment/open.ts";
import type { GeneMajorMatrix } from "../../src/numerics/sparse.ts";
import type { Normalizer } from "../../src/numerics/normalize.ts";
import { rankSumPerGene, type GeneRankSums } from "../../src/numerics/stats/wilcoxon.ts";
import { buildGeneValueOrder, rankSumPerGeneOrdered } from "../../src/numerics/stats/gene-value-order.ts";
import { PBMC_SMALL } from "../helpers.ts";

/**
 * Every number identical (Object.is: -0 ≠ +0); NaN equals NaN whatever its payload, which
 * V8 may or may not canonicalise depending on how far it optimised the code.
 */
function assertSame(got: GeneRankSums, want: GeneRankSums, what: string): void {
  for (const k of ["p", "logFC", "pct1", "pct2", "auc"] as const) {
    const g = got[k].findIndex((v, i) => !Object.is(v, want[k][i]));
    if (g >= 0) assert.fail(`${what}: ${k} differs at gene ${g}: ${got[k][g]} vs ${want[k][g]}`);
  }
}

/** deterministic pseudo-random numbers in [0, 1) */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

function labelsOf(nCells: number, pick: (c: number) => number): { labels: Int8Array; n1: number; n2: number } {
  const labels = Int8Array.from({ length: nCells }, (_, c) => pick(c));
  return { labels, n1: labels.filter((l) => l === 1).length, n2: labels.filter((l) => l === 2).length };
}

test("pbmc_small: the same p, logFC, percentages and auc as rankSumPerGene, bit for bit, for every group pair", async () => {
  const exp = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
  const m = exp.data.matrix;
  const order = buildGeneValueOrder(m, exp.normalizer);
  const random = rng(3);
  const pairs = [
    labelsOf(m.nCells, (c) => (c < 30 ? 1 : c < 65 ? 2 : 0)),
    labelsOf(m.nCells, (c) => (exp.state.louvain[c] === 0 ? 1 : 2)),
    labelsOf(m.nCells, () => Math.floor(random() * 3)),
    labelsOf(m.nCells, (c) => (c === 5 ? 1 : c % 2 === 0 ? 2 : 0)),
  ];
  for (const [i, { labels, n1, n2 }] of pairs.entries()) {
    assert.ok(n1 > 0 && n2 > 0);
    const fractions: number[] = [];
    const got = rankSumPerGeneOrdered(m, exp.normalizer, order, labels, n1, n2, (f) => fractions.push(f));
    assert.ok(fractions.every((f) => f >= 0 && f < 1));
    assertSame(got, rankSumPerGene(m, exp.normalizer, labels, n1, n2), `pair ${i}`);
  }
});

/** A random gene-major matrix; `value()` gives each stored value. */
function randomMatrix(nGenes: number, nCells: number, density: number, value: () => number, random: () => number): GeneMajorMatrix {
  const indptr = new Float64Array(nGenes + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let g = 0; g < nGenes; g++) {
    const d = g % 5 === 0 ? 0 : g % 5 === 1 ? 1 : density; // empty and dense genes too
    for (let c = 0; c < nCells; c++) if (random() < d) { indices.push(c); values.push(value()); }
    indptr[g + 1] = indices.length;
  }
  return { nGenes, nCells, indptr, indices: Int32Array.from(indices), values: Float32Array.from(values) };
}

test("negative values, stored zeros, NaN, ±Infinity and heavy ties (identity normaliser): bit for bit", () => {
  const random = rng(11);
  const pool = [-2, -1, -0.5, -0, 0, 0, 0.25, 0.5, 1, 1, 2, 3, NaN, Infinity, -Infinity];
  const m = randomMatrix(60, 80, 0.4, () => (random() < 0.5 ? pool[Math.floor(random() * pool.length)]! : Math.round(random() * 40 - 10) / 4), random);
  const norm: Normalizer = { kind: "identity" };
  const order = buildGeneValueOrder(m, norm);
  for (let trial = 0; trial < 20; trial++) {
    // odd trials: every cell in a group (the all-cell ranks' path)
    const { labels, n1, n2 } = labelsOf(m.nCells, () => (trial % 2 === 1 ? 1 + Math.floor(random() * 2) : Math.floor(random() * 3)));
    assertSame(rankSumPerGeneOrdered(m, norm, order, labels, n1, n2), rankSumPerGene(m, norm, labels, n1, n2), `trial ${trial}`);
  }
  // a group made only of NaN values: its size drops to 0 → NaN p and auc, as rankSumPerGene
  const nan: GeneMajorMatrix = { nGenes: 1, nCells: 4, indptr: Float64Array.of(0, 2), indices: Int32Array.of(0, 2), values: Float32Array.of(NaN, 1) };
  const labels = Int8Array.of(1, 2, 2, 0);
  const got = rankSumPerGeneOrdered(nan, norm, buildGeneValueOrder(nan, norm), labels, 1, 2);
  assert.ok(Number.isNaN(got.p[0]!) && Number.isNaN(got.auc[0]!));
  assertSame(got, rankSumPerGene(nan, norm, labels, 1, 2), "NaN group");
});

test("counts with equal cell totals (ties) and counts beyond the small-count table: bit for bit", () => {
  const random = rng(5);
  const nCells = 120;
  const m = randomMatrix(50, nCells, 0.3, () => (random() < 0.7 ? 1 + Math.floor(random() * 3) : 1 + Math.floor(random() * 40)), random);
  // a few distinct totals, so many cells share a normalised value
  const norm: Normalizer = { kind: "counts", totals: Float64Array.from({ length: nCells }, (_, c) => [500, 800, 1000.5][c % 3]!), scaleFactor: 1e4 };
  const order = buildGeneValueOrder(m, norm);
  for (let trial = 0; trial < 20; trial++) {
    const { labels, n1, n2 } = labelsOf(nCells, () => (trial % 2 === 1 ? 1 + Math.floor(random() * 2) : Math.floor(random() * 3)));
    assertSame(rankSumPerGeneOrdered(m, norm, order, labels, n1, n2), rankSumPerGene(m, norm, labels, n1, n2), `trial ${trial}`);
  }
});

test("more cells than one tile of the cell-order pass (40,000 cells): bit for bit", () => {
  const random = rng(8);
  const nCells = 40_000;
  const m = randomMatrix(12, nCells, 0.05, () => 1 + Math.floor(random() * (random() < 0.8 ? 3 : 30)), random);
  const norm: Normalizer = { kind: "counts", totals: Float64Array.from({ length: nCells }, () => 800 + Math.floor(random() * 4000)), scaleFactor: 1e4 };
  const order = buildGeneValueOrder(m, norm);
  for (let trial = 0; trial < 3; trial++) {
    const { labels, n1, n2 } = labelsOf(nCells, (c) => (trial === 0 ? (c % 7 === 0 ? 1 : 2) : Math.floor(random() * 3)));
    assertSame(rankSumPerGeneOrdered(m, norm, order, labels, n1, n2), rankSumPerGene(m, norm, labels, n1, n2), `trial ${trial}`);
  }
});
