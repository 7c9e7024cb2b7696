/**
 * The matrix of an experiment opened from the processed-state cache, before its two large
 * arrays (8 bytes per non-zero: 6.8 GB at a million cells) are in memory. The shape and the
 * row pointers are there from the start; the cell indices and values arrive from a background
 * read (`fill`). Until then, reading `indices` or `values` throws: a task that reads the whole
 * matrix declares it (`matrix: "whole"`, src/tasks/task.ts) and the runner waits for the read,
 * and a task that reads a few genes asks the experiment for their rows (`Experiment.rowsOf`).
 * The throw is a guard against a task that declares too little, never a user's error.
 */
import type { GeneMajorMatrix } from "../numerics/sparse.ts";

export class PendingMatrix implements GeneMajorMatrix {
  readonly nGenes: number;
  readonly nCells: number;
  readonly indptr: Float64Array;
  private arrays: { indices: Int32Array; values: Float32Array } | null = null;

  constructor(nGenes: number, nCells: number, indptr: Float64Array) {
    this.nGenes = nGenes;
    this.nCells = nCells;
    this.indptr = indptr;
  }

  get inMemory(): boolean { return this.arrays !== null; }

  get indices(): Int32Array { return this.loaded().indices; }
  get values(): Float32Array { return this.loaded().values; }

  /** The arrays, once read; their lengths must match the row pointers. */
  fill(indices: Int32Array, values: Float32Array): void {
    const nnz = nonZeros(this);
    if (indices.length !== nnz || values.length !== nnz) throw new Error(`matrix arrays of ${indices.length} and ${values.length} entries for ${nnz} non-zeros`);
    this.arrays = { indices, values };
  }

  private loaded(): { indices: Int32Array; values: Float32Array } {
    if (!this.arrays) throw new Error("the matrix is still being read from the processed-state cache: a task reading it whole must declare matrix: \"whole\"");
    return this.arrays;
  }
}

/** Whether a matrix's arrays are in memory (every matrix but a PendingMatrix still being read). */
export function inMemory(m: GeneMajorMatrix): boolean {
  return !(m instanceof PendingMatrix) || m.inMemory;
}

/** Stored non-zeros of a matrix, from its row pointers (works before its arrays are read). */
export function nonZeros(m: Pick<GeneMajorMatrix, "indptr" | "nGenes">): number {
  return m.indptr[m.nGenes]!;
}
