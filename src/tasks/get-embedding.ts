/**
 * GetEmbedding (reference spec §5.1): `[x, y]` per cell id (null for ids not in the data).
 * pca: the first two stored PCs. umap: 30 neighbours on the first 30 PCs, minimumDistance
 * (default 0.3), euclidean or cosine. tsne: perplexity (default 30). `useSaved` returns the
 * file's obsm X_umap / X_tsne when present. Seeds are fixed, results memoised per parameters.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { pairsByCellId } from "./shared/by-cell-id.ts";
import { computeEmbedding } from "../experiment/embeddings.ts";
import { ErrorCode, WorkerError } from "../result/errors.ts";

const Body = z.object({
  name: z.literal("GetEmbedding"),
  type: z.enum(["pca", "umap", "tsne", "images"]),
  config: z.object({
    minimumDistance: z.number().min(0).max(100).optional(),
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
  example: { name: "GetEmbedding", type: "umap", config: { minimumDistance: 0.3, distanceMetric: "cosine" } },
  async run(body, { experiment: exp, progress }) {
    const cfg = body.config ?? {};
    switch (body.type) {
      case "pca":
        return pairsByCellId(exp, exp.state.pca.scores, exp.state.pca.nPcs);
      case "images":
        throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, "This experiment has no spatial images; use type pca, umap or tsne.");
      case "umap":
      case "tsne": {
        const saved = exp.data.embeddings[body.type === "umap" ? "X_umap" : "X_tsne"];
        if (body.useSaved && saved) return pairsByCellId(exp, saved.values, saved.dims);
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
