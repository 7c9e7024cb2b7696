/**
 * UMAP in two dimensions from precomputed neighbours, single-threaded TypeScript: the fuzzy
 * simplicial set of the neighbour lists (graph.ts), a start from the first two columns of the
 * coordinates the neighbours were found in (the leading PCs, scaled to [0, 10]), and the
 * layout optimisation (layout.ts). Deterministic: same input, same layout.
 */
import { fuzzySimplicialSet, type NeighborLists } from "./graph.ts";
import { optimizeLayout, scaledStart } from "./layout.ts";

export interface UmapOptions {
  minDist: number;
  epochs: number;
  /** cells x startDims row-major: the coordinates the neighbours were found in (its first two columns start the layout) */
  start: Float64Array;
  startDims: number;
}

/** cells x 2 row-major layout; `onProgress(fraction of epochs done)` about every 0.5 s and at the end. */
export function umap(nn: NeighborLists, opts: UmapOptions, onProgress?: (fraction: number) => void): Float64Array {
  if (opts.start.length !== nn.nCells * opts.startDims) throw new RangeError(`UMAP start has ${opts.start.length} values, not ${nn.nCells} x ${opts.startDims}`);
  const graph = fuzzySimplicialSet(nn);
  return optimizeLayout(graph, scaledStart(opts.start, nn.nCells, opts.startDims), { epochs: opts.epochs, minDist: opts.minDist }, onProgress);
}
