/**
 * The few base-R / stats helpers that edgeR and limma rely on, with R's arithmetic: sums as
 * R's long-double accumulation gives them, `mean`, `median`, `quantile(type = 7)`, `rank`
 * (average ties) and `approxfun(rule = 2)`. edger.ts and the limma files share them.
 */

/**
 * Sum with Neumaier compensation: R sums doubles in an 80-bit long double, which this
 * reproduces to the last bit in practice (a plain double sum can differ in the last bits).
 */
export function sumR(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  let c = 0;
  for (let i = from; i < to; i++) {
    const v = x[i]!;
    const t = s + v;
    c += Math.abs(s) >= Math.abs(v) ? (s - t) + v : (v - t) + s;
    s = t;
  }
  return s + c;
}

/** R's `mean(x)`. */
export function meanR(x: ArrayLike<number>): number {
  return sumR(x) / x.length;
}

/** Ascending copy (NaN not expected). */
function sorted(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x).sort();
}

/** R's `median(x)`. */
export function medianR(x: ArrayLike<number>): number {
  const n = x.length;
  if (n === 0) return NaN;
  const s = sorted(x);
  const half = (n + 1) >> 1;
  return n % 2 === 1 ? s[half - 1]! : (s[half - 1]! + s[half]!) / 2;
}

/** R's `quantile(x, probs, type = 7)`, exactly its arithmetic. */
export function quantile7(x: ArrayLike<number>, probs: readonly number[]): number[] {
  const s = sorted(x);
  const n = s.length;
  return probs.map((p) => {
    const index = 1 + Math.max(n - 1, 0) * p;
    const lo = Math.floor(index);
    const hi = Math.ceil(index);
    const qs = s[lo - 1]!;
    const xhi = s[hi - 1]!;
    if (index > lo && xhi !== qs) {
      const h = index - lo;
      return (1 - h) * qs + h * xhi;
    }
    return qs;
  });
}

/** R's `rank(x)` (ties get the average rank), 1-based. */
export function rankAverage(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || a - b);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]!] === x[order[i]!]) j++;
    const avg = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) r[order[k]!] = avg;
    i = j + 1;
  }
  return r;
}

/**
 * R's `approxfun(x, y, rule = 2, ties = list("ordered", mean))` for ascending x: linear
 * interpolation, constant beyond the ends, tied x collapsed to the mean of their y.
 */
export function approxOrdered(xIn: ArrayLike<number>, yIn: ArrayLike<number>): (v: number) => number {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < xIn.length;) {
    let j = i;
    while (j + 1 < xIn.length && xIn[j + 1] === xIn[i]) j++;
    xs.push(xIn[i]!);
    ys.push(j === i ? yIn[i]! : sumR(Array.from({ length: j - i + 1 }, (_, k) => yIn[i + k]!)) / (j - i + 1));
    i = j + 1;
  }
  const n = xs.length;
  return (v: number): number => {
    if (v < xs[0]!) return ys[0]!;
    if (v > xs[n - 1]!) return ys[n - 1]!;
    let i = 0;
    let j = n - 1;
    while (i < j - 1) {
      const ij = (i + j) >> 1;
      if (v < xs[ij]!) j = ij; else i = ij;
    }
    if (v === xs[j]) return ys[j]!;
    if (v === xs[i]) return ys[i]!;
    return ys[i]! + (ys[j]! - ys[i]!) * ((v - xs[i]!) / (xs[j]! - xs[i]!));
  };
}
