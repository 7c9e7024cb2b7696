/**
 * Highly variable genes by Seurat's `vst` method (FindVariableFeatures, Seurat 4):
 * per-gene mean and variance of raw counts, a LOESS fit of log10(variance) on log10(mean)
 * (span 0.3), then the variance of counts standardised by the fitted standard deviation and
 * clipped at sqrt(number of cells). The standardised variance ranks the genes.
 */
import type { GeneMajorMatrix } from "./sparse.ts";
import { loessFit } from "./loess.ts";

export interface VstResult {
  means: Float64Array;
  variances: Float64Array;
  /** variance.standardized: what ListGenes serves as `dispersions` */
  standardizedVariances: Float64Array;
  /** gene indices by decreasing standardised variance (ties in gene order) */
  ranking: Int32Array;
}

export function computeVst(m: GeneMajorMatrix, span = 0.3): VstResult {
  const { nGenes, nCells } = m;
  const means = new Float64Array(nGenes);
  const variances = new Float64Array(nGenes);
  for (let g = 0; g < nGenes; g++) {
    const start = m.indptr[g]!;
    const end = m.indptr[g + 1]!;
    let sum = 0;
    for (let p = start; p < end; p++) sum += m.values[p]!;
    const mu = sum / nCells;
    let ss = (nCells - (end - start)) * mu * mu;
    for (let p = start; p < end; p++) { const d = m.values[p]! - mu; ss += d * d; }
    means[g] = mu;
    variances[g] = nCells > 1 ? ss / (nCells - 1) : 0;
  }
  const fitIdx: number[] = [];
  for (let g = 0; g < nGenes; g++) if (variances[g]! > 0) fitIdx.push(g);
  const fx = Float64Array.from(fitIdx, (g) => Math.log10(means[g]!));
  const fy = Float64Array.from(fitIdx, (g) => Math.log10(variances[g]!));
  const fitted = loessFit(fx, fy, span);
  const expectedSd = new Float64Array(nGenes);
  fitIdx.forEach((g, k) => { expectedSd[g] = Math.sqrt(Math.pow(10, fitted[k]!)); });

  const vmax = Math.sqrt(nCells);
  const standardizedVariances = new Float64Array(nGenes);
  for (let g = 0; g < nGenes; g++) {
    const sd = expectedSd[g]!;
    if (!(sd > 0)) continue; // Seurat leaves constant genes at 0
    const mu = means[g]!;
    const start = m.indptr[g]!;
    const end = m.indptr[g + 1]!;
    const zeroZ = Math.min(vmax, -mu / sd);
    let ss = (nCells - (end - start)) * zeroZ * zeroZ;
    for (let p = start; p < end; p++) {
      const z = Math.min(vmax, (m.values[p]! - mu) / sd);
      ss += z * z;
    }
    standardizedVariances[g] = ss / (nCells - 1);
  }
  const ranking = Int32Array.from({ length: nGenes }, (_, i) => i).sort(
    (a, b) => standardizedVariances[b]! - standardizedVariances[a]! || a - b,
  );
  return { means, variances, standardizedVariances, ranking };
}
