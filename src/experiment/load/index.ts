/**
 * Format detection: a folder with matrix.mtx[.gz] is 10x Matrix Market, `.h5ad` is AnnData,
 * `.h5` is Cell Ranger HDF5, `.rds` a Seurat object. Seurat `.qs` files (qs format) are refused:
 * there is no maintained reader outside R. The registry maps each format to its reader.
 */
import { existsSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { ErrorCode, WorkerError } from "../../result/errors.ts";
import type { LoadedData } from "../types.ts";
import { isTenxMtxFolder, loadTenxMtx } from "./tenx-mtx.ts";

export type Format = LoadedData["format"];

// HDF5 readers are imported on first use: h5wasm's Wasm module is not loaded for 10x folders.
const readers: Record<Format, (path: string) => Promise<LoadedData>> = {
  "10x-mtx": loadTenxMtx,
  "10x-h5": async (path) => (await import("./tenx-h5.ts")).loadTenxH5(path),
  h5ad: async (path) => (await import("./h5ad.ts")).loadH5ad(path),
  rds: async (path) => (await import("./rds.ts")).loadRds(path),
};

/** The format and the path to hand to its reader (a matrix.mtx file resolves to its folder). */
export function detectFormat(path: string): { format: Format; path: string } {
  if (!existsSync(path)) throw new WorkerError(ErrorCode.DATA_NOT_FOUND, `${path}: no such file or folder`);
  const info = statSync(path);
  if (info.isDirectory()) {
    if (isTenxMtxFolder(path)) return { format: "10x-mtx", path };
    throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, `${path}: folder has no matrix.mtx[.gz] (expected a 10x Matrix Market folder)`);
  }
  const name = basename(path).toLowerCase();
  if (name.endsWith(".h5ad")) return { format: "h5ad", path };
  if (name.endsWith(".h5") || name.endsWith(".hdf5")) return { format: "10x-h5", path };
  if (name.endsWith(".rds")) return { format: "rds", path };
  if (name.endsWith(".qs")) {
    throw new WorkerError(
      ErrorCode.DATA_UNSUPPORTED,
      `${basename(path)}: Seurat objects saved with qs cannot be read; re-save it in R as .rds (saveRDS(object, "r.rds")) and upload that`,
    );
  }
  if (/^matrix\.mtx(\.gz)?$/.test(name)) return { format: "10x-mtx", path: dirname(path) };
  throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, `${path}: unknown format (expected a 10x folder, .h5, .h5ad or a Seurat .rds)`);
}

export function loadData(format: Format, path: string): Promise<LoadedData> {
  return readers[format](path);
}
