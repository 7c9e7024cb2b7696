/**
 * A small radix-2 complex FFT (iterative, in place, split real/imaginary arrays) and the 2-D
 * transform built from it, for the t-SNE repulsion's grid convolutions. Lengths must be powers
 * of two. Forward uses e^{-2πi jk/n}; the inverse is unnormalised (divide by n, or n² in 2-D).
 */

interface Plan {
  n: number;
  /** bit-reversal permutation */
  rev: Int32Array;
  /**
   * twiddles of every stage, stage with half-length h at [h, 2h): cos(πj/h) and -sin(πj/h)
   * (the forward transform's e^{-iπj/h}; the inverse negates the imaginary part)
   */
  twRe: Float64Array;
  twIm: Float64Array;
}

const plans = new Map<number, Plan>();

function planOf(n: number): Plan {
  let p = plans.get(n);
  if (p) return p;
  if (!isPowerOfTwo(n)) throw new RangeError(`FFT length ${n} is not a power of two`);
  const bits = Math.round(Math.log2(n));
  const rev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) if (i & (1 << b)) r |= 1 << (bits - 1 - b);
    rev[i] = r;
  }
  const twRe = new Float64Array(Math.max(2, n)), twIm = new Float64Array(Math.max(2, n));
  for (let h = 1; h < n; h *= 2) {
    for (let j = 0; j < h; j++) { twRe[h + j] = Math.cos((Math.PI * j) / h); twIm[h + j] = -Math.sin((Math.PI * j) / h); }
  }
  p = { n, rev, twRe, twIm };
  plans.set(n, p);
  return p;
}

/** True when n is a positive power of two. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

/** The smallest power of two ≥ n (n ≥ 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** In-place complex FFT of the n values re/im[offset, offset + n). */
export function fft(re: Float64Array, im: Float64Array, n: number, inverse: boolean, offset: number): void {
  const { rev, twRe, twIm } = planOf(n);
  if (n === 1) return;
  for (let i = 0; i < n; i++) {
    const j = rev[i]!;
    if (j > i) {
      const a = offset + i, b = offset + j;
      const tr = re[a]!; re[a] = re[b]!; re[b] = tr;
      const ti = im[a]!; im[a] = im[b]!; im[b] = ti;
    }
  }
  const end = offset + n;
  // size-2 stage: twiddle 1
  for (let a = offset; a < end; a += 2) {
    const xr = re[a + 1]!, xi = im[a + 1]!, ar = re[a]!, ai = im[a]!;
    re[a + 1] = ar - xr; im[a + 1] = ai - xi;
    re[a] = ar + xr; im[a] = ai + xi;
  }
  // size-4 stage: twiddles 1 and ∓i
  if (n >= 4) {
    const s = inverse ? 1 : -1;
    for (let a = offset; a < end; a += 4) {
      let xr = re[a + 2]!, xi = im[a + 2]!, ar = re[a]!, ai = im[a]!;
      re[a + 2] = ar - xr; im[a + 2] = ai - xi;
      re[a] = ar + xr; im[a] = ai + xi;
      // (br + i bi) * (s i) = -s bi + i s br
      const br = re[a + 3]!, bi = im[a + 3]!;
      xr = -s * bi; xi = s * br;
      ar = re[a + 1]!; ai = im[a + 1]!;
      re[a + 3] = ar - xr; im[a + 3] = ai - xi;
      re[a + 1] = ar + xr; im[a + 1] = ai + xi;
    }
  }
  const s = inverse ? -1 : 1;
  for (let half = 4; half < n; half <<= 1) {
    const size = half << 1;
    for (let start = offset; start < end; start += size) {
      for (let j = 0; j < half; j++) {
        const wr = twRe[half + j]!, wi = s * twIm[half + j]!;
        const a = start + j, b = a + half;
        const br = re[b]!, bi = im[b]!;
        const xr = br * wr - bi * wi;
        const xi = br * wi + bi * wr;
        const ar = re[a]!, ai = im[a]!;
        re[b] = ar - xr; im[b] = ai - xi;
        re[a] = ar + xr; im[a] = ai + xi;
      }
    }
  }
}

/** Square transpose of an n x n row-major array, in place (in 16 x 16 blocks). */
function transpose(x: Float64Array, n: number): void {
  const B = 16;
  for (let bi = 0; bi < n; bi += B) {
    for (let bj = bi; bj < n; bj += B) {
      const iEnd = Math.min(bi + B, n), jEnd = Math.min(bj + B, n);
      for (let i = bi; i < iEnd; i++) {
        for (let j = bi === bj ? i + 1 : bj; j < jEnd; j++) {
          const a = i * n + j, b = j * n + i;
          const t = x[a]!; x[a] = x[b]!; x[b] = t;
        }
      }
    }
  }
}

/**
 * FFT along the first index of an n x n row-major complex array, for the columns [0, cols)
 * only: every butterfly combines two whole rows with one twiddle, so the inner loop runs over
 * contiguous memory (much faster in JS than strided or per-transform loops).
 */
function fftAlongRows(re: Float64Array, im: Float64Array, n: number, inverse: boolean, cols: number): void {
  const { rev, twRe, twIm } = planOf(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i]!;
    if (j > i) {
      const a = i * n, b = j * n;
      for (let c = 0; c < cols; c++) {
        const tr = re[a + c]!; re[a + c] = re[b + c]!; re[b + c] = tr;
        const ti = im[a + c]!; im[a + c] = im[b + c]!; im[b + c] = ti;
      }
    }
  }
  const s = inverse ? -1 : 1;
  let half = 1;
  if (Math.round(Math.log2(n)) % 2 === 1) {
    // one radix-2 stage (twiddle 1) so that radix-4 passes finish the rest
    for (let start = 0; start < n; start += 2) {
      const a = start * n, b = a + n;
      for (let c = 0; c < cols; c++) {
        const br = re[b + c]!, bi = im[b + c]!, ar = re[a + c]!, ai = im[a + c]!;
        re[b + c] = ar - br; im[b + c] = ai - bi;
        re[a + c] = ar + br; im[a + c] = ai + bi;
      }
    }
    half = 2;
  }
  // two radix-2 stages (half-lengths h and 2h) per pass over the data: rows a0..a3 = start + j
  // + {0, h, 2h, 3h}; the first stage pairs (a0, a1) and (a2, a3) with twiddle w1, the second
  // (a0, a2) with w2 and (a1, a3) with w2 times ∓i
  for (; half < n; half <<= 2) {
    const h = half, size = 4 * h;
    for (let j = 0; j < h; j++) {
      const w1r = twRe[h + j]!, w1i = s * twIm[h + j]!;
      const w2r = twRe[2 * h + j]!, w2i = s * twIm[2 * h + j]!;
      // w3 = w2 * (-i) forward, w2 * (+i) inverse: -i (x + iy) = y - ix
      const w3r = inverse ? -w2i : w2i, w3i = inverse ? w2r : -w2r;
      for (let start = 0; start < n; start += size) {
        const a0 = (start + j) * n, a1 = a0 + h * n, a2 = a1 + h * n, a3 = a2 + h * n;
        for (let c = 0; c < cols; c++) {
          const x1r = re[a1 + c]!, x1i = im[a1 + c]!, x3r = re[a3 + c]!, x3i = im[a3 + c]!;
          const t1r = x1r * w1r - x1i * w1i, t1i = x1r * w1i + x1i * w1r;
          const t3r = x3r * w1r - x3i * w1i, t3i = x3r * w1i + x3i * w1r;
          const x0r = re[a0 + c]!, x0i = im[a0 + c]!, x2r = re[a2 + c]!, x2i = im[a2 + c]!;
          const y0r = x0r + t1r, y0i = x0i + t1i, y1r = x0r - t1r, y1i = x0i - t1i;
          const y2r = x2r + t3r, y2i = x2i + t3i, y3r = x2r - t3r, y3i = x2i - t3i;
          const u2r = y2r * w2r - y2i * w2i, u2i = y2r * w2i + y2i * w2r;
          const u3r = y3r * w3r - y3i * w3i, u3i = y3r * w3i + y3i * w3r;
          re[a0 + c] = y0r + u2r; im[a0 + c] = y0i + u2i;
          re[a2 + c] = y0r - u2r; im[a2 + c] = y0i - u2i;
          re[a1 + c] = y1r + u3r; im[a1 + c] = y1i + u3i;
          re[a3 + c] = y1r - u3r; im[a3 + c] = y1i - u3i;
        }
      }
    }
  }
}

/**
 * Forward 2-D FFT of an n x n row-major complex array, in place, leaving the spectrum
 * TRANSPOSED (element [u * n + v] holds frequency (v, u)): pointwise products of spectra do
 * not care, and `inverseFft2dFromTransposed` undoes it, saving a transpose each way. Only the
 * first `colsIn` columns of the input may be non-zero (the others are taken as zero).
 */
export function forwardFft2dTransposed(re: Float64Array, im: Float64Array, n: number, colsIn = n): void {
  fftAlongRows(re, im, n, false, colsIn);
  transpose(re, n); transpose(im, n);
  fftAlongRows(re, im, n, false, n);
}

/**
 * Inverse (unnormalised) of `forwardFft2dTransposed`: takes a transposed spectrum and leaves
 * the n x n row-major signal times n². Only the first `colsOut` columns of the result are
 * computed (the others hold partial results).
 */
export function inverseFft2dFromTransposed(re: Float64Array, im: Float64Array, n: number, colsOut = n): void {
  fftAlongRows(re, im, n, true, n);
  transpose(re, n); transpose(im, n);
  fftAlongRows(re, im, n, true, colsOut);
}

/** In-place 2-D FFT of an n x n row-major complex array (ordinary layout; inverse unnormalised). */
export function fft2d(re: Float64Array, im: Float64Array, n: number, inverse = false): void {
  fftAlongRows(re, im, n, inverse, n);
  transpose(re, n); transpose(im, n);
  fftAlongRows(re, im, n, inverse, n);
  transpose(re, n); transpose(im, n);
}
