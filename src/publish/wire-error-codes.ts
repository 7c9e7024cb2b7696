/**
 * Error codes as today's Cellenics UI receives them (reference spec §2.8). Where the original
 * worker had a code for the same failure, the current protocol sends that one, because the UI
 * branches on it (e.g. `R_WORKER_EMPTY_CELL_SET` after GetExpressionCellSets or the normalized
 * matrix download); every other code is sent as it is. The 2021 protocol had no error codes,
 * so its responses carry ours unchanged.
 */
const ORIGINAL_CODE: Record<string, string> = {
  EMPTY_CELL_SET: "R_WORKER_EMPTY_CELL_SET",
  GENE_NOT_FOUND: "R_WORKER_GENE_NOT_FOUND",
  COLUMN_NOT_FOUND: "R_WORKER_COLUMN_NOT_FOUND",
  EMPTY_ROOT_NODES: "R_WORKER_TRAJECTORY_ANALYSIS_EMPTY_ROOT_NODES",
};

export function wireErrorCode(code: string): string {
  return ORIGINAL_CODE[code] ?? code;
}
