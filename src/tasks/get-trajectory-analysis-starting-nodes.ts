/**
 * GetTrajectoryAnalysisStartingNodes (reference spec §5.14): the principal graph of the
 * selected cells on the experiment's UMAP, as `{connectedNodes, x, y}`: node i (0-based) is at
 * (x[i], y[i]) and connectedNodes[i] lists its neighbours with a higher index (each edge once,
 * always an array).
 *
 * Cells: the union of the cells of `cellSets` (a class key means all its children), restricted
 * to the cells in the data. An unknown key is INVALID_INPUT naming it (the original: an
 * unexpected error); no cell left is EMPTY_CELL_SET.
 *
 * Embedding: the original downloads the GetEmbedding result named by `embedding.ETag`; here the
 * same UMAP is computed (or taken from the memo GetEmbedding filled) from
 * `embedding.methodSettings` through experiment/embeddings.ts. Only UMAP, as the original.
 * `clustering` is accepted and, as in the original (which ignores its resolution and uses the
 * clusters only for monocle3's partitions), does not change the graph: this worker learns one
 * tree over all selected cells.
 *
 * Graph: numerics/trajectory.ts (SimplePPT after monocle3's learn_graph; README says how it
 * differs). Memoised per embedding settings and cell selection, so that
 * GetTrajectoryAnalysisPseudoTime's node indices refer to the same graph.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { defineTask } from "./task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { computeEmbedding, type EmbeddingParams } from "../experiment/embeddings.ts";
import { cellIdsOf } from "../experiment/cell-sets/cell-sets.ts";
import { connectedNodes, learnPrincipalGraph, type PrincipalGraph } from "../numerics/trajectory.ts";
import { ErrorCode, invalidInput, WorkerError } from "../result/errors.ts";
import { UMAP_SPREAD } from "./get-embedding.ts";

export const MAX_CELL_SET_KEYS = 10_000;
const MIN_DIST_RANGE = `must be between 0 and ${UMAP_SPREAD} (UMAP's spread)`;

/** `embedding`, `clustering` and `cellSets` of both trajectory bodies (spec §5.14). */
export const trajectoryFields = {
  embedding: z.object({
    method: z.literal("umap", { message: "only umap embeddings are supported for trajectory analysis" }),
    methodSettings: z.object({
      distanceMetric: z.enum(["euclidean", "cosine"]).optional(),
      minimumDistance: z.number().min(0, MIN_DIST_RANGE).max(UMAP_SPREAD, MIN_DIST_RANGE).optional(),
    }).strict().optional(),
    ETag: z.string().max(1000).optional(),
  }).strict(),
  clustering: z.object({
    method: z.enum(["louvain", "leiden"]),
    resolution: z.number().gt(0).max(1000),
  }).strict(),
  cellSets: z.array(z.string().min(1).max(1000)).max(MAX_CELL_SET_KEYS),
};

const Body = z.object({ name: z.literal("GetTrajectoryAnalysisStartingNodes"), ...trajectoryFields }).strict();

type TrajectoryBody = Pick<z.infer<typeof Body>, "embedding" | "cellSets">;

/** The fields of both examples, as the UI sends them (the API adds embedding.ETag). */
export const exampleFields = () => ({
  embedding: { method: "umap" as const, methodSettings: { distanceMetric: "cosine" as const, minimumDistance: 0.3 } },
  clustering: { method: "louvain" as const, resolution: 0.8 },
  cellSets: ["louvain"],
});

export interface TrajectoryGraph {
  /** cell indices (ascending) the graph was learnt on */
  cells: Int32Array;
  /** their UMAP coordinates, cells x 2 row-major */
  coords: Float64Array;
  graph: PrincipalGraph;
}

export default defineTask({
  name: "GetTrajectoryAnalysisStartingNodes",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "none",
  example: { name: "GetTrajectoryAnalysisStartingNodes", ...exampleFields() },
  async run(body, { experiment: exp, progress }) {
    const { graph } = await trajectoryGraph(exp, body, progress);
    const x: number[] = [], y: number[] = [];
    for (let j = 0; j < graph.nNodes; j++) { x.push(graph.nodes[2 * j]!); y.push(graph.nodes[2 * j + 1]!); }
    return { connectedNodes: connectedNodes(graph), x, y };
  },
});

/** The selected cells, their UMAP and the principal graph on it; memoised (see the file header). */
export async function trajectoryGraph(exp: Experiment, body: TrajectoryBody, progress?: (f: number) => void): Promise<TrajectoryGraph> {
  const cells = selectedCells(exp, body.cellSets);
  const settings = body.embedding.methodSettings ?? {};
  const params: EmbeddingParams = { type: "umap", minDist: settings.minimumDistance ?? 0.3, metric: settings.distanceMetric ?? "euclidean" };
  const digest = createHash("sha256").update(new Uint8Array(cells.buffer, cells.byteOffset, cells.byteLength)).digest("hex");
  return exp.memoize(`trajectory:${JSON.stringify(params)}:${digest}`, async () => {
    const all = await computeEmbedding(exp, params, progress ? (f) => progress(0.9 * f) : undefined);
    const coords = new Float64Array(2 * cells.length);
    cells.forEach((c, i) => { coords[2 * i] = all[2 * c]!; coords[2 * i + 1] = all[2 * c + 1]!; });
    const graph = learnPrincipalGraph(coords, cells.length);
    progress?.(1);
    return { cells, coords, graph };
  });
}

/** Cell indices (ascending) of the union of `keys`, restricted to the cells in the data. */
export function selectedCells(exp: Experiment, keys: readonly string[]): Int32Array {
  if (keys.length === 0) throw invalidInput("cellSets: select at least one cell set.");
  const ids = new Set<number>();
  for (const key of keys) {
    const members = cellIdsOf(exp.cellSets, key);
    if (!members) throw invalidInput(`cellSets: there is no cell set with key ${JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}…` : key)}.`);
    for (const id of members) ids.add(id);
  }
  const out: number[] = [];
  exp.data.cellIds.forEach((id, c) => { if (ids.has(id)) out.push(c); });
  if (out.length === 0) throw new WorkerError(ErrorCode.EMPTY_CELL_SET, "The selected cell sets hold no cells of this experiment.");
  return Int32Array.from(out);
}
