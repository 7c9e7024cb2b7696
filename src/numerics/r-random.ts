/**
 * R's default random number generation, reimplemented so that a computation seeded as R
 * seeds it draws the same numbers: `RNGkind()` = "Mersenne-Twister", "Inversion",
 * "Rejection" (R ≥ 3.6). Written from the algorithms R documents (?RNGkind, ?set.seed,
 * ?sample) and checked against R 4.2.2 in test/numerics/r-random.test.ts:
 * - `set.seed(s)`: s is scrambled by 50 steps of the LCG seed ← 69069·seed + 1 (mod 2³²),
 *   then 624 further steps fill the Mersenne-Twister state, whose position is set to "state
 *   exhausted" so the first draw regenerates it;
 * - `unif_rand()`: MT19937's tempered 32-bit output × 2.3283064365386963e-10, kept inside
 *   (0, 1);
 * - `norm_rand()` (Inversion): u = ⌊2²⁷·U₁⌋ + U₂, z = Φ⁻¹(u / 2²⁷) — two uniforms per normal;
 * - `R_unif_index(n)` (Rejection): draw ⌈log₂ n⌉ random bits, 16 at a time from
 *   ⌊65536·U⌋, until the value is below n;
 * - `sample.int(n, k)` without replacement (k ≥ 2): a partial shuffle that takes position j
 *   from the remaining pool and moves the pool's last element into its place.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
/** 1 / (2³² − 1), R's bound keeping uniforms away from 0 and 1 */
const I2_32M1 = 2.328306437080797e-10;
const BIG = 134217728; // 2^27

export class RRandom {
  private readonly mt = new Uint32Array(N);
  private mti = N;

  /** The state `set.seed(seed)` leaves (seed: a 32-bit integer, as R's `as.integer`). */
  constructor(seed: number) {
    let s = seed >>> 0;
    const step = (x: number): number => (Math.imul(69069, x) + 1) >>> 0;
    for (let j = 0; j < 50; j++) s = step(s);
    s = step(s); // the first word seeds R's stored position, which set.seed then resets to 624
    for (let j = 0; j < N; j++) {
      s = step(s);
      this.mt[j] = s;
    }
    this.mti = N;
  }

  private genrand(): number {
    const mt = this.mt;
    if (this.mti >= N) {
      let kk = 0;
      let y: number;
      for (; kk < N - M; kk++) {
        y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK);
        mt[kk] = mt[kk + M]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      for (; kk < N - 1; kk++) {
        y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK);
        mt[kk] = mt[kk + (M - N)]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      y = (mt[N - 1]! & UPPER_MASK) | (mt[0]! & LOWER_MASK);
      mt[N - 1] = mt[M - 1]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      this.mti = 0;
    }
    let y = mt[this.mti++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return (y >>> 0) * 2.3283064365386963e-10;
  }

  /** R's `unif_rand()`: `runif(1)`. */
  unifRand(): number {
    const x = this.genrand();
    if (x <= 0) return 0.5 * I2_32M1;
    if (1 - x <= 0) return 1 - 0.5 * I2_32M1;
    return x;
  }

  /** R's `norm_rand()` with the Inversion method: `rnorm(1)`. */
  normRand(): number {
    let u = this.unifRand();
    u = Math.trunc(BIG * u) + this.unifRand();
    return qnorm(u / BIG);
  }

  /** R's `R_unif_index(n)` with Rejection sampling: a uniform integer in [0, n). */
  unifIndex(n: number): number {
    if (n <= 0) return 0;
    const bits = Math.ceil(Math.log2(n));
    for (;;) {
      // at most 31 bits are ever needed here (n < 2^31): two 16-bit chunks fit a double exactly
      let v = 0;
      for (let b = 0; b <= bits; b += 16) v = 65536 * v + Math.floor(this.unifRand() * 65536);
      const dv = v % 2 ** bits;
      if (dv < n) return dv;
    }
  }

  /**
   * R's `sample.int(n, k)` (no replacement, no weights, not the hash variant used for
   * n > 1e7), as 0-based indices in draw order. k > n is R's error; the caller checks it.
   */
  sampleInt(n: number, k: number): Int32Array {
    if (k > n) throw new RangeError(`cannot take a sample of ${k} from ${n}`);
    const out = new Int32Array(k);
    if (k < 2) {
      for (let i = 0; i < k; i++) out[i] = this.unifIndex(n);
      return out;
    }
    const pool = Int32Array.from({ length: n }, (_, i) => i);
    let left = n;
    for (let i = 0; i < k; i++) {
      const j = this.unifIndex(left);
      out[i] = pool[j]!;
      pool[j] = pool[--left]!;
    }
    return out;
  }
}

/**
 * The standard normal quantile Φ⁻¹(p) for 0 < p < 1, by Wichura's algorithm AS 241
 * (PPND16, Applied Statistics 37, 1988), relative accuracy about 1e-16 — the method R's
 * `qnorm` uses.
 */
export function qnorm(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return -Infinity;
    if (p === 1) return Infinity;
    return NaN;
  }
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (
      (q *
        (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r +
          45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r +
          133.14166789178437745) * r + 3.387132872796366608)) /
      (((((((r * 5226.495278852545925 + 28729.085735721942674) * r + 39307.89580009271061) * r +
        21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r +
        42.313330701600911252) * r + 1)
    );
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let val: number;
  if (r <= 5) {
    r -= 1.6;
    val =
      (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r + 0.24178072517745061177) * r +
        1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r +
        4.6303378461565452959) * r + 1.42343711074968357734) /
      (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r +
        0.14810397642748007459) * r + 0.68976733498510000455) * r + 1.6763848301838038494) * r +
        2.05319162663775882187) * r + 1);
  } else {
    r -= 5;
    val =
      (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r +
        0.026532189526576123093) * r + 0.29656057182850489123) * r + 1.7848265399172913358) * r +
        5.4637849111641143699) * r + 6.6579046435011037772) /
      (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r +
        7.868691311456132591e-4) * r + 0.0148753612908506148525) * r + 0.13692988092273580531) * r +
        0.59983220655588793769) * r + 1);
  }
  return q < 0 ? -val : val;
}
