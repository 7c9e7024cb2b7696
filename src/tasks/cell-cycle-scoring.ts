/**
 * CellCycleScoring (reference spec §5.20): Seurat's `CellCycleScoring` on the log-normalised
 * data, called as the original worker calls it, giving the cell class `Phase` whose children
 * are the phases S, G2M, G1 (and "Undecided" for a cell whose two scores are equal). The
 * declared effect puts the class first in the experiment's cell sets, replacing an earlier
 * `Phase`. Not cacheable.
 *
 * Feature lists as the original builds them: the symbols of Seurat's `cc.genes.updated.2019`
 * (or, with `geneList`, the 2016 `cc.genes` the original used) that are gene ids of the data, followed by the genes
 * whose symbol matches a listed symbol case-insensitively (first match per symbol; this is what
 * finds the genes of data keyed by Ensembl ids, and mouse symbols such as `Mcm5`); repeats
 * dropped. The number of control genes per feature is Seurat's `min(length(s.features),
 * length(g2m.features))` of those lists before the genes absent from the data are dropped
 * (so it counts both parts). Scores as numerics/module-score.ts computes them, with R's random
 * numbers seeded as Seurat seeds them: identical control genes, scores and phases (checked on
 * PBMC 3k and the 2,100-cell multi-batch PBMC data).
 *
 * Departures from the original: where Seurat fails, the original answered with every cell
 * "Undetermined"; this task answers with an error instead: GENE_NOT_FOUND when a list has
 * none of its genes in the data, DATA_UNSUPPORTED when the data has too few genes for 24
 * expression bins of enough control genes. Children in order of first appearance over the
 * cells, as the original; cell ids ascending.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { CC_GENES, CC_GENES_UPDATED_2019, type CellCycleGenes } from "../numerics/cell-cycle-genes.ts";
import { cellCyclePhase, ModuleScoreError, moduleScores, type ModuleScoreResult } from "../numerics/module-score.ts";
import { colorAt, type CellClass } from "../experiment/cell-sets/cell-sets.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";

const GENE_LISTS: Readonly<Record<"cc.genes" | "cc.genes.updated.2019", CellCycleGenes>> = {
  "cc.genes": CC_GENES,
  "cc.genes.updated.2019": CC_GENES_UPDATED_2019,
};

const Body = z.object({
  name: z.literal("CellCycleScoring"),
  /** which of Seurat's lists to score with: `cc.genes.updated.2019` unless told (the original worker used the 2016 `cc.genes`) */
  geneList: z.enum(["cc.genes", "cc.genes.updated.2019"]).optional(),
}).strict();

export const PHASE_CLASS_KEY = "Phase";

/** The feature lists and ctrl the original worker hands to Seurat, as gene indices. */
export function cellCycleFeatures(exp: Experiment, genes: CellCycleGenes): { s: number[]; g2m: number[]; ctrl: number } {
  const byId = new Map<string, number>();
  exp.data.genes.ids.forEach((id, i) => { if (!byId.has(id)) byId.set(id, i); });
  const build = (names: readonly string[]): { features: number[]; length: number } => {
    const matched = names.map((n) => exp.geneBySymbol(n)).filter((g): g is number => g !== undefined);
    const direct = names.map((n) => byId.get(n)).filter((g): g is number => g !== undefined);
    return { features: [...new Set([...direct, ...matched])], length: names.length + matched.length };
  };
  const s = build(genes.s);
  const g2m = build(genes.g2m);
  return { s: s.features, g2m: g2m.features, ctrl: Math.min(s.length, g2m.length) };
}

/** Seurat's S and G2M scores (and the control genes drawn), memoised per gene list. */
export function cellCycleScores(exp: Experiment, listName: keyof typeof GENE_LISTS): Promise<ModuleScoreResult> {
  return exp.memoize(`cell-cycle-scores:${listName}`, async () => {
    const { s, g2m, ctrl } = cellCycleFeatures(exp, GENE_LISTS[listName]);
    for (const [phase, features] of [["S", s], ["G2/M", g2m]] as const) {
      if (features.length === 0) {
        throw new WorkerError(ErrorCode.GENE_NOT_FOUND,
          `None of the ${phase}-phase genes of Seurat's ${listName} were found in this experiment, so cell-cycle phases cannot be scored (the lists are human gene symbols, matched case-insensitively).`);
      }
    }
    try {
      return moduleScores({ matrix: exp.data.matrix, normalizer: exp.normalizer, features: [s, g2m], ctrl });
    } catch (err) {
      if (err instanceof ModuleScoreError) {
        throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, `Cell-cycle scoring needs more genes than this experiment has (${exp.nGenes}): ${err.message}.`);
      }
      throw err;
    }
  });
}

export default defineTask({
  name: "CellCycleScoring",
  body: Body,
  cacheable: false,
  effect: "replace-class",
  matrix: "whole",
  example: { name: "CellCycleScoring" },
  async run(body, { experiment: exp }) {
    const { scores } = await cellCycleScores(exp, body.geneList ?? "cc.genes.updated.2019");
    const [sScore, g2mScore] = scores as [Float64Array, Float64Array];
    const members = new Map<string, number[]>(); // insertion order = first appearance
    for (let c = 0; c < exp.nCells; c++) {
      const phase = cellCyclePhase(sScore[c]!, g2mScore[c]!);
      let ids = members.get(phase);
      if (!ids) members.set(phase, (ids = []));
      ids.push(exp.data.cellIds[c]!);
    }
    const cls: CellClass = {
      key: PHASE_CLASS_KEY,
      name: "Phase",
      rootNode: true,
      type: "cellSets",
      children: [...members].map(([phase, ids], i) => ({
        key: `${PHASE_CLASS_KEY}-${phase.replace(/ /g, "_")}`,
        name: phase,
        rootNode: false,
        type: "cellSets",
        color: colorAt(i),
        cellIds: ids.sort((a, b) => a - b),
      })),
    };
    return cls;
  },
});
