/**
 * Cell-set changes made by tasks, as the API's json-merger PATCH bodies (reference spec §3.4).
 *
 * In today's Cellenics the cell-set document lives in S3 and only the API writes it, so a task
 * that changes cell sets has the worker PATCH `/v2/experiments/{experimentId}/cellSets` with
 * the request's `Authorization`. Tasks themselves do no I/O: each one returns what it made, and
 * the table below says, by task name, what that means for the document:
 * - ClusterCells returns the new class: the class with its key is removed and the new one put
 *   first (`$match … $remove`, then `$prepend`).
 * - GetExpressionCellSets returns the new set: it is appended to the `scratchpad` class's
 *   children (`$insert` at index "-").
 * Anything else changes nothing.
 */
import { z } from "zod";
import { CellClassSchema, CellSetSchema } from "../experiment/cell-sets/cell-sets.ts";

/** A `application/boschni-json-merger+json` body. */
export type MergePatch = Record<string, unknown>[];

/** Cell ids as a plain JSON array, whatever array-like the task used. */
const CellIds = z.preprocess((v) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v), z.array(z.number().int().nonnegative()));

const ClassResult = CellClassSchema.extend({ children: z.array(CellSetSchema.extend({ cellIds: CellIds })) });
const SetResult = CellSetSchema.extend({ cellIds: CellIds });

/** The JSONPath the API's merger uses to find a class by key (the R worker's `$[?(@.key == "…")]`). */
export function classQuery(key: string): string {
  return `$[?(@.key == ${JSON.stringify(key)})]`;
}

/** Replace the class with this key, putting the new one first (ClusterCells, CellCycleScoring). */
export function replaceClassFirst(cls: z.infer<typeof ClassResult>): MergePatch {
  return [
    { $match: { query: classQuery(cls.key), value: { $remove: true } } },
    { $prepend: cls },
  ];
}

/** Append a set to the scratchpad class (GetExpressionCellSets). */
export function appendToScratchpad(set: z.infer<typeof SetResult>): MergePatch {
  return [
    { $match: { query: classQuery("scratchpad"), value: { children: [{ $insert: { index: "-", value: set } }] } } },
  ];
}

const WRITES: Record<string, (data: unknown) => MergePatch> = {
  ClusterCells: (data) => replaceClassFirst(ClassResult.parse(data)),
  GetExpressionCellSets: (data) => appendToScratchpad(SetResult.parse(data)),
};

/** Whether a task's successful result must be saved through the API. */
export function writesCellSets(taskName: string): boolean {
  return Object.hasOwn(WRITES, taskName);
}

/**
 * The PATCH body for a task's result, or null when the task changes no cell sets. Throws
 * when the result does not have the shape the task promises (a bug, not a user error).
 */
export function cellSetPatchFor(taskName: string, data: unknown): MergePatch | null {
  const write = Object.hasOwn(WRITES, taskName) ? WRITES[taskName] : undefined;
  return write ? write(data) : null;
}
