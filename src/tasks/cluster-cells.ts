/**
 * ClusterCells (reference spec §5.7, §6.5): Louvain or Leiden on the SNN graph of the first 30
 * PCs (k = 20, Jaccard pruning 1/15, as Seurat's FindNeighbors), resolution from `config` or
 * the 2021 `params` (default 0.8), fixed seed; clusters numbered 0.. by decreasing size.
 * Returns the new cell class; its declared effect puts it first in the experiment's cell sets
 * (replacing the class with the same key), so later requests see the new clusters. Not cacheable.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { clusterCells, clusteringSubset, snnGraphOf, CLUSTER_DEFAULTS } from "../numerics/cluster.ts";
import type { WeightedGraph } from "../numerics/snn.ts";
import type { Neighbors } from "../numerics/scran.ts";
import { clusterClass } from "../experiment/cell-sets/cell-sets.ts";
import type { Experiment } from "../experiment/experiment.ts";

const Resolution = z.object({ resolution: z.number().gt(0).max(10).optional() }).loose();

const Body = z.object({
  name: z.literal("ClusterCells"),
  type: z.enum(["louvain", "leiden"]),
  config: Resolution.optional(),
  params: Resolution.optional(),
  cellSetKey: z.string().min(1).max(256).optional(),
  cellSetName: z.string().min(1).max(256).optional(),
}).strict();

/** The clustering neighbours (k = 20 counting the cell, first 30 PCs) from those preprocessing kept. */
export function clusteringNeighborsOf(exp: Experiment): Promise<Neighbors> {
  return exp.memoize("clustering-neighbors", async () => clusteringSubset(exp.state.neighbors));
}

/** Seurat's SNN graph of the clustering neighbours preprocessing kept, built once per experiment. */
function snnGraph(exp: Experiment): Promise<WeightedGraph> {
  return exp.memoize("snn-graph", async () => snnGraphOf(await clusteringNeighborsOf(exp)));
}

export default defineTask({
  name: "ClusterCells",
  body: Body,
  cacheable: false,
  effect: "replace-class",
  example: { name: "ClusterCells", type: "louvain", config: { resolution: 0.5 }, cellSetKey: "louvain", cellSetName: "Louvain clusters" },
  async run(body, { experiment: exp }) {
    const resolution = body.config?.resolution ?? body.params?.resolution ?? CLUSTER_DEFAULTS.resolution;
    const labels = await exp.memoize(`clusters:${body.type}:${resolution}`, async () =>
      body.type === "louvain" && resolution === CLUSTER_DEFAULTS.resolution
        ? exp.state.louvain // computed by preprocessing with the same parameters
        : clusterCells(await clusteringNeighborsOf(exp), body.type, resolution, body.type === "louvain" ? await snnGraph(exp) : undefined),
    );
    const cls = clusterClass({
      key: body.cellSetKey ?? "louvain",
      name: body.cellSetName ?? `${body.type} clusters`,
      type: body.type,
      labels,
      cellIds: exp.data.cellIds,
    });
    return cls;
  },
});
