/**
 * R's random numbers (src/numerics/r-random.ts) against R 4.2.2 itself: the values below were
 * printed by Rscript with sprintf("%.17g") (default RNGkind: Mersenne-Twister, Inversion,
 * Rejection).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RRandom, qnorm } from "../../src/numerics/r-random.ts";

test("set.seed + runif: the first draws and draws after the state regenerates (624 words)", () => {
  const r = new RRandom(1);
  assert.deepEqual([r.unifRand(), r.unifRand(), r.unifRand()], [0.26550866314209998, 0.37212389963679016, 0.57285336335189641]);
  assert.equal(new RRandom(123).unifRand(), 0.28757752012461424);
  const s = new RRandom(123);
  for (let i = 0; i < 700; i++) s.unifRand();
  assert.deepEqual([s.unifRand(), s.unifRand()], [0.84493353986181319, 0.26013247366063297]);
});

test("rnorm by inversion uses two uniforms per value", () => {
  const r = new RRandom(1);
  const got = Array.from({ length: 5 }, () => r.normRand());
  assert.deepEqual(got, [-0.62645381074233242, 0.18364332422208224, -0.83562861241004716, 1.5952808021377916, 0.32950777181536051]);
});

test("sample.int without replacement (rejection sampling), negative seeds, k = 1", () => {
  assert.deepEqual(Array.from(new RRandom(1).sampleInt(1364, 10), (x) => x + 1), [1017, 679, 129, 930, 471, 299, 270, 1211, 1331, 597]);
  assert.deepEqual(Array.from(new RRandom(42).sampleInt(70000, 5), (x) => x + 1), [61413, 54425, 46208, 47128, 16740]);
  assert.deepEqual(Array.from(new RRandom(-5).sampleInt(100000, 4), (x) => x + 1), [22263, 41737, 90156, 87748]);
  const r = new RRandom(1); // set.seed(1); sample.int(3, 1); sample.int(2, 2)
  assert.deepEqual([...r.sampleInt(3, 1), ...r.sampleInt(2, 2)].map((x) => x + 1), [1, 2, 1]);
  assert.throws(() => new RRandom(1).sampleInt(3, 4), RangeError);
});

test("qnorm (AS 241) equals R's qnorm in all three regions", () => {
  const p = [1e-300, 1e-20, 1e-10, 0.001, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.93, 0.9999999];
  const r = [-37.047096299361201, -9.2623400897984052, -6.3613409024040557, -3.0902323061678132, -1.9729610513118845,
    -1.2815515655446008, -0.52440051270804067, 0, 0.52440051270804067, 1.4757910281791708, 5.1993375822906618];
  assert.deepEqual(p.map(qnorm), r);
  assert.equal(qnorm(0), -Infinity);
  assert.ok(Number.isNaN(qnorm(1.5)));
});
