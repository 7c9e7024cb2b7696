/**
 * DifferentialExpression p-values against base R's wilcox.test(exact = FALSE, correct = TRUE)
 * on Seurat's LogNormalize values (fixture from scripts/reference/seurat-pbmc3k.R): Seurat
 * cluster 0 vs all other cells (A) and vs cluster 1 (B), every gene non-zero in either group.
 * The groups are Cellenics cell sets built from the fixture's cell indices (pbmc3k: cell id =
 * cell index) and resolved by the task itself.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import deTask from "../../src/tasks/differential-expression.ts";
import { resolveDeGroups } from "../../src/tasks/shared/de-groups.ts";
import { openExperiment } from "../../src/experiment/open.ts";
import type { Experiment } from "../../src/experiment/experiment.ts";
import type { CellClass } from "../../src/experiment/cell-sets/cell-sets.ts";
import { PBMC3K } from "../helpers.ts";
import { reference } from "./reference.ts";

interface Comparison { group1_cells: number[]; group2_cells: number[]; gene: number[]; p_val: number[]; statistic_W: number[] }
const wilcoxon = reference<{ A: Comparison; B: Comparison }>("wilcoxon.json.gz");
const { clusters } = reference<{ clusters: number[] }>("clusters.json");

let exp: Experiment;
before(async () => {
  exp = await openExperiment({ path: PBMC3K, cacheDir: join(tmpdir(), "cellworker-test-cache") });
  const byCluster = new Map<number, number[]>();
  clusters.forEach((c, cell) => { if (!byCluster.has(c)) byCluster.set(c, []); byCluster.get(c)!.push(cell); });
  const seurat: CellClass = {
    key: "seurat", name: "Seurat clusters", rootNode: true, type: "cellSets",
    children: [...byCluster.keys()].sort((a, b) => a - b).map((c) => ({ key: `seurat-${c}`, name: `Cluster ${c}`, cellIds: byCluster.get(c)! })),
  };
  exp.cellSets = [seurat];
});

type DeResult = { total: number; data: { p_val: number[]; auc: number[]; Gene: string[] } };

async function runDe(cellSet: string, compareWith: string): Promise<{ result: DeResult; ms: number }> {
  const body = deTask.body.parse({ name: "DifferentialExpression", cellSet, compareWith, basis: "all" });
  const t = performance.now();
  const result = (await deTask.run(body, { experiment: exp, pagination: undefined, progress: () => {} })) as DeResult;
  return { result, ms: performance.now() - t };
}

function compare(name: string, ref: Comparison, result: DeResult): void {
  const rowOf = new Map(result.data.Gene.map((id, r) => [id, r]));
  const ids = exp.data.genes.ids;
  const n1n2 = ref.group1_cells.length * ref.group2_cells.length;
  let maxRel = 0;
  let maxRelW = 0;
  let tiny = 0;
  ref.gene.forEach((g, k) => {
    const r = rowOf.get(ids[g]!)!;
    const ours = result.data.p_val[r]!;
    const theirs = ref.p_val[k]!;
    if (theirs > 1e-300) {
      const rel = Math.abs(ours - theirs) / theirs;
      maxRel = Math.max(maxRel, rel);
      assert.ok(rel <= 1e-6, `${name} gene ${g}: p ${ours} vs R ${theirs}`);
    } else {
      tiny++;
      assert.ok(ours <= 1e-300, `${name} gene ${g}: R's p ~ 0, ours ${ours}`);
    }
    const w = result.data.auc[r]! * n1n2;
    maxRelW = Math.max(maxRelW, Math.abs(w - ref.statistic_W[k]!) / ref.statistic_W[k]!);
  });
  assert.ok(maxRelW <= 1e-12, `${name}: W max relative error ${maxRelW}`);
  // genes R did not test (zero in both groups) are reported with p = 1
  const tested = new Set(ref.gene.map((g) => ids[g]!));
  let untested = 0;
  result.data.Gene.forEach((id, r) => { if (!tested.has(id)) { untested++; assert.equal(result.data.p_val[r], 1); } });
  assert.equal(untested + ref.gene.length, exp.nGenes);
  console.log(`${name}: ${ref.gene.length} genes vs R, max relative error of p ${maxRel.toExponential(2)}, of W ${maxRelW.toExponential(2)}, ${tiny} with R p <= 1e-300`);
}

test("A: Seurat cluster 0 vs rest — p-values equal R's wilcox.test to 1e-6 relative", async () => {
  const groups = resolveDeGroups(exp, { cellSet: "seurat-0", compareWith: "rest" });
  assert.deepEqual([...groups.base], wilcoxon.A.group1_cells);
  assert.deepEqual([...groups.background], wilcoxon.A.group2_cells);
  await runDe("seurat-0", "rest"); // warm-up (JIT)
  const { result, ms } = await runDe("seurat-0", "rest");
  console.log(`DifferentialExpression cluster 0 vs rest on pbmc3k (2,700 cells x 32,738 genes): ${ms.toFixed(0)} ms`);
  compare("A", wilcoxon.A, result);
});

test("B: Seurat cluster 0 vs cluster 1 — p-values equal R's wilcox.test to 1e-6 relative", async () => {
  const groups = resolveDeGroups(exp, { cellSet: "seurat-0", compareWith: "seurat-1" });
  assert.deepEqual([...groups.base], wilcoxon.B.group1_cells);
  assert.deepEqual([...groups.background], wilcoxon.B.group2_cells);
  const { result } = await runDe("seurat-0", "seurat-1");
  compare("B", wilcoxon.B, result);
});
