import { test } from "node:test";
import assert from "node:assert/strict";
import { louvain, renumberBySize } from "../../src/numerics/louvain.ts";
import { buildSnnGraph, type WeightedGraph } from "../../src/numerics/snn.ts";

/** Undirected graph from an edge list (both directions stored). */
function graphOf(n: number, edges: [number, number, number][]): WeightedGraph {
  const adj: [number, number][][] = Array.from({ length: n }, () => []);
  for (const [a, b, w] of edges) { adj[a]!.push([b, w]); adj[b]!.push([a, w]); }
  const offsets = new Float64Array(n + 1);
  const targets: number[] = [];
  const weights: number[] = [];
  adj.forEach((list, i) => { for (const [j, w] of list) { targets.push(j); weights.push(w); } offsets[i + 1] = targets.length; });
  return { nNodes: n, offsets, targets: Int32Array.from(targets), weights: Float64Array.from(weights) };
}

const clique = (nodes: number[]): [number, number, number][] =>
  nodes.flatMap((a, i) => nodes.slice(i + 1).map((b) => [a, b, 1] as [number, number, number]));

test("two cliques joined by one edge split in two, largest first", () => {
  const g = graphOf(11, [...clique([0, 1, 2, 3, 4, 5]), ...clique([6, 7, 8, 9, 10]), [5, 6, 1]]);
  const { membership, modularity } = louvain(g, { resolution: 1, seed: 1 });
  assert.deepEqual(Array.from(membership), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  // modularity by hand: 2m = 52; internal weight 2·(15 + 10); community degrees 31 and 21
  const expected = (50 - (31 * 31 + 21 * 21) / 52) / 52;
  assert.ok(Math.abs(modularity - expected) < 1e-12, `${modularity} vs ${expected}`);
});

test("a low resolution merges, a high one splits further", () => {
  const g = graphOf(11, [...clique([0, 1, 2, 3, 4, 5]), ...clique([6, 7, 8, 9, 10]), [5, 6, 1]]);
  assert.equal(new Set(louvain(g, { resolution: 0.01 }).membership).size, 1);
  assert.ok(new Set(louvain(g, { resolution: 5 }).membership).size > 2);
});

test("same seed, same result", () => {
  const edges: [number, number, number][] = [];
  for (let i = 0; i < 60; i++) for (let j = 1; j <= 3; j++) edges.push([i, (i * 7 + j * 13) % 60, 1 + ((i + j) % 3)]);
  const g = graphOf(60, edges.filter(([a, b]) => a !== b));
  assert.deepEqual(louvain(g, { resolution: 0.8, seed: 3 }).membership, louvain(g, { resolution: 0.8, seed: 3 }).membership);
});

test("renumberBySize orders clusters by size then first member", () => {
  assert.deepEqual(Array.from(renumberBySize(Int32Array.from([7, 3, 3, 9, 9, 5]))), [2, 0, 0, 1, 1, 3]);
});

test("SNN weights are Jaccard indices of neighbourhoods including self, pruned below 1/15; no self-loops", () => {
  // 4 cells, each with 2 neighbours (k = 3 counting self)
  const nn = { nCells: 4, k: 2, indices: Int32Array.from([1, 2, 0, 2, 0, 1, 2, 1]), distances: new Float64Array(8) };
  const g = buildSnnGraph(nn, 3);
  const weight = (a: number, b: number): number => {
    for (let p = g.offsets[a]!; p < g.offsets[a + 1]!; p++) if (g.targets[p] === b) return g.weights[p]!;
    return 0;
  };
  // hoods: 0:{0,1,2} 1:{1,0,2} 2:{2,0,1} 3:{3,2,1}
  assert.equal(weight(0, 1), 1);
  assert.equal(weight(0, 3), 2 / 4); // shared {1,2}, union {0,1,2,3}
  assert.equal(weight(3, 3), 0);
  assert.equal(weight(1, 3), weight(3, 1));
});

test("a graph with a self-loop is refused", () => {
  assert.throws(() => louvain(graphOf(2, [[0, 0, 1], [0, 1, 1]]), { resolution: 1 }), /self-loop/);
});
