/**
 * GetNormalizedExpression (reference spec §5.17): the log-normalised matrix of the selected
 * cells as a gzip-compressed CSV file (genes x cells, layout in shared/normalized-csv.ts),
 * returned as a FileResult (content type text/csv, encoding gzip) whose stream is produced
 * row by row as it is read, so neither the CSV text nor the gzip bytes are ever whole in
 * memory.
 *
 * Cells: `subsetBy` has four categories of cell-set keys (louvain, sample, metadata,
 * customCellSets; a missing or empty list = no restriction). Each non-empty category
 * selects the union of its keys' cells (a class key means all its children), the categories
 * are intersected, and the result is restricted to the cells in the data (kept in the data's
 * order). No category given → every cell. No cell left → EMPTY_CELL_SET "No cells match
 * requested filters." (the original's message); an unknown key → INVALID_INPUT naming it
 * (the original failed with an unexpected error). Both are thrown by `run`, before any byte
 * is produced.
 */
import { Readable, pipeline } from "node:stream";
import { createGzip } from "node:zlib";
import { z } from "zod";
import { defineTask, type FileResult } from "./task.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { cellIdsOf } from "../experiment/cell-sets/cell-sets.ts";
import { ErrorCode, invalidInput, WorkerError } from "../result/errors.ts";
import { normalizedCsvChunks } from "./shared/normalized-csv.ts";

export const MAX_KEYS = 10_000;
export const NO_CELLS_MATCH = "No cells match requested filters.";
export const CATEGORIES = ["louvain", "sample", "metadata", "customCellSets"] as const;

const Keys = z.array(z.string().min(1).max(1000)).max(MAX_KEYS).optional();

const Body = z.object({
  name: z.literal("GetNormalizedExpression"),
  subsetBy: z.object({ louvain: Keys, sample: Keys, metadata: Keys, customCellSets: Keys }).strict(),
}).strict();

export type SubsetBy = z.infer<typeof Body>["subsetBy"];

export default defineTask({
  name: "GetNormalizedExpression",
  body: Body,
  cacheable: true,
  effect: "none",
  matrix: "whole",
  example: { name: "GetNormalizedExpression", subsetBy: { louvain: ["louvain-0"] } },
  async run(body, { experiment: exp, progress }): Promise<FileResult> {
    const cells = selectedCells(exp, body.subsetBy);
    return {
      kind: "file",
      contentType: "text/csv",
      contentEncoding: "gzip",
      open: () => gzipStream(normalizedCsvChunks(exp, cells, progress)),
    };
  },
});

/** Cell indices (ascending) selected by `subsetBy`; throws as described in the file header. */
export function selectedCells(exp: Experiment, subsetBy: SubsetBy): Int32Array {
  let selected: Set<number> | null = null;
  for (const category of CATEGORIES) {
    const keys = subsetBy[category] ?? [];
    if (keys.length === 0) continue;
    const union = new Set<number>();
    for (const key of keys) {
      const ids = cellIdsOf(exp.cellSets, key);
      if (!ids) throw invalidInput(`subsetBy.${category}: there is no cell set with key ${JSON.stringify(key.slice(0, 200))}.`);
      for (const id of ids) if (!selected || selected.has(id)) union.add(id);
    }
    selected = union;
  }
  const out: number[] = [];
  exp.data.cellIds.forEach((id, c) => { if (!selected || selected.has(id)) out.push(c); });
  if (out.length === 0) throw new WorkerError(ErrorCode.EMPTY_CELL_SET, NO_CELLS_MATCH);
  return Int32Array.from(out);
}

/**
 * A gzip stream of the chunks, pulled only as fast as the reader consumes it. A failure while
 * producing destroys the returned stream with the error; destroying it stops the producer.
 */
function gzipStream(chunks: Iterable<string>): Readable {
  const gzip = createGzip();
  pipeline(Readable.from(chunks, { highWaterMark: 2 }), gzip, () => {});
  return gzip;
}
