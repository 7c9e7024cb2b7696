/**
 * The trajectory numerics on synthetic branching data with a known order: a Y (a stem that
 * splits into two arms) and an S-shaped curve, in 2-D, with Gaussian noise. Pseudotime from a
 * root node at the stem's start must follow the known position along the path (Spearman >= 0.9
 * per branch), the tree must be a tree, and the tree solve must satisfy its linear system.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Random } from "../../src/numerics/random.ts";
import { spearman } from "./rank-correlation.ts";
import {
  connectedNodes, learnPrincipalGraph, minimumSpanningTree, monocleNodeCount, nodeDistances, projectCells,
  pruneSideBranches, pseudotime, type PrincipalGraph,
} from "../../src/numerics/trajectory.ts";

/** Standard normal from a seeded uniform generator (Box–Muller). */
function gaussian(rng: Random): number {
  const u = 1 - rng.next(), v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A Y: stem (0,0)→(0,5), arms (0,5)→(-4,9) and (0,5)→(4,9); position = arc length from (0,0). */
function yShape(n: number, noise: number, seed: number) {
  const rng = new Random(seed);
  const coords = new Float64Array(2 * n), position = new Float64Array(n), branch = new Int32Array(n);
  const arm = Math.hypot(4, 4);
  for (let i = 0; i < n; i++) {
    const s = rng.next() * (5 + arm);
    let x: number, y: number;
    if (s <= 5) { x = 0; y = s; branch[i] = rng.int(2); } else {
      const a = (s - 5) / arm;
      branch[i] = rng.int(2);
      x = (branch[i] === 0 ? -4 : 4) * a; y = 5 + 4 * a;
    }
    coords[2 * i] = x + noise * gaussian(rng);
    coords[2 * i + 1] = y + noise * gaussian(rng);
    position[i] = s;
  }
  return { coords, position, branch };
}

function nearestNodeTo(g: PrincipalGraph, x: number, y: number): number {
  let best = 0, bestD = Infinity;
  for (let j = 0; j < g.nNodes; j++) {
    const d = (g.nodes[2 * j]! - x) ** 2 + (g.nodes[2 * j + 1]! - y) ** 2;
    if (d < bestD) { bestD = d; best = j; }
  }
  return best;
}

function isTree(g: PrincipalGraph): boolean {
  if (g.edges.length / 2 !== g.nNodes - 1) return false;
  const dist = nodeDistances(g, [0]);
  return dist.every(Number.isFinite);
}

test("Y-shaped trajectory: pseudotime follows the known position on both arms (Spearman >= 0.9)", () => {
  const n = 3000;
  const { coords, position, branch } = yShape(n, 0.25, 7);
  const g = learnPrincipalGraph(coords, n);
  assert.ok(isTree(g), "the principal graph is one tree");
  assert.ok(g.nNodes >= 50 && g.nNodes <= 300, `nodes: ${g.nNodes}`);
  const root = nearestNodeTo(g, 0, 0);
  const pt = pseudotime(g, projectCells(g, coords, n), [root]);
  for (const b of [0, 1]) {
    const cells = [...branch.keys()].filter((i) => branch[i] === b);
    const rho = spearman(cells.map((i) => pt[i]!), cells.map((i) => position[i]!));
    assert.ok(rho >= 0.9, `branch ${b}: Spearman ${rho.toFixed(4)}`);
  }
  const all = spearman(pt, position);
  assert.ok(all >= 0.9, `all cells: Spearman ${all.toFixed(4)}`);
  // the tree branches: some node has three neighbours, and both arm tips are far from the root
  const degree = new Int32Array(g.nNodes);
  for (const e of g.edges) degree[e] = degree[e]! + 1;
  assert.ok(degree.some((d) => d >= 3), "a branch point exists");
  const dist = nodeDistances(g, [root]);
  assert.ok(dist[nearestNodeTo(g, -4, 9)]! > 8 && dist[nearestNodeTo(g, 4, 9)]! > 8, "both arm tips lie past the branch point");
});

test("Y-shaped trajectory, fewer cells (monocle3's one node per cell below 1 000 cells): Spearman >= 0.9", () => {
  const n = 600;
  const { coords, position } = yShape(n, 0.2, 11);
  const g = learnPrincipalGraph(coords, n, { maxNodes: 1000 });
  assert.equal(monocleNodeCount(n), n - 1);
  assert.ok(isTree(g));
  const pt = pseudotime(g, projectCells(g, coords, n), [nearestNodeTo(g, 0, 0)]);
  const rho = spearman(pt, position);
  assert.ok(rho >= 0.9, `Spearman ${rho.toFixed(4)}`);
});

test("S-shaped curve: pseudotime from one end follows arc length (Spearman >= 0.95)", () => {
  const n = 2000, rng = new Random(3);
  const coords = new Float64Array(2 * n), position = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = rng.next();
    const a = s * 3 * Math.PI;
    coords[2 * i] = 6 * s + 0.15 * gaussian(rng);
    coords[2 * i + 1] = 2 * Math.sin(a) + 0.15 * gaussian(rng);
    position[i] = s;
  }
  const g = learnPrincipalGraph(coords, n);
  const pt = pseudotime(g, projectCells(g, coords, n), [nearestNodeTo(g, 0, 0)]);
  const rho = spearman(pt, position);
  assert.ok(rho >= 0.95, `Spearman ${rho.toFixed(4)}`);
});

test("deterministic: the same input gives the same graph and pseudotime", () => {
  const n = 1500;
  const { coords } = yShape(n, 0.3, 5);
  const a = learnPrincipalGraph(coords, n), b = learnPrincipalGraph(coords, n);
  assert.deepEqual(a.nodes, b.nodes);
  assert.deepEqual(a.edges, b.edges);
  const pa = pseudotime(a, projectCells(a, coords, n), [0, 3]);
  const pb = pseudotime(b, projectCells(b, coords, n), [0, 3]);
  assert.deepEqual(pa, pb);
});

test("several roots: each cell's pseudotime is its distance to the nearest root; roots are 0", () => {
  const n = 800;
  const { coords } = yShape(n, 0.2, 9);
  const g = learnPrincipalGraph(coords, n);
  const r1 = nearestNodeTo(g, -4, 9), r2 = nearestNodeTo(g, 4, 9);
  const proj = projectCells(g, coords, n);
  const both = pseudotime(g, proj, [r1, r2]);
  const p1 = pseudotime(g, proj, [r1]), p2 = pseudotime(g, proj, [r2]);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(both[i]! - Math.min(p1[i]!, p2[i]!)) < 1e-9);
  const d = nodeDistances(g, [r1, r2]);
  assert.equal(d[r1], 0);
  assert.equal(d[r2], 0);
});

test("connectedNodes lists each edge once, at its lower index, ascending", () => {
  const g: PrincipalGraph = { nNodes: 4, nodes: new Float64Array([0, 0, 1, 0, 2, 0, 1, 1]), edges: new Int32Array([1, 0, 1, 2, 3, 1]) };
  assert.deepEqual(connectedNodes(g), [[1], [2, 3], [], []]);
});

test("projection: a cell beside an edge lands on it, t measured from its nearest node", () => {
  const g: PrincipalGraph = { nNodes: 3, nodes: new Float64Array([0, 0, 2, 0, 4, 0]), edges: new Int32Array([0, 1, 1, 2]) };
  const p = projectCells(g, new Float64Array([2.5, 1, -1, -1]), 2);
  assert.deepEqual([p.edgeU[0], p.edgeV[0]], [1, 2]);
  assert.ok(Math.abs(p.t[0]! - 0.25) < 1e-12);
  assert.deepEqual([p.points[0], p.points[1]], [2.5, 0]);
  assert.deepEqual([p.edgeU[1], p.t[1], p.points[2], p.points[3]], [0, 0, 0, 0]);
  const pt = pseudotime(g, p, [2]);
  assert.ok(Math.abs(pt[0]! - 1.5) < 1e-12);
  assert.ok(Math.abs(pt[1]! - 4) < 1e-12);
});

test("pruning removes side twigs shorter than minimalBranchLen and keeps the long arms", () => {
  // a path 0..29 with a 3-node twig (30, 31, 32) off node 10 and an 11-node arm (33..43) off node 5
  const adj: number[][] = Array.from({ length: 44 }, () => []);
  const link = (a: number, b: number) => { adj[a]!.push(b); adj[b]!.push(a); };
  for (let i = 0; i < 29; i++) link(i, i + 1);
  link(10, 30); link(30, 31); link(31, 32);
  link(5, 33); for (let i = 33; i < 43; i++) link(i, i + 1);
  const keep = pruneSideBranches(adj, 44, 10);
  assert.deepEqual([keep[30], keep[31], keep[32]], [0, 0, 0]);
  for (let i = 0; i < 30; i++) assert.equal(keep[i], 1);
  for (let i = 33; i < 44; i++) assert.equal(keep[i], 1);
  // with a 9-node arm instead, the arm goes too
  const short = adj.map((a) => [...a]);
  short[42] = short[42]!.filter((v) => v !== 43); short[43] = [];
  short[41] = short[41]!.filter((v) => v !== 42); short[42] = [];
  const keepShort = pruneSideBranches(short, 44, 10);
  for (let i = 33; i < 42; i++) assert.equal(keepShort[i], 0);
});

test("minimum spanning tree of points on a line joins neighbours", () => {
  const t = minimumSpanningTree(new Float64Array([0, 0, 3, 0, 1, 0, 2, 0]), 4);
  assert.deepEqual(t.adjacency.map((a) => [...a].sort()), [[2], [3], [0, 3], [1, 2]]);
  assert.equal(t.totalSquared, 3);
});

test("degenerate inputs: one cell, identical cells", () => {
  const one = learnPrincipalGraph(new Float64Array([1, 2]), 1);
  assert.equal(one.nNodes, 1);
  assert.deepEqual(pseudotime(one, projectCells(one, new Float64Array([1, 2]), 1), [0]), new Float64Array([0]));
  const same = learnPrincipalGraph(new Float64Array(20).fill(3), 10);
  assert.equal(same.nNodes, 1);
  assert.deepEqual([...same.nodes], [3, 3]);
});
