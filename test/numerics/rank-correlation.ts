/** Rank correlation for tests of orderings (trajectory pseudotime against a known order). */

/** Spearman's rank correlation (average ranks for ties). */
export function ranks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const r = new Float64Array(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]!] === x[idx[i]!]) j++;
    for (let m = i; m <= j; m++) r[idx[m]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a), rb = ranks(b);
  const n = ra.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += ra[i]!; mb += rb[i]!; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (ra[i]! - ma) * (rb[i]! - mb); saa += (ra[i]! - ma) ** 2; sbb += (rb[i]! - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}
