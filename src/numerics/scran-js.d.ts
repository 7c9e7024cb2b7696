// The part of scran.js (plain JS, no bundled types) that numerics/scran.ts uses.
declare module "scran.js" {
  interface Freeable { free(): void }
  export interface ScranMatrix extends Freeable { numberOfRows(): number; numberOfColumns(): number }
  export interface RunPcaResults extends Freeable {
    principalComponents(options?: { copy?: boolean }): Float64Array;
    /** genes x PCs, column-major */
    rotation(options?: { copy?: boolean }): Float64Array;
    varianceExplained(options?: { copy?: boolean }): Float64Array;
    totalVariance(): number;
    numberOfPCs(): number;
  }
  export interface NeighborIndex extends Freeable {}
  export interface FindNearestNeighborsResults extends Freeable {
    serialize(): { runs: Int32Array; indices: Int32Array; distances: Float64Array };
  }
  export const FindNearestNeighborsResults: {
    unserialize(runs: Int32Array, indices: Int32Array, distances: Float64Array): FindNearestNeighborsResults;
  };
  export interface IterativeEmbedding extends Freeable {
    run(options?: { runTime?: number | null; maxIterations?: number }): boolean;
    extractCoordinates(): { x: Float64Array; y: Float64Array };
    currentEpoch?(): number;
    totalEpochs?(): number;
    iterations?(): number;
  }
  export function initialize(options?: { numberOfThreads?: number }): Promise<boolean>;
  export function terminate(): void;
  export function maximumThreads(): number;
  export function initializeSparseMatrixFromSparseArrays(
    rows: number, cols: number, values: Float64Array, indices: Int32Array, pointers: Int32Array | Float64Array,
    options?: { byRow?: boolean; forceInteger?: boolean; layered?: boolean },
  ): ScranMatrix;
  export function runPca(x: ScranMatrix, options?: { numberOfPCs?: number; scale?: boolean; numberOfThreads?: number | null }): RunPcaResults;
  export function buildNeighborSearchIndex(
    x: Float64Array, options?: { numberOfDims?: number; numberOfCells?: number; approximate?: boolean },
  ): NeighborIndex;
  export function findNearestNeighbors(x: NeighborIndex, k: number, options?: { numberOfThreads?: number | null }): FindNearestNeighborsResults;
  export function initializeUmap(
    x: FindNearestNeighborsResults, options?: { neighbors?: number; epochs?: number; minDist?: number; numberOfThreads?: number | null },
  ): IterativeEmbedding;
  export function initializeTsne(
    x: FindNearestNeighborsResults, options?: { perplexity?: number; neighbors?: number | null; numberOfThreads?: number | null },
  ): IterativeEmbedding;
  export function perplexityToNeighbors(perplexity: number): number;
}
declare module "scran.js" {
  export interface BuildSnnGraphResults { free(): void }
  export interface ClusterGraphResults { free(): void; membership(options?: { copy?: boolean }): Int32Array | BigInt64Array }
  export function buildSnnGraph(x: FindNearestNeighborsResults, options?: { scheme?: "rank" | "number" | "jaccard"; neighbors?: number }): BuildSnnGraphResults;
  export function clusterGraph(
    x: BuildSnnGraphResults,
    options?: { method?: "multilevel" | "leiden" | "walktrap"; multiLevelResolution?: number; leidenResolution?: number; leidenObjective?: "cpm" | "modularity" | "er" },
  ): ClusterGraphResults;
}
declare module "scran.js" {
  // scran.js's RDS parser (rds2cpp): handles into the parsed file, freed by their owner.
  export interface RdsObject extends Freeable { type(): string }
  export interface RdsVector extends RdsObject {
    length(): number;
    attributeNames(): string[];
    attribute(name: string): RdsObject;
  }
  export interface RdsIntegerVector extends RdsVector { values(options?: { copy?: boolean }): Int32Array }
  export interface RdsBooleanVector extends RdsVector { values(options?: { copy?: boolean }): Int32Array }
  export interface RdsDoubleVector extends RdsVector { values(options?: { copy?: boolean }): Float64Array }
  export interface RdsStringVector extends RdsVector { values(): (string | null)[] }
  export interface RdsGenericVector extends RdsVector { load(index: number): RdsObject }
  export interface RdsS4Object extends RdsObject {
    className(): string;
    packageName(): string;
    attributeNames(): string[];
    attribute(name: string): RdsObject;
  }
  export interface RdsDetails extends Freeable {
    formatVersion(): number;
    writerVersion(): string;
    value(): RdsObject;
  }
  export function readRds(x: Uint8Array | string): RdsDetails;
}
