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
  /** adjacency of node i spans [offsets[i], offsets[i+1]) (aggregated levels: ascending by target) */
  offsets: Int32Array;
  targets: Int32Array;
  weights: Float64Array;
  /** k_i: total incident weight, self-loops counted twice */
  degree: Float64Array;
  /** rows ascending and j in row i exactly when i is in row j (see `symmetricSorted`) */
  symmetric: boolean;
}

/** Communities adjacent to a node that its scan is remembered for (CACHE slots a node). */
const CACHE = 8;

/**
 * Scratch arrays of one run, sized for the first level and reused by the smaller ones. Kept
 * between calls: `linkTo` is all zeros again after each node.
 */
interface Work {
  community: Int32Array;
  tot: Float64Array;
  linkTo: Float64Array;
  /** communities adjacent to the current node, in order of first sight */
  seen: Int32Array;
  order: Int32Array;
  /**
   * A node's last scan: its adjacent communities in order of first sight (cacheComm) and the
   * summed weights to them (cacheLink), node i at [i·CACHE, i·CACHE + cacheLen[i]); -1 when a
   * neighbour has changed community since, or the node has more than CACHE adjacent communities.
   */
  cacheLen: Int32Array;
  cacheComm: Int32Array;
  cacheLink: Float64Array;
}

export function louvain(graph: WeightedGraph, opts: LouvainOptions): { membership: Int32Array; modularity: number } {
  const base = baseLevel(assertNoSelfLoops(graph));
  let twoM = 0;
  for (let i = 0; i < base.n; i++) twoM += base.degree[i]!;
  const starts = opts.starts ?? 10;
  const rng = new Random(opts.seed ?? 0);
  const n = base.n;
  const work: Work = {
    community: new Int32Array(n), tot: new Float64Array(n), linkTo: new Float64Array(n), seen: new Int32Array(Math.max(n, maxRow(base) + 1)), order: new Int32Array(n),
    cacheLen: new Int32Array(n), cacheComm: new Int32Array(n * CACHE), cacheLink: new Float64Array(n * CACHE),
  };
  let best: { membership: Int32Array; modularity: number } | null = null;
  for (let s = 0; s < starts; s++) {
    const membership = runOnce(base, opts.resolution, twoM, new Random(Math.floor(rng.next() * 2 ** 31)), work);
    const modularity = quality(base, membership, opts.resolution, twoM, work);
    if (best === null || modularity > best.modularity + 1e-12) best = { membership, modularity };
  }
  const result = best ?? { membership: new Int32Array(graph.nNodes), modularity: 0 };
  return { membership: renumberBySize(result.membership), modularity: result.modularity };
}

/** The longest row (seen holds at most one entry per edge of a row, or per community). */
function maxRow(g: Level): number {
  let longest = 0;
  for (let i = 0; i < g.n; i++) longest = Math.max(longest, g.offsets[i + 1]! - g.offsets[i]!);
  return longest;
}

/** The first level: the graph as given (no self-loops; see snn.ts), node degrees summed once. */
function baseLevel(g: WeightedGraph): Level {
  const n = g.nNodes;
  if (g.targets.length > 0x7fffffff) throw new RangeError("louvain: more than 2^31 - 1 edges");
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) offsets[i] = g.offsets[i]!;
  const weights = g.weights;
  const degree = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let d = 0;
    const end = offsets[i + 1]!;
    for (let p = offsets[i]!; p < end; p++) d += weights[p]!;
    degree[i] = d;
  }
  return { n, offsets, targets: g.targets, weights, degree, symmetric: symmetricSorted(n, offsets, g.targets) };
}

/**
 * True when every row is ascending and the adjacency is symmetric (as multisets: each entry j
 * in row i pairs with its own entry i in row j). Rows are visited in order, so the entries of
 * row j that name earlier rows are consumed in its own order by a cursor; one pass, O(n) memory.
 */
function symmetricSorted(n: number, offsets: Int32Array, targets: Int32Array): boolean {
  const cursor = offsets.slice(0, n);
  for (let i = 0; i < n; i++) {
    const end = offsets[i + 1]!;
    for (let p = offsets[i]!; p < end; p++) {
      const j = targets[p]!;
      if (j < 0 || j >= n || (p > offsets[i]! && targets[p - 1]! > j)) return false;
      const q = cursor[j]!;
      if (q >= offsets[j + 1]! || targets[q] !== i) return false;
      cursor[j] = q + 1;
    }
  }
  for (let j = 0; j < n; j++) if (cursor[j] !== offsets[j + 1]) return false;
  return true;
}

function runOnce(base: Level, gamma: number, twoM: number, rng: Random, work: Work): Int32Array {
  let level = base;
  // membership of the original nodes
  const membership = new Int32Array(base.n);
  for (let i = 0; i < base.n; i++) membership[i] = i;
  for (;;) {
    const moved = moveNodes(level, gamma, twoM, rng, work);
    if (!moved) break;
    const { relabelled, count } = relabel(work.community.subarray(0, level.n));
    for (let i = 0; i < membership.length; i++) membership[i] = relabelled[membership[i]!]!;
    if (count === level.n) break;
    level = aggregate(level, relabelled, count);
  }
  return membership;
}

/**
 * Local moving phase: leaves each node's community in work.community[0, n); true when any
 * node moved. Each node, in a seeded random order, goes to the adjacent community (or stays)
 * with the largest gain linkTo(c) − γ·k_i·tot(c)/2m, a community replacing the best so far
 * only when better by more than 1e-12; sweeps repeat until none moves.
 *
 * linkTo of a node depends only on its neighbours' communities, so on a symmetric graph a node
 * whose neighbours have not moved since its last scan reuses that scan's communities and sums
 * (the same numbers in the same order); a node that moves clears its neighbours' remembered scans.
 * tot is not cached: it changes with every visit and is read afresh.
 */
function moveNodes(g: Level, gamma: number, twoM: number, rng: Random, work: Work): boolean {
  const n = g.n;
  const { offsets, targets, weights, degree } = g;
  const community = work.community;
  const tot = work.tot;
  const linkTo = work.linkTo;
  const seen = work.seen;
  const { cacheLen, cacheComm, cacheLink } = work;
  const cached = g.symmetric;
  cacheLen.fill(-1, 0, n);
  for (let i = 0; i < n; i++) community[i] = i;
  tot.set(degree);
  const order = work.order.subarray(0, n);
  for (let i = 0; i < n; i++) order[i] = i;
  rng.shuffle(order);
  let movedAny = false;
  for (let sweep = 0; sweep < 1000; sweep++) {
    let moves = 0;
    for (let t = 0; t < n; t++) {
      const i = order[t]!;
      const ci = community[i]!;
      const ki = degree[i]!;
      let nSeen = 0;
      const end = offsets[i + 1]!;
      let p = offsets[i]!;
      const remembered = cacheLen[i]!;
      if (remembered >= 0) {
        for (let q = 0, at = i * CACHE; q < remembered; q++, at++) {
          const c = cacheComm[at]!;
          seen[q] = c;
          linkTo[c] = cacheLink[at]!;
        }
        nSeen = remembered;
      } else if (p < end) {
        for (; p < end; p++) {
          const c = community[targets[p]!]!;
          const l = linkTo[c]!;
          // a community is new to this node while its sum is 0 (weights are positive); the
          // branch-free append is faster here than a jump the CPU cannot predict
          seen[nSeen] = c;
          nSeen += +(l === 0);
          linkTo[c] = l + weights[p]!;
        }
        if (cached && nSeen <= CACHE) {
          for (let q = 0, at = i * CACHE; q < nSeen; q++, at++) {
            const c = seen[q]!;
            cacheComm[at] = c;
            cacheLink[at] = linkTo[c]!;
          }
          cacheLen[i] = nSeen;
        }
      }
      tot[ci] = tot[ci]! - ki;
      const scale = (gamma * ki) / twoM;
      let bestC = ci;
      let bestGain = linkTo[ci]! - scale * tot[ci]!;
      for (let q = 0; q < nSeen; q++) {
        const c = seen[q]!;
        const gain = linkTo[c]! - scale * tot[c]!;
        if (gain > bestGain + 1e-12) {
          bestGain = gain;
          bestC = c;
        }
      }
      for (let q = 0; q < nSeen; q++) linkTo[seen[q]!] = 0;
      tot[bestC] = tot[bestC]! + ki;
      if (bestC !== ci) {
        community[i] = bestC;
        moves++;
        for (let q = offsets[i]!; q < end; q++) cacheLen[targets[q]!] = -1;
      }
    }
    if (moves === 0) break;
    movedAny = true;
  }
  return movedAny;
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

/**
 * Communities become nodes: an edge's weight is the sum of the weights between the two
 * communities, added in node order then adjacency order (so sums round the same on every run);
 * rows ascending by target. Edges inside a community become its self-loop, which only its
 * degree records: local moving ignores self-loops and modularity is computed on the first level.
 */
function aggregate(g: Level, comm: Int32Array, count: number): Level {
  const n = g.n;
  const { offsets, targets, weights } = g;
  const degree = new Float64Array(count);
  for (let i = 0; i < n; i++) degree[comm[i]!]! += g.degree[i]!;
  // members of each community, ascending
  const start = new Int32Array(count + 1);
  for (let i = 0; i < n; i++) start[comm[i]! + 1]!++;
  for (let c = 0; c < count; c++) start[c + 1]! += start[c]!;
  const members = new Int32Array(n);
  const fill = start.slice(0, count);
  for (let i = 0; i < n; i++) members[fill[comm[i]!]!++] = i;
  // each community's row, accumulated densely; rows grow into typed buffers
  const sum = new Float64Array(count);
  const mark = new Int32Array(count).fill(-1);
  const row = new Int32Array(count);
  const newOffsets = new Int32Array(count + 1);
  let newTargets = new Int32Array(Math.max(16, Math.min(targets.length, count * count)));
  let newWeights = new Float64Array(newTargets.length);
  let nEdges = 0;
  for (let ci = 0; ci < count; ci++) {
    let nRow = 0;
    for (let m = start[ci]!; m < start[ci + 1]!; m++) {
      const i = members[m]!;
      const end = offsets[i + 1]!;
      for (let p = offsets[i]!; p < end; p++) {
        const cj = comm[targets[p]!]!;
        if (cj === ci) continue;
        if (mark[cj] !== ci) { mark[cj] = ci; sum[cj] = 0; row[nRow++] = cj; }
        sum[cj] = sum[cj]! + weights[p]!;
      }
    }
    const sorted = row.subarray(0, nRow).sort();
    if (nEdges + nRow > newTargets.length) {
      const grown = Math.max(newTargets.length * 2, nEdges + nRow);
      const t = new Int32Array(grown); t.set(newTargets.subarray(0, nEdges)); newTargets = t;
      const w = new Float64Array(grown); w.set(newWeights.subarray(0, nEdges)); newWeights = w;
    }
    for (let q = 0; q < nRow; q++) {
      const cj = sorted[q]!;
      newTargets[nEdges] = cj;
      newWeights[nEdges] = sum[cj]!;
      nEdges++;
    }
    newOffsets[ci + 1] = nEdges;
  }
  const aggregated = newTargets.slice(0, nEdges);
  return { n: count, offsets: newOffsets, targets: aggregated, weights: newWeights.slice(0, nEdges), degree, symmetric: symmetricSorted(count, newOffsets, aggregated) };
}

/**
 * Modularity with resolution: (1/2m) Σ_c [2·in_c − γ·tot_c² / 2m]. The penalty is summed over
 * communities in order of their first node, as the earlier Map-based version did (same sum).
 */
function quality(g: Level, membership: Int32Array, gamma: number, twoM: number, work: Work): number {
  const n = g.n;
  const { offsets, targets, weights, degree } = g;
  // membership values are < n; work.tot and work.order are free between runs
  const tot = work.tot;
  const firstSeen = work.order;
  const has = work.community;
  has.fill(0);
  let nComm = 0;
  let internal = 0;
  for (let i = 0; i < n; i++) {
    const ci = membership[i]!;
    if (has[ci] === 0) { has[ci] = 1; tot[ci] = 0; firstSeen[nComm++] = ci; }
    tot[ci] = tot[ci]! + degree[i]!;
    const end = offsets[i + 1]!;
    for (let p = offsets[i]!; p < end; p++) if (membership[targets[p]!] === ci) internal += weights[p]!;
  }
  let penalty = 0;
  for (let q = 0; q < nComm; q++) {
    const t = tot[firstSeen[q]!]!;
    penalty += (t * t) / twoM;
  }
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
