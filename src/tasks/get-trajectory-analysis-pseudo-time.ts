/**
 * GetTrajectoryAnalysisPseudoTime (reference spec §5.15): `{pseudotime}` indexed by cell id
 * from 0 to the largest cell id of the selected cells (as the original), null for cells outside
 * the selection. Pseudotime is the distance along the principal graph of
 * GetTrajectoryAnalysisStartingNodes (same body fields, same memoised graph) from the nearest
 * of `rootNodes` to the cell's projection on the graph (monocle3's order_cells).
 *
 * `rootNodes`: 0-based node indices from StartingNodes. None → EMPTY_ROOT_NODES with the
 * original's message "No root nodes were selected for the analysis." (sent to today's UI as the
 * original's R_WORKER_TRAJECTORY_ANALYSIS_EMPTY_ROOT_NODES); an index past the graph's nodes → INVALID_INPUT
 * naming it (the original: an R error).
 */
import { z } from "zod";
import { defineTask } from "./task.ts";
import { projectCells, pseudotime } from "../numerics/trajectory.ts";
import { ErrorCode, invalidInput, WorkerError } from "../result/errors.ts";
import { exampleFields, trajectoryFields, trajectoryGraph } from "./get-trajectory-analysis-starting-nodes.ts";

export const NO_ROOT_NODES = "No root nodes were selected for the analysis.";

const Body = z.object({
  name: z.literal("GetTrajectoryAnalysisPseudoTime"),
  ...trajectoryFields,
  rootNodes: z.array(z.number().int().nonnegative()).max(100_000),
}).strict();

export default defineTask({
  name: "GetTrajectoryAnalysisPseudoTime",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "none",
  example: { name: "GetTrajectoryAnalysisPseudoTime", ...exampleFields(), rootNodes: [0] },
  async run(body, { experiment: exp, progress }) {
    if (body.rootNodes.length === 0) throw new WorkerError(ErrorCode.EMPTY_ROOT_NODES, NO_ROOT_NODES);
    const { cells, coords, graph } = await trajectoryGraph(exp, body, progress);
    const bad = body.rootNodes.find((r) => r >= graph.nNodes);
    if (bad !== undefined) throw invalidInput(`rootNodes: node ${bad} does not exist; the graph of these cells has nodes 0 to ${graph.nNodes - 1}.`);
    const times = pseudotime(graph, projectCells(graph, coords, cells.length), body.rootNodes);
    let maxId = -1;
    for (const c of cells) maxId = Math.max(maxId, exp.data.cellIds[c]!);
    const out: (number | null)[] = new Array(maxId + 1).fill(null);
    cells.forEach((c, i) => { const t = times[i]!; out[exp.data.cellIds[c]!] = Number.isFinite(t) ? t : null; });
    return { pseudotime: out };
  },
});
