/**
 * ClusterCells (reference spec §5.7, §6.5): Louvain or Leiden on the SNN graph of the first 30
 * PCs (k = 20, Jaccard pruning 1/15, as Seurat's FindNeighbors), resolution from `config` or
 * the 2021 `params` (default 0.8), fixed seed; clusters numbered 0.. by decreasing size.
 * Returns the new cell class; its declared effect puts it first in the experiment's cell sets
 * (replacing the class with the same key), so later requests see the new clusters. Not cacheable.
 *
 * Every key in the cell-set tree stays unique. A cellSetKey that is already a cell set's key, or
 * names the scratchpad or a metadata class, is refused with INVALID_INPUT. Clusters of the
 * default class `louvain` are keyed `louvain-N` / `leiden-N` (as Cellenics expects), those of
 * another class `<cellSetKey>-N`; should those keys be taken elsewhere in the tree (e.g. by an
 * obs column "leiden" whose levels are 0, 1, ...), `<cellSetKey>-<type>-N` is used, and if
 * that is taken too the request is refused.
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { clusterCells, clusteringSubset, snnGraphOf, CLUSTER_DEFAULTS } from "../numerics/cluster.ts";
import type { WeightedGraph } from "../numerics/snn.ts";
import type { Neighbors } from "../numerics/scran.ts";
import { clusterClass, type CellClass } from "../experiment/cell-sets/cell-sets.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { invalidInput } from "../result/errors.ts";

const DEFAULT_KEY = "louvain";

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

const shown = (key: string): string => JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key);

/** The class `key` may be replaced: it is not a cell set's key, the scratchpad, or a metadata class. */
function checkReplaceable(sets: CellClass[], key: string): void {
  if (key === "scratchpad") throw invalidInput(`cellSetKey "scratchpad" is the custom cell sets class, which ClusterCells does not replace; choose another key`);
  for (const cls of sets) {
    const child = cls.children.find((c) => c.key === key);
    if (child) {
      throw invalidInput(`cellSetKey ${shown(key)} is already the key of cell set ${shown(child.name)} in class ${shown(cls.name)}; choose a key no cell set or class has`);
    }
    if (cls.key !== key) continue;
    if (cls.type === "metadataCategorical") {
      throw invalidInput(`cellSetKey ${shown(key)} is the metadata class ${shown(cls.name)}, which ClusterCells does not replace; choose another key`);
    }
  }
}

/** "" when no key of `cls` (the class or a cluster) is used elsewhere once `cls` replaces its namesake, else why. */
function keyConflict(sets: CellClass[], cls: CellClass): string {
  const used = new Map<string, string>();
  for (const other of sets) {
    if (other.key === cls.key) continue; // replaced
    used.set(other.key, `class ${shown(other.name)}`);
    for (const c of other.children) used.set(c.key, `cell set ${shown(c.name)} in class ${shown(other.name)}`);
  }
  for (const key of [cls.key, ...cls.children.map((c) => c.key)]) {
    const where = used.get(key);
    if (where !== undefined) return `would create the key ${shown(key)}, which ${where} already has`;
    used.set(key, `the new class ${shown(cls.name)}`);
  }
  return "";
}

export default defineTask({
  name: "ClusterCells",
  body: Body,
  cacheable: false,
  effect: "replace-class",
  matrix: "none",
  example: { name: "ClusterCells", type: "louvain", config: { resolution: 0.5 }, cellSetKey: "louvain", cellSetName: "Louvain clusters" },
  async run(body, { experiment: exp }) {
    const key = body.cellSetKey ?? DEFAULT_KEY;
    checkReplaceable(exp.cellSets, key);
    const resolution = body.config?.resolution ?? body.params?.resolution ?? CLUSTER_DEFAULTS.resolution;
    const labels = await exp.memoize(`clusters:${body.type}:${resolution}`, async () =>
      body.type === "louvain" && resolution === CLUSTER_DEFAULTS.resolution && !exp.state.stored?.clusters
        ? exp.state.louvain // computed by preprocessing with the same parameters (a Seurat object's stored clusters are not: recompute)
        : clusterCells(await clusteringNeighborsOf(exp), body.type, resolution, body.type === "louvain" ? await snnGraph(exp) : undefined),
    );
    const prefixes = key === DEFAULT_KEY ? [body.type, `${key}-${body.type}`] : [key, `${key}-${body.type}`];
    let conflict = "";
    for (const prefix of prefixes) {
      const cls = clusterClass({ key, name: body.cellSetName ?? `${body.type} clusters`, type: prefix, labels, cellIds: exp.data.cellIds });
      conflict = keyConflict(exp.cellSets, cls);
      if (conflict === "") return cls;
    }
    throw invalidInput(`ClusterCells with cellSetKey ${shown(key)} ${conflict}; choose another cellSetKey`);
  },
});
