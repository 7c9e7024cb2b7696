import { test } from "node:test";
import assert from "node:assert/strict";
import { loessFit } from "../../src/numerics/loess.ts";
import { computeVst } from "../../src/numerics/hvg.ts";
import { geneMajorFromDense } from "../../src/numerics/sparse.ts";

test("local quadratic regression reproduces a quadratic exactly", () => {
  const x = Float64Array.from({ length: 200 }, (_, i) => (i * 37) % 200 / 20);
  const y = x.map((v) => 2 - 3 * v + 0.5 * v * v);
  const fit = loessFit(x, y, 0.3);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(fit[i]! - y[i]!) < 1e-9);
});

test("loess smooths noise toward the trend", () => {
  const x = Float64Array.from({ length: 400 }, (_, i) => i / 40);
  const y = x.map((v, i) => Math.sin(v) + (i % 2 === 0 ? 0.2 : -0.2));
  const fit = loessFit(x, y, 0.3);
  const err = fit.reduce((s, f, i) => s + Math.abs(f - Math.sin(x[i]!)), 0) / x.length;
  assert.ok(err < 0.06, `mean error ${err}`);
});

test("vst: means and variances of counts, constant genes standardise to 0", () => {
  // 4 cells x 3 genes (row-major cells x genes); gene 2 constant
  const dense = [1, 0, 2, 3, 5, 2, 0, 1, 2, 4, 0, 2];
  const m = geneMajorFromDense(4, 3, dense);
  const v = computeVst(m);
  assert.deepEqual(Array.from(v.means), [2, 1.5, 2]);
  assert.ok(Math.abs(v.variances[0]! - 10 / 3) < 1e-12);
  assert.equal(v.variances[2], 0);
  assert.equal(v.standardizedVariances[2], 0);
  assert.equal(v.ranking[2], 2);
});
