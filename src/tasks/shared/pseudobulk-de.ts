/**
 * DifferentialExpression `comparisonType: "between"` (reference spec §5.3): pseudobulk
 * limma-voom across samples, as the original worker's makePseudobulkMatrix + runPseudobulkDE.
 * This file picks the samples, checks them and words the result; steps 2–5 are
 * numerics/stats/pseudobulk-de.ts.
 *
 *  1. Samples are the children of the experiment's `sample` cell-set class. Only cells of the
 *     two groups count; a sample with fewer than 10 of them is dropped (named in `method`).
 *     Samples keep the order of their first selected cell, as the original's.
 *  2. Raw counts are summed per sample (numerics/stats/pseudobulk.ts).
 *  3. edgeR `filterByExpr(group)` on the sums (library sizes = the sample totals over all
 *     genes, kept after filtering as DGEList subsetting does), TMM `calcNormFactors`
 *     (numerics/stats/edger.ts).
 *  4. limma `voomWithQualityWeights` with design ~0 + group, `lmFit`, contrast base −
 *     background.
 *  5. ≥ 3 samples: `eBayes(robust = TRUE)`, p_val and Benjamini–Hochberg p_val_adj (0 →
 *     smallest normal double, as the original); rows in topTable's order (ascending p).
 *     Exactly 2 samples (one per group, no replication): logFC and AveExpr only, rows by
 *     decreasing |logFC|.
 *  Genes removed by filterByExpr are null rows, after the others in gene order.
 *
 * Decisions where the original was silent or wrong (spec §8 item 17):
 *  - a kept sample with cells in both groups is INVALID_INPUT (the original silently put the
 *    whole sample in the group of its first cell, comparing the wrong cells); a pseudobulk
 *    comparison needs groups made of whole samples (e.g. sample or metadata sets, within a
 *    cluster as basis);
 *  - fewer than 2 usable samples, or no usable sample in one group, is INVALID_INPUT naming
 *    the samples (the original failed with an R error);
 *  - selected cells in no sample are left out (stated in `method`);
 *  - fewer than 2 genes passing filterByExpr is INVALID_INPUT (voom needs a trend);
 *  - a matrix without raw counts is DATA_UNSUPPORTED;
 *  - overlapping samples (a cell in two samples) are DATA_INVALID.
 */
import type { Experiment } from "../../experiment/experiment.ts";
import { ErrorCode, WorkerError, dataInvalid, invalidInput } from "../../result/errors.ts";
import { pseudobulkLimmaVoom } from "../../numerics/stats/pseudobulk-de.ts";
import { groupLabels, type DeGroups } from "./de-groups.ts";

/** Samples with fewer selected cells than this are dropped (the original's constant). */
export const MIN_CELLS_PER_SAMPLE = 10;
const MIN_NORMAL = 2.2250738585072014e-308;

export interface PseudobulkDeResult {
  /** per gene of the experiment; NaN for genes removed by filterByExpr */
  logFC: Float64Array;
  AveExpr: Float64Array;
  /** only with ≥ 3 samples */
  p_val?: Float64Array;
  p_val_adj?: Float64Array;
  /** every gene, in the original's row order (see the file header) */
  order: Int32Array;
  /** what was computed, in words */
  method: string;
  samples: { base: string[]; background: string[]; dropped: string[] };
  genesKept: number;
}

const listNames = (names: string[], max = 10): string =>
  names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")} and ${names.length - max} more`;

export function pseudobulkDe(exp: Experiment, groups: DeGroups, progress: (fraction: number) => void = () => {}): PseudobulkDeResult {
  if (exp.data.matrixKind !== "counts") {
    throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, "Pseudobulk (between-sample) differential expression needs raw counts; this experiment only has normalised values.");
  }
  const sampleClass = exp.cellSets.find((c) => c.key === "sample");
  if (!sampleClass || sampleClass.children.length === 0) {
    throw invalidInput('A between-sample comparison needs samples: the experiment has no "sample" cell-set class.');
  }
  const nCells = exp.nCells;
  const sampleOf = new Int32Array(nCells).fill(-1);
  sampleClass.children.forEach((sample, k) => {
    for (const id of sample.cellIds) {
      const i = exp.cellIndex(id);
      if (i < 0) continue;
      if (sampleOf[i] !== -1 && sampleOf[i] !== k) {
        throw dataInvalid(`Cell ${id} is in two samples (${sampleClass.children[sampleOf[i]!]!.name} and ${sample.name}).`);
      }
      sampleOf[i] = k;
    }
  });

  const labels = groupLabels(nCells, groups); // 1 = base, 2 = background
  const nAll = sampleClass.children.length;
  const selected = new Int32Array(nAll);
  const inBase = new Int32Array(nAll);
  let noSample = 0;
  for (let i = 0; i < nCells; i++) {
    if (labels[i] === 0) continue;
    const k = sampleOf[i]!;
    if (k < 0) { noSample++; continue; }
    selected[k]!++;
    if (labels[i] === 1) inBase[k]!++;
  }
  const name = (k: number): string => sampleClass.children[k]!.name;
  const dropped: string[] = [];
  for (let k = 0; k < nAll; k++) if (selected[k]! > 0 && selected[k]! < MIN_CELLS_PER_SAMPLE) dropped.push(name(k));
  const mixed: string[] = [];
  for (let k = 0; k < nAll; k++) {
    if (selected[k]! >= MIN_CELLS_PER_SAMPLE && inBase[k]! > 0 && inBase[k]! < selected[k]!) {
      mixed.push(`${name(k)} (${inBase[k]} base, ${selected[k]! - inBase[k]!} background cells)`);
    }
  }
  if (mixed.length > 0) {
    throw invalidInput(`A between-sample comparison needs each sample wholly in one group, but ${mixed.length === 1 ? "sample" : "samples"} ${listNames(mixed, 5)} ${mixed.length === 1 ? "has" : "have"} cells in both. Compare sets made of whole samples (e.g. sample or metadata groups), restricting to a cell population with the basis.`);
  }

  // kept samples in order of their first selected cell
  const column = new Int32Array(nAll).fill(-1);
  const keptSamples: number[] = [];
  for (let i = 0; i < nCells; i++) {
    const k = sampleOf[i]!;
    if (labels[i] === 0 || k < 0 || selected[k]! < MIN_CELLS_PER_SAMPLE || column[k] !== -1) continue;
    column[k] = keptSamples.length;
    keptSamples.push(k);
  }
  const nSamples = keptSamples.length;
  const group = Int32Array.from(keptSamples, (k) => (inBase[k]! > 0 ? 1 : 0)); // design columns: background, base
  const baseNames = keptSamples.filter((_, j) => group[j] === 1).map(name);
  const backgroundNames = keptSamples.filter((_, j) => group[j] === 0).map(name);
  const droppedNote = dropped.length > 0 ? ` (dropped for having fewer than ${MIN_CELLS_PER_SAMPLE} selected cells: ${listNames(dropped)})` : "";
  if (nSamples < 2 || baseNames.length === 0 || backgroundNames.length === 0) {
    const which = nSamples < 2 ? `${nSamples} usable sample${nSamples === 1 ? "" : "s"}` : `no usable sample in the ${baseNames.length === 0 ? "base" : "background"} group`;
    throw invalidInput(`A between-sample comparison needs at least one sample with at least ${MIN_CELLS_PER_SAMPLE} selected cells in each group; found ${which}${droppedNote}.`);
  }

  const cellColumn = new Int32Array(nCells).fill(-1);
  for (let i = 0; i < nCells; i++) if (labels[i] !== 0 && sampleOf[i]! >= 0) cellColumn[i] = column[sampleOf[i]!]!;
  const nGenes = exp.nGenes;
  const fit = pseudobulkLimmaVoom(exp.data.matrix, cellColumn, group, progress);
  const nKept = fit.genesKept;
  if (fit.kind === "too-few-genes") {
    throw invalidInput(`Only ${nKept} gene${nKept === 1 ? "" : "s"} pass${nKept === 1 ? "es" : ""} edgeR's filterByExpr for these samples: too few counts for a pseudobulk comparison.`);
  }
  const base = `pseudobulk limma-voom as the original worker: raw counts of the selected cells summed per sample; ${baseNames.length} base vs ${backgroundNames.length} background sample${nSamples === 2 ? "" : "s"}${droppedNote}${noSample > 0 ? `; ${noSample} selected cells in no sample left out` : ""}; edgeR filterByExpr(group) kept ${nKept} of ${nGenes} genes (the others are null rows), TMM normalisation; limma voomWithQualityWeights (design ~0 + group), lmFit, contrast base - background`;

  let result: PseudobulkDeResult;
  const samples = { base: baseNames, background: backgroundNames, dropped };
  if (!fit.pValue || !fit.pAdjusted) {
    result = {
      logFC: fit.logFC, AveExpr: fit.AveExpr, order: fit.order,
      method: `${base}; one sample per group, so no replication: logFC and AveExpr only, no p-values.`,
      samples, genesKept: nKept,
    };
  } else {
    const pAdj = fit.pAdjusted;
    for (let g = 0; g < nGenes; g++) if (pAdj[g] === 0) pAdj[g] = MIN_NORMAL;
    result = {
      logFC: fit.logFC, AveExpr: fit.AveExpr, p_val: fit.pValue, p_val_adj: pAdj, order: fit.order,
      method: `${base}; eBayes(robust = TRUE); Benjamini-Hochberg adjusted p-values.`,
      samples, genesKept: nKept,
    };
  }
  progress(1);
  return result;
}
