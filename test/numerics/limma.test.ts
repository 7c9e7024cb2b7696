/**
 * The edgeR/limma numerics against R 4.2.2 + limma 3.54.1 + edgeR 3.40.2 on small cases: the
 * `small` section of test/fixtures/reference/pbmc_multibatch_2100/pseudobulk.json, written by
 * scripts/reference/pseudobulk-limma.R (R's lowess with ties, the special functions and
 * distributions, edgeR + limma on a 40 × 7 simulated count matrix, fitFDistRobustly on a
 * vector whose prior df is infinite and on one with a finite root), plus properties that need
 * no R (pseudobulk sums, TMM of identical samples, the Householder fit, error paths).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers.ts";
import { digamma, lbeta, lgamma, tetragamma, trigamma, trigammaInverse } from "../../src/numerics/stats/special-functions.ts";
import { dF, pfLog, pt, qchisq, qf } from "../../src/numerics/stats/distributions.ts";
import { gaussLegendreUnit } from "../../src/numerics/stats/gauss-legendre.ts";
import { zeroin } from "../../src/numerics/stats/uniroot.ts";
import { lowess } from "../../src/numerics/stats/lowess.ts";
import { contrastsFit, groupDesign, lmFit, wlsFit } from "../../src/numerics/stats/linear-model.ts";
import { voom, voomWithQualityWeights } from "../../src/numerics/stats/voom.ts";
import { fitFDist, fitFDistRobustly } from "../../src/numerics/stats/f-dist-fit.ts";
import { eBayes, squeezeVar } from "../../src/numerics/stats/ebayes.ts";
import { approxOrdered, medianR, quantile7, rankAverage, sumR } from "../../src/numerics/stats/r-base.ts";
import { calcNormFactorsTMM, filterByExpr } from "../../src/numerics/stats/edger.ts";
import { librarySizes, sumCountsPerSample } from "../../src/numerics/stats/pseudobulk.ts";

type Num = number | null;
interface Small {
  lowess: { x: number[]; y: number[]; f05: number[]; default: number[]; f03_iter0: number[] };
  special: Record<string, Num[]>;
  counts: {
    n_genes: number; n_samples: number; group: string[]; counts: number[]; keep: number[]; lib_size: number[]; norm_factors: number[];
    voom_E_first8: number[]; voom_weights_first8: number[]; sample_weights: number[]; vqw_weights_first8: number[];
    coefficient: number[]; stdev_unscaled: number[]; sigma: number[]; Amean: number[];
    robust_p: number[]; robust_df_prior: number[]; robust_s2_prior: number; p: number[]; df_prior: number; s2_prior: number;
  };
  fdist: Record<"a" | "b", { x: number[]; df1: number; scale: number; df2: Num; df2_shrunk: Num[]; nonrobust_scale?: number; nonrobust_df2?: number }>;
}
const small = (JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "reference", "pbmc_multibatch_2100", "pseudobulk.json"), "utf8")) as { small: Small }).small;
const inf = (v: Num): number => (v === null ? Infinity : v);

/** Largest relative difference (absolute below `floor`); equal infinities count as 0. */
function maxRel(got: ArrayLike<number>, want: ArrayLike<Num>, floor = 0): number {
  assert.equal(got.length, want.length, "length");
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const w = inf(want[i]!);
    const g = got[i]!;
    if (g === w) continue;
    worst = Math.max(worst, Math.abs(g - w) / Math.max(Math.abs(w), floor));
  }
  return worst;
}
function close(got: ArrayLike<number>, want: ArrayLike<Num>, tol: number, what: string, floor = 0): void {
  const r = maxRel(got, want, floor);
  assert.ok(r <= tol, `${what}: max relative difference ${r} > ${tol}`);
}

test("lowess is R's clowess: ties, delta interpolation, robustness iterations", () => {
  const { x, y } = small.lowess;
  close(lowess(x, y, 0.5).y, small.lowess.f05, 1e-14, "f = 0.5", 1);
  close(lowess(x, y).y, small.lowess.default, 1e-14, "f = 2/3", 1);
  close(lowess(x, y, 0.3, 0).y, small.lowess.f03_iter0, 1e-14, "f = 0.3, iter = 0", 1);
  // sorted x comes back; unsorted input is ordered first (stable for ties)
  const rev = lowess([...x].reverse(), [...y].reverse(), 0.5);
  assert.deepEqual([...rev.x], x);
  assert.equal(lowess([3], [7]).y[0], 7);
  assert.equal(lowess([], []).y.length, 0);
});

test("approxOrdered: linear, constant beyond the ends, ties averaged", () => {
  const f = approxOrdered([1, 2, 2, 4], [10, 20, 40, 50]);
  assert.equal(f(0), 10);
  assert.equal(f(9), 50);
  assert.equal(f(2), 30);
  assert.equal(f(1.5), 20);
  assert.equal(f(3), 40);
});

test("special functions match R (digamma, trigamma, psigamma(deriv = 2), trigammaInverse)", () => {
  const s = small.special;
  const x = s.x as number[];
  close(x.map(digamma), s.digamma!, 2e-15, "digamma", 1);
  close(x.map(trigamma), s.trigamma!, 2e-15, "trigamma");
  close(x.map(tetragamma), s.tetragamma!, 2e-15, "tetragamma");
  close((s.trigamma_inverse_x as number[]).map(trigammaInverse), s.trigamma_inverse!, 1e-14, "trigammaInverse");
  // lgamma / lbeta against exact values
  assert.ok(Math.abs(lgamma(0.5) - Math.log(Math.sqrt(Math.PI))) < 3e-15);
  assert.ok(Math.abs(lgamma(11) - Math.log(3628800)) < 1e-14);
  assert.ok(Math.abs(lbeta(3, 4) - Math.log(1 / 60)) < 1e-14);
  assert.ok(Math.abs(lbeta(2, 1e6) + Math.log(1e6 * (1e6 + 1))) < 1e-9);
  assert.ok(Number.isNaN(trigammaInverse(-1)));
  assert.equal(trigammaInverse(1e8), 1 / Math.sqrt(1e8));
});

test("distributions match R: pt, pf (log, both tails, df2 = Inf), df, qf (incl. the df > 4e5 branch), qchisq", () => {
  const s = small.special;
  const t = s.pt_t as number[];
  const dft = s.pt_df as number[];
  // ≤ 1e-14 except pt(2.5, df = 1e6) (2e-13): the continued fraction loses digits when one
  // beta parameter is huge (R uses TOMS 708's asymptotic expansions there)
  close(t.map((v, i) => pt(v, dft[i]!)), s.pt!, 1e-12, "pt");
  const fx = s.pf_x as number[];
  const d1 = s.pf_df1 as number[];
  const d2 = (s.pf_df2 as Num[]).map(inf);
  close(fx.map((v, i) => pfLog(v, d1[i]!, d2[i]!, false)), s.pf_upper_log!, 1e-13, "pf upper log");
  close(fx.map((v, i) => pfLog(v, d1[i]!, d2[i]!, true)), s.pf_lower_log!, 1e-13, "pf lower log");
  close(fx.map((v, i) => dF(v, d1[i]!, d2[i]!)), s.df!, 1e-13, "df");
  const qp = s.qf_p as number[];
  close(qp.map((p, i) => qf(p, d1[i]!, d2[i]!)), s.qf!, 1e-13, "qf");
  const cp = s.qchisq_p as number[];
  const cdf = s.qchisq_df as number[];
  close(cp.map((p, i) => qchisq(p, cdf[i]!)), s.qchisq!, 1e-13, "qchisq");
  assert.equal(pt(-Infinity, 3), 0);
  assert.equal(pt(Infinity, 3), 1);
  assert.ok(Number.isNaN(pt(1, -1)));
  // symmetric: pt(x) + pt(−x) = 1
  assert.ok(Math.abs(pt(1.7, 4.2) + pt(-1.7, 4.2) - 1) < 1e-15);
});

test("Gauss–Legendre nodes integrate polynomials exactly; zeroin is Brent's method", () => {
  const { nodes, weights } = gaussLegendreUnit(128);
  assert.ok(Math.abs(sumR(weights) - 1) < 1e-14);
  for (const k of [1, 7, 50, 200]) {
    const integral = sumR(Array.from(nodes, (x, i) => weights[i]! * x ** k));
    assert.ok(Math.abs(integral - 1 / (k + 1)) < 1e-14, `x^${k}`);
  }
  for (let i = 1; i < 128; i++) assert.ok(nodes[i]! > nodes[i - 1]!);
  const f = (x: number): number => x * x * x - 2;
  const root = zeroin(f, 0, 2, f(0), f(2), 1e-12);
  assert.ok(Math.abs(root - Math.cbrt(2)) < 1e-11);
  assert.equal(zeroin(f, 0, 2, 0, f(2), 1e-8), 0);
});

test("base-R helpers: median, quantile type 7, average ranks", () => {
  assert.equal(medianR([3, 1, 2]), 2);
  assert.equal(medianR([4, 1, 3, 2]), 2.5);
  // R: quantile(c(1, 3, 3, 10, 20), c(0.05, 0.75, 0.9)) = 1.4, 10, 16
  const q = quantile7([20, 3, 1, 10, 3], [0.05, 0.75, 0.9]);
  assert.ok(Math.abs(q[0]! - 1.4) < 1e-15 && q[1] === 10 && Math.abs(q[2]! - 16) < 1e-14);
  assert.deepEqual([...rankAverage([10, 20, 10, 5, 20, 20])], [2.5, 5, 2.5, 1, 5, 5]);
});

test("pseudobulk sums and library sizes from a gene-major CSR matrix", () => {
  // 3 genes × 5 cells; cells 0,1 → sample 1, cells 2,4 → sample 0, cell 3 unused
  const m = { nGenes: 3, indptr: [0, 3, 3, 6], indices: Int32Array.from([0, 2, 3, 1, 3, 4]), values: Float32Array.from([1, 5, 100, 2, 7, 4]) };
  const sums = sumCountsPerSample(m, Int32Array.from([1, 1, 0, -1, 0]), 2);
  assert.deepEqual([...sums], [5, 1, 0, 0, 4, 2]);
  assert.deepEqual([...librarySizes(sums, 3, 2)], [9, 3]);
});

const c = small.counts;
const nS = c.n_samples;
const groupCode = Int32Array.from(c.group, (g) => (g === "base" ? 1 : 0)); // design columns as R: background, base
const allCounts = Float64Array.from(c.counts);
const lib = librarySizes(allCounts, c.n_genes, nS);
const keep = filterByExpr(allCounts, c.n_genes, nS, lib, groupCode);
const kept = [...keep.keys()].filter((g) => keep[g] === 1);
const counts = new Float64Array(kept.length * nS);
kept.forEach((g, r) => counts.set(allCounts.subarray(g * nS, (g + 1) * nS), r * nS));
const design = groupDesign(groupCode, 2);

test("edgeR: filterByExpr keeps R's genes (all-zero, single-sample and low genes out); TMM factors match", () => {
  assert.deepEqual(kept, c.keep);
  assert.deepEqual([...lib], c.lib_size);
  const { normFactors } = calcNormFactorsTMM(counts, kept.length, nS, lib);
  close(normFactors, c.norm_factors, 1e-15, "norm factors");
  // identical samples: all factors 1
  const same = Float64Array.from({ length: 30 }, (_, i) => (i >> 1) + 1);
  assert.deepEqual([...calcNormFactorsTMM(same, 15, 2, [120, 120]).normFactors], [1, 1]);
  // with minimum sample size > large.n the threshold becomes 10 + (n − 10) · 0.7
  const many = new Float64Array(24).fill(50);
  many[11] = 0; many[10] = 0; many[9] = 0; many[8] = 0;
  const k = filterByExpr(many, 1, 24, new Array(24).fill(1e6), new Array(24).fill(0));
  assert.equal(k[0], 1); // 20 ≥ 10 + 14 · 0.7 = 19.8
  many[7] = 0;
  assert.equal(filterByExpr(many, 1, 24, new Array(24).fill(1e6), new Array(24).fill(0))[0], 0);
});

test("voom, voomWithQualityWeights, lmFit and contrasts.fit match limma", () => {
  const eff = Float64Array.from(lib, (l, s) => l * c.norm_factors[s]!);
  const v0 = voom(counts, kept.length, design, eff);
  close(v0.E.subarray(0, 8 * nS), c.voom_E_first8, 1e-15, "voom E");
  close(v0.weights.subarray(0, 8 * nS), c.voom_weights_first8, 1e-13, "voom weights");
  const v = voomWithQualityWeights(counts, kept.length, design, eff);
  close(v.sampleWeights, c.sample_weights, 1e-12, "sample weights");
  close(v.weights.subarray(0, 8 * nS), c.vqw_weights_first8, 1e-12, "voomWithQualityWeights weights");
  const fit = contrastsFit(lmFit(v.E, kept.length, design, v.weights), [-1, 1]);
  close(fit.coefficient, c.coefficient, 1e-12, "logFC", 1);
  close(fit.stdevUnscaled, c.stdev_unscaled, 1e-12, "stdev.unscaled");
  close(fit.sigma, c.sigma, 1e-12, "sigma");
  close(fit.Amean, c.Amean, 1e-15, "Amean");
  assert.equal(fit.dfResidual, nS - 2);

  const robust = eBayes(fit, true);
  close(robust.pValue, c.robust_p, 1e-11, "eBayes(robust = TRUE) p");
  close(robust.dfPrior, c.robust_df_prior, 1e-11, "robust df.prior");
  assert.ok(new Set(robust.dfPrior).size > 1, "an outlier gene gets a smaller prior df");
  close([robust.s2Prior], [c.robust_s2_prior], 1e-12, "robust s2.prior");
  const plain = eBayes(fit, false);
  close(plain.pValue, c.p, 1e-11, "eBayes p");
  close([plain.dfPrior[0]!, plain.s2Prior], [c.df_prior, c.s2_prior], 1e-12, "df.prior, s2.prior");
});

test("fitFDistRobustly: infinite prior df with outliers, and a finite root of the moment equation", () => {
  const a = small.fdist.a;
  const ra = fitFDistRobustly(a.x, a.df1);
  assert.equal(ra.df2, Infinity);
  assert.equal(a.df2, null);
  close([ra.scale], [a.scale], 1e-12, "scale (a)");
  close(ra.df2Shrunk, a.df2_shrunk, 1e-10, "df2.shrunk (a)");
  assert.ok(ra.df2Shrunk.some((d) => Number.isFinite(d)) && ra.df2Shrunk.some((d) => d === Infinity));

  const b = small.fdist.b;
  const rb = fitFDistRobustly(b.x, b.df1);
  close([rb.scale, rb.df2], [b.scale, b.df2], 1e-10, "scale, df2 (b)");
  close(rb.df2Shrunk, b.df2_shrunk, 1e-10, "df2.shrunk (b)");
  const nb = fitFDist(b.x, b.df1);
  close([nb.scale, nb.df2], [b.nonrobust_scale!, b.nonrobust_df2!], 1e-13, "fitFDist (b)");
});

test("squeezeVar and the linear-model pieces: edge cases", () => {
  assert.throws(() => squeezeVar([], 3, true), /empty/);
  const one = squeezeVar([2], 3, true);
  assert.deepEqual([...one.varPost], [2]);
  // exactly equal variances: evar < 0 → infinite prior df, posterior = prior
  const eq = squeezeVar([1, 1, 1, 1, 1], 4, false);
  assert.equal(eq.dfPrior[0], Infinity);
  assert.ok(eq.varPost.every((v) => v === eq.varPrior));
  // weighted group means, leverages w / Σw, residual variance Σ w r² / (n − p)
  const d = groupDesign([0, 0, 1, 1, 1], 2);
  const f = wlsFit(d, [1, 3, 2, 4, 9], [1, 3, 1, 1, 2]);
  assert.ok(Math.abs(f.coef[0]! - 2.5) < 1e-14 && Math.abs(f.coef[1]! - 6) < 1e-14);
  const expectResid = [-1.5, 0.5, -4, -2, 3];
  f.resid.forEach((r, i) => assert.ok(Math.abs(r - expectResid[i]!) < 1e-14));
  const expectHat = [0.25, 0.75, 0.25, 0.25, 0.5];
  f.hat.forEach((h, i) => assert.ok(Math.abs(h - expectHat[i]!) < 1e-14));
  const rss = 1 * 1.5 ** 2 + 3 * 0.5 ** 2 + 16 + 4 + 2 * 9;
  assert.ok(Math.abs(f.s2 - rss / 3) < 1e-13);
  assert.ok(Math.abs(f.unscaledVar[0]! - 1 / 4) < 1e-14 && Math.abs(f.unscaledVar[1]! - 1 / 4) < 1e-14);
  assert.throws(() => wlsFit(groupDesign([0, 0, 0], 2), [1, 2, 3], null), /rank-deficient/);
  assert.throws(() => voom(new Float64Array(4), 1, groupDesign([0, 1, 0, 1], 2), [1, 1, 1, 1]), /two genes/);
  // no replication: voom sets weights to 1
  const nr = voom(Float64Array.from([5, 9, 50, 70, 0, 3]), 3, groupDesign([0, 1], 2), [55, 82]);
  assert.ok(nr.weights.every((w) => w === 1));
});
