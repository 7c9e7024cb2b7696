/**
 * The TypeScript UMAP's parts: the a, b curve fit against umap-learn's published values, the
 * fuzzy simplicial set's shape, and the whole layout on separated clusters (deterministic,
 * progress reported, clusters kept apart).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fitCurve } from "../../src/numerics/umap/curve.ts";
import { fuzzySimplicialSet, type NeighborLists } from "../../src/numerics/umap/graph.ts";
import { umap } from "../../src/numerics/umap/umap.ts";
import { Random } from "../../src/numerics/random.ts";

test("a, b fit: umap-learn's values for min_dist 0.1 (1.577, 0.895) and 0.3 (0.992, 1.112)", () => {
  const p1 = fitCurve(0.1), p3 = fitCurve(0.3);
  assert.ok(Math.abs(p1.a - 1.577) < 2e-3 && Math.abs(p1.b - 0.895) < 2e-3, JSON.stringify(p1));
  assert.ok(Math.abs(p3.a - 0.992) < 2e-3 && Math.abs(p3.b - 1.112) < 2e-3, JSON.stringify(p3));
});

/** n points in 3 well-separated Gaussian clusters in 10-D, row-major, with labels. */
function clusters(n: number, rng: Random): { x: Float64Array; labels: Int32Array } {
  const d = 10, x = new Float64Array(n * d), labels = new Int32Array(n);
  const gauss = () => { const u = 1 - rng.next(), v = rng.next(); return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v); };
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let t = 0; t < d; t++) x[i * d + t] = gauss() + (t === labels[i] ? 12 : 0);
  }
  return { x, labels };
}

function knn(x: Float64Array, n: number, d: number, k: number): NeighborLists {
  const indices = new Int32Array(n * k), distances = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const order = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i)
      .map((j) => { let s = 0; for (let t = 0; t < d; t++) s += (x[i * d + t]! - x[j * d + t]!) ** 2; return [j, Math.sqrt(s)] as const; })
      .sort((p, q) => p[1] - q[1]).slice(0, k);
    order.forEach(([j, dist], r) => { indices[i * k + r] = j; distances[i * k + r] = dist; });
  }
  return { nCells: n, k, indices, distances };
}

const rng = new Random(11);
const { x, labels } = clusters(150, rng);
const nn = knn(x, 150, 10, 15);

test("fuzzy simplicial set: symmetric, weights in (0, 1], each cell's nearest neighbour at weight 1", () => {
  const g = fuzzySimplicialSet(nn);
  const weight = (i: number, j: number) => { for (let p = g.indptr[i]!; p < g.indptr[i + 1]!; p++) if (g.indices[p] === j) return g.weights[p]!; return 0; };
  for (let i = 0; i < g.nCells; i++) {
    for (let p = g.indptr[i]!; p < g.indptr[i + 1]!; p++) {
      const j = g.indices[p]!, w = g.weights[p]!;
      assert.notEqual(j, i);
      assert.ok(w > 0 && w <= 1, `${w}`);
      assert.equal(weight(j, i), w);
    }
    assert.ok(Math.abs(weight(i, nn.indices[i * nn.k]!) - 1) < 1e-12);
  }
});

test("layout: deterministic, progress up to 1, clusters kept apart", () => {
  const fractions: number[] = [];
  const opts = { minDist: 0.3, epochs: 200, start: x, startDims: 10 };
  const a = umap(nn, opts, (f) => fractions.push(f));
  const b = umap(nn, opts);
  assert.deepEqual(a, b);
  assert.ok(a.every(Number.isFinite));
  assert.equal(fractions.at(-1), 1);
  assert.ok(fractions.every((f, i) => f > 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]!)));
  // each point's nearest point in the layout belongs to its cluster
  let same = 0;
  for (let i = 0; i < 150; i++) {
    let best = -1, bestD = Infinity;
    for (let j = 0; j < 150; j++) {
      if (j === i) continue;
      const d = (a[2 * i]! - a[2 * j]!) ** 2 + (a[2 * i + 1]! - a[2 * j + 1]!) ** 2;
      if (d < bestD) { bestD = d; best = j; }
    }
    if (labels[best] === labels[i]) same++;
  }
  assert.equal(same, 150);
});
