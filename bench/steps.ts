/**
 * What the benchmark asks of cellworker and of the Seurat reference, in one place: the step
 * names, what each maps to on each side, and the gene lists (bench/seurat.R holds the same
 * lists; a check in bench.ts reads them back from that file so the two cannot drift).
 */

export const GENES2 = ["MS4A1", "CD3E"] as const;

/** 50 PBMC marker genes present in pbmc3k and in the stacked 12k (hence in the resampled data). */
export const GENES50 = [
  "CD3E", "CD3D", "CD2", "IL7R", "CCR7", "LEF1", "TCF7", "CD8A", "CD8B", "GZMK", "GZMA",
  "GZMB", "GZMH", "PRF1", "NKG7", "GNLY", "KLRD1", "KLRB1", "FCGR3A", "MS4A7", "CD14", "LYZ",
  "S100A8", "S100A9", "FCN1", "VCAN", "CST3", "FCER1A", "CLEC10A", "CD1C", "MS4A1", "CD79A",
  "CD79B", "CD19", "BANK1", "CD74", "HLA-DRA", "TCL1A", "PPBP", "PF4", "GP9", "HBB", "HBA1",
  "CD4", "FOXP3", "IL2RA", "CTLA4", "MKI67", "TOP2A", "ITGAX",
] as const;

export const DOTPLOT_GENES = ["CD3E", "MS4A1", "CD14", "LYZ", "NKG7", "GNLY", "FCGR3A", "PPBP", "CST3", "IL7R"] as const;

/** ListGenes filter: gene names starting with CD. */
export const LIST_FILTER = "^CD";

/** Step → [cellworker request, Seurat 4.3 equivalent], in report order. */
export const STEPS: Record<string, [string, string]> = {
  coldStart: ["openExperiment as the worker opens it, no cache: read the 10x folder, QC, LogNormalize, vst HVGs, PCA (50), kNN + SNN + Louvain (0.8) — ready to answer (ms); then, in the background, DE's per-gene value order and the processed-state cache write (settledMs; before 2026-12-05 15:30 both were part of ms)",
    "Read10X + CreateSeuratObject + NormalizeData + FindVariableFeatures (vst, 2000) + ScaleData + RunPCA (50) + FindNeighbors (dims 1:30) + FindClusters (0.8)"],
  warmStart: ["openExperiment in a fresh process from the processed-state cache, as the worker opens it (hashes the input or reuses its remembered hash, reads the cache file but the matrix and the value order, which follow in the background: matrixReadMs, valueOrderReadMs)",
    "readRDS of the processed Seurat object (saved with compress = FALSE)"],
  umap: ['GetEmbedding {type: "umap"} (first request: UMAP on the 30 neighbours preprocessing kept; before a9f44c5 it searched them itself)', "RunUMAP(dims = 1:30, n.neighbors = 30, min.dist = 0.3, uwot; searches its own neighbours)"],
  tsne: ['GetEmbedding {type: "tsne"} (first request: 90-neighbour search + t-SNE, perplexity 30)', "RunTSNE(dims = 1:30, perplexity = 30, Rtsne)"],
  clusterCells: ["SNN graph + Louvain at resolution 0.8 on the memoised kNN (ClusterCells' computation; servedMs = the task, answered from preprocessing)",
    "FindClusters(resolution = 0.8) on the stored SNN graph"],
  differentialExpression: ['DifferentialExpression {cellSet: "louvain-0", compareWith: "rest"} (Wilcoxon over all genes), first page of 50 by p_val_adj',
    'FindMarkers(ident.1 = "0") (defaults: wilcox via limma, logfc.threshold 0.25, min.pct 0.1)'],
  markerHeatmap: ['MarkerHeatmap {nGenes: 5, selectedCellSet: "louvain"}',
    "FindAllMarkers(only.pos = TRUE, max.cells.per.ident = 1000) + top 5 per cluster by log2FC, each gene once"],
  geneExpression2: ["GeneExpression 2 genes (all cells, stats)", "GetAssayData(slot = 'data')[genes, ] as cells x genes sparse + mean, sd, 95th percentile"],
  geneExpression50: ["GeneExpression 50 genes", "the same for 50 genes"],
  listGenes: ['ListGenes, filter "^CD", by dispersions DESC, page of 50', 'HVFInfo filtered by grepl("^CD"), ordered by variance.standardized, head(50)'],
  dotPlot: ['DotPlot, 10 custom genes, groupBy "louvain", no filter', 'DotPlot(features = 10 genes, group.by = "seurat_clusters")$data'],
};

/** Step → the scanpy 1.9.8 equivalent (bench/scanpy.py), in report order. */
export const SCANPY_STEPS: Record<string, string> = {
  coldStart: "read_10x_mtx + highly_variable_genes (seurat_v3 = vst, 2000, on counts) + normalize_total (1e4) + log1p (.raw = all genes) + scale (the 2,000 HVGs, max_value 10) + pca (50, arpack) + neighbors (k 20, 30 PCs) + leiden (0.8); the first run in a fresh process (numba's on-disk cache primed by bench/setup-scanpy.sh)",
  warmStart: "read_h5ad of the processed AnnData (with .raw) written with compression=None",
  umap: "neighbors (k 30, 30 PCs, its own graph) + umap (min_dist 0.3)",
  tsne: "tsne (30 PCs, perplexity 30, scikit-learn Barnes-Hut, n_jobs 1)",
  clusterCells: "leiden (resolution 0.8, leidenalg) on the stored neighbour graph (scanpy's Louvain at a resolution needs the louvain package, not in Debian)",
  differentialExpression: 'rank_genes_groups (wilcoxon, groups ["0"], reference "rest", all genes of .raw) + the first 50 by pvals_adj',
  markerHeatmap: "rank_genes_groups (wilcoxon, every cluster vs rest, all genes of .raw) + top 5 positive per cluster by log2FC, each gene once",
  geneExpression2: ".raw[:, genes].X as cells x genes sparse + mean, sd, 95th percentile",
  geneExpression50: "the same for 50 genes",
  listGenes: '.raw.var (variances_norm of seurat_v3) filtered by re "^CD", ordered, head(50)',
  dotPlot: 'sc.pl.DotPlot(10 genes, groupby "leiden") constructor: per-cluster mean expression and fraction expressing (nothing drawn)',
};
