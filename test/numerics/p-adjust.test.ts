/** Benjamini–Hochberg against R 4.2.2's p.adjust(p, "BH") (values printed with sprintf("%.17g")). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { adjustBH } from "../../src/numerics/stats/p-adjust.ts";

test("adjustBH equals R's p.adjust(method = 'BH'), NA/NaN kept and left out of n", () => {
  // R: p.adjust(c(0.01, 0.04, 0.03, NA, 0.5, 0.04, 1e-10, 0.9, NaN, 0.2), "BH")
  const got = adjustBH([0.01, 0.04, 0.03, NaN, 0.5, 0.04, 1e-10, 0.9, NaN, 0.2]);
  const r = [0.040000000000000001, 0.064000000000000001, 0.064000000000000001, NaN, 0.5714285714285714,
    0.064000000000000001, 8.0000000000000003e-10, 0.90000000000000002, NaN, 0.26666666666666666];
  assert.deepEqual([...got], r);
});

test("adjustBH: cummin from the largest, ties, cap at 1, zeros", () => {
  // R: p.adjust(c(0.8, 0.9, 0.95), "BH")
  assert.deepEqual([...adjustBH([0.8, 0.9, 0.95])], [0.94999999999999996, 0.94999999999999996, 0.94999999999999996]);
  // R: p.adjust(c(0.02, 0.02, 0.02, 0.5), "BH")
  assert.deepEqual([...adjustBH([0.02, 0.02, 0.02, 0.5])], [0.026666666666666665, 0.026666666666666665, 0.026666666666666665, 0.5]);
  // R: p.adjust(c(0, 1e-300, 3e-300, 0.049, 0.05), "BH")
  assert.deepEqual([...adjustBH([0, 1e-300, 3e-300, 0.049, 0.05])], [0, 2.5e-300, 5.0000000000000006e-300, 0.050000000000000003, 0.050000000000000003]);
  assert.deepEqual([...adjustBH([0.7, 1, 0.99])], [1, 1, 1]);
  assert.deepEqual([...adjustBH([])], []);
  assert.deepEqual([...adjustBH([0.3])], [0.3]);
  assert.ok(adjustBH([NaN, NaN]).every(Number.isNaN));
});

test("adjustBH matches a brute-force definition on random input", () => {
  let seed = 1;
  const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const p = Array.from({ length: 300 }, () => (rnd() < 0.2 ? Math.round(rnd() * 10) / 10 : rnd() ** 4));
  const m = p.length;
  const got = adjustBH(p);
  p.forEach((pi, i) => {
    // min over all q >= pi of m·q / #{p <= q}, capped at 1
    let best = Infinity;
    for (const q of p) if (q >= pi) best = Math.min(best, (m / p.filter((v) => v <= q).length) * q);
    assert.ok(Math.abs(got[i]! - Math.min(1, best)) <= 1e-15, `${i}`);
  });
});
