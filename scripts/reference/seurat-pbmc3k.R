# Reference fixtures for cellworker from Seurat on pbmc3k.
#
# Produced with these Debian (bookworm) packages:
#   r-base-core          4.2.2.20221110-2
#   r-cran-seurat        4.3.0-1   (Seurat 4.3.0)
#   r-cran-seuratobject  4.1.3-1
#   r-cran-matrix        1.5-3-1
#   r-cran-irlba         2.3.5.1-1 (RunPCA)
#   r-cran-rcppannoy     0.0.20-1  (FindNeighbors, nn.method = "annoy")
#   r-cran-uwot          0.1.14-2  (RunUMAP, umap.method = "uwot")
#   r-cran-rtsne         0.16-1    (RunTSNE, tsne.method = "Rtsne")
#   r-cran-rann          2.6.1-1+b2 (kNN-preservation metric)
#   r-cran-jsonlite      1.8.4+dfsg-1
# Install:
#   apt-get update
#   apt-get install -y --no-install-recommends r-base-core r-cran-seurat \
#     r-cran-jsonlite r-cran-rann r-cran-matrix
#
# Run from the repository root:
#   Rscript scripts/reference/seurat-pbmc3k.R
# It reads data/pbmc3k/ and writes test/fixtures/reference/pbmc3k/.
# See test/fixtures/reference/README.md for a description of every file.
#
# Conventions: genes are identified by their 0-based row in features.tsv.gz /
# matrix.mtx.gz, cells by their 0-based column (= line in barcodes.tsv.gz).
# Doubles are written with sprintf("%.17g") (jsonlite's digits = NA / I(17)
# stop at 15 significant digits, which does not round-trip), so every value
# parses back to exactly the double that R computed.

# ---------------------------------------------------------------- BLAS
# Results depend on the BLAS/LAPACK in use (PCA via irlba, loess in vst, ...):
# with OpenBLAS instead of Debian's reference BLAS the PCs differ in the last
# bits and some cells change cluster. Installing any package that pulls in
# libopenblas0 switches Debian's libblas.so.3 alternative to OpenBLAS, so this
# script re-executes itself with the reference BLAS/LAPACK (packages libblas3,
# liblapack3, dependencies of r-base-core) first on the library path.
# Set CELLWORKER_ANY_BLAS=1 to skip this (the outputs may then differ).
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "reference-blas.R"))

suppressPackageStartupMessages({
  library(Matrix)
  library(Seurat)
  library(jsonlite)
  library(RANN)
  library(parallel)
})

data_dir <- "data/pbmc3k"
out_dir <- "test/fixtures/reference/pbmc3k"
if (!dir.exists(data_dir)) stop("run from the repository root (data/pbmc3k not found)")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

t_script <- proc.time()[["elapsed"]]
timings <- list()
timed <- function(name, expr) {
  t0 <- proc.time()[["elapsed"]]
  val <- force(expr)
  timings[[name]] <<- proc.time()[["elapsed"]] - t0
  message(sprintf("[%s] %.1f s", name, timings[[name]]))
  invisible(val)
}

# ---------------------------------------------------------------- JSON helpers
# A numeric vector as a JSON array at full double precision (NaN/NA/Inf -> null).
num_json <- function(x) {
  x <- as.double(x)
  s <- sprintf("%.17g", x)
  s[!is.finite(x)] <- "null"
  structure(paste0("[", paste(s, collapse = ","), "]"), class = "json")
}
# One double as a JSON number at full precision.
num_scalar <- function(x) {
  stopifnot(length(x) == 1L, is.finite(x))
  structure(sprintf("%.17g", as.double(x)), class = "json")
}
# An integer vector as a JSON array.
int_json <- function(x) {
  x <- as.integer(x)
  stopifnot(!anyNA(x))
  structure(paste0("[", paste(x, collapse = ","), "]"), class = "json")
}
# Write a (nested) list; numeric leaves must already be wrapped with num_json /
# int_json (class "json"), everything else is serialised by jsonlite.
write_json_file <- function(obj, name, gzip = FALSE) {
  txt <- toJSON(obj, auto_unbox = TRUE, json_verbatim = TRUE, null = "null",
                na = "null", digits = NA, pretty = FALSE)
  path <- file.path(out_dir, name)
  con <- if (gzip) gzfile(path, "wb", compression = 9) else file(path, "wb")
  writeLines(txt, con, useBytes = TRUE)
  close(con)
  message(sprintf("wrote %s (%d bytes)", path, file.size(path)))
  invisible(path)
}
# Read a written file back and check that numeric fields parse to exactly the
# doubles computed here (jsonlite's parser uses strtod, which rounds correctly).
check_roundtrip <- function(name, expected) {
  path <- file.path(out_dir, name)
  con <- if (grepl("[.]gz$", name)) gzfile(path, "rt") else file(path, "rt")
  back <- fromJSON(paste(readLines(con, warn = FALSE), collapse = "\n"),
                   simplifyVector = TRUE)
  close(con)
  for (field in names(expected)) {
    got <- back[[strsplit(field, "$", fixed = TRUE)[[1]]]]
    want <- expected[[field]]
    got <- if (is.integer(want)) as.integer(got) else as.double(got)
    if (!identical(as.vector(got), as.vector(want)))
      stop(sprintf("%s: field %s does not round-trip", name, field))
  }
  message(sprintf("round-trip ok: %s (%s)", name, paste(names(expected), collapse = ", ")))
}

# ---------------------------------------------------------------- read data
read_gz <- function(name, reader) {
  con <- gzfile(file.path(data_dir, name), "rt")
  on.exit(close(con))
  reader(con)
}
timed("read", {
  counts <- as(read_gz("matrix.mtx.gz", readMM), "CsparseMatrix")
  features <- read_gz("features.tsv.gz", function(con)
    read.delim(con, header = FALSE, stringsAsFactors = FALSE, quote = "",
               colClasses = "character"))
  barcodes <- read_gz("barcodes.tsv.gz", readLines)
})
stopifnot(nrow(counts) == nrow(features), ncol(counts) == length(barcodes))
# Seurat replaces "_" in feature names by "-" (with a warning); do it here so
# that the names we set are exactly the names Seurat keeps.
gene_names <- gsub("_", "-", make.unique(features[[2]]), fixed = TRUE)
stopifnot(!anyDuplicated(gene_names))
dimnames(counts) <- list(gene_names, barcodes)
n_genes <- nrow(counts)
n_cells <- ncol(counts)

obj <- CreateSeuratObject(counts = counts, project = "pbmc3k",
                          min.cells = 0, min.features = 0)
stopifnot(identical(rownames(obj), gene_names), identical(colnames(obj), barcodes))
gene_index <- function(names) {  # 0-based file row
  i <- match(names, gene_names)
  stopifnot(!anyNA(i))
  i - 1L
}

# ---------------------------------------------------------------- 1. LogNormalize
obj <- timed("normalize", NormalizeData(obj, normalization.method = "LogNormalize",
                                        scale.factor = 1e4, verbose = FALSE))
lognorm <- GetAssayData(obj, slot = "data")
stopifnot(is(lognorm, "dgCMatrix"), identical(dim(lognorm), dim(counts)))
set.seed(1)
nz_pick <- sort(sample.int(length(lognorm@x), 5000))
nz_col <- findInterval(nz_pick - 1L, lognorm@p, rightmost.closed = FALSE) - 1L
stopifnot(all(nz_pick - 1L >= lognorm@p[nz_col + 1L]), all(nz_pick - 1L < lognorm@p[nz_col + 2L]))
write_json_file(list(
  description = "Seurat 4.3.0 NormalizeData(LogNormalize, scale.factor=1e4) on pbmc3k raw counts",
  n_genes = n_genes, n_cells = n_cells, scale_factor = 1e4,
  colSums = num_json(Matrix::colSums(lognorm)),
  sample_seed = 1L,
  sample = list(gene = int_json(lognorm@i[nz_pick]),
                cell = int_json(nz_col),
                value = num_json(lognorm@x[nz_pick]))
), "lognorm.json")
check_roundtrip("lognorm.json", list(
  colSums = Matrix::colSums(lognorm), "sample$gene" = lognorm@i[nz_pick],
  "sample$cell" = as.integer(nz_col), "sample$value" = lognorm@x[nz_pick]))

# ---------------------------------------------------------------- 2. vst HVGs
obj <- timed("find_variable_features",
             FindVariableFeatures(obj, selection.method = "vst", nfeatures = 2000,
                                  verbose = FALSE))
mf <- obj[["RNA"]]@meta.features
stopifnot(identical(rownames(mf), gene_names))
hvg <- VariableFeatures(obj)
stopifnot(length(hvg) == 2000)
hvg_idx <- gene_index(hvg)
vs <- mf$vst.variance.standardized
# ties at the 2000 cut-off would make the HVG set ambiguous: report them
cut_val <- vs[hvg_idx[2000] + 1L]
n_tied_at_cut <- sum(vs == cut_val)
write_json_file(list(
  description = paste("Seurat 4.3.0 FindVariableFeatures(selection.method='vst', nfeatures=2000,",
                      "loess.span=0.3, clip.max='auto'); per gene in file order"),
  n_genes = n_genes,
  mean = num_json(mf$vst.mean),
  variance = num_json(mf$vst.variance),
  variance_expected = num_json(mf$vst.variance.expected),
  variance_standardized = num_json(vs),
  hvg = int_json(hvg_idx),
  n_genes_tied_at_cutoff = n_tied_at_cut
), "vst.json.gz", gzip = TRUE)
check_roundtrip("vst.json.gz", list(
  mean = mf$vst.mean, variance = mf$vst.variance,
  variance_expected = mf$vst.variance.expected, variance_standardized = vs, hvg = hvg_idx))

# ---------------------------------------------------------------- 3. clusters
obj <- timed("scale_data", ScaleData(obj, features = hvg, verbose = FALSE))
obj <- timed("pca", RunPCA(obj, features = hvg, npcs = 50, seed.use = 42, verbose = FALSE))
obj <- timed("find_neighbors", FindNeighbors(obj, dims = 1:30, k.param = 20,
                                             prune.SNN = 1 / 15, verbose = FALSE))
obj <- timed("find_clusters", FindClusters(obj, resolution = 0.8, random.seed = 0,
                                           verbose = FALSE))
clusters <- as.integer(as.character(Idents(obj)))
stopifnot(identical(names(Idents(obj)), barcodes), !anyNA(clusters))
pcs <- Embeddings(obj, "pca")
stopifnot(identical(rownames(pcs), barcodes))
pca_sdev <- Stdev(obj[["pca"]])
write_json_file(list(
  description = paste("Seurat 4.3.0 ScaleData(features=2000 vst HVGs), RunPCA(npcs=50, seed.use=42),",
                      "FindNeighbors(dims=1:30, k.param=20, prune.SNN=1/15),",
                      "FindClusters(resolution=0.8, random.seed=0, algorithm=1 Louvain)"),
  n_cells = n_cells,
  clusters = int_json(clusters),
  n_clusters = length(unique(clusters)),
  cluster_sizes = as.list(table(factor(clusters, levels = sort(unique(clusters))))),
  pca_sdev = num_json(pca_sdev),
  pc1 = num_json(pcs[, 1]),
  pc2 = num_json(pcs[, 2])
), "clusters.json")
check_roundtrip("clusters.json", list(clusters = clusters, pca_sdev = pca_sdev,
                                      pc1 = unname(pcs[, 1]), pc2 = unname(pcs[, 2])))

# ---------------------------------------------------------------- 4. embeddings
obj <- timed("umap", RunUMAP(obj, dims = 1:30, n.neighbors = 30, min.dist = 0.3,
                             seed.use = 42, umap.method = "uwot", verbose = FALSE))
obj <- timed("tsne", RunTSNE(obj, dims = 1:30, perplexity = 30, seed.use = 1))

knn_sets <- function(x, k = 15) {
  nn <- nn2(x, k = k + 1)$nn.idx
  # drop the cell itself (not necessarily in column 1 when there are duplicates)
  t(vapply(seq_len(nrow(nn)), function(i) {
    r <- nn[i, ]
    r <- r[r != i]
    r[seq_len(k)]
  }, integer(k)))
}
knn_preservation <- function(ref_sets, emb, k = 15) {
  emb_sets <- knn_sets(emb, k)
  mean(vapply(seq_len(nrow(ref_sets)), function(i)
    length(intersect(ref_sets[i, ], emb_sets[i, ])) / k, numeric(1)))
}
pc30 <- pcs[, 1:30]
ref_sets <- knn_sets(pc30, 15)
umap_emb <- Embeddings(obj, "umap")
tsne_emb <- Embeddings(obj, "tsne")
umap_pres <- knn_preservation(ref_sets, umap_emb)
tsne_pres <- knn_preservation(ref_sets, tsne_emb)
message(sprintf("kNN-15 preservation: UMAP %.4f, t-SNE %.4f", umap_pres, tsne_pres))

# ---------------------------------------------------------------- 5. Wilcoxon
cluster_cells <- function(k) which(clusters == k)           # 1-based
g0 <- cluster_cells(0L)
comparisons <- list(
  A = list(name = "cluster 0 vs all other cells", x = g0, y = which(clusters != 0L)),
  B = list(name = "cluster 0 vs cluster 1", x = g0, y = cluster_cells(1L))
)
lognorm_t <- as(t(lognorm), "CsparseMatrix")  # cells x genes: one gene = one column
wilcox_one <- function(cmp) {
  cells <- c(cmp$x, cmp$y)
  sub <- lognorm_t[cells, , drop = FALSE]
  genes <- which(diff(sub@p) > 0L)                       # non-zero in >= 1 cell of the two groups
  nx <- length(cmp$x)
  res <- mclapply(split(genes, cut(seq_along(genes), 2, labels = FALSE)), function(gs) {
    t(vapply(gs, function(g) {
      v <- numeric(length(cells))
      lo <- sub@p[g] + 1L
      hi <- sub@p[g + 1L]
      v[sub@i[lo:hi] + 1L] <- sub@x[lo:hi]
      w <- wilcox.test(v[seq_len(nx)], v[-seq_len(nx)], exact = FALSE, correct = TRUE)
      c(w$p.value, w$statistic)
    }, numeric(2)))
  }, mc.cores = 2)
  res <- do.call(rbind, res)
  stopifnot(nrow(res) == length(genes))
  wilcox_raw[[cmp$key]] <<- list(gene = genes, res = res)
  list(description = cmp$name,
       group1_cells = int_json(cmp$x - 1L),
       group2_cells = int_json(cmp$y - 1L),
       gene = int_json(genes - 1L),
       p_val = num_json(res[, 1]),
       statistic_W = num_json(res[, 2]))
}
for (nm in names(comparisons)) comparisons[[nm]]$key <- nm
wilcox_raw <- list()
wres <- timed("wilcoxon", lapply(comparisons, wilcox_one))
for (nm in names(wres)) {
  p <- wilcox_raw[[nm]]$res[, 1]
  message(sprintf("wilcoxon %s: %d genes, min p %.3g, p == 0: %d, p < 1e-200: %d", nm,
                  length(p), min(p), sum(p == 0), sum(p < 1e-200)))
}
write_json_file(c(list(
  description = paste("base R wilcox.test(x, y, exact=FALSE, correct=TRUE) on Seurat LogNormalize",
                      "values; x = group1 cells, y = group2 cells; clusters from clusters.json")),
  wres), "wilcoxon.json.gz", gzip = TRUE)
check_roundtrip("wilcoxon.json.gz", unlist(lapply(names(wres), function(nm) {
  r <- wilcox_raw[[nm]]
  setNames(list(r$gene - 1L, r$res[, 1], r$res[, 2], comparisons[[nm]]$x - 1L,
                comparisons[[nm]]$y - 1L),
           paste0(nm, "$", c("gene", "p_val", "statistic_W", "group1_cells", "group2_cells")))
}), recursive = FALSE))

timings$total <- proc.time()[["elapsed"]] - t_script
write_json_file(list(
  description = paste("kNN-15 preservation of Seurat 4.3.0 RunUMAP(dims=1:30, n.neighbors=30,",
                      "min.dist=0.3, seed.use=42, umap.method='uwot') and RunTSNE(dims=1:30,",
                      "perplexity=30, seed.use=1, Rtsne) against Euclidean kNN in PCs 1-30"),
  k = 15L,
  umap_knn15_preservation = num_scalar(umap_pres),
  tsne_knn15_preservation = num_scalar(tsne_pres),
  timings = lapply(timings, function(t) round(t, 3)),
  umap = list(x = num_json(umap_emb[, 1]), y = num_json(umap_emb[, 2])),
  tsne = list(x = num_json(tsne_emb[, 1]), y = num_json(tsne_emb[, 2]))
), "embedding_quality.json")
check_roundtrip("embedding_quality.json", list(
  umap_knn15_preservation = umap_pres, tsne_knn15_preservation = tsne_pres,
  "umap$x" = unname(umap_emb[, 1]), "umap$y" = unname(umap_emb[, 2]),
  "tsne$x" = unname(tsne_emb[, 1]), "tsne$y" = unname(tsne_emb[, 2])))

deb <- if (nzchar(Sys.which("dpkg-query"))) {
  suppressWarnings(system2("dpkg-query", c("-W", "-f", shQuote("${Package} ${Version}\\n"),
    "r-base-core", "r-cran-seurat", "r-cran-seuratobject", "r-cran-matrix", "r-cran-irlba",
    "r-cran-rcppannoy", "r-cran-uwot", "r-cran-rtsne", "r-cran-rann", "r-cran-jsonlite",
    "libblas3", "liblapack3"), stdout = TRUE, stderr = FALSE))
} else "dpkg-query not available"
writeLines(c(capture.output(sessionInfo()), "", "Debian packages (dpkg-query):", deb),
           file.path(out_dir, "sessionInfo.txt"))
message(sprintf("done in %.1f s", proc.time()[["elapsed"]] - t_script))
