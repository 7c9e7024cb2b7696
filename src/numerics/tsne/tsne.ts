/**
 * t-SNE (van der Maaten & Hinton 2008) on precomputed nearest neighbours, with the repulsive
 * forces from FFT-accelerated interpolation (FIt-SNE, Linderman et al. 2019; see
 * interpolation.ts), so each iteration costs O(n + nnz(P) + grid), not the O(n log n) of
 * Barnes-Hut. The optimiser is the standard one (as bhtsne, Rtsne, qdtsne): early exaggeration,
 * momentum switch, delta-bar-delta gains; the gradient omits the constant factor 4, so the
 * learning rate means what it means to Rtsne (eta, default 200).
 *
 * Input affinities: each cell's conditional probabilities over its k neighbours, calibrated by
 * bisection to the perplexity (Gaussian on squared distances), symmetrised P = (P + Pᵀ) / 2n.
 * Deterministic: the same input gives the same output (no threads, seeded start).
 */
import { Random } from "../random.ts";
import { nextPowerOfTwo } from "./fft.ts";
import { exactRepulsion, FftRepulsion, DEFAULT_INTERPOLATION, type InterpolationSettings } from "./interpolation.ts";

/** Iterations when the caller does not say: 250 exaggerated + 500 (openTSNE's defaults). */
export const DEFAULT_TSNE_ITERATIONS = 750;

/** Up to this many cells the repulsion is summed exactly (O(n²), cheaper than the FFT grid there). */
export const EXACT_REPULSION_MAX_CELLS = 1000;

/** The neighbours t-SNE needs (structurally scran.ts's Neighbors): cells x k, nearest first. */
export interface TsneNeighbors {
  nCells: number;
  k: number;
  indices: Int32Array;
  distances: Float64Array;
}

export interface TsneOptions {
  perplexity: number;
  /**
   * Rtsne's eta (default 200). The rate used is at least n / 12 (the "auto" rate of openTSNE
   * and FIt-SNE, after Belkina et al. 2019): with 200 alone, large data sets stop before they
   * have converged.
   */
  learningRate?: number;
  /** total iterations including early exaggeration (default 750, openTSNE's 250 + 500) */
  maxIterations?: number;
  /** early exaggeration factor and its iterations (defaults 12 and 250); momentum switches then too */
  exaggeration?: number;
  exaggerationIterations?: number;
  /** momentum before/after the switch (0.5, 0.8) */
  momentum?: [number, number];
  /** cells x 2 starting layout (e.g. the first two PCs); rescaled to sd 1e-4 along x. Default: seeded Gaussian, sd 1e-4 */
  init?: Float64Array;
  seed?: number;
  interpolation?: InterpolationSettings;
}

/** Upper triangle (j > i) of the symmetric joint probabilities P, in compressed rows. */
export interface Affinities {
  n: number;
  rowPtr: Int32Array;
  cols: Int32Array;
  vals: Float64Array;
}

/**
 * Conditional probabilities p_{j|i} over each cell's k neighbours at the given perplexity
 * (bisection on the Gaussian precision until the entropy is within 1e-5 of log(perplexity)).
 * Returns cells x k, in the neighbours' order.
 */
export function conditionalProbabilities(nn: TsneNeighbors, perplexity: number): Float64Array {
  const { nCells: n, k, distances } = nn;
  const out = new Float64Array(n * k);
  const target = Math.log(Math.min(perplexity, k));
  const d2 = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    let dmin = Infinity;
    for (let j = 0; j < k; j++) { const d = distances[i * k + j]!; d2[j] = d * d; if (d2[j]! < dmin) dmin = d2[j]!; }
    for (let j = 0; j < k; j++) d2[j] = d2[j]! - dmin;
    let beta = 1, lo = 0, hi = Infinity;
    for (let it = 0; it < 200; it++) {
      let sum = 0, dot = 0;
      for (let j = 0; j < k; j++) { const e = Math.exp(-beta * d2[j]!); sum += e; dot += e * d2[j]!; }
      const entropy = Math.log(sum) + (beta * dot) / sum;
      const diff = entropy - target;
      if (Math.abs(diff) < 1e-5) break;
      if (diff > 0) { lo = beta; beta = hi === Infinity ? beta * 2 : (beta + hi) / 2; }
      else { hi = beta; beta = (beta + lo) / 2; }
    }
    let sum = 0;
    for (let j = 0; j < k; j++) { const e = Math.exp(-beta * d2[j]!); out[i * k + j] = e; sum += e; }
    for (let j = 0; j < k; j++) out[i * k + j] = out[i * k + j]! / sum;
  }
  return out;
}

/** P = (P_cond + P_condᵀ) / 2n, as its upper triangle. */
export function symmetricAffinities(nn: TsneNeighbors, cond: Float64Array): Affinities {
  const { nCells: n, k, indices } = nn;
  // the transpose: for each cell j, the cells i that have j among their neighbours (ascending i)
  const tPtr = new Int32Array(n + 1);
  for (let t = 0; t < n * k; t++) { const j = indices[t]! + 1; tPtr[j] = tPtr[j]! + 1; }
  for (let j = 0; j < n; j++) tPtr[j + 1] = tPtr[j + 1]! + tPtr[j]!;
  const tFrom = new Int32Array(n * k), tVal = new Float64Array(n * k);
  const fill = tPtr.slice(0, n);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < k; a++) {
      const j = indices[i * k + a]!;
      const at = fill[j]!++;
      tFrom[at] = i; tVal[at] = cond[i * k + a]!;
    }
  }
  const rowPtr = new Int32Array(n + 1);
  // each unordered pair once: at most one per directed neighbour edge
  const cols = new Int32Array(n * k), vals = new Float64Array(n * k);
  const order = new Float64Array(k);
  const scale = 1 / (2 * n);
  let nnz = 0;
  for (let i = 0; i < n; i++) {
    // this row's own neighbours, sorted by index (key = index * (k + 1) + position)
    for (let a = 0; a < k; a++) order[a] = indices[i * k + a]! * (k + 1) + a;
    order.sort();
    let a = 0, b = tPtr[i]!;
    const bEnd = tPtr[i + 1]!;
    while (a < k || b < bEnd) {
      const ja = a < k ? Math.floor(order[a]! / (k + 1)) : Infinity;
      const jb = b < bEnd ? tFrom[b]! : Infinity;
      let j: number, v = 0;
      if (ja <= jb) { j = ja; v += cond[i * k + (order[a]! - ja * (k + 1))]!; a++; }
      else j = jb;
      if (jb === j) { v += tVal[b]!; b++; }
      if (j > i) { cols[nnz] = j; vals[nnz] = v * scale; nnz++; }
    }
    rowPtr[i + 1] = nnz;
  }
  return { n, rowPtr, cols: cols.slice(0, nnz), vals: vals.slice(0, nnz) };
}

/**
 * Adds the attractive part of the gradient, exaggeration · Σ_j p_ij q_ij (y_i - y_j), into grad
 * (each pair once, from the upper triangle).
 */
function addAttraction(P: Affinities, y: Float64Array, exaggeration: number, grad: Float64Array): void {
  const { n, rowPtr, cols, vals } = P;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i]!, yi = y[2 * i + 1]!;
    let gx = 0, gy = 0;
    for (let e = rowPtr[i]!; e < rowPtr[i + 1]!; e++) {
      const j = cols[e]!;
      const dx = xi - y[2 * j]!, dy = yi - y[2 * j + 1]!;
      const f = (exaggeration * vals[e]!) / (1 + dx * dx + dy * dy);
      gx += f * dx; gy += f * dy;
      grad[2 * j] = grad[2 * j]! - f * dx;
      grad[2 * j + 1] = grad[2 * j + 1]! - f * dy;
    }
    grad[2 * i] = grad[2 * i]! + gx;
    grad[2 * i + 1] = grad[2 * i + 1]! + gy;
  }
}

/** The starting layout: init rescaled (centred, sd 1e-4 along x), or a seeded Gaussian with sd 1e-4. */
function startLayout(n: number, init: Float64Array | undefined, seed: number): Float64Array {
  const y = new Float64Array(2 * n);
  if (init && init.length === 2 * n) {
    let mx = 0, my = 0;
    for (let i = 0; i < n; i++) { mx += init[2 * i]!; my += init[2 * i + 1]!; }
    mx /= n; my /= n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (init[2 * i]! - mx) ** 2;
    const sd = Math.sqrt(ss / Math.max(1, n - 1));
    if (sd > 0 && Number.isFinite(sd)) {
      const f = 1e-4 / sd;
      for (let i = 0; i < n; i++) { y[2 * i] = (init[2 * i]! - mx) * f; y[2 * i + 1] = (init[2 * i + 1]! - my) * f; }
      return y;
    }
  }
  const rng = new Random(seed);
  for (let t = 0; t < 2 * n; t += 2) {
    // Box-Muller
    const u = 1 - rng.next(), v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u)) * 1e-4;
    y[t] = r * Math.cos(2 * Math.PI * v);
    y[t + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return y;
}

/**
 * t-SNE layout (cells x 2, row-major) from precomputed neighbours. `onProgress(fraction)` is
 * called about every half second with the fraction of iterations done.
 */
export function tsne(nn: TsneNeighbors, opts: TsneOptions, onProgress?: (fraction: number) => void): Float64Array {
  const n = nn.nCells;
  if (n < 2 || nn.k < 1) return new Float64Array(2 * n);
  const eta = Math.max(opts.learningRate ?? 200, n / 12);
  const maxIterations = opts.maxIterations ?? DEFAULT_TSNE_ITERATIONS;
  const exaggeration = opts.exaggeration ?? 12;
  const exIterations = opts.exaggerationIterations ?? 250;
  const [mom0, mom1] = opts.momentum ?? [0.5, 0.8];
  const P = symmetricAffinities(nn, conditionalProbabilities(nn, opts.perplexity));
  const y = startLayout(n, opts.init, opts.seed ?? 42);
  // the FFT grid may grow to max(256², 4n) cells, so its cost stays O(n)
  const repulsion = new FftRepulsion(opts.interpolation ?? { ...DEFAULT_INTERPOLATION, maxFftSize: Math.max(DEFAULT_INTERPOLATION.maxFftSize, nextPowerOfTwo(Math.ceil(Math.sqrt(n)))) });
  const grad = new Float64Array(2 * n), rep = new Float64Array(2 * n);
  const update = new Float64Array(2 * n), gains = new Float64Array(2 * n).fill(1);
  let last = performance.now();
  for (let it = 0; it < maxIterations; it++) {
    const early = it < exIterations;
    const momentum = early ? mom0 : mom1;
    grad.fill(0);
    addAttraction(P, y, early ? exaggeration : 1, grad);
    const z = n <= EXACT_REPULSION_MAX_CELLS ? exactRepulsion(y, n, rep) : repulsion.compute(y, n, rep);
    const invZ = z > 0 ? 1 / z : 0;
    let mx = 0, my = 0;
    for (let t = 0; t < 2 * n; t++) {
      const g = grad[t]! - rep[t]! * invZ;
      const u = update[t]!;
      let gain = (g > 0) !== (u > 0) ? gains[t]! + 0.2 : gains[t]! * 0.8;
      if (gain < 0.01) gain = 0.01;
      gains[t] = gain;
      const nu = momentum * u - eta * gain * g;
      update[t] = nu;
      y[t] = y[t]! + nu;
      if (t & 1) my += y[t]!; else mx += y[t]!;
    }
    mx /= n; my /= n;
    for (let i = 0; i < n; i++) { y[2 * i] = y[2 * i]! - mx; y[2 * i + 1] = y[2 * i + 1]! - my; }
    if (onProgress && (it & 7) === 7) {
      const now = performance.now();
      if (now - last > 500) { last = now; onProgress((it + 1) / maxIterations); }
    }
  }
  onProgress?.(1);
  return y;
}
