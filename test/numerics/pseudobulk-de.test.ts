/**
 * The pseudobulk limma-voom kernel (numerics/stats/pseudobulk-de.ts) on the `small` R case of
 * test/fixtures/reference/pbmc_multibatch_2100/pseudobulk.json (40 genes × 7 samples, edgeR
 * 3.40.2 + limma 3.54.1), its counts spread over several cells per sample plus cells that
 * belong to no sample; then the two-sample (no test) and too-few-genes outcomes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers.ts";
import { pseudobulkLimmaVoom } from "../../src/numerics/stats/pseudobulk-de.ts";
import { adjustBH } from "../../src/numerics/stats/p-adjust.ts";
import type { CsrCounts } from "../../src/numerics/stats/pseudobulk.ts";

interface SmallCounts { n_genes: number; n_samples: number; group: string[]; counts: number[]; keep: number[]; coefficient: number[]; Amean: number[]; robust_p: number[] }
const c = (JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "reference", "pbmc_multibatch_2100", "pseudobulk.json"), "utf8")) as { small: { counts: SmallCounts } }).small.counts;

/**
 * Gene-major CSR with 3 cells per sample: sample s's count split over cells 3s, 3s+1 (the
 * third cell, 3s+2, holds 1000 extra counts and is given no sample).
 */
function cellsOf(counts: number[], nGenes: number, nSamples: number): { m: CsrCounts; sampleOfCell: Int32Array } {
  const indptr = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (let g = 0; g < nGenes; g++) {
    for (let s = 0; s < nSamples; s++) {
      const v = counts[g * nSamples + s]!;
      const half = Math.floor(v / 2);
      if (half > 0) { indices.push(3 * s); values.push(half); }
      if (v - half > 0) { indices.push(3 * s + 1); values.push(v - half); }
      indices.push(3 * s + 2); values.push(1000);
    }
    indptr.push(indices.length);
  }
  const sampleOfCell = Int32Array.from({ length: 3 * nSamples }, (_, i) => (i % 3 === 2 ? -1 : Math.floor(i / 3)));
  return { m: { nGenes, indptr, indices, values }, sampleOfCell };
}

const maxRel = (got: ArrayLike<number>, want: ArrayLike<number>, floor: number): number => {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(Math.abs(want[i]!), floor));
  return worst;
};

test("≥ 3 samples: R's kept genes, logFC, AveExpr and robust eBayes p; BH; topTable order then removed genes", () => {
  const { m, sampleOfCell } = cellsOf(c.counts, c.n_genes, c.n_samples);
  const group = Int32Array.from(c.group, (g) => (g === "base" ? 1 : 0));
  const steps: number[] = [];
  const fit = pseudobulkLimmaVoom(m, sampleOfCell, group, (f) => steps.push(f));
  assert.deepEqual(steps, [0.1, 0.2, 0.7]);
  assert.equal(fit.kind, "fit");
  if (fit.kind !== "fit") return;
  assert.equal(fit.genesKept, c.keep.length);
  const kept = new Set(c.keep);
  for (let g = 0; g < c.n_genes; g++) assert.equal(Number.isNaN(fit.logFC[g]!), !kept.has(g), `gene ${g} kept?`);
  const at = (a: Float64Array): number[] => c.keep.map((g) => a[g]!);
  assert.ok(maxRel(at(fit.logFC), c.coefficient, 1) <= 1e-12, "logFC");
  assert.ok(maxRel(at(fit.AveExpr), c.Amean, 0) <= 1e-15, "AveExpr");
  assert.ok(fit.pValue && fit.pAdjusted);
  assert.ok(maxRel(at(fit.pValue), c.robust_p, 0) <= 1e-11, "p");
  assert.deepEqual(at(fit.pAdjusted), [...adjustBH(Float64Array.from(at(fit.pValue)))]);
  const order = [...fit.order];
  assert.deepEqual([...order].sort((a, b) => a - b), [...Array(c.n_genes).keys()]);
  const head = order.slice(0, c.keep.length);
  for (let i = 1; i < head.length; i++) assert.ok(fit.pValue[head[i - 1]!]! <= fit.pValue[head[i]!]!, "ascending p");
  assert.deepEqual(order.slice(c.keep.length), [...Array(c.n_genes).keys()].filter((g) => !kept.has(g)));
});

test("2 samples (no replication): logFC and AveExpr only, genes by decreasing |logFC|", () => {
  const base = c.group.indexOf("base");
  const background = c.group.indexOf("background");
  const two = Array.from({ length: c.n_genes }, (_, g) => [c.counts[g * c.n_samples + background]!, c.counts[g * c.n_samples + base]!]).flat();
  const { m, sampleOfCell } = cellsOf(two, c.n_genes, 2);
  const fit = pseudobulkLimmaVoom(m, sampleOfCell, Int32Array.from([0, 1]));
  assert.equal(fit.kind, "fit");
  if (fit.kind !== "fit") return;
  assert.equal(fit.pValue, undefined);
  assert.ok(fit.genesKept >= 2);
  const head = [...fit.order.slice(0, fit.genesKept)];
  for (let i = 1; i < head.length; i++) assert.ok(Math.abs(fit.logFC[head[i - 1]!]!) >= Math.abs(fit.logFC[head[i]!]!));
});

test("fewer than 2 genes passing filterByExpr: nothing fitted, the count reported", () => {
  // gene 0 well expressed in every sample, gene 1 a single count
  const counts = [100, 120, 90, 110, 0, 1, 0, 0];
  const { m, sampleOfCell } = cellsOf(counts, 2, 4);
  const fit = pseudobulkLimmaVoom(m, sampleOfCell, Int32Array.from([0, 0, 1, 1]));
  assert.deepEqual(fit, { kind: "too-few-genes", genesKept: 1 });
});
