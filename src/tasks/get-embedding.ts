/**
 * GetEmbedding (reference spec §5.1): `[x, y]` per cell id (null for ids not in the data).
 * pca: the first two PCs (a Seurat object's stored PCA as it is). umap: 30 neighbours on the
 * first 30 PCs (a Seurat object's: its numPCs stored PCs, as the R worker's umap2), minimumDistance
 * (default 0.3; 0 to 1, since umap-learn requires min_dist <= spread and the spread is 1),
 * euclidean or cosine. tsne: perplexity (default 30; when given, at most (cells - 1) / 3, so
 * that 3 x perplexity neighbours exist, as Rtsne requires); learningRate is accepted and has
 * no effect (scran.js's t-SNE has a fixed one). Stored layouts: `useSaved` returns the file's
 * obsm X_umap / X_tsne when present (the R worker's use_saved); for a Seurat object, so does a
 * request with none of the type's settings (no minimumDistance / distanceMetric, no perplexity /
 * learningRate: the R worker would fail on it, so nothing it answers changes), since the object's
 * layout is the pipeline's; a request with settings is a recomputation, as in the R worker
 * (h5ad layouts are recomputed on demand, spec §4.2). Seeds are fixed, results memoised per parameters. Coordinates are
 * always finite: a non-finite one is an error (DATA_INVALID for a file's saved embedding).
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { pairsByCellId } from "./shared/by-cell-id.ts";
import { computeEmbedding, nonFiniteCells } from "../experiment/embeddings.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { ErrorCode, invalidInput, WorkerError } from "../result/errors.ts";

/** umap-learn's bound: min_dist <= spread; scran.js's UMAP uses umap-learn's default spread, 1. */
export const UMAP_SPREAD = 1;
const MIN_DIST_RANGE = `must be between 0 and ${UMAP_SPREAD} (UMAP's spread)`;

const Body = z.object({
  name: z.literal("GetEmbedding"),
  type: z.enum(["pca", "umap", "tsne", "images"]),
  config: z.object({
    minimumDistance: z.number().min(0, MIN_DIST_RANGE).max(UMAP_SPREAD, MIN_DIST_RANGE).optional(),
    distanceMetric: z.enum(["euclidean", "cosine"]).optional(),
    perplexity: z.number().gt(0).max(500).optional(),
    learningRate: z.number().min(0).max(1e6).optional(),
  }).loose().optional(),
  useSaved: z.boolean().optional(),
}).strict();

export default defineTask({
  name: "GetEmbedding",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "none",
  example: { name: "GetEmbedding", type: "umap", config: { minimumDistance: 0.3, distanceMetric: "cosine" } },
  async run(body, { experiment: exp, progress }) {
    const cfg = body.config ?? {};
    switch (body.type) {
      case "pca":
        if (nonFiniteCells(exp.state.pca.scores, exp.nCells, exp.state.pca.nPcs) > 0) {
          throw new WorkerError(ErrorCode.WORKER_ERROR, "The PCA of this experiment has non-finite scores.");
        }
        return pairsByCellId(exp, exp.state.pca.scores, exp.state.pca.nPcs);
      case "images":
        throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, "This experiment has no spatial images; use type pca, umap or tsne.");
      case "umap":
      case "tsne": {
        const key = body.type === "umap" ? "X_umap" : "X_tsne";
        const saved = exp.data.embeddings[key];
        const noSettings = body.type === "umap"
          ? cfg.minimumDistance === undefined && cfg.distanceMetric === undefined
          : cfg.perplexity === undefined && cfg.learningRate === undefined;
        if (saved && (body.useSaved || (exp.data.format === "rds" && noSettings))) {
          const bad = nonFiniteCells(saved.values, exp.nCells, saved.dims);
          if (bad > 0) throw new WorkerError(ErrorCode.DATA_INVALID, `The file's obsm ${key} has non-finite coordinates for ${bad} of ${exp.nCells} cells; request it without useSaved to compute one.`);
          return pairsByCellId(exp, saved.values, saved.dims);
        }
        if (body.type === "tsne" && cfg.perplexity !== undefined) checkPerplexity(exp, cfg.perplexity);
        const coords = await computeEmbedding(
          exp,
          body.type === "umap"
            ? { type: "umap", minDist: cfg.minimumDistance ?? 0.3, metric: cfg.distanceMetric ?? "euclidean" }
            : { type: "tsne", perplexity: cfg.perplexity ?? 30, learningRate: cfg.learningRate ?? 200 },
          progress,
        );
        return pairsByCellId(exp, coords, 2);
      }
    }
  },
});

/**
 * t-SNE weighs each cell's ceil(3 x perplexity) nearest neighbours; past (cells - 1) / 3 there
 * are not that many, and every larger perplexity would give the same layout.
 */
function checkPerplexity(exp: Experiment, perplexity: number): void {
  if (Math.ceil(3 * perplexity) <= exp.nCells - 1) return;
  const most = Math.floor(((exp.nCells - 1) / 3) * 100) / 100;
  throw invalidInput(`body.config.perplexity: at most ${most} for this experiment's ${exp.nCells} cells (3 x perplexity nearest neighbours must exist); got ${perplexity}.`);
}
