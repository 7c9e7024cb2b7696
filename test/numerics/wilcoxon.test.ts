/**
 * The sparse Wilcoxon rank-sum against R 4.2.2 (`wilcox.test(x, y, exact = FALSE,
 * correct = TRUE)`, values printed with sprintf("%.17g")), against a dense brute-force
 * implementation on random data, and the normal tail against R's pnorm.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { normalUpperTail, rankSumSparse, rankSumSorted, twoSidedP } from "../../src/numerics/stats/wilcoxon.ts";
import { Random } from "../../src/numerics/random.ts";

const relErr = (a: number, b: number): number => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

// R: x <- c(...); cat(sprintf("%.17g", pnorm(-x)))
const PNORM_UPPER: [number, number][] = [
  [0, 0.5], [0.1, 0.46017216272297101], [0.5, 0.30853753872598694], [1, 0.15865525393145705],
  [1.5, 0.066807201268858071], [2, 0.022750131948179212], [2.5, 0.0062096653257761349],
  [2.9, 0.0018658133003840384], [3, 0.0013498980316300946], [3.5, 0.00023262907903552494],
  [4, 3.1671241833119924e-05], [5, 2.8665157187919391e-07], [6, 9.8658764503769809e-10],
  [8, 6.2209605742717849e-16], [10, 7.6198530241605269e-24], [15, 3.6709661993127514e-51],
  [20, 2.7536241186062337e-89], [25, 3.0566967063825616e-138], [30, 4.9067139271481872e-198],
  [35, 1.1249107064724062e-268], [37, 5.7255712225245771e-300], [37.5, 4.6053530095819552e-308],
];

test("normalUpperTail matches R's pnorm(-x) to 1e-12 relative from 0 to 37.5", () => {
  for (const [x, q] of PNORM_UPPER) {
    const got = normalUpperTail(x);
    assert.ok(relErr(got, q) <= 1e-12, `Q(${x}) = ${got}, R ${q}`);
    // the lower tail by symmetry
    assert.ok(Math.abs(normalUpperTail(-x) - (1 - q)) <= 1e-15, `Q(${-x})`);
  }
  assert.ok(Number.isNaN(normalUpperTail(NaN)));
  assert.equal(normalUpperTail(Infinity), 0);
  assert.equal(normalUpperTail(-Infinity), 1);
  assert.equal(twoSidedP(0), 1);
  assert.equal(twoSidedP(-3), 2 * 0.0013498980316300946);
  assert.ok(Number.isNaN(twoSidedP(NaN)));
});

test("normalUpperTail is continuous where it switches from the series to the continued fraction", () => {
  const below = normalUpperTail(3 - 1e-12);
  const at = normalUpperTail(3);
  assert.ok(relErr(below, at) < 1e-10, `${below} vs ${at}`);
});

/** Runs the sparse test on dense vectors: non-zeros + group sizes. */
function sparseOf(x: number[], y: number[]) {
  const nz = (v: number[]) => Float64Array.from(v.filter((a) => a !== 0));
  return rankSumSparse(nz(x), x.length, nz(y), y.length);
}

const rep = (v: number, n: number): number[] => new Array<number>(n).fill(v);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// R: w <- wilcox.test(x, y, exact = FALSE, correct = TRUE); sprintf("%.17g", c(w$statistic, w$p.value))
const R_CASES: { x: number[]; y: number[]; w: number; p: number; what: string }[] = [
  { what: "zeros and distinct values", x: [0, 0, 1.5, 2.3, 0, 4.1], y: [0, 0, 0, 0.7, 1.5, 0, 0, 0.2], w: 31, p: 0.35208322381719831 },
  { what: "ties among non-zeros", x: [3, 1, 2, 2, 5], y: [0, 0, 2, 0], w: 18, p: 0.057223850877677743 },
  { what: "negative values below the zero block", x: [-1, 0, 0, 2], y: [0, -1, -2, 0, 0, 3], w: 13.5, p: 0.81947697677752118 },
  // c(rep(0, 30), 1:70) vs c(rep(0, 90), 1:10 / 100)
  { what: "one large zero block", x: [...rep(0, 30), ...range(1, 70)], y: [...rep(0, 90), ...range(1, 10).map((v) => v / 100)], w: 8350, p: 2.3973188167668091e-20 },
  // c(rep(0, 5), seq(1, 2, length.out = 395)) vs c(rep(0, 380), rep(0.5, 20))
  { what: "very small p", x: [...rep(0, 5), ...Array.from({ length: 395 }, (_, i) => 1 + i / 394)], y: [...rep(0, 380), ...rep(0.5, 20)], w: 158950, p: 7.2846099462563155e-145 },
  // c(0, 1:750) vs c(rep(0, 750), 0.5)
  { what: "p near 1e-281", x: [0, ...range(1, 750)], y: [...rep(0, 750), 0.5], w: 563625, p: 5.2173675702003672e-281 },
  // c(0, 1:800) vs c(rep(0, 800), 0.5)
  { what: "p near 1e-299", x: [0, ...range(1, 800)], y: [...rep(0, 800), 0.5], w: 641200, p: 1.2324042863815363e-299 },
  { what: "z = 0 after the continuity correction", x: [0, 0, 0, 1], y: [0, 0, 0, 0, 0, 1, 1], w: 13.5, p: 1 },
  { what: "group 1 all zeros", x: [0, 0, 0, 0], y: [0, 0, 0, 1], w: 6, p: 0.45325470475373647 },
  { what: "NA is dropped, Inf and -Inf are ranked", x: [1, NaN, Infinity, 2, 0], y: [0, 0, -Infinity, 3], w: 12, p: 0.30052231149547204 },
];

test("rankSumSparse gives R's W and p-value", () => {
  for (const c of R_CASES) {
    const r = sparseOf(c.x, c.y);
    assert.equal(r.w, c.w, `${c.what}: W`);
    assert.ok(relErr(r.p, c.p) <= 1e-10, `${c.what}: p ${r.p} vs R ${c.p}`);
  }
});

test("every value tied (e.g. all zeros) gives p = NaN, like R", () => {
  // R: wilcox.test(c(0,0,0), c(0,0,0,0), exact = FALSE) -> W = 6, p-value NaN
  const r = rankSumSparse(new Float64Array(0), 3, new Float64Array(0), 4);
  assert.equal(r.w, 6);
  assert.equal(r.auc, 0.5);
  assert.ok(Number.isNaN(r.p));
  const same = rankSumSparse(Float64Array.of(2, 2), 2, Float64Array.of(2, 2, 2), 3);
  assert.ok(Number.isNaN(same.p));
  assert.ok(Number.isNaN(rankSumSparse(new Float64Array(0), 0, Float64Array.of(1), 3).p), "empty group");
});

test("explicit zeros join the implicit zero block; input order does not matter; sorts in place", () => {
  const a = rankSumSparse(Float64Array.of(2.3, 0, 1.5, 4.1), 6, Float64Array.of(0.2, 1.5, 0.7), 8);
  assert.equal(a.w, 31);
  assert.ok(relErr(a.p, 0.35208322381719831) <= 1e-12);
  const x = Float64Array.of(3, 1, 2);
  rankSumSparse(x, 5, Float64Array.of(1), 2);
  assert.deepEqual([...x], [1, 2, 3]);
});

/** Dense reference: average ranks of the full vectors, R's formula, W by pair counting. */
function denseReference(x: number[], y: number[]): { w: number; p: number; pairs: number } {
  const all = [...x.map((v) => ({ v, g: 1 })), ...y.map((v) => ({ v, g: 2 }))].sort((a, b) => a.v - b.v);
  let r1 = 0;
  let ties = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    const t = j - i;
    const avg = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.g === 1) r1 += avg;
    ties += t * t * t - t;
    i = j;
  }
  const n1 = x.length;
  const n2 = y.length;
  const w = r1 - (n1 * (n1 + 1)) / 2;
  let pairs = 0;
  for (const a of x) for (const b of y) pairs += a > b ? 1 : a === b ? 0.5 : 0;
  const d = w - (n1 * n2) / 2;
  const sigma = Math.sqrt((n1 * n2 / 12) * (n1 + n2 + 1 - ties / ((n1 + n2) * (n1 + n2 - 1))));
  return { w, pairs, p: 2 * normalUpperTail(Math.abs((d - Math.sign(d) * 0.5) / sigma)) };
}

test("random sparse data with ties: W = pair count, p equals the dense computation", () => {
  const rng = new Random(7);
  for (let trial = 0; trial < 200; trial++) {
    const n1 = 1 + rng.int(60);
    const n2 = 1 + rng.int(60);
    const zeroShare = rng.next();
    const draw = (): number => (rng.next() < zeroShare ? 0 : 1 + rng.int(6) + (rng.next() < 0.5 ? 0 : rng.next()));
    const x = Array.from({ length: n1 }, draw);
    const y = Array.from({ length: n2 }, draw);
    const ref = denseReference(x, y);
    const r = sparseOf(x, y);
    assert.equal(r.w, ref.w, `trial ${trial}`);
    assert.equal(r.w, ref.pairs, `trial ${trial}: W is the pair count`);
    assert.equal(r.auc, ref.pairs / (n1 * n2));
    if (Number.isNaN(ref.p)) assert.ok(Number.isNaN(r.p));
    else assert.ok(relErr(r.p, ref.p) <= 1e-12, `trial ${trial}: ${r.p} vs ${ref.p}`);
    // pre-sorted entry point agrees
    const nz = (v: number[]) => Float64Array.from(v.filter((a) => a !== 0)).sort();
    const s = rankSumSorted(nz(x), n1, nz(y), n2);
    assert.equal(s.w, r.w);
  }
});
