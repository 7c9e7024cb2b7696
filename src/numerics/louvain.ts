/**
 * Louvain modularity optimisation with a resolution parameter (Blondel et al. 2008), the
 * algorithm Seurat's FindClusters uses by default: local moving of nodes in a seeded random
 * order, then aggregation of communities into nodes, repeated until nothing moves; the best of
 * `starts` seeded runs (by modularity) wins. Clusters are renumbered 0.. by decreasing size
 * (ties by smallest member), so labels do not depend on the run.
 */
import { Random } from "./random.ts";
import type { WeightedGraph } from "./snn.ts";

export interface LouvainOptions {
  resolution: number;
  seed?: number;
  starts?: number;
}

interface Level {
  n: number;
  offsets: Float64Array;
  targets: Int32Array;
  weights: Float64Array;
  /** weight of each node's self-loop (internal weight of an aggregated community) */
  self: Float64Array;
  /** k_i: total incident weight, self-loops counted twice */
  degree: Float64Array;
}

export function louvain(graph: WeightedGraph, opts: LouvainOptions): { membership: Int32Array; modularity: number } {
  const base = baseLevel(assertNoSelfLoops(graph));
  const twoM = base.degree.reduce((a, b) => a + b, 0);
  const starts = opts.starts ?? 10;
  const rng = new Random(opts.seed ?? 0);
  let best: { membership: Int32Array; modularity: number } | null = null;
  for (let s = 0; s < starts; s++) {
    const membership = runOnce(base, opts.resolution, twoM, new Random(Math.floor(rng.next() * 2 ** 31)));
    const modularity = quality(base, membership, opts.resolution, twoM);
    if (best === null || modularity > best.modularity + 1e-12) best = { membership, modularity };
  }
  const result = best ?? { membership: new Int32Array(graph.nNodes), modularity: 0 };
  return { membership: renumberBySize(result.membership), modularity: result.modularity };
}

/** The first level: the graph as given (no self-loops; see snn.ts), node degrees summed once. */
function baseLevel(g: WeightedGraph): Level {
  const n = g.nNodes;
  const degree = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let d = 0;
    for (let p = g.offsets[i]!; p < g.offsets[i + 1]!; p++) d += g.weights[p]!;
    degree[i] = d;
  }
  return { n, offsets: g.offsets, targets: g.targets, weights: g.weights, self: new Float64Array(n), degree };
}

function runOnce(base: Level, gamma: number, twoM: number, rng: Random): Int32Array {
  let level = base;
  // membership of the original nodes
  let membership = Int32Array.from({ length: base.n }, (_, i) => i);
  for (;;) {
    const { community, moved } = moveNodes(level, gamma, twoM, rng);
    if (!moved) break;
    const { relabelled, count } = relabel(community);
    for (let i = 0; i < membership.length; i++) membership[i] = relabelled[membership[i]!]!;
    if (count === level.n) break;
    level = aggregate(level, relabelled, count);
  }
  return membership;
}

/** Local moving phase; returns each node's community. */
function moveNodes(g: Level, gamma: number, twoM: number, rng: Random): { community: Int32Array; moved: boolean } {
  const n = g.n;
  const community = Int32Array.from({ length: n }, (_, i) => i);
  const tot = Float64Array.from(g.degree);
  const linkTo = new Float64Array(n);
  const seen: number[] = [];
  const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  let movedAny = false;
  for (let sweep = 0; sweep < 1000; sweep++) {
    let moves = 0;
    for (let t = 0; t < n; t++) {
      const i = order[t]!;
      const ci = community[i]!;
      const ki = g.degree[i]!;
      for (let p = g.offsets[i]!; p < g.offsets[i + 1]!; p++) {
        const c = community[g.targets[p]!]!;
        if (linkTo[c] === 0) seen.push(c);
        linkTo[c]! += g.weights[p]!;
      }
      tot[ci]! -= ki;
      const scale = (gamma * ki) / twoM;
      let bestC = ci;
      let bestGain = linkTo[ci]! - scale * tot[ci]!;
      for (const c of seen) {
        const gain = linkTo[c]! - scale * tot[c]!;
        if (gain > bestGain + 1e-12) {
          bestGain = gain;
          bestC = c;
        }
      }
      for (const c of seen) linkTo[c] = 0;
      seen.length = 0;
      tot[bestC]! += ki;
      if (bestC !== ci) { community[i] = bestC; moves++; }
    }
    if (moves === 0) break;
    movedAny = true;
  }
  return { community, moved: movedAny };
}

function relabel(community: Int32Array): { relabelled: Int32Array; count: number } {
  const map = new Int32Array(community.length).fill(-1);
  let count = 0;
  const relabelled = new Int32Array(community.length);
  for (let i = 0; i < community.length; i++) {
    const c = community[i]!;
    if (map[c] === -1) map[c] = count++;
    relabelled[i] = map[c]!;
  }
  return { relabelled, count };
}

function aggregate(g: Level, comm: Int32Array, count: number): Level {
  const self = new Float64Array(count);
  const degree = new Float64Array(count);
  const edges = new Map<number, number>();
  for (let i = 0; i < g.n; i++) {
    const ci = comm[i]!;
    degree[ci]! += g.degree[i]!;
    self[ci]! += g.self[i]!;
    for (let p = g.offsets[i]!; p < g.offsets[i + 1]!; p++) {
      const j = g.targets[p]!;
      const cj = comm[j]!;
      const w = g.weights[p]!;
      if (ci === cj) {
        self[ci]! += w / 2; // each undirected edge is seen from both ends
      } else {
        const key = ci * count + cj;
        edges.set(key, (edges.get(key) ?? 0) + w);
      }
    }
  }
  const keys = [...edges.keys()].sort((a, b) => a - b);
  const offsets = new Float64Array(count + 1);
  const targets = new Int32Array(keys.length);
  const weights = new Float64Array(keys.length);
  keys.forEach((key, p) => {
    const a = Math.floor(key / count);
    targets[p] = key - a * count;
    weights[p] = edges.get(key)!;
    offsets[a + 1]! += 1;
  });
  for (let c = 0; c < count; c++) offsets[c + 1]! += offsets[c]!;
  return { n: count, offsets, targets, weights, self, degree };
}

/** Modularity with resolution: (1/2m) Σ_c [2·in_c − γ·tot_c² / 2m]. */
function quality(g: Level, membership: Int32Array, gamma: number, twoM: number): number {
  let internal = 0;
  const tot = new Map<number, number>();
  for (let i = 0; i < g.n; i++) {
    const ci = membership[i]!;
    tot.set(ci, (tot.get(ci) ?? 0) + g.degree[i]!);
    for (let p = g.offsets[i]!; p < g.offsets[i + 1]!; p++) if (membership[g.targets[p]!] === ci) internal += g.weights[p]!;
  }
  let penalty = 0;
  for (const t of tot.values()) penalty += (t * t) / twoM;
  return (internal - gamma * penalty) / twoM;
}

/** Louvain's levels assume no self-loops on the input graph (snn.ts builds it so). */
function assertNoSelfLoops(g: WeightedGraph): WeightedGraph {
  for (let i = 0; i < g.nNodes; i++) {
    for (let p = g.offsets[i]!; p < g.offsets[i + 1]!; p++) if (g.targets[p] === i) throw new RangeError("louvain: the graph has a self-loop");
  }
  return g;
}

/** Labels 0.. by decreasing cluster size, ties by the smallest node index in the cluster. */
export function renumberBySize(labels: Int32Array): Int32Array {
  const size = new Map<number, number>();
  const first = new Map<number, number>();
  labels.forEach((l, i) => {
    size.set(l, (size.get(l) ?? 0) + 1);
    if (!first.has(l)) first.set(l, i);
  });
  const order = [...size.keys()].sort((a, b) => size.get(b)! - size.get(a)! || first.get(a)! - first.get(b)!);
  const map = new Map(order.map((l, k) => [l, k]));
  return labels.map((l) => map.get(l)!);
}
