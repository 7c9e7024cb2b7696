# The Seurat 4.3 reference for `npm run bench -- --reference seurat`: the steps a Seurat user
# runs for what each cellworker task does, on the same input, timed the same way (warm-up, then
# the median of up to `runs` runs within `budget` seconds per step), one thread (future
# sequential, OpenBLAS 1 thread, uwot n_threads = nbrOfWorkers() = 1, Rtsne num_threads = 1).
#
# Usage: Rscript bench/seurat.R <10x folder or .h5> <runs> <budget seconds> <rds dir> [<the same data as .h5>]
# (with the .h5, Read10X_h5 + CreateSeuratObject is timed too, as `readH5Ms`)
# Prints one JSON document on stdout (progress on stderr).
suppressPackageStartupMessages({
  library(Seurat)
  library(future)
  library(jsonlite)
  library(Matrix)
})
plan("sequential")
options(future.globals.maxSize = Inf)

args <- commandArgs(trailingOnly = TRUE)
input <- args[[1]]
runs <- as.integer(args[[2]])
budget <- as.numeric(args[[3]])
rds_dir <- args[[4]]
h5 <- if (length(args) >= 5) args[[5]] else NA

say <- function(...) message(format(Sys.time(), "%H:%M:%S "), ...)
ms <- function(expr) {
  t <- proc.time()[["elapsed"]]
  force(expr)
  (proc.time()[["elapsed"]] - t) * 1000
}
peak_rss_mib <- function() {
  s <- readLines("/proc/self/status")
  kb <- as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", grep("^VmHWM", s, value = TRUE)))
  round(kb / 1024)
}

# warm-up run, then up to `runs` timed runs while the step's time budget lasts; a step whose
# first run alone takes more than budget / (runs + 1) is timed once (that run is the sample).
repeated <- function(name, fn) {
  say(name)
  first <- ms(fn())
  samples <- c()
  warmup <- TRUE
  if (first * (runs + 1) > budget * 1000) {
    samples <- first
    warmup <- FALSE
  } else {
    spent <- first
    while (length(samples) < runs && spent < budget * 1000) {
      t <- ms(fn())
      samples <- c(samples, t)
      spent <- spent + t
    }
  }
  list(medianMs = round(median(samples), 1), runs = length(samples), warmup = warmup,
       samplesMs = round(samples, 1), firstMs = round(first, 1))
}

GENES2 <- c("MS4A1", "CD3E")
GENES50 <- c("CD3E", "CD3D", "CD2", "IL7R", "CCR7", "LEF1", "TCF7", "CD8A", "CD8B", "GZMK", "GZMA",
             "GZMB", "GZMH", "PRF1", "NKG7", "GNLY", "KLRD1", "KLRB1", "FCGR3A", "MS4A7", "CD14", "LYZ",
             "S100A8", "S100A9", "FCN1", "VCAN", "CST3", "FCER1A", "CLEC10A", "CD1C", "MS4A1", "CD79A",
             "CD79B", "CD19", "BANK1", "CD74", "HLA-DRA", "TCL1A", "PPBP", "PF4", "GP9", "HBB", "HBA1",
             "CD4", "FOXP3", "IL2RA", "CTLA4", "MKI67", "TOP2A", "ITGAX")
DOTPLOT_GENES <- c("CD3E", "MS4A1", "CD14", "LYZ", "NKG7", "GNLY", "FCGR3A", "PPBP", "CST3", "IL7R")
LIST_FILTER <- "^CD"

out <- list(seurat = as.character(packageVersion("Seurat")), r = R.version.string,
            limma = as.character(packageVersion("limma")), input = input)
cold <- list()

# ---- cold start: read + the preprocessing cellworker does on first load -------------------
say("read ", input)
cold$readMs <- ms({
  counts <- if (dir.exists(input)) Read10X(input, gene.column = 2) else Read10X_h5(input)
  obj <- CreateSeuratObject(counts, min.cells = 0, min.features = 0)
  ann <- file.path(input, "annotations.csv")
  if (dir.exists(input) && file.exists(ann)) {
    a <- read.csv(ann, check.names = FALSE)
    if ("sample" %in% names(a)) obj$sample <- a$sample
  }
  rm(counts)
})
say("NormalizeData")
cold$normalizeMs <- ms(obj <- NormalizeData(obj, normalization.method = "LogNormalize", scale.factor = 1e4, verbose = FALSE))
say("FindVariableFeatures")
cold$hvgMs <- ms(obj <- FindVariableFeatures(obj, selection.method = "vst", nfeatures = 2000, verbose = FALSE))
say("ScaleData")
cold$scaleMs <- ms(obj <- ScaleData(obj, verbose = FALSE))
say("RunPCA")
cold$pcaMs <- ms(obj <- RunPCA(obj, npcs = 50, verbose = FALSE, seed.use = 42))
say("FindNeighbors")
cold$neighborsMs <- ms(obj <- FindNeighbors(obj, dims = 1:30, k.param = 20, verbose = FALSE))
say("FindClusters")
cold$clustersMs <- ms(obj <- FindClusters(obj, resolution = 0.8, algorithm = 1, random.seed = 0, verbose = FALSE))
cold$totalMs <- round(Reduce(`+`, cold[setdiff(names(cold), "readH5Ms")]))
cold$processingMs <- round(cold$totalMs - cold$readMs)
cold <- lapply(cold, round)
if (!is.na(h5)) {
  say("read ", h5)
  cold$readH5Ms <- round(ms({ o <- CreateSeuratObject(Read10X_h5(h5), min.cells = 0, min.features = 0); rm(o) }))
  invisible(gc())
}
out$cells <- ncol(obj)
out$genes <- nrow(obj)
out$clusters <- length(levels(Idents(obj)))
out$coldStart <- cold
out$peakRssMiBAfterColdStart <- peak_rss_mib()

# ---- warm start: the processed object saved uncompressed and read back ---------------------
rds <- file.path(rds_dir, "seurat-object.rds")
say("saveRDS")
saveMs <- ms(saveRDS(obj, rds, compress = FALSE))
say("readRDS")
warm <- ms(obj2 <- readRDS(rds))
rm(obj2)
unlink(rds)
out$warmStart <- list(ms = round(warm), how = "readRDS of the processed object saved with compress = FALSE",
                      saveMs = round(saveMs))
invisible(gc())

# ---- steps ----------------------------------------------------------------------------------
steps <- list()
steps$umap <- repeated("RunUMAP", function() RunUMAP(obj, dims = 1:30, n.neighbors = 30L, min.dist = 0.3,
  umap.method = "uwot", metric = "euclidean", seed.use = 42, verbose = FALSE))
steps$tsne <- repeated("RunTSNE", function() RunTSNE(obj, dims = 1:30, perplexity = 30, seed.use = 42,
  check_duplicates = FALSE, num_threads = 1))
steps$clusterCells <- repeated("FindClusters", function() FindClusters(obj, resolution = 0.8, algorithm = 1,
  random.seed = 0, verbose = FALSE))
steps$differentialExpression <- repeated("FindMarkers", function() FindMarkers(obj, ident.1 = "0", verbose = FALSE))
steps$markerHeatmap <- repeated("FindAllMarkers", function() {
  m <- FindAllMarkers(obj, only.pos = TRUE, max.cells.per.ident = 1000, verbose = FALSE)
  m <- m[order(m$p_val), ]
  m <- m[!duplicated(m$gene), ]
  top <- do.call(rbind, lapply(split(m, m$cluster), function(x) head(x[order(-x$avg_log2FC), ], 5)))
  unique(top$gene)
})
gene_data <- function(genes) {
  x <- GetAssayData(obj, slot = "data")[intersect(genes, rownames(obj)), , drop = FALSE]
  x <- as(t(x), "CsparseMatrix")
  list(x = x, mean = colMeans(x), sd = apply(x, 2, sd), q95 = apply(x, 2, quantile, probs = 0.95))
}
steps$geneExpression2 <- repeated("GeneExpression 2 genes", function() gene_data(GENES2))
steps$geneExpression50 <- repeated("GeneExpression 50 genes", function() gene_data(GENES50))
steps$listGenes <- repeated("ListGenes", function() {
  hv <- HVFInfo(obj, selection.method = "vst")
  hv <- hv[grepl(LIST_FILTER, rownames(hv), ignore.case = TRUE), , drop = FALSE]
  head(hv[order(-hv$variance.standardized), "variance.standardized", drop = FALSE], 50)
})
steps$dotPlot <- repeated("DotPlot", function() DotPlot(obj, features = DOTPLOT_GENES, group.by = "seurat_clusters")$data)
out$steps <- steps
out$peakRssMiB <- peak_rss_mib()
cat(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "\n")
