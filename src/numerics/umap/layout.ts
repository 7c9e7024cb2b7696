/**
 * UMAP's layout optimisation (the UMAP paper, section 3 and appendix; umap-learn's documented
 * algorithm), single-threaded on typed arrays:
 *  - edges with weight below max / epochs are dropped; edge e is sampled every
 *    max / w_e epochs (its "epochs per sample"), so heavy edges are pulled more often;
 *  - a sampled edge (i, j) pulls i and j together along the gradient of log(1 / (1 + a d^2b)),
 *    then i is pushed away from `negativeRate` cells per sample drawn uniformly at random,
 *    along the gradient of log(1 - 1 / (1 + a d^2b)); every per-coordinate step is clipped to ±4;
 *  - the learning rate falls linearly from `learningRate` to 0 over the epochs.
 * Deterministic: the random draws come from a seeded xorshift generator and edges are visited in
 * a fixed order, so the same graph, start and options give the same layout.
 */
import { fitCurve } from "./curve.ts";
import type { FuzzyGraph } from "./graph.ts";

export interface LayoutOptions {
  epochs: number;
  minDist: number;
  /** negative samples per positive sample; 5 */
  negativeRate?: number;
  /** initial learning rate; 1 */
  learningRate?: number;
  /** seed of the negative sampling; 42 */
  seed?: number;
}

/**
 * The coefficients c of the attractive and repulsive gradients, c * (x_i - x_j), at squared
 * distance d2 > 0: d/dx of log(1 / (1 + a d^2b)) and of log(1 - 1 / (1 + a d^2b)) (the latter with
 * umap-learn's 0.001 guard against division by zero).
 */
function attraction(d2: number, a: number, b: number): number {
  const pd = Math.pow(d2, b);
  return (-2 * a * b * pd) / (d2 * (1 + a * pd));
}
function repulsion(d2: number, a: number, b: number): number {
  return (2 * b) / ((0.001 + d2) * (1 + a * Math.pow(d2, b)));
}

/** A tabulated gradient coefficient at r = distance * STEPS, 1 <= r < TABLE_SIZE: linear between entries. */
function interpolate(table: Float64Array, r: number): number {
  const i = r | 0, f = r - i;
  return table[i]! + f * (table[i + 1]! - table[i]!);
}

/**
 * Math.pow would cost most of an epoch, so the coefficients are read from tables at distances
 * 1/STEPS apart, interpolated linearly: relative error at most about 1e-3 at distances from 0.5
 * (min_dist 0.001 to 0.99), up to a few per cent below, where the curves bend most and the
 * repulsive steps are mostly clipped to ±4 anyway. Below the first step and beyond the last
 * (distance 64) they are computed exactly.
 */
const STEPS = 64;
const TABLE_SIZE = 64 * STEPS;

/**
 * Optimises a 2-D layout in place: `coords` is cells x 2, row-major (the start, e.g. from
 * `scaledStart`). `onProgress(fraction of epochs done)` is called about every 0.5 s and at the end.
 */
export function optimizeLayout(graph: FuzzyGraph, coords: Float64Array, opts: LayoutOptions, onProgress?: (fraction: number) => void): Float64Array {
  const n = graph.nCells;
  const nEpochs = Math.max(1, Math.round(opts.epochs));
  const negativeRate = opts.negativeRate ?? 5;
  const lr = opts.learningRate ?? 1;
  const { a, b } = fitCurve(opts.minDist);
  // the gradient coefficients, tabulated against distance (see STEPS)
  const attract = new Float64Array(TABLE_SIZE + 1), repel = new Float64Array(TABLE_SIZE + 1);
  for (let i = 1; i <= TABLE_SIZE; i++) {
    const d2 = (i / STEPS) ** 2;
    attract[i] = attraction(d2, a, b);
    repel[i] = repulsion(d2, a, b);
  }

  // edges kept and their schedules
  let wMax = 0;
  for (let p = 0; p < graph.weights.length; p++) wMax = Math.max(wMax, graph.weights[p]!);
  const cut = wMax / nEpochs;
  let m = 0;
  for (let p = 0; p < graph.weights.length; p++) if (graph.weights[p]! >= cut && graph.weights[p]! > 0) m++;
  const head = new Int32Array(m), tail = new Int32Array(m);
  const perSample = new Float64Array(m), nextSample = new Float64Array(m), nextNegative = new Float64Array(m);
  let e = 0;
  for (let i = 0; i < n; i++) {
    for (let p = graph.indptr[i]!; p < graph.indptr[i + 1]!; p++) {
      const w = graph.weights[p]!;
      if (!(w >= cut && w > 0)) continue;
      head[e] = i; tail[e] = graph.indices[p]!;
      const eps = wMax / w;
      perSample[e] = eps; nextSample[e] = eps;
      nextNegative[e] = eps / negativeRate;
      e++;
    }
  }

  let rng = ((opts.seed ?? 42) >>> 0) || 1;
  const drawScale = n / 4294967296;
  const emb = coords;
  let lastReport = performance.now();
  for (let epoch = 0; epoch < nEpochs; epoch++) {
    const alpha = lr * (1 - epoch / nEpochs);
    for (let s = 0; s < m; s++) {
      if (nextSample[s]! > epoch) continue;
      const j = head[s]!, jx = 2 * j, kx = 2 * tail[s]!;
      let cx = emb[jx]!, cy = emb[jx + 1]!;
      let ox = emb[kx]!, oy = emb[kx + 1]!;
      let dx = cx - ox, dy = cy - oy;
      let d2 = dx * dx + dy * dy;
      if (d2 > 0) {
        const r = Math.sqrt(d2) * STEPS;
        const coeff = r >= 1 && r < TABLE_SIZE ? interpolate(attract, r) : attraction(d2, a, b);
        let gx = coeff * dx, gy = coeff * dy;
        gx = (gx > 4 ? 4 : gx < -4 ? -4 : gx) * alpha;
        gy = (gy > 4 ? 4 : gy < -4 ? -4 : gy) * alpha;
        cx += gx; cy += gy;
        emb[kx] = ox - gx; emb[kx + 1] = oy - gy;
      }
      nextSample[s] = nextSample[s]! + perSample[s]!;
      const perNegative = perSample[s]! / negativeRate;
      const nNeg = Math.floor((epoch - nextNegative[s]!) / perNegative);
      for (let q = 0; q < nNeg; q++) {
        rng ^= rng << 13; rng ^= rng >>> 17; rng ^= rng << 5;
        const k = Math.floor((rng >>> 0) * drawScale);
        if (k === j) continue;
        ox = emb[2 * k]!; oy = emb[2 * k + 1]!;
        dx = cx - ox; dy = cy - oy;
        d2 = dx * dx + dy * dy;
        if (d2 > 0) {
          const r = Math.sqrt(d2) * STEPS;
          const coeff = r >= 1 && r < TABLE_SIZE ? interpolate(repel, r) : repulsion(d2, a, b);
          let gx = coeff * dx, gy = coeff * dy;
          gx = gx > 4 ? 4 : gx < -4 ? -4 : gx;
          gy = gy > 4 ? 4 : gy < -4 ? -4 : gy;
          cx += gx * alpha; cy += gy * alpha;
        }
      }
      if (nNeg > 0) nextNegative[s] = nextNegative[s]! + nNeg * perNegative;
      emb[jx] = cx; emb[jx + 1] = cy;
    }
    if (onProgress && epoch + 1 < nEpochs) {
      const now = performance.now();
      if (now - lastReport >= 500) { lastReport = now; onProgress((epoch + 1) / nEpochs); }
    }
  }
  onProgress?.(1);
  return emb;
}

/**
 * A start for `optimizeLayout`: the first two columns of a cells x dims row-major array (e.g.
 * the leading PCs), each scaled to [0, 10] as umap-learn scales its start.
 */
export function scaledStart(x: ArrayLike<number>, nCells: number, dims: number): Float64Array {
  const out = new Float64Array(nCells * 2);
  for (let c = 0; c < 2; c++) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < nCells; i++) { const v = c < dims ? x[i * dims + c]! : 0; if (v < lo) lo = v; if (v > hi) hi = v; }
    const scale = hi > lo ? 10 / (hi - lo) : 0;
    for (let i = 0; i < nCells; i++) out[2 * i + c] = c < dims ? (x[i * dims + c]! - lo) * scale : 0;
  }
  return out;
}
