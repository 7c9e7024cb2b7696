/**
 * Plain data shapes shared by the loaders, the preprocessing and the tasks.
 * Nothing here owns Wasm memory: every array is a JS typed array.
 */

export type { GeneMajorMatrix } from "../numerics/sparse.ts";
import type { GeneMajorMatrix } from "../numerics/sparse.ts";

/** What the stored matrix holds. */
export type MatrixKind = "counts" | "lognorm";

export type ObsColumn =
  | { name: string; kind: "categorical"; categories: string[]; codes: Int32Array /* -1 = missing */ }
  | { name: string; kind: "numeric"; values: Float64Array }
  | { name: string; kind: "string"; values: string[] }
  | { name: string; kind: "boolean"; values: Uint8Array };

/** Per-gene values found in the file (AnnData `var`), used when the file cannot be preprocessed. */
export interface StoredGeneStats {
  dispersions?: Float64Array;
  means?: Float64Array;
  highlyVariable?: Uint8Array;
}

/** What the Cellenics pipeline writes into a Seurat object's `misc` besides gene tables. */
export interface SeuratMisc {
  /** `misc$numPCs`: PCs the pipeline used */
  numPCs?: number;
  /** `misc$active.reduction` (e.g. "pca", "harmony"); its embedding is `X_<name>` */
  activeReduction?: string;
  /** `misc$color_pool`: cluster colours */
  colorPool?: string[];
  /** the SeuratObject version the object was written with (its `version` slot) */
  objectVersion?: string;
}

/** A cells x dims embedding stored row-major (cell i at [i*dims, (i+1)*dims)). */
export interface Embedding {
  dims: number;
  values: Float64Array;
  /** standard deviation of each component, when the file stores it (a Seurat DimReduc's `stdev`) */
  stdev?: Float64Array;
}

/** An experiment as read from a file, before any preprocessing. */
export interface LoadedData {
  format: "10x-mtx" | "10x-h5" | "h5ad" | "rds";
  /** the file or folder it came from */
  path: string;
  matrix: GeneMajorMatrix;
  matrixKind: MatrixKind;
  /** where in the file the matrix came from, e.g. "layers/counts", "raw/X", "matrix.mtx.gz" */
  matrixSource: string;
  genes: { ids: string[]; symbols: string[] };
  barcodes: string[];
  /** cell id of each cell in file order (obs `cells_id`/`cell_ids`, else 0..n-1) */
  cellIds: Int32Array;
  obs: ObsColumn[];
  /** obsm embeddings by name, e.g. X_umap, X_tsne, X_pca */
  embeddings: Record<string, Embedding>;
  storedGeneStats?: StoredGeneStats;
  /** settings a Seurat object's `misc` carries (JSON only: kept by the processed-state cache as is) */
  seuratMisc?: SeuratMisc;
  /** things the user should know about the file (e.g. "no raw counts: ...") */
  notes: string[];
}
