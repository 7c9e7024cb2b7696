/**
 * The k nearest neighbours of every cell: scran.js's Annoy (Seurat's method) up to
 * FOREST_KNN_CELLS cells or beyond FOREST_MAX_K neighbours, otherwise the random-projection
 * forest with neighbour-of-neighbour refinement of numerics/knn-forest.ts.
 */
import { annoyNeighbors, type Neighbors } from "./scran.ts";
import { forestNeighbors } from "./knn-forest.ts";

/**
 * Above this many cells the forest searches for up to FOREST_MAX_K neighbours. On the 100k set
 * (30 neighbours in 30 PCs, one CPU) it takes 10 s where Annoy takes 35 s, and finds more of the
 * exact neighbours (recall 0.997 on 2,000 sampled cells; Annoy 0.979; bench/large-data-path.ts).
 * Smaller data stays on Annoy so that its results stay what they were (the science tests check
 * them against Seurat's, which also uses Annoy).
 */
export const FOREST_KNN_CELLS = 50_000;

/**
 * The most neighbours the forest searches for. Its refinement costs k² distances per cell and
 * round: for t-SNE's 90 neighbours at 100k cells it took 103 s, no faster than Annoy, and the
 * t-SNE from them kept 0.634 of each cell's 15 nearest (Annoy's: 0.640), so larger searches stay
 * on Annoy.
 */
export const FOREST_MAX_K = 30;

/** k nearest other cells of each cell of `coords` (cells x dims, row-major), nearest first, with distances. */
export async function nearestNeighbors(coords: Float64Array, nCells: number, dims: number, k: number): Promise<Neighbors> {
  return nCells > FOREST_KNN_CELLS && k <= FOREST_MAX_K ? forestNeighbors(coords, nCells, dims, k) : annoyNeighbors(coords, nCells, dims, k);
}
