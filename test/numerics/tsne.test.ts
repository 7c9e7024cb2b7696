/**
 * The FFT t-SNE's parts: the 2-D FFT against a direct DFT, the interpolated repulsion against
 * the exact O(n²) sums, the perplexity calibration, and the whole layout on separated clusters.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fft, fft2d, forwardFft2dTransposed, inverseFft2dFromTransposed } from "../../src/numerics/tsne/fft.ts";
import { DEFAULT_INTERPOLATION, exactRepulsion, FftRepulsion } from "../../src/numerics/tsne/interpolation.ts";
import { conditionalProbabilities, symmetricAffinities, tsne, type TsneNeighbors } from "../../src/numerics/tsne/tsne.ts";
import { Random } from "../../src/numerics/random.ts";

const rng = new Random(7);
const gauss = () => { const u = 1 - rng.next(), v = rng.next(); return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v); };

function dft2d(re: Float64Array, im: Float64Array, n: number, sign: number): [Float64Array, Float64Array] {
  const outRe = new Float64Array(n * n), outIm = new Float64Array(n * n);
  for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) {
    let sr = 0, si = 0;
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
      const a = (sign * 2 * Math.PI * (u * r + v * c)) / n;
      const xr = re[r * n + c]!, xi = im[r * n + c]!;
      sr += xr * Math.cos(a) - xi * Math.sin(a);
      si += xr * Math.sin(a) + xi * Math.cos(a);
    }
    outRe[u * n + v] = sr; outIm[u * n + v] = si;
  }
  return [outRe, outIm];
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };

test("1-D FFT equals the direct DFT (lengths 1 to 64)", () => {
  for (const n of [1, 2, 4, 8, 32, 64]) {
    const re = Float64Array.from({ length: n }, gauss), im = Float64Array.from({ length: n }, gauss);
    const wantRe = new Float64Array(n), wantIm = new Float64Array(n);
    for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * j * k) / n;
      wantRe[k] = wantRe[k]! + re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
      wantIm[k] = wantIm[k]! + re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
    }
    fft(re, im, n, false, 0);
    assert.ok(maxAbsDiff(re, wantRe) < 1e-9 && maxAbsDiff(im, wantIm) < 1e-9, `n = ${n}`);
  }
  assert.throws(() => fft(new Float64Array(6), new Float64Array(6), 6, false, 0), RangeError);
});

test("2-D FFT equals the direct DFT, forward and inverse; the transposed pair round-trips", () => {
  for (const n of [2, 8, 16]) {
    const re = Float64Array.from({ length: n * n }, gauss), im = Float64Array.from({ length: n * n }, gauss);
    const [wantRe, wantIm] = dft2d(re, im, n, -1);
    const [invRe, invIm] = dft2d(re, im, n, 1);
    const fRe = re.slice(), fIm = im.slice();
    fft2d(fRe, fIm, n);
    assert.ok(maxAbsDiff(fRe, wantRe) < 1e-9 && maxAbsDiff(fIm, wantIm) < 1e-9, `forward n = ${n}`);
    const iRe = re.slice(), iIm = im.slice();
    fft2d(iRe, iIm, n, true);
    assert.ok(maxAbsDiff(iRe, invRe) < 1e-9 && maxAbsDiff(iIm, invIm) < 1e-9, `inverse n = ${n}`);
    // transposed layout: element [u * n + v] is frequency (v, u)
    const tRe = re.slice(), tIm = im.slice();
    forwardFft2dTransposed(tRe, tIm, n);
    for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) {
      assert.ok(Math.abs(tRe[u * n + v]! - wantRe[v * n + u]!) < 1e-9 && Math.abs(tIm[u * n + v]! - wantIm[v * n + u]!) < 1e-9);
    }
    inverseFft2dFromTransposed(tRe, tIm, n);
    for (let t = 0; t < n * n; t++) { tRe[t] = tRe[t]! / (n * n); tIm[t] = tIm[t]! / (n * n); }
    assert.ok(maxAbsDiff(tRe, re) < 1e-9 && maxAbsDiff(tIm, im) < 1e-9, `round trip n = ${n}`);
  }
});

test("2-D FFT with zero columns skipped equals the full transform", () => {
  const n = 16, g = 8;
  const re = new Float64Array(n * n), im = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < g; c++) { re[r * n + c] = gauss(); im[r * n + c] = gauss(); }
  const a = [re.slice(), im.slice()] as const, b = [re.slice(), im.slice()] as const;
  forwardFft2dTransposed(a[0], a[1], n);
  forwardFft2dTransposed(b[0], b[1], n, g);
  assert.ok(maxAbsDiff(a[0], b[0]) < 1e-12 && maxAbsDiff(a[1], b[1]) < 1e-12);
  inverseFft2dFromTransposed(a[0], a[1], n);
  inverseFft2dFromTransposed(b[0], b[1], n, g);
  for (let r = 0; r < n; r++) for (let c = 0; c < g; c++) assert.ok(Math.abs(a[0][r * n + c]! - b[0][r * n + c]!) < 1e-9);
});

test("interpolated repulsion matches the exact O(n²) sums on 500 clustered points", () => {
  const n = 500;
  // scale 12 (extent ~100): with the default FFT cap (256) the spacing grows past 0.5 and the
  // error with it (checked loosely); without the cap the spacing stays ≤ 0.5 (error ~3%)
  for (const [scale, settings, tolerance] of [
    [0.01, undefined, 2e-2], [1, undefined, 2e-2], [5, undefined, 2e-2],
    [12, { ...DEFAULT_INTERPOLATION, maxFftSize: 1024 }, 5e-2], [12, undefined, 0.25],
  ] as const) {
    const y = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      const c = i % 5;
      y[2 * i] = scale * (3 * Math.cos(c) + 0.5 * gauss());
      y[2 * i + 1] = scale * (3 * Math.sin(c) + 0.5 * gauss());
    }
    const exact = new Float64Array(2 * n), approx = new Float64Array(2 * n);
    const zExact = exactRepulsion(y, n, exact);
    const rep = new FftRepulsion(settings);
    const z = rep.compute(y, n, approx);
    let num = 0, den = 0;
    for (let t = 0; t < 2 * n; t++) { num += (approx[t]! - exact[t]!) ** 2; den += exact[t]! ** 2; }
    const forceError = Math.sqrt(num / den), zError = Math.abs(z - zExact) / zExact;
    console.log(`extent ~${(scale * 8).toFixed(2)}: grid ${JSON.stringify(rep.grid)}, force error ${forceError.toExponential(2)}, Z error ${zError.toExponential(2)}`);
    assert.ok(forceError < tolerance, `scale ${scale}: relative force error ${forceError}`);
    assert.ok(zError < tolerance / 10, `scale ${scale}: relative Z error ${zError}`);
  }
});

test("exact repulsion equals the naive double sum", () => {
  const n = 50;
  const y = Float64Array.from({ length: 2 * n }, () => 3 * gauss());
  const rep = new Float64Array(2 * n);
  const z = exactRepulsion(y, n, rep);
  let zWant = 0;
  for (let i = 0; i < n; i++) {
    let fx = 0, fy = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dx = y[2 * i]! - y[2 * j]!, dy = y[2 * i + 1]! - y[2 * j + 1]!;
      const q = 1 / (1 + dx * dx + dy * dy);
      zWant += q; fx += q * q * dx; fy += q * q * dy;
    }
    assert.ok(Math.abs(rep[2 * i]! - fx) < 1e-12 && Math.abs(rep[2 * i + 1]! - fy) < 1e-12);
  }
  assert.ok(Math.abs(z - zWant) < 1e-9 * zWant);
});

test("tiny inputs (1 to 40 cells, exact repulsion) give finite, bounded layouts", () => {
  for (const n of [1, 2, 3, 10, 40]) {
    const k = Math.max(1, Math.min(n - 1, 9));
    const indices = new Int32Array(n * k), distances = new Float64Array(n * k);
    for (let i = 0; i < n; i++) for (let a = 0; a < k; a++) { indices[i * k + a] = (i + a + 1) % n; distances[i * k + a] = a + 1; }
    const y = tsne({ nCells: n, k, indices, distances }, { perplexity: Math.max(1, k / 3) });
    assert.equal(y.length, 2 * n);
    for (const v of y) assert.ok(Number.isFinite(v) && Math.abs(v) < 1000, `n = ${n}: ${v}`);
  }
});

/** Exact k nearest neighbours (excluding self) of an n x d array, as TsneNeighbors. */
function knn(x: Float64Array, n: number, d: number, k: number): TsneNeighbors {
  const indices = new Int32Array(n * k), distances = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const order = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i);
    const dist = (j: number) => { let s = 0; for (let t = 0; t < d; t++) s += (x[i * d + t]! - x[j * d + t]!) ** 2; return Math.sqrt(s); };
    const ds = new Float64Array(n);
    for (const j of order) ds[j] = dist(j);
    order.sort((a, b) => ds[a]! - ds[b]!);
    for (let a = 0; a < k; a++) { indices[i * k + a] = order[a]!; distances[i * k + a] = ds[order[a]!]!; }
  }
  return { nCells: n, k, indices, distances };
}

function blobs(n: number, d: number, groups: number): { x: Float64Array; label: Int32Array } {
  const x = new Float64Array(n * d), label = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const g = i % groups;
    label[i] = g;
    for (let t = 0; t < d; t++) x[i * d + t] = (t === g ? 10 : 0) + gauss();
  }
  return { x, label };
}

test("perplexity calibration: each row sums to 1 with entropy log(perplexity); P is symmetric and sums to 1", () => {
  const { x } = blobs(300, 5, 3);
  const nn = knn(x, 300, 5, 30);
  const cond = conditionalProbabilities(nn, 10);
  for (let i = 0; i < 300; i++) {
    let s = 0, h = 0;
    for (let a = 0; a < 30; a++) { const p = cond[i * 30 + a]!; s += p; if (p > 0) h -= p * Math.log(p); }
    assert.ok(Math.abs(s - 1) < 1e-12);
    assert.ok(Math.abs(h - Math.log(10)) < 1e-4, `row ${i}: entropy ${h}`);
  }
  const P = symmetricAffinities(nn, cond);
  let total = 0;
  for (let i = 0; i < 300; i++) for (let e = P.rowPtr[i]!; e < P.rowPtr[i + 1]!; e++) {
    assert.ok(P.cols[e]! > i);
    if (e > P.rowPtr[i]!) assert.ok(P.cols[e]! > P.cols[e - 1]!, "columns ascending, no duplicates");
    total += 2 * P.vals[e]!;
  }
  assert.ok(Math.abs(total - 1) < 1e-12, `sum ${total}`);
  // one pair by hand: p_ij = (p_j|i + p_i|j) / 2n
  const i = 0, j = nn.indices[0]!;
  const back = Array.from(nn.indices.subarray(j * 30, j * 30 + 30)).indexOf(i);
  const want = (cond[0]! + (back >= 0 ? cond[j * 30 + back]! : 0)) / 600;
  const e = Array.from(P.cols.subarray(P.rowPtr[Math.min(i, j)]!, P.rowPtr[Math.min(i, j) + 1]!)).indexOf(Math.max(i, j));
  assert.ok(Math.abs(P.vals[P.rowPtr[Math.min(i, j)]! + e]! - want) < 1e-15);
});

test("t-SNE (FFT repulsion: more than 1000 cells) separates clusters, is deterministic, and reports progress", () => {
  const n = 1200, groups = 4;
  const { x, label } = blobs(n, 6, groups);
  const nn = knn(x, n, 6, 45);
  const fractions: number[] = [];
  const y = tsne(nn, { perplexity: 15, maxIterations: 500 }, (f) => fractions.push(f));
  assert.equal(fractions.at(-1), 1);
  for (const v of y) assert.ok(Number.isFinite(v));
  // each point's nearest 2-D neighbour is in its own cluster
  let same = 0;
  for (let i = 0; i < n; i++) {
    let best = -1, bd = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = (y[2 * i]! - y[2 * j]!) ** 2 + (y[2 * i + 1]! - y[2 * j + 1]!) ** 2;
      if (d < bd) { bd = d; best = j; }
    }
    if (label[best] === label[i]) same++;
  }
  assert.ok(same / n > 0.98, `${same} of ${n}`);
  assert.deepEqual(tsne(nn, { perplexity: 15, maxIterations: 500 }), y);
  // a PCA-like start (the first two coordinates) is used and is deterministic too
  const init = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) { init[2 * i] = x[i * 6]!; init[2 * i + 1] = x[i * 6 + 1]!; }
  const a = tsne(nn, { perplexity: 15, maxIterations: 300, init });
  assert.deepEqual(tsne(nn, { perplexity: 15, maxIterations: 300, init }), a);
  assert.notDeepEqual(a, tsne(nn, { perplexity: 15, maxIterations: 300 }));
});
