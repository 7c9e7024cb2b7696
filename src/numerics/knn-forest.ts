/**
 * Approximate k nearest neighbours of every cell among the cells (Euclidean): a forest of
 * random-projection trees gives each cell candidates (the other cells of its leaf in each
 * tree), then rounds of neighbour-of-neighbour refinement (NN-descent's local join, one cell's
 * new neighbours checked against their own neighbours) replace them with closer ones until few
 * change. The same construction as pynndescent's (RP-tree initialisation + NN-descent), in
 * plain loops over typed arrays; deterministic for a seed.
 */
import { Random } from "./random.ts";
import type { Neighbors } from "./scran.ts";

export interface ForestOptions {
  /** trees of the initial forest */
  trees: number;
  /** a node with more cells than this is split */
  leafSize: number;
  /** most refinement rounds */
  rounds: number;
  /** refinement stops when a round changes fewer than this fraction of all n·k neighbours */
  minChange: number;
  seed: number;
}

export const FOREST_DEFAULTS: ForestOptions = { trees: 12, leafSize: 40, rounds: 8, minChange: 0.001, seed: 1 };

/** Bounded max-heaps of the k best (smallest squared distance) candidates of every cell, flat. */
class Heaps {
  readonly idx: Int32Array;
  readonly dist: Float64Array;
  /** 1 while a neighbour has not yet been used in a refinement round */
  readonly fresh: Uint8Array;
  readonly k: number;
  constructor(n: number, k: number) {
    this.k = k;
    this.idx = new Int32Array(n * k).fill(-1);
    this.dist = new Float64Array(n * k).fill(Infinity);
    this.fresh = new Uint8Array(n * k);
  }

  /** Offers j at squared distance dd to cell i's heap; true when it entered. */
  push(i: number, j: number, dd: number): boolean {
    const k = this.k, base = i * k;
    const dist = this.dist, idx = this.idx;
    if (!(dd < dist[base]!)) return false;
    for (let t = 0; t < k; t++) if (idx[base + t] === j) return false;
    // replace the root (the farthest) and sift down
    let p = 0;
    for (;;) {
      const l = 2 * p + 1;
      if (l >= k) break;
      const r = l + 1;
      const c = r < k && dist[base + r]! > dist[base + l]! ? r : l;
      if (!(dist[base + c]! > dd)) break;
      dist[base + p] = dist[base + c]!;
      idx[base + p] = idx[base + c]!;
      this.fresh[base + p] = this.fresh[base + c]!;
      p = c;
    }
    dist[base + p] = dd;
    idx[base + p] = j;
    this.fresh[base + p] = 1;
    return true;
  }
}

function squaredDistance(x: Float64Array, a: number, b: number, d: number): number {
  const pa = a * d, pb = b * d;
  let s = 0;
  for (let t = 0; t < d; t++) { const diff = x[pa + t]! - x[pb + t]!; s += diff * diff; }
  return s;
}

/** One random-projection tree: its leaves' cells offered to each other. */
function plantTree(x: Float64Array, n: number, d: number, heaps: Heaps | null, leafSize: number, rng: Random, order: Int32Array): void {
  for (let i = 0; i < n; i++) order[i] = i;
  const normal = new Float64Array(d);
  const stack: number[] = [0, n];
  while (stack.length > 0) {
    const end = stack.pop()!, start = stack.pop()!;
    const size = end - start;
    if (size <= leafSize) {
      if (heaps === null) continue;
      for (let p = start; p < end; p++) {
        const a = order[p]!;
        for (let q = p + 1; q < end; q++) {
          const b = order[q]!;
          const dd = squaredDistance(x, a, b, d);
          heaps.push(a, b, dd);
          heaps.push(b, a, dd);
        }
      }
      continue;
    }
    // the hyperplane halfway between two random cells of the node
    const a = order[start + rng.int(size)]!;
    let b = order[start + rng.int(size)]!;
    for (let tries = 0; b === a && tries < 8; tries++) b = order[start + rng.int(size)]!;
    let offset = 0;
    for (let t = 0; t < d; t++) {
      normal[t] = x[a * d + t]! - x[b * d + t]!;
      offset += normal[t]! * (x[a * d + t]! + x[b * d + t]!) / 2;
    }
    let lo = start, hi = end - 1;
    while (lo <= hi) {
      const c = order[lo]!;
      let s = -offset;
      for (let t = 0; t < d; t++) s += normal[t]! * x[c * d + t]!;
      if (s > 0 || (s === 0 && rng.next() < 0.5)) lo++;
      else { order[lo] = order[hi]!; order[hi] = c; hi--; }
    }
    let mid = lo;
    // a degenerate split (identical cells): halve the node at random instead
    if (mid - start < 1 || end - mid < 1) {
      for (let p = end - 1; p > start; p--) { const r = start + rng.int(p - start + 1); const t = order[p]!; order[p] = order[r]!; order[r] = t; }
      mid = start + (size >> 1);
    }
    stack.push(start, mid, mid, end);
  }
}

/**
 * The k nearest other cells of every cell of `coords` (cells x dims, row-major), nearest first,
 * with their Euclidean distances.
 */
export function forestNeighbors(coords: Float64Array, n: number, d: number, k: number, options: Partial<ForestOptions> = {}): Neighbors {
  const opts = { ...FOREST_DEFAULTS, ...options };
  const kk = Math.max(0, Math.min(k, n - 1));
  if (kk === 0) return { nCells: n, k: 0, indices: new Int32Array(0), distances: new Float64Array(0) };
  // the search runs on the cells renumbered in the leaf order of one tree: cells near each other
  // in space are then near in memory, which the refinement's scattered reads need
  const rng = new Random(opts.seed);
  const order = new Int32Array(n);
  plantTree(coords, n, d, null, opts.leafSize, rng, order);
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) x.set(coords.subarray(order[i]! * d, (order[i]! + 1) * d), i * d);
  const heaps = searchNeighbors(x, n, d, kk, opts, rng);
  // each cell's neighbours in the original numbering, nearest first (ties by original index)
  const indices = new Int32Array(n * kk);
  const distances = new Float64Array(n * kk);
  const slot = Array.from({ length: kk }, (_, t) => t);
  for (let i = 0; i < n; i++) {
    const base = i * kk, out = order[i]! * kk;
    slot.sort((a, b) => heaps.dist[base + a]! - heaps.dist[base + b]! || order[heaps.idx[base + a]!]! - order[heaps.idx[base + b]!]!);
    for (let t = 0; t < kk; t++) {
      indices[out + t] = order[heaps.idx[base + slot[t]!]!]!;
      distances[out + t] = Math.sqrt(heaps.dist[base + slot[t]!]!);
    }
  }
  return { nCells: n, k: kk, indices, distances };
}

/** The forest and the refinement rounds: every cell's heap of its kk best candidates. */
function searchNeighbors(coords: Float64Array, n: number, d: number, kk: number, opts: ForestOptions, rng: Random): Heaps {
  const heaps = new Heaps(n, kk);
  const order = new Int32Array(n);
  for (let t = 0; t < opts.trees; t++) plantTree(coords, n, d, heaps, Math.max(opts.leafSize, kk + 1), rng, order);
  // a cell the trees left with fewer than k candidates (its leaves were small): the cells after
  // it in order fill its heap (an empty slot, idx -1, sits at the root while any is left)
  for (let i = 0; i < n; i++) {
    for (let step = 1; heaps.idx[i * kk] === -1 && step < n; step++) {
      const j = (i + step) % n;
      heaps.push(i, j, squaredDistance(coords, i, j, d));
    }
  }
  // refinement: each cell's fresh neighbours' neighbours are offered to it (and it to them)
  const snapshot = new Int32Array(kk);
  for (let round = 0; round < opts.rounds; round++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const base = i * kk;
      let m = 0;
      for (let t = 0; t < kk; t++) {
        if (heaps.fresh[base + t] === 1) { heaps.fresh[base + t] = 0; snapshot[m++] = heaps.idx[base + t]!; }
      }
      for (let s = 0; s < m; s++) {
        const u = snapshot[s]!;
        const ub = u * kk;
        for (let t = 0; t < kk; t++) {
          const w = heaps.idx[ub + t]!;
          if (w === i || w < 0) continue;
          const dd = squaredDistance(coords, i, w, d);
          if (heaps.push(i, w, dd)) changed++;
          if (heaps.push(w, i, dd)) changed++;
        }
      }
    }
    if (changed < opts.minChange * n * kk) break;
  }
  return heaps;
}
