# Seurat .rds fixtures for cellworker's rds loader (src/experiment/load/rds.ts).
#
# Produced with Debian (bookworm) r-base-core 4.2.2, r-cran-seurat 4.3.0 (Seurat 4.3.0,
# SeuratObject 4.1.3), r-cran-matrix 1.5-3; the versions actually used are printed and
# written to test/fixtures/rds/VERSIONS.txt.
#
# Run from the repository root:
#   Rscript scripts/reference/seurat-rds.R
# It reads data/pbmc3k/ and data/pbmc_small/ (10x folders) and writes test/fixtures/rds/.
# `Rscript scripts/reference/seurat-rds.R stored` only reads the saved objects back and writes
# test/fixtures/rds/stored_results.json (the pipeline's results the worker must use as stored).
#
# The v4 objects are built the way the Cellenics pipeline builds its r.rds (hms-dbmi-cellenics
# pipeline: create the object from the counts with feature ids as row names, cells_id 0-based
# in column order, samples, percent.mt from the MT- genes, then NormalizeData (LogNormalize,
# 1e4), FindVariableFeatures (vst, 2000), ScaleData, RunPCA, FindNeighbors, FindClusters,
# RunUMAP; misc$gene_annotations (input, name, original_name), misc$gene_dispersion (HVFInfo +
# SYMBOL), misc$numPCs, misc$active.reduction, misc$color_pool).
# Departures, to keep the files small (all said again in test/fixtures/rds/README.md):
# scale.data is emptied after PCA, the graphs (RNA_nn, RNA_snn) and commands are dropped, and
# pbmc3k has no doublet_scores (scDblFinder is not in Debian); pbmc_small has a synthetic
# doublet_scores column (runif, seed 1) only to test that it is read.
# Files are written with saveRDS's default gzip compression: scran.js's RDS parser reads
# gzip and uncompressed files, not xz or bzip2.
#
# The v5-layout object is written by a second R process (this script re-runs itself with the
# argument "v5") in which SeuratObject is NOT loaded: it defines S4 classes named like
# SeuratObject 5's (Seurat, Assay5, LogMap, DimReduc, package "SeuratObject") with the slots
# SeuratObject 5.0 declares, and fills them from the pbmc_small v4 object. See the README for
# how faithful that is.

args <- commandArgs(trailingOnly = TRUE)
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
out <- "test/fixtures/rds"
dir.create(out, recursive = TRUE, showWarnings = FALSE)

# Cellenics' colour pool starts with these (spec §4.1, misc$color_pool); the fixtures carry
# the first 24 Paul Tol colours, enough for their clusters.
COLOR_POOL <- c("#77aadd", "#ee8866", "#eedd88", "#ffaabb", "#99ddff", "#44bb99", "#bbcc33",
                "#aaaa00", "#dddddd", "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2",
                "#d55e00", "#cc79a7", "#999999", "#332288", "#88ccee", "#44aa99", "#117733",
                "#999933", "#ddcc77", "#cc6677")

if (length(args) == 0) {
  suppressPackageStartupMessages({
    library(Matrix)
    library(Seurat)
  })
  versions <- c(
    R = R.version.string,
    Seurat = as.character(packageVersion("Seurat")),
    SeuratObject = as.character(packageVersion("SeuratObject")),
    Matrix = as.character(packageVersion("Matrix"))
  )
  print(versions)

  read10x <- function(dir) {
    features <- read.delim(gzfile(file.path(dir, "features.tsv.gz")), header = FALSE, stringsAsFactors = FALSE, quote = "")
    con <- gzfile(file.path(dir, "barcodes.tsv.gz"))
    barcodes <- readLines(con)
    close(con)
    m <- as(Matrix::readMM(gzfile(file.path(dir, "matrix.mtx.gz"))), "CsparseMatrix")
    dimnames(m) <- list(features$V1, barcodes)
    list(counts = m, ids = features$V1, symbols = features$V2)
  }

  # The pipeline's steps on one sample (no cell filtering: the worker is compared with the same cells).
  build <- function(dir, sample, npcs = 30, resolution = 0.8, n_neighbors = 30) {
    x <- read10x(dir)
    obj <- CreateSeuratObject(counts = x$counts, project = sample, min.cells = 0, min.features = 0)
    obj$cells_id <- seq_len(ncol(obj)) - 1L
    obj$samples <- sample
    mt <- x$ids[startsWith(x$symbols, "MT-")]
    obj$percent.mt <- PercentageFeatureSet(obj, features = mt)
    obj <- NormalizeData(obj, normalization.method = "LogNormalize", scale.factor = 10000, verbose = FALSE)
    obj <- FindVariableFeatures(obj, selection.method = "vst", nfeatures = 2000, verbose = FALSE)
    obj <- ScaleData(obj, verbose = FALSE)
    obj <- RunPCA(obj, npcs = npcs, verbose = FALSE, seed.use = 42)
    obj <- FindNeighbors(obj, dims = seq_len(npcs), verbose = FALSE)
    obj <- FindClusters(obj, resolution = resolution, verbose = FALSE, random.seed = 0)
    obj <- RunUMAP(obj, dims = seq_len(npcs), n.neighbors = n_neighbors, min.dist = 0.3, verbose = FALSE, seed.use = 42)
    annotations <- data.frame(input = x$ids, name = x$symbols, original_name = x$symbols, stringsAsFactors = FALSE)
    rownames(annotations) <- x$ids
    dispersion <- HVFInfo(obj)
    dispersion$SYMBOL <- x$symbols[match(rownames(dispersion), x$ids)]
    obj@misc <- list(
      gene_annotations = annotations,
      gene_dispersion = dispersion,
      numPCs = npcs,
      active.reduction = "pca",
      color_pool = COLOR_POOL
    )
    # smaller files: no scale.data, graphs or command log (see the header)
    obj[["RNA"]]@scale.data <- matrix(numeric(0), 0, 0)
    obj@graphs <- list()
    obj@commands <- list()
    obj
  }

  save <- function(obj, name) {
    path <- file.path(out, name)
    saveRDS(obj, path)  # gzip (see the header)
    cat(sprintf("%-28s %9d bytes\n", name, file.size(path)))
  }

  pbmc3k <- build("data/pbmc3k", "pbmc3k")
  save(pbmc3k, "pbmc3k_v4.rds")

  small <- build("data/pbmc_small", "pbmc_small", npcs = 10, n_neighbors = 20)
  set.seed(1)
  small$doublet_scores <- runif(ncol(small))
  # a t-SNE too (the pipeline can be configured for it) and a second sample, to test both are read
  small <- RunTSNE(small, dims = 1:10, perplexity = 10, seed.use = 1)
  small$samples <- ifelse(seq_len(ncol(small)) <= 40, "sampleA", "sampleB")
  # cells_id that are not column positions: the pipeline's ids have gaps after filtering
  small$cells_id <- as.integer((seq_len(ncol(small)) - 1L) * 3L + 7L)
  save(small, "pbmc_small_v4.rds")
  # the same object, uncompressed
  saveRDS(small, file.path(out, "pbmc_small_v4_uncompressed.rds"), compress = FALSE)
  # what R holds, for the tests (doubles as %.17g strings parse back exactly)
  num <- function(x) I(sprintf("%.17g", x))
  emb <- function(name) lapply(seq_len(ncol(Embeddings(small, name))), function(j) num(Embeddings(small, name)[, j]))
  expected <- list(
    versions = as.list(versions),
    cells_id = small$cells_id, barcodes = colnames(small), samples = small$samples,
    seurat_clusters = as.character(small$seurat_clusters),
    doublet_scores = num(small$doublet_scores), percent_mt = num(small$percent.mt),
    nCount_RNA = num(small$nCount_RNA), nFeature_RNA = small$nFeature_RNA,
    pca = emb("pca"), umap = emb("umap"), tsne = emb("tsne"),
    variable_features = small[["RNA"]]@var.features,
    dispersion_ids = rownames(small@misc$gene_dispersion),
    variance_standardized = num(small@misc$gene_dispersion$variance.standardized)
  )
  writeLines(jsonlite::toJSON(expected, auto_unbox = TRUE, digits = NA), file.path(out, "pbmc_small_v4_expected.json"))
  # data that is not LogNormalize with scale factor 1e4: the loader must use it as stored
  other <- NormalizeData(small, scale.factor = 1e6, verbose = FALSE)
  save(other, "pbmc_small_v4_sf1e6.rds")

  # --- bad inputs ---
  save(list(a = 1, b = "x"), "bad_list.rds")
  no_id <- small
  no_id$cells_id <- NULL
  save(no_id, "bad_no_cells_id.rds")
  no_counts <- small
  # an empty counts matrix, as DietSeurat/`counts = NULL` leave it when only data is kept
  no_counts[["RNA"]]@counts <- new("dgCMatrix")
  save(no_counts, "bad_no_counts.rds")
  saveRDS(small, file.path(out, "bad_xz.rds"), compress = "xz")
  cat(sprintf("%-28s %9d bytes\n", "bad_xz.rds", file.size(file.path(out, "bad_xz.rds"))))

  writeLines(paste(names(versions), versions, sep = ": "), file.path(out, "VERSIONS.txt"))
  # the pieces of the small object as plain R values, for the v5 process (which must not load
  # SeuratObject: reading a Seurat object would load it)
  parts <- tempfile(fileext = ".rds")
  saveRDS(list(
    counts = GetAssayData(small, slot = "counts"), data = GetAssayData(small, slot = "data"),
    meta.data = small@meta.data, active.ident = small@active.ident, misc = small@misc,
    reductions = lapply(small@reductions, function(r) list(
      cell.embeddings = r@cell.embeddings, feature.loadings = r@feature.loadings,
      feature.loadings.projected = r@feature.loadings.projected, global = r@global,
      stdev = r@stdev, key = r@key))
  ), parts)
  status <- system2("Rscript", c(script, "v5", parts))
  if (status != 0) stop("the v5 step failed")
  status <- system2("Rscript", c(script, "stored"))
  if (status != 0) stop("the stored-results step failed")
} else if (args[[1]] == "stored") {
  # ------------------------------------------------------------------ stored results
  # What the saved objects hold as the pipeline's results, read back with readRDS, for the
  # tests that check the worker uses them as they are (test/load/rds-tasks.test.ts):
  # `Rscript scripts/reference/seurat-rds.R stored` rewrites only stored_results.json.
  suppressPackageStartupMessages(library(Seurat))
  num <- function(x) I(sprintf("%.17g", x))
  small <- readRDS(file.path(out, "pbmc_small_v4.rds"))
  pbmc3k <- readRDS(file.path(out, "pbmc3k_v4.rds"))
  stored <- list(
    pbmc_small = list(
      pca_stdev = num(Stdev(small, "pca")),
      dispersion_ids = rownames(small@misc$gene_dispersion),
      mean = num(small@misc$gene_dispersion$mean)
    ),
    pbmc3k = list(
      cells_id = pbmc3k$cells_id,
      seurat_clusters = as.character(pbmc3k$seurat_clusters),
      pca_stdev = num(Stdev(pbmc3k, "pca")),
      pca_1_2 = lapply(1:2, function(j) num(Embeddings(pbmc3k, "pca")[, j])),
      umap = lapply(1:2, function(j) num(Embeddings(pbmc3k, "umap")[, j]))
    )
  )
  writeLines(jsonlite::toJSON(stored, auto_unbox = TRUE, digits = NA), file.path(out, "stored_results.json"))
} else if (args[[1]] == "v5") {
  # ------------------------------------------------------------------ v5 layout
  # A fresh R process without SeuratObject: classes named as in SeuratObject 5.0. They are
  # defined here (setClass(package = "SeuratObject") would load SeuratObject 4), and each
  # object's class attribute then gets package "SeuratObject", as SeuratObject 5 writes it.
  so <- function(x) {
    attr(x, "class") <- structure(class(x)[[1]], package = "SeuratObject")
    x
  }
  suppressPackageStartupMessages(library(Matrix))
  setOldClass("package_version")
  setClass("LogMap", contains = "matrix")
  setClass("Assay5", representation(
    layers = "list", cells = "LogMap", features = "LogMap", default = "integer",
    assay.orig = "character", meta.data = "data.frame", misc = "list", key = "character"))
  setClass("DimReduc", representation(
    cell.embeddings = "matrix", feature.loadings = "matrix", feature.loadings.projected = "matrix",
    assay.used = "character", global = "logical", stdev = "numeric", jackstraw = "ANY",
    misc = "list", key = "character"))
  setClass("Seurat", representation(
    assays = "list", meta.data = "data.frame", active.assay = "character", active.ident = "factor",
    graphs = "list", neighbors = "list", reductions = "list", images = "list",
    project.name = "character", misc = "list", version = "package_version", commands = "list",
    tools = "list"))

  v4 <- readRDS(args[[2]])
  if ("SeuratObject" %in% loadedNamespaces()) stop("SeuratObject got loaded")
  counts <- v4$counts
  data <- v4$data
  features <- rownames(counts)
  cells <- colnames(counts)
  logmap <- function(names, layers) {
    m <- matrix(TRUE, nrow = length(names), ncol = length(layers), dimnames = list(names, layers))
    new("LogMap", m)
  }
  strip <- function(m) { dimnames(m) <- list(NULL, NULL); m }  # v5 layers carry no dimnames
  assay <- (new("Assay5",
    layers = list(counts = strip(counts), data = strip(data)),
    cells = logmap(cells, c("counts", "data")),
    features = logmap(features, c("counts", "data")),
    default = 1L, assay.orig = character(0), meta.data = data.frame(row.names = features),
    misc = list(), key = "rna_"))
  reduc <- function(r) {
    (new("DimReduc",
      cell.embeddings = r$cell.embeddings, feature.loadings = r$feature.loadings,
      feature.loadings.projected = r$feature.loadings.projected,
      assay.used = "RNA", global = r$global, stdev = r$stdev,
      jackstraw = NULL, misc = list(), key = r$key))
  }
  reductions <- lapply(v4$reductions, reduc)
  obj <- (new("Seurat",
    assays = list(RNA = assay), meta.data = v4$meta.data, active.assay = "RNA",
    active.ident = v4$active.ident, graphs = list(), neighbors = list(),
    reductions = reductions, images = list(), project.name = "pbmc_small",
    misc = v4$misc, version = package_version("5.0.1"), commands = list(), tools = list()))
  # package "SeuratObject" on every class attribute, set through attr() (no validity check)
  attr(assay, "cells") <- so(attr(assay, "cells"))
  attr(assay, "features") <- so(attr(assay, "features"))
  attr(obj, "assays") <- list(RNA = so(assay))
  attr(obj, "reductions") <- lapply(attr(obj, "reductions"), so)
  obj <- so(obj)
  path <- file.path(out, "pbmc_small_v5.rds")
  saveRDS(obj, path)
  cat(sprintf("%-28s %9d bytes\n", "pbmc_small_v5.rds", file.size(path)))
}
