/**
 * GeneExpression's truncatedMax through summarizeWithZeros (a selection of the top values, not a
 * full sort) must equal the definition on fully sorted values, for every shape of input.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { summarizeWithZeros, truncatedMaxWithZeros } from "../../src/numerics/summaries.ts";
import { Random } from "../../src/numerics/random.ts";

test("truncatedMax by selection equals the sorted definition (random vectors: ties, negatives, zeros, tiny and large)", () => {
  const rnd = new Random(7);
  let checked = 0;
  for (let trial = 0; trial < 3000; trial++) {
    const stored = 1 + Math.floor(rnd.next() * (trial % 10 === 0 ? 5000 : 60));
    const nZeros = Math.floor(rnd.next() * (trial % 3 === 0 ? 0 : stored * 40));
    const kind = trial % 4;
    const values = Float64Array.from({ length: stored }, () => {
      const u = rnd.next();
      if (kind === 0) return Math.round(u * 4) / 2; // heavy ties
      if (kind === 1) return u * 10 - 3; // negatives too
      if (kind === 2) return -u; // all negative
      return Math.log1p(u * 50);
    });
    const expected = truncatedMaxWithZeros(Float64Array.from(values).sort(), nZeros);
    const got = summarizeWithZeros(values, stored + nZeros).truncatedMax;
    assert.equal(got, expected, `trial ${trial}: ${stored} stored, ${nZeros} zeros, kind ${kind}`);
    checked++;
  }
  assert.equal(checked, 3000);
  // the input is not modified
  const v = Float64Array.from([3, 1, 2]);
  summarizeWithZeros(v, 10);
  assert.deepEqual(Array.from(v), [3, 1, 2]);
  // reorder = true: the same summary, the array's values kept (in another order)
  const w = Float64Array.from([0.5, 3, -1, 2, 2, 7, 0.25]);
  const copy = Float64Array.from(w);
  assert.deepEqual(summarizeWithZeros(w, 40, true), summarizeWithZeros(copy, 40));
  assert.deepEqual(Array.from(w).sort(), Array.from(copy).sort());
  // NaN goes the plain way (sorted last, so the maximum is NaN)
  assert.ok(Number.isNaN(summarizeWithZeros([1, NaN, 2], 3).truncatedMax));
});
