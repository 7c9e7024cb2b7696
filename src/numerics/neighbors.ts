/**
 * The k nearest neighbours of every cell: scran.js's Annoy (Seurat's method) up to
 * FOREST_KNN_CELLS cells, above it the random-projection forest with neighbour-of-neighbour
 * refinement of numerics/knn-forest.ts.
 */
import { annoyNeighbors, type Neighbors } from "./scran.ts";
import { forestNeighbors } from "./knn-forest.ts";

/**
 * Above this many cells the forest searches. On the 100k set (30 neighbours in 30 PCs, one CPU)
 * it takes 9 s where Annoy took 35 s, and finds more of the exact neighbours (recall 0.997 on
 * 1,000 sampled cells; Annoy 0.979). Smaller data stays on Annoy so that its results stay what
 * they were (the science tests check them against Seurat's, which also uses Annoy).
 */
export const FOREST_KNN_CELLS = 50_000;

/** k nearest other cells of each cell of `coords` (cells x dims, row-major), nearest first, with distances. */
export async function nearestNeighbors(coords: Float64Array, nCells: number, dims: number, k: number): Promise<Neighbors> {
  return nCells > FOREST_KNN_CELLS ? forestNeighbors(coords, nCells, dims, k) : annoyNeighbors(coords, nCells, dims, k);
}
