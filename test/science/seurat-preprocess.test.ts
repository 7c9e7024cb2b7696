/**
 * Preprocessing against Seurat 4.3 on pbmc3k (fixtures from scripts/reference/seurat-pbmc3k.R):
 * LogNormalize to 1e-6, vst dispersions r ≥ 0.999, ≥ 95 % shared HVGs, PCs and clusters.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import { normalizedValue } from "../../src/numerics/normalize.ts";
import { PBMC3K } from "../helpers.ts";
import { adjustedRandIndex, pearson, reference } from "./reference.ts";

let exp: Experiment;
before(async () => {
  exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
});

test("LogNormalize equals Seurat's NormalizeData to 1e-6", () => {
  const ref = reference<{ colSums: number[]; sample: { gene: number[]; cell: number[]; value: number[] } }>("lognorm.json");
  const m = exp.data.matrix;
  let maxErr = 0;
  ref.sample.gene.forEach((g, k) => {
    const c = ref.sample.cell[k]!;
    const row = m.indices.subarray(m.indptr[g]!, m.indptr[g + 1]!);
    const pos = row.indexOf(c);
    assert.ok(pos >= 0, `gene ${g} cell ${c} is non-zero in Seurat`);
    const ours = normalizedValue(exp.normalizer, m.values[m.indptr[g]! + pos]!, c);
    maxErr = Math.max(maxErr, Math.abs(ours - ref.sample.value[k]!));
  });
  assert.ok(maxErr <= 1e-6, `max abs error ${maxErr}`);
  const sums = new Float64Array(exp.nCells);
  for (let g = 0; g < m.nGenes; g++) {
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) sums[m.indices[p]!]! += normalizedValue(exp.normalizer, m.values[p]!, m.indices[p]!);
  }
  ref.colSums.forEach((s, c) => assert.ok(Math.abs(sums[c]! - s) <= 1e-6 * Math.max(1, s), `cell ${c}: ${sums[c]} vs ${s}`));
});

test("vst: means and variances exact, dispersions r >= 0.999, >= 95% of the 2000 HVGs shared", () => {
  const ref = reference<{ mean: number[]; variance: number[]; variance_standardized: number[]; hvg: number[] }>("vst.json.gz");
  const { gene, hvgs } = exp.state;
  ref.mean.forEach((mu, g) => assert.ok(Math.abs(gene.means[g]! - mu) <= 1e-9 * Math.max(1, mu)));
  const r = pearson(gene.dispersions, ref.variance_standardized);
  const shared = ref.hvg.filter((g) => exp.state.gene.highlyVariable[g] === 1).length;
  console.log(`vst dispersions: Pearson r = ${r.toFixed(6)}; HVGs shared with Seurat: ${shared}/2000`);
  assert.ok(r >= 0.999, `r = ${r}`);
  assert.equal(hvgs.length, 2000);
  assert.ok(shared >= 1900, `${shared} shared`);
});

test("PC1 and PC2 agree with Seurat's (up to sign), and the spectrum matches", () => {
  const ref = reference<{ pc1: number[]; pc2: number[]; pca_sdev: number[] }>("clusters.json");
  const { scores, nPcs } = exp.state.pca;
  for (const [k, refPc] of [[0, ref.pc1], [1, ref.pc2]] as const) {
    const ours = Float64Array.from({ length: exp.nCells }, (_, i) => scores[i * nPcs + k]!);
    const r = Math.abs(pearson(ours, refPc));
    console.log(`PC${k + 1}: |r| with Seurat = ${r.toFixed(5)}`);
    assert.ok(r >= 0.99, `PC${k + 1} |r| = ${r}`);
  }
  // standard deviations of the first 10 PCs within 2 %
  for (let k = 0; k < 10; k++) {
    let ss = 0, s = 0;
    for (let i = 0; i < exp.nCells; i++) { const v = scores[i * nPcs + k]!; s += v; ss += v * v; }
    const sd = Math.sqrt((ss - (s * s) / exp.nCells) / (exp.nCells - 1));
    assert.ok(Math.abs(sd / ref.pca_sdev[k]! - 1) < 0.02, `PC${k + 1} sd ${sd} vs ${ref.pca_sdev[k]}`);
  }
});

test("Louvain at resolution 0.8 agrees with Seurat's FindClusters (ARI >= 0.8)", () => {
  const ref = reference<{ clusters: number[] }>("clusters.json");
  const ari = adjustedRandIndex(exp.state.louvain, ref.clusters);
  console.log(`clusters: ${new Set(exp.state.louvain).size} (Seurat ${new Set(ref.clusters).size}); ARI = ${ari.toFixed(4)}`);
  assert.ok(ari >= 0.8, `ARI ${ari}`);
});
