/**
 * limma `arrayWeights(method = "genebygene", prior.n = 10)`: one quality weight per sample,
 * updated gene by gene by Fisher scoring on log-variances (contr.sum parametrisation).
 */
import { wlsFit, type Design } from "./linear-model.ts";
import { sumR } from "./r-base.ts";

/** Solves A x = b in place for a small dense row-major m × m system (partial pivoting). */
function solveDense(A: Float64Array, b: Float64Array, m: number): Float64Array {
  const a = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let k = 0; k < m; k++) {
    let piv = k;
    for (let i = k + 1; i < m; i++) if (Math.abs(a[i * m + k]!) > Math.abs(a[piv * m + k]!)) piv = i;
    if (a[piv * m + k] === 0) throw new Error("arrayWeights: singular information matrix");
    if (piv !== k) {
      for (let j = 0; j < m; j++) { const t = a[k * m + j]!; a[k * m + j] = a[piv * m + j]!; a[piv * m + j] = t; }
      const t = x[k]!; x[k] = x[piv]!; x[piv] = t;
    }
    for (let i = k + 1; i < m; i++) {
      const l = a[i * m + k]! / a[k * m + k]!;
      if (l === 0) continue;
      for (let j = k + 1; j < m; j++) a[i * m + j]! -= l * a[k * m + j]!;
      x[i]! -= l * x[k]!;
    }
  }
  for (let k = m - 1; k >= 0; k--) {
    let s = x[k]!;
    for (let j = k + 1; j < m; j++) s -= a[k * m + j]! * x[j]!;
    x[k] = s / a[k * m + k]!;
  }
  return x;
}

/**
 * limma `arrayWeights(E, design, weights, method = "genebygene", prior.n = 10)`: sample
 * weights aw (the variance of sample s is proportional to 1/aw[s]) by one Fisher-scoring
 * update per gene, in gene order. All ones when n − rank < 2 or fewer than 2 genes.
 */
export function arrayWeightsGeneByGene(E: Float64Array, nGenes: number, design: Design, weights: Float64Array | null, priorN = 10): Float64Array {
  const { n, p } = design;
  const aw = new Float64Array(n).fill(1);
  if (nGenes < 2 || n - p < 2) return aw;
  const m = n - 1; // contr.sum(n): Z2[i][j] = δij for i < n−1, Z2[n−1][j] = −1
  const info2 = new Float64Array(m * m);
  for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) info2[j * m + k] = priorN * (j === k ? 2 : 1);
  const gam = new Float64Array(m);
  const w = new Float64Array(n);
  const h1 = new Float64Array(n);
  const d = new Float64Array(n);
  const dl = new Float64Array(m);
  for (let g = 0; g < nGenes; g++) {
    for (let s = 0; s < n; s++) w[s] = weights ? aw[s]! * weights[g * n + s]! : aw[s]!;
    const fit = wlsFit(design, E.subarray(g * n, (g + 1) * n), w);
    for (let s = 0; s < n; s++) {
      d[s] = w[s]! * fit.resid[s]! * fit.resid[s]!;
      h1[s] = 1 - fit.hat[s]!;
    }
    const s2 = fit.s2;
    if (s2 < 1e-15) continue;
    // info = Z′ diag(h1) Z with Z = [1, Z2]; info2 += info[-1,-1] − info[-1,1] info[1,-1] / info[1,1]
    const hLast = h1[n - 1]!;
    const total = sumR(h1);
    for (let j = 0; j < m; j++) {
      const aj = h1[j]! - hLast;
      for (let k = 0; k < m; k++) {
        const ak = h1[k]! - hLast;
        info2[j * m + k]! += (j === k ? h1[j]! : 0) + hLast - (aj / total) * ak;
      }
    }
    const zLast = d[n - 1]! / s2 - hLast;
    for (let j = 0; j < m; j++) dl[j] = d[j]! / s2 - h1[j]! - zLast;
    const step = solveDense(info2, dl, m);
    let sumGam = 0;
    for (let j = 0; j < m; j++) { gam[j]! += step[j]!; sumGam += gam[j]!; }
    for (let j = 0; j < m; j++) aw[j] = Math.exp(-gam[j]!);
    aw[n - 1] = Math.exp(sumGam);
  }
  return aw;
}
