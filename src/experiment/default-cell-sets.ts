/**
 * The cell-set classes an experiment gets when no cell-sets file is given: `louvain` from the
 * preprocessing clusters, an empty `scratchpad`, `sample` from a sample column, and one
 * metadataCategorical class per other categorical obs column with at most 100 levels.
 * A Seurat object's `seurat_clusters` are the `louvain` class (children `louvain-{n}` named
 * `Cluster {n}`, as the R worker builds it, spec §5.7), coloured from `misc$color_pool` in
 * cluster order, and not a metadata class too.
 */
import type { LoadedData } from "./types.ts";
import type { ProcessedState } from "./preprocess.ts";
import { clusterClass, emptyScratchpad, metadataClass, type CellClass } from "./cell-sets/cell-sets.ts";

const SAMPLE_COLUMNS = ["sample", "samples", "sample_id", "Sample"];
const MAX_LEVELS = 100;

export function defaultCellSets(data: LoadedData, state: ProcessedState): CellClass[] {
  const louvain = clusterClass({ key: "louvain", name: "louvain clusters", type: "louvain", labels: state.louvain, cellIds: data.cellIds });
  const pool = data.seuratMisc?.colorPool ?? [];
  if (state.stored?.clusters && pool.length > 0) {
    // the R worker consumes misc$color_pool in sorted cluster order; past its end, the default palette
    louvain.children = louvain.children.map((child, i) => (i < pool.length ? { ...child, color: pool[i]! } : child));
  }
  const out: CellClass[] = [louvain, emptyScratchpad()];
  const categorical = data.obs.filter((c) => c.kind === "categorical" && c.categories.length <= MAX_LEVELS
    && !(state.stored?.clusters && c.name === "seurat_clusters"));
  const sampleCol = categorical.find((c) => SAMPLE_COLUMNS.includes(c.name));
  for (const col of categorical) {
    if (col.kind !== "categorical") continue;
    const isSample = col === sampleCol;
    out.push(metadataClass({
      key: isSample ? "sample" : col.name,
      name: isSample ? "Samples" : col.name,
      categories: col.categories,
      codes: col.codes,
      cellIds: data.cellIds,
    }));
  }
  return out;
}
