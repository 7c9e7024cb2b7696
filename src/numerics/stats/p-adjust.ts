/**
 * Benjamini–Hochberg adjusted p-values exactly as R's `p.adjust(p, method = "BH")`:
 * with the m non-NaN p-values ranked i = 1..m ascending, adj = min(1, cummin over
 * decreasing rank of (m / i) · p). NaN (R's NA and NaN) stays NaN and is left out of m, as R
 * does. Same arithmetic order as R, so results are identical to the last bit.
 */

/** BH-adjusted p-values, aligned with `p` (a new array). */
export function adjustBH(p: ArrayLike<number>): Float64Array {
  const out = new Float64Array(p.length).fill(NaN);
  const idx: number[] = [];
  for (let k = 0; k < p.length; k++) if (!Number.isNaN(p[k]!)) idx.push(k);
  const m = idx.length;
  // decreasing p; ties in any order (a tie block takes the value of its largest rank)
  idx.sort((a, b) => p[b]! - p[a]!);
  let cummin = Infinity;
  for (let r = 0; r < m; r++) {
    const k = idx[r]!;
    const rank = m - r; // ascending rank of this p
    const v = (m / rank) * p[k]!;
    if (v < cummin) cummin = v;
    out[k] = Math.min(1, cummin);
  }
  return out;
}
