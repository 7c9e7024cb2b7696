# Reference fixtures for cellworker's MarkerHeatmap and DotPlot tasks, on pbmc3k.
#
# Same Debian (bookworm) packages as scripts/reference/seurat-pbmc3k.R (r-base-core 4.2.2,
# r-cran-seurat 4.3.0, r-cran-matrix, r-cran-jsonlite) plus r-cran-stringi (ICU collation).
# Run from the repository root, after seurat-pbmc3k.R has written clusters.json:
#   Rscript scripts/reference/seurat-markers-dotplot.R
# It reads data/pbmc3k/ and test/fixtures/reference/pbmc3k/clusters.json and writes
# test/fixtures/reference/pbmc3k/markers.json and dotplot.json (described in
# test/fixtures/reference/README.md).
#
# Markers: a one-vs-rest Wilcoxon rank-sum test per gene and group computed here in the
# style of presto::wilcoxauc (presto is not packaged in Debian): every group against the
# other cells of the "universe" (cells that are in at least one group), on Seurat's
# LogNormalize values. W and p follow base R's wilcox.test(exact = FALSE, correct = TRUE)
# formulas (checked below against wilcox.test itself on a sample of gene/group pairs);
# logFC = mean(in) - mean(out), auc = W / (n_in n_out), pct_in / pct_out in percent.
# Selection as the Cellenics worker's getTopMarkerGenes: keep logFC > 0, auc >= 0.3,
# pct_in >= 20, pct_out <= 70; order by p (stable); keep each gene once (its lowest p);
# order by logFC decreasing (stable); first n per group; groups in order.
#
# DotPlot: Seurat 4.3.0's DotPlot(features, group.by)$data. Seurat 5 changed the colour
# value to scale(log1p(avg.exp)) (4.3 scales avg.exp itself); cellworker follows Seurat 5,
# so avg_exp_scaled holds the Seurat 5 formula computed here from Seurat's own avg.exp, and
# avg_exp_scaled_seurat43 what 4.3 returned (the script checks it against its formula).
#
# Conventions as seurat-pbmc3k.R: genes are 0-based rows of features.tsv.gz, cells 0-based
# columns; doubles written with sprintf("%.17g") so they parse back exactly.

# ---------------------------------------------------------------- BLAS
# Nothing here calls BLAS/LAPACK in a way that changes results, but keep the same setup as
# seurat-pbmc3k.R (re-exec on the reference BLAS) so both scripts run in one environment.
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "reference-blas.R"))

suppressPackageStartupMessages({
  library(Matrix)
  library(Seurat)
  library(jsonlite)
  library(stringi)
})

data_dir <- "data/pbmc3k"
out_dir <- "test/fixtures/reference/pbmc3k"
if (!dir.exists(data_dir)) stop("run from the repository root (data/pbmc3k not found)")
t_script <- proc.time()[["elapsed"]]

# ---------------------------------------------------------------- JSON helpers
num_json <- function(x) {
  x <- as.double(x)
  s <- sprintf("%.17g", x)
  s[!is.finite(x)] <- "null"
  structure(paste0("[", paste(s, collapse = ","), "]"), class = "json")
}
int_json <- function(x) {
  x <- as.integer(x)
  stopifnot(!anyNA(x))
  structure(paste0("[", paste(x, collapse = ","), "]"), class = "json")
}
# character vectors always as arrays (auto_unbox would turn length 1 into a scalar)
str_json <- function(x) structure(as.character(toJSON(as.character(x))), class = "json")
write_json_file <- function(obj, name) {
  txt <- toJSON(obj, auto_unbox = TRUE, json_verbatim = TRUE, null = "null",
                na = "null", digits = NA, pretty = FALSE)
  path <- file.path(out_dir, name)
  con <- file(path, "wb")
  writeLines(txt, con, useBytes = TRUE)
  close(con)
  message(sprintf("wrote %s (%d bytes)", path, file.size(path)))
  invisible(path)
}
# every number written must parse back to the double computed
check_roundtrip <- function(name, values) {
  back <- fromJSON(file.path(out_dir, name), simplifyVector = TRUE)
  for (path in names(values)) {
    got <- back
    for (p in strsplit(path, "$", fixed = TRUE)[[1]]) got <- got[[p]]
    want <- values[[path]]
    got <- as.double(got)
    want <- as.double(want)
    same <- (is.na(got) & !is.finite(want)) | (!is.na(got) & got == want)
    if (length(got) != length(want) || !all(same))
      stop(sprintf("%s: %s does not round-trip", name, path))
  }
  message(sprintf("round-trip ok: %s (%d fields)", name, length(values)))
}

# ---------------------------------------------------------------- data
read_gz <- function(name, reader) {
  con <- gzfile(file.path(data_dir, name), "rt")
  on.exit(close(con))
  reader(con)
}
counts <- as(read_gz("matrix.mtx.gz", readMM), "CsparseMatrix")
features <- read_gz("features.tsv.gz", function(con)
  read.delim(con, header = FALSE, stringsAsFactors = FALSE, quote = "",
             colClasses = "character"))
barcodes <- read_gz("barcodes.tsv.gz", readLines)
symbols <- features[[2]]                       # display names (may repeat)
gene_names <- gsub("_", "-", make.unique(symbols), fixed = TRUE)  # Seurat's feature names
dimnames(counts) <- list(gene_names, barcodes)
n_cells <- ncol(counts)
obj <- CreateSeuratObject(counts = counts, project = "pbmc3k", min.cells = 0, min.features = 0)
obj <- NormalizeData(obj, normalization.method = "LogNormalize", scale.factor = 1e4, verbose = FALSE)
lognorm <- drop0(GetAssayData(obj, slot = "data"))
stopifnot(identical(rownames(lognorm), gene_names), identical(colnames(lognorm), barcodes))
row_of <- function(names) {  # Seurat feature name -> 0-based file row
  i <- match(names, gene_names)
  stopifnot(!anyNA(i))
  i - 1L
}

clusters <- fromJSON(file.path(out_dir, "clusters.json"))$clusters
stopifnot(length(clusters) == n_cells)
cluster_cells <- function(k) which(clusters == k)   # 1-based

# ---------------------------------------------------------------- one-vs-rest statistics
# X: genes x cells (log-normalised, no stored zeros); groups: list of 1-based cell vectors
# (may overlap). Universe = union of the groups. Returns per gene x group statistics as
# k x G matrices (k groups, G genes).
one_vs_rest <- function(X, groups) {
  universe <- sort(unique(unlist(groups)))
  N <- length(universe)
  k <- length(groups)
  Xu <- as(t(X[, universe, drop = FALSE]), "CsparseMatrix")      # N x G
  M <- Matrix(sapply(groups, function(g) as.double(universe %in% g)), sparse = TRUE)  # N x k
  n <- colSums(M)
  nnz_gene <- diff(Xu@p)
  xs <- Xu@x
  rx <- numeric(length(xs))                                         # ranks of the non-zeros
  ptr <- Xu@p
  ties <- numeric(ncol(Xu))
  for (j in seq_len(ncol(Xu))) {
    n_zero <- N - nnz_gene[j]
    t0 <- n_zero^3 - n_zero
    if (nnz_gene[j] > 0) {
      idx <- (ptr[j] + 1L):ptr[j + 1L]
      x <- xs[idx]
      rx[idx] <- rank(x) + n_zero
      tl <- rle(sort(x))$lengths
      t0 <- t0 + sum(tl^3 - tl)
    }
    ties[j] <- t0
  }
  R <- Xu
  R@x <- rx
  B <- Xu
  B@x[] <- 1
  nnz <- as.matrix(crossprod(M, B))                                 # k x G
  rank_sum <- as.matrix(crossprod(M, R))
  sums <- as.matrix(crossprod(M, Xu))
  total <- colSums(Xu)
  nnz_total <- nnz_gene
  G <- ncol(Xu)
  zero_rank <- matrix(rep((N - nnz_gene + 1) / 2, each = k), k, G)
  W <- rank_sum + (n - nnz) * zero_rank - n * (n + 1) / 2
  n1 <- n
  n2 <- N - n
  z <- W - n1 * n2 / 2
  tie_m <- matrix(rep(ties, each = k), k, G)
  sigma <- sqrt((n1 * n2 / 12) * ((n1 + n2 + 1) - tie_m / ((n1 + n2) * (n1 + n2 - 1))))
  z <- (z - sign(z) * 0.5) / sigma
  p <- 2 * pmin(pnorm(z), pnorm(z, lower.tail = FALSE))
  logFC <- sums / n - (matrix(rep(total, each = k), k, G) - sums) / n2
  list(universe = universe, n = n, N = N, Xu = Xu, M = M,
       W = W, p = p, auc = W / (n1 * n2), logFC = logFC,
       pct_in = 100 * (nnz / n),
       pct_out = 100 * ((matrix(rep(nnz_total, each = k), k, G) - nnz) / n2))
}

# compare with wilcox.test itself on some (gene, group) pairs
check_with_wilcox <- function(st, pairs) {
  max_rel <- 0
  for (r in seq_len(nrow(pairs))) {
    gi <- pairs[r, 1]
    k <- pairs[r, 2]
    v <- as.numeric(st$Xu[, gi])
    inside <- st$M[, k] == 1
    w <- wilcox.test(v[inside], v[!inside], exact = FALSE, correct = TRUE)
    stopifnot(unname(w$statistic) == st$W[k, gi])
    rel <- if (w$p.value == st$p[k, gi]) 0 else abs(w$p.value - st$p[k, gi]) / w$p.value
    max_rel <- max(max_rel, rel)
    if (is.na(rel) || !(rel <= 1e-12)) stop(sprintf("gene %d group %d: p %g vs wilcox.test %g", gi, k, st$p[k, gi], w$p.value))
    d <- mean(v[inside]) - mean(v[!inside])
    if (!(abs(d - st$logFC[k, gi]) <= 1e-12 * max(1, abs(d)))) stop("logFC differs from the means")
  }
  message(sprintf("checked %d gene/group pairs against wilcox.test: max relative p difference %.2g",
                  nrow(pairs), max_rel))
}

# the marker selection; returns the selected rows in final order
select_markers <- function(st, n_per_group) {
  k <- length(st$n)
  G <- ncol(st$p)
  tab <- data.frame(gene = rep(seq_len(G), each = k), group = rep(seq_len(k), times = G),
                    p = as.vector(st$p), logFC = as.vector(st$logFC), auc = as.vector(st$auc),
                    pct_in = as.vector(st$pct_in), pct_out = as.vector(st$pct_out))
  # presto's row order: group-major, genes in row order
  tab <- tab[order(tab$group, tab$gene), ]
  keep <- with(tab, logFC > 0 & auc >= 0.3 & pct_in >= 20 & pct_out <= 70)
  passing <- tab[which(keep), ]
  sel <- passing[order(passing$p), ]                 # order() is stable
  sel <- sel[!duplicated(sel$gene), ]
  sel <- sel[order(-sel$logFC), ]
  sel <- do.call(rbind, lapply(seq_len(k), function(g) head(sel[sel$group == g, ], n_per_group)))
  list(passing = passing, selected = sel)
}

sample_pairs <- function(st, n_pairs, seed) {
  set.seed(seed)
  genes <- which(diff(st$Xu@p) > 0)
  cbind(sample(genes, n_pairs, replace = TRUE), sample(seq_along(st$n), n_pairs, replace = TRUE))
}

children_json <- function(children) lapply(children, function(ch)
  list(key = ch$key, name = ch$name, cells = int_json(ch$cells - 1L)))

ALL <- 100000L   # "every candidate": larger than any group's count
marker_case <- function(name, description, children, ns = c(5L, 3L)) {
  groups <- lapply(children, `[[`, "cells")
  st <- one_vs_rest(lognorm, groups)
  check_with_wilcox(st, sample_pairs(st, 300, 7))
  all <- select_markers(st, ALL)
  check_with_wilcox(st, cbind(all$selected$gene, all$selected$group))
  top <- lapply(ns, function(n) {
    s <- select_markers(st, n)$selected
    list(genes = int_json(s$gene - 1L), groups = int_json(s$group - 1L),
         names = str_json(unique(symbols[s$gene])))
  })
  names(top) <- as.character(ns)
  pass <- all$passing
  sel <- all$selected
  message(sprintf("%s: %d cells, groups of %s; %d passing rows, %d distinct markers", name,
                  st$N, paste(st$n, collapse = "/"), nrow(pass), nrow(all$selected)))
  list(
    out = list(
      description = description,
      children = children_json(children),
      universe_size = st$N,
      group_sizes = int_json(st$n),
      top = top,
      all = list(genes = int_json(sel$gene - 1L), groups = int_json(sel$group - 1L),
                 names = str_json(unique(symbols[sel$gene])),
                 p = num_json(sel$p), logFC = num_json(sel$logFC), auc = num_json(sel$auc),
                 pct_in = num_json(sel$pct_in), pct_out = num_json(sel$pct_out)),
      passing = list(gene = int_json(pass$gene - 1L), group = int_json(pass$group - 1L))),
    stats = st, all = all, top = top,
    check = setNames(list(sel$p, sel$logFC, sel$auc, sel$pct_in, sel$pct_out),
                     paste0(name, "$all$", c("p", "logFC", "auc", "pct_in", "pct_out"))))
}

cluster_children <- lapply(0:8, function(k) list(key = paste0("seurat-", k), name = paste("Cluster", k),
                                                 cells = cluster_cells(k)))
overlap_children <- c(
  list(list(key = "seurat-1+3", name = "Clusters 1 and 3", cells = sort(c(cluster_cells(1L), cluster_cells(3L))))),
  cluster_children[1:7])   # clusters 0..6; cells of clusters 7 and 8 are in no child

mk_clusters <- marker_case("clusters", paste(
  "the 9 Seurat clusters of clusters.json as children seurat-0 .. seurat-8, every cell in one"),
  cluster_children)
mk_overlap <- marker_case("overlap", paste(
  "overlapping children: 'Clusters 1 and 3' (the union), then clusters 0..6;",
  "cells of clusters 7 and 8 are in no child (left out of every test)"),
  overlap_children)

write_json_file(list(
  description = paste("One-vs-rest Wilcoxon marker genes (presto-style, computed in R; p as",
                      "wilcox.test(exact=FALSE, correct=TRUE)) on Seurat 4.3.0 LogNormalize",
                      "values of pbmc3k, and the Cellenics getTopMarkerGenes selection"),
  filters = list(logFC_gt = 0, auc_ge = 0.3, pct_in_ge = 20, pct_out_le = 70),
  cases = list(clusters = mk_clusters$out, overlap = mk_overlap$out)
), "markers.json")
check_roundtrip("markers.json", c(
  setNames(mk_clusters$check, paste0("cases$", names(mk_clusters$check))),
  setNames(mk_overlap$check, paste0("cases$", names(mk_overlap$check)))))

# ---------------------------------------------------------------- DotPlot
# ICU collation of the original's R (en locale), numbers compared numerically as
# stringr::str_order(numeric = TRUE) does.
icu_sort <- function(x) stri_sort(x, locale = "en", numeric = TRUE)
minmax <- function(x, lo, hi) pmin(pmax(x, lo), hi)

# children: list of list(name, cells); filter: 1-based cells or NULL; features: Seurat names
dotplot_case <- function(description, children, filter, features, markers = NULL) {
  cells <- if (is.null(filter)) seq_len(n_cells) else sort(filter)
  labels <- rep(NA_character_, n_cells)
  child_names <- make.unique(vapply(children, `[[`, "", "name"))
  for (i in seq_along(children)) {
    inside <- intersect(children[[i]]$cells, cells)
    labels[inside] <- child_names[i]          # later children overwrite earlier ones
  }
  keep <- cells[!is.na(labels[cells])]
  sub <- subset(obj, cells = barcodes[keep])
  sub$dotplot_groups <- labels[match(colnames(sub), barcodes)]
  d <- suppressWarnings(DotPlot(sub, features = features, group.by = "dotplot_groups"))$data
  ids <- as.character(d$id)
  feats <- as.character(d$features.plot)
  levels_present <- levels(d$id)
  # Seurat 4.3 colour value: MinMax(scale(avg.exp), -2.5, 2.5) (log1p with one group)
  v5 <- numeric(nrow(d))
  v43 <- numeric(nrow(d))
  for (f in unique(feats)) {
    rows <- which(feats == f)
    a <- d$avg.exp[rows]
    if (length(levels_present) == 1) {
      v5[rows] <- log1p(a)
      v43[rows] <- log1p(a)
    } else {
      v5[rows] <- minmax(as.vector(scale(log1p(a))), -2.5, 2.5)
      v43[rows] <- minmax(as.vector(scale(a)), -2.5, 2.5)
    }
  }
  stopifnot(identical(is.na(v43), is.na(d$avg.exp.scaled)),
            all(is.na(v43) | abs(v43 - d$avg.exp.scaled) <= 1e-14))
  gene_rows <- row_of(feats)
  message(sprintf("dotplot %s: %d groups x %d features", description, length(levels_present), length(features)))
  out <- list(
    description = description,
    children = lapply(children, function(ch) list(key = ch$key, name = ch$name, cells = int_json(ch$cells - 1L))),
    filter_cells = if (is.null(filter)) NULL else int_json(sort(filter) - 1L),
    features = int_json(row_of(features)),
    feature_names = str_json(symbols[row_of(features) + 1L]),
    cellSetsNames = str_json(icu_sort(unique(ids))),
    geneNames = str_json(icu_sort(unique(symbols[gene_rows + 1L]))),
    data = list(id = str_json(ids), gene = int_json(gene_rows),
                avg_exp = num_json(d$avg.exp), pct_exp = num_json(d$pct.exp),
                avg_exp_scaled = num_json(v5), avg_exp_scaled_seurat43 = num_json(d$avg.exp.scaled)))
  if (!is.null(markers)) out$markers <- markers
  list(out = out, check = list(avg_exp = d$avg.exp, pct_exp = d$pct.exp, avg_exp_scaled = v5,
                               avg_exp_scaled_seurat43 = d$avg.exp.scaled))
}

# names exercising the ordering rules: numbers compared as numbers, case (lower first),
# and a repeated name made unique R-style ("Cluster 2" then "Cluster 2.1")
named_children <- lapply(0:8, function(k) list(
  key = paste0("seurat-", k),
  name = c("Cluster 10", "Cluster 2", "cluster 3", "B cells", "b cells", "NK", "Mono 1", "Mono", "Cluster 2")[k + 1L],
  cells = cluster_cells(k)))
all_zero_gene <- gene_names[which(Matrix::rowSums(counts) == 0)[1]]
custom_request <- c("ms4a1", "CD3D", "GNLY", "Lyz", "PPBP", "FCGR3A", "NKG7", "CD8A", "IL7R", "CCR7",
                    "S100A4", "FCER1A", "CST3", "HLA-DRA", "CD79A", all_zero_gene, "NOT-A-GENE", "cd3d")
custom_features <- unique(gene_names[match(toupper(custom_request), toupper(gene_names))])
custom_features <- custom_features[!is.na(custom_features)]

dp_custom <- dotplot_case("custom genes, the 9 clusters with tricky names, no filter",
                          named_children, NULL, custom_features)
dp_custom$out$custom_request <- str_json(custom_request)

mk3 <- select_markers(mk_clusters$stats, 3L)$selected
dp_markers <- dotplot_case("3 marker genes per cluster, the 9 clusters, no filter",
                           named_children, NULL, unique(gene_names[mk3$gene]),
                           markers = list(genes = int_json(mk3$gene - 1L), groups = int_json(mk3$group - 1L)))

half <- 1:1350   # filter: the first 1350 cells (0-based 0..1349)
mk_half <- marker_case("half", "clusters restricted to the first 1350 cells",
                       lapply(cluster_children, function(ch) { ch$cells <- intersect(ch$cells, half); ch }))
mkh3 <- select_markers(mk_half$stats, 3L)$selected
dp_filtered <- dotplot_case("3 marker genes per cluster computed on the filtered cells; filter = first 1350 cells",
                            named_children, half, unique(gene_names[mkh3$gene]),
                            markers = list(genes = int_json(mkh3$gene - 1L), groups = int_json(mkh3$group - 1L)))

dp_single <- dotplot_case("custom genes, one group (all cells): not scaled, log1p(avg.exp)",
                          list(list(key = "everything", name = "All cells", cells = seq_len(n_cells))),
                          NULL, custom_features)

dp_cases <- list(custom = dp_custom, markers = dp_markers, filtered = dp_filtered, single = dp_single)
write_json_file(list(
  description = paste("Seurat 4.3.0 DotPlot(features, group.by)$data on pbmc3k (LogNormalize);",
                      "avg_exp_scaled = Seurat 5's MinMax(scale(log1p(avg.exp)), -2.5, 2.5) from the",
                      "same avg.exp (log1p(avg.exp) with one group)"),
  cases = lapply(dp_cases, `[[`, "out")
), "dotplot.json")
check_roundtrip("dotplot.json", unlist(lapply(names(dp_cases), function(nm) {
  ch <- dp_cases[[nm]]$check
  setNames(ch, paste0("cases$", nm, "$data$", names(ch)))
}), recursive = FALSE))
message(sprintf("done in %.1f s", proc.time()[["elapsed"]] - t_script))
