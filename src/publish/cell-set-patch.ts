/**
 * Cell-set changes as the API's json-merger PATCH bodies (reference spec §3.4).
 *
 * In today's Cellenics the cell-set document lives in S3 and only the API writes it, so a task
 * that changes cell sets has the worker PATCH `/v2/experiments/{experimentId}/cellSets` with
 * the request's `Authorization`. Each task declares its effect (src/tasks/task.ts); this says
 * what each effect means for the document:
 * - `replace-class` (ClusterCells): the class with the result's key is removed and the new
 *   one put first (`$match … $remove`, then `$prepend`).
 * - `append-to-scratchpad` (GetExpressionCellSets): the new set is appended to the
 *   `scratchpad` class's children (`$insert` at index "-").
 */
import { z } from "zod";
import type { CellSetChange } from "./publisher.ts";

/** A `application/boschni-json-merger+json` body. */
export type MergePatch = Record<string, unknown>[];

/** Cell ids as a plain JSON array, whatever array-like the task used. */
const CellIds = z.preprocess((v) => (v instanceof Int32Array || v instanceof Uint32Array || v instanceof Float64Array ? Array.from(v) : v), z.array(z.number().int().nonnegative()));

/** The shape of the result of a task with a cell-set effect (what the UI's cell-set tree holds). */
const SetResult = z.object({
  key: z.string().min(1),
  name: z.string(),
  rootNode: z.boolean().optional(),
  type: z.string().optional(),
  color: z.string().optional(),
  cellIds: CellIds,
}).loose();
const ClassResult = z.object({
  key: z.string().min(1),
  name: z.string(),
  rootNode: z.boolean().optional(),
  type: z.string().optional(),
  children: z.array(SetResult),
}).loose();

/** The JSONPath the API's merger uses to find a class by key (the R worker's `$[?(@.key == "…")]`). */
export function classQuery(key: string): string {
  return `$[?(@.key == ${JSON.stringify(key)})]`;
}

/**
 * The PATCH body for a change. Throws when the result does not have the shape its effect
 * promises (a bug, not a user error).
 */
export function cellSetPatchOf(change: Pick<CellSetChange, "effect" | "data">): MergePatch {
  switch (change.effect) {
    case "replace-class": {
      const cls = ClassResult.parse(change.data);
      return [
        { $match: { query: classQuery(cls.key), value: { $remove: true } } },
        { $prepend: cls },
      ];
    }
    case "append-to-scratchpad": {
      const set = SetResult.parse(change.data);
      return [{ $match: { query: classQuery("scratchpad"), value: { children: [{ $insert: { index: "-", value: set } }] } } }];
    }
  }
}
