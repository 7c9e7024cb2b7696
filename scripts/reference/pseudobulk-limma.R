# Reference fixture for cellworker's pseudobulk ("between") differential expression:
# edgeR filterByExpr + TMM, limma voomWithQualityWeights + lmFit + contrasts.fit +
# eBayes(robust = TRUE) + topTable, on data/pbmc_multibatch_2100 (2,100 cells from 14
# samples), as the original Cellenics worker does it (makePseudobulkMatrix +
# runPseudobulkDE; reference spec §5.3). Written from the spec's description, not copied.
#
# Produced with these Debian (bookworm) packages:
#   r-base-core     4.2.2.20221110-2
#   r-bioc-limma    3.54.1+dfsg-1
#   r-bioc-edger    3.40.2+dfsg-1
#   r-cran-statmod  1.5.0-1    (eBayes(robust = TRUE) needs gauss.quad.prob)
#   r-cran-matrix   1.5-3-1
#   r-cran-jsonlite 1.8.4+dfsg-1
# Install:
#   apt-get update
#   apt-get install -y --no-install-recommends r-base-core r-bioc-limma r-bioc-edger \
#     r-cran-statmod r-cran-matrix r-cran-jsonlite
#
# Run from the repository root:
#   Rscript scripts/reference/pseudobulk-limma.R
# It reads data/pbmc_multibatch_2100/ and writes
# test/fixtures/reference/pbmc_multibatch_2100/pseudobulk.json
# (described in test/fixtures/reference/README.md).
#
# Conventions as scripts/reference/seurat-pbmc3k.R: genes are 0-based rows of
# features.tsv.gz, cells 0-based columns (= lines of barcodes.tsv.gz); doubles are
# written with sprintf("%.17g") so that they parse back to exactly R's double.

# ---------------------------------------------------------------- BLAS
# lm.fit / lm.wfit (LINPACK dqrdc2 on top of BLAS) give results that depend on the BLAS in
# the last bits; re-execute with Debian's reference BLAS/LAPACK as seurat-pbmc3k.R does.
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "reference-blas.R"))

suppressPackageStartupMessages({
  library(Matrix)
  library(jsonlite)
  library(edgeR)
  library(limma)
})
stopifnot(requireNamespace("statmod", quietly = TRUE))

data_dir <- "data/pbmc_multibatch_2100"
out_dir <- "test/fixtures/reference/pbmc_multibatch_2100"
if (!dir.exists(data_dir)) stop("run from the repository root (data/pbmc_multibatch_2100 not found)")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

# ---------------------------------------------------------------- JSON helpers
num_json <- function(x) {
  x <- as.double(x)
  s <- sprintf("%.17g", x)
  s[!is.finite(x)] <- "null"
  structure(paste0("[", paste(s, collapse = ","), "]"), class = "json")
}
num_scalar <- function(x) {
  stopifnot(length(x) == 1L)
  structure(if (is.finite(x)) sprintf("%.17g", as.double(x)) else "null", class = "json")
}
int_json <- function(x) {
  x <- as.integer(x)
  stopifnot(!anyNA(x))
  structure(paste0("[", paste(x, collapse = ","), "]"), class = "json")
}

# ---------------------------------------------------------------- read data
read_gz <- function(name, reader) {
  con <- gzfile(file.path(data_dir, name), "rt")
  on.exit(close(con))
  reader(con)
}
counts <- as(read_gz("matrix.mtx.gz", readMM), "CsparseMatrix")
features <- read_gz("features.tsv.gz", function(con)
  read.delim(con, header = FALSE, stringsAsFactors = FALSE, quote = "", colClasses = "character"))
barcodes <- read_gz("barcodes.tsv.gz", readLines)
ann <- read.csv(file.path(data_dir, "annotations.csv"), stringsAsFactors = FALSE,
                colClasses = "character")
stopifnot(nrow(counts) == nrow(features), ncol(counts) == length(barcodes),
          identical(ann$barcode, barcodes))
n_genes <- nrow(counts)
n_cells <- ncol(counts)
sample_of_cell <- ann$sample

# ---------------------------------------------------------------- the pseudobulk DE
# As the original: cells outside both groups are ignored, samples with < 10 of the
# selected cells dropped, counts summed per sample (samples in order of first appearance),
# the group of a sample = the group of its first cell. Returns the fixture entry.
pseudobulk_de <- function(name, description, base, background) {
  stopifnot(!any(base %in% background))
  custom <- rep(NA_character_, n_cells)
  custom[background] <- "background"
  custom[base] <- "base"
  cells <- which(!is.na(custom))
  samples <- sample_of_cell[cells]
  ncells <- table(samples)
  keep_cell <- samples %in% names(ncells)[ncells >= 10]
  cells <- cells[keep_cell]
  samples <- factor(samples[keep_cell], levels = unique(samples[keep_cell]))
  dropped <- setdiff(unique(sample_of_cell[which(!is.na(custom))]), levels(samples))
  indicator <- sparseMatrix(i = seq_along(cells), j = as.integer(samples), x = 1,
                            dims = c(length(cells), nlevels(samples)))
  agg <- as.matrix(counts[, cells, drop = FALSE] %*% indicator)
  dimnames(agg) <- list(as.character(seq_len(n_genes)), levels(samples))
  group <- custom[cells][!duplicated(samples)]
  # every sample lies wholly in one group here (checked; the worker rejects mixed samples)
  stopifnot(all(tapply(custom[cells], samples, function(g) length(unique(g))) == 1))

  y <- DGEList(agg, samples = data.frame(group))
  keep <- filterByExpr(y, group = group)
  disc <- which(!keep)
  y <- y[keep, ]   # keep.lib.sizes = TRUE: library sizes stay the totals over all genes
  y <- calcNormFactors(y)
  design <- model.matrix(~ 0 + group)
  colnames(design) <- gsub("^group", "", colnames(design))
  v <- suppressWarnings(voomWithQualityWeights(y, design))
  fit <- lmFit(v)
  contrast_matrix <- makeContrasts(contrasts = "base-background", levels = design)
  fit <- contrasts.fit(fit, contrast_matrix)
  nsample <- ncol(y)
  kept <- which(keep)
  out <- list(
    description = description,
    base_cells = int_json(base - 1L),
    background_cells = int_json(background - 1L),
    samples = list(
      name = levels(samples),
      group = group,
      n_cells = int_json(as.vector(table(samples))),
      lib_size = num_json(y$samples$lib.size),
      norm_factors = num_json(y$samples$norm.factors),
      sample_weights = num_json(v$targets$sample.weights)
    ),
    dropped_samples = I(dropped),
    n_kept = length(kept),
    kept = int_json(kept - 1L),
    logFC = num_json(fit$coefficients[, 1]),
    AveExpr = num_json(fit$Amean)
  )
  if (nsample == 2) {
    o <- order(abs(fit$coefficients[, 1]), decreasing = TRUE)
    out$order <- int_json(kept[o] - 1L)
  } else {
    eb <- eBayes(fit, robust = TRUE)
    tt <- topTable(eb, coef = 1, sort.by = "p", n = Inf)
    o <- match(rownames(tt), rownames(eb$coefficients))
    stopifnot(!anyNA(o), identical(unname(tt$P.Value), unname(eb$p.value[o, 1])))
    adj <- numeric(length(kept))
    adj[o] <- tt$adj.P.Val
    nonrobust <- squeezeVar(fit$sigma^2, fit$df.residual, robust = FALSE)
    robust <- fitFDistRobustly(fit$sigma^2, df1 = fit$df.residual)
    out <- c(out, list(
      sigma = num_json(fit$sigma),
      df_residual = int_json(fit$df.residual),
      df_prior = num_json(eb$df.prior),
      s2_prior = num_scalar(eb$s2.prior),
      df2_robust = num_scalar(robust$df2),
      df_prior_nonrobust = num_scalar(nonrobust$df.prior),
      s2_prior_nonrobust = num_scalar(nonrobust$var.prior),
      t = num_json(eb$t[, 1]),
      p_val = num_json(eb$p.value[, 1]),
      p_val_adj = num_json(adj),
      order = int_json(kept[o] - 1L)
    ))
  }
  attr(out, "raw") <- list(logFC = unname(fit$coefficients[, 1]),
                           p_val = if (nsample > 2) unname(eb$p.value[, 1]) else NULL)
  message(sprintf("%s: %d samples (%s dropped), %d of %d genes kept", name, nsample,
                  if (length(dropped)) paste(dropped, collapse = " ") else "none",
                  length(kept), n_genes))
  out
}

cells_of <- function(samples) which(sample_of_cell %in% samples)
all_samples <- unique(sample_of_cell)
cond_a <- all_samples[ann$dataset[match(all_samples, sample_of_cell)] %in% c("10x_6K", "10x_8K", "GSE115189")]
cond_b <- setdiff(all_samples, cond_a)
ms4a1 <- which(features[[1]] == "MS4A1")
stopifnot(length(ms4a1) == 1)
bcells <- which(counts[ms4a1, ] > 0)

t0 <- proc.time()[["elapsed"]]
comparisons <- list(
  datasets = pseudobulk_de("datasets",
    paste("all cells; base = the 6 samples of datasets 10x_6K, 10x_8K, GSE115189;",
          "background = the 8 samples of SCP424_pbmc1, SCP424_pbmc2, SRR11038995, SRR7244582"),
    cells_of(cond_a), cells_of(cond_b)),
  halves = pseudobulk_de("halves",
    "all cells; base = the 7 samples named *_1, background = the 7 samples named *_2 (near-null)",
    cells_of(grep("_1$", all_samples, value = TRUE)), cells_of(grep("_2$", all_samples, value = TRUE))),
  bcells = pseudobulk_de("bcells",
    paste("cells with MS4A1 count > 0 only, base/background as `datasets`;",
          "SRR11038995_2 has 9 such cells and is dropped (13 samples)"),
    intersect(cells_of(cond_a), bcells), intersect(cells_of(cond_b), bcells)),
  three_samples = pseudobulk_de("three_samples",
    "base = 10x_6K_1 + 10x_6K_2, background = SCP424_pbmc1_1 (residual df 1; no array weights)",
    cells_of(c("10x_6K_1", "10x_6K_2")), cells_of("SCP424_pbmc1_1")),
  two_samples = pseudobulk_de("two_samples",
    "base = 10x_8K_1, background = SRR7244582_1: no replication, logFC and AveExpr only",
    cells_of("10x_8K_1"), cells_of("SRR7244582_1"))
)
elapsed <- proc.time()[["elapsed"]] - t0

# ---------------------------------------------------------------- small cases
# Unit-test cases for test/numerics/limma.test.ts: R's lowess, the special functions and
# distributions limma needs, edgeR + limma on a small simulated count matrix, and
# fitFDistRobustly on two vectors (one ends with an infinite prior df, one with a finite
# root of the Winsorised-moment equation).
small <- local({
  s <- list()
  x <- c(1, 2, 2, 3, 4, 5, 5, 5, 6, 7, 8, 9, 10, 11, 11, 12, 13, 14, 15, 20)
  y <- c(2.1, 3.9, 4.4, 6.2, 7.9, 9.1, 15, 10.2, 12.5, 13.1, 15.8, 18.4, 19.9, 22.5, 21.7,
         24.2, 26.9, 40, 30.1, 39.5)
  s$lowess <- list(x = num_json(x), y = num_json(y),
                   f05 = num_json(lowess(x, y, f = 0.5)$y),
                   default = num_json(lowess(x, y)$y),
                   f03_iter0 = num_json(lowess(x, y, f = 0.3, iter = 0)$y))
  a <- c(0.3, 1, 2.5, 7.1, 30, 1e4)
  ti <- c(1e-3, 0.05, 0.5, 3, 1e3)
  tt <- c(-40, -8.5, -3.1, -1, -0.2, 0, 0.7, 2.5)
  dft <- c(1, 2.7, 5, 12.3, 100, 3, 4e5, 1e6)
  fx <- c(0.01, 0.5, 1, 3.3, 25, 400)
  d1 <- c(1, 3, 5, 12, 2, 7)
  d2 <- c(2.2, 0.3, 17, 1e3, 5e5, Inf)
  qp <- c(0.05, 0.9, 0.05, 0.9, 0.05, 0.9)
  cp <- c(0.05, 0.5, 0.9, 0.999)
  cdf <- c(1, 3, 7.5, 20)
  s$special <- list(
    x = num_json(a), digamma = num_json(digamma(a)), trigamma = num_json(trigamma(a)),
    tetragamma = num_json(psigamma(a, 2)),
    trigamma_inverse_x = num_json(ti), trigamma_inverse = num_json(trigammaInverse(ti)),
    pt_t = num_json(tt), pt_df = num_json(dft), pt = num_json(pt(tt, dft)),
    pf_x = num_json(fx), pf_df1 = num_json(d1), pf_df2 = num_json(d2),  # null = Inf
    pf_upper_log = num_json(pf(fx, d1, d2, lower.tail = FALSE, log.p = TRUE)),
    pf_lower_log = num_json(pf(fx, d1, d2, log.p = TRUE)),
    df = num_json(df(fx, d1, d2)),
    qf_p = num_json(qp), qf = num_json(qf(qp, d1, d2)),
    qchisq_p = num_json(cp), qchisq_df = num_json(cdf), qchisq = num_json(qchisq(cp, cdf)))
  set.seed(42)
  ng <- 40; ns <- 7
  mu <- rexp(ng, 1/60)
  grp <- c("base", "base", "background", "base", "background", "background", "background")
  counts <- matrix(rnbinom(ng * ns, mu = outer(mu, c(1, 1.3, 0.8, 1.1, 0.6, 1.5, 0.9)), size = 5), ng, ns)
  counts[5, ] <- 0
  counts[9, ] <- c(0, 0, 0, 0, 0, 0, 14)
  counts[12, 2] <- 300
  y <- DGEList(counts, samples = data.frame(group = grp))
  keep <- filterByExpr(y, group = grp)
  y <- y[keep, ]
  y <- calcNormFactors(y)
  design <- model.matrix(~ 0 + grp)
  colnames(design) <- gsub("^grp", "", colnames(design))
  v0 <- voom(y, design)
  v <- voomWithQualityWeights(y, design)
  fit <- contrasts.fit(lmFit(v), makeContrasts(contrasts = "base-background", levels = design))
  eb <- eBayes(fit, robust = TRUE)
  eb2 <- eBayes(fit)
  s$counts <- list(
    n_genes = ng, n_samples = ns, group = grp,
    counts = num_json(as.vector(t(counts))),  # gene-major
    keep = int_json(which(keep) - 1L),
    lib_size = num_json(y$samples$lib.size), norm_factors = num_json(y$samples$norm.factors),
    voom_E_first8 = num_json(as.vector(t(v0$E[1:8, ]))),
    voom_weights_first8 = num_json(as.vector(t(v0$weights[1:8, ]))),
    sample_weights = num_json(v$targets$sample.weights),
    vqw_weights_first8 = num_json(as.vector(t(v$weights[1:8, ]))),
    coefficient = num_json(fit$coefficients[, 1]), stdev_unscaled = num_json(fit$stdev.unscaled[, 1]),
    sigma = num_json(fit$sigma), Amean = num_json(fit$Amean),
    robust_p = num_json(eb$p.value[, 1]), robust_df_prior = num_json(eb$df.prior),
    robust_s2_prior = num_scalar(eb$s2.prior),
    p = num_json(eb2$p.value[, 1]), df_prior = num_scalar(eb2$df.prior), s2_prior = num_scalar(eb2$s2.prior))
  set.seed(7)
  xo <- rchisq(120, 4) / 4 * 0.5
  xo[c(3, 50, 110)] <- c(30, 12, 45)
  xo[77] <- 1e-14
  r1 <- suppressWarnings(fitFDistRobustly(xo, 4))
  xi <- qchisq(ppoints(120), 6) / 6 * 2
  xi[c(10, 100)] <- c(50, 80)
  r2 <- fitFDistRobustly(xi, 6)
  f2 <- fitFDist(xi, 6)
  s$fdist <- list(
    a = list(x = num_json(xo), df1 = 4, scale = num_scalar(r1$scale), df2 = num_scalar(r1$df2),  # df2 null = Inf
             df2_shrunk = num_json(r1$df2.shrunk)),
    b = list(x = num_json(xi), df1 = 6, scale = num_scalar(r2$scale), df2 = num_scalar(r2$df2),
             df2_shrunk = num_json(r2$df2.shrunk),
             nonrobust_scale = num_scalar(f2$scale), nonrobust_df2 = num_scalar(f2$df2)))
  s
})

deb <- if (nzchar(Sys.which("dpkg-query"))) {
  suppressWarnings(system2("dpkg-query", c("-W", "-f", shQuote("${Package} ${Version}\\n"),
    "r-base-core", "r-bioc-limma", "r-bioc-edger", "r-cran-statmod", "r-cran-matrix",
    "libblas3", "liblapack3"), stdout = TRUE))
} else character()
obj <- list(
  description = paste("edgeR filterByExpr(group) + calcNormFactors(TMM) on per-sample summed counts,",
                      "limma voomWithQualityWeights(design ~0+group) + lmFit + contrasts.fit(base-background)",
                      "+ eBayes(robust=TRUE) + topTable(sort.by='p'); per-gene arrays are over the kept genes",
                      "in gene order; `order` is topTable's order (2 samples: |logFC| decreasing)"),
  n_genes = n_genes, n_cells = n_cells,
  versions = list(R = R.version.string, limma = as.character(packageVersion("limma")),
                  edgeR = as.character(packageVersion("edgeR")),
                  statmod = as.character(packageVersion("statmod")),
                  BLAS = sessionInfo()$BLAS, debian = I(deb)),
  comparisons = comparisons,
  small = small
)
txt <- toJSON(obj, auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null",
              digits = NA, pretty = FALSE)
path <- file.path(out_dir, "pseudobulk.json")
writeLines(txt, path, useBytes = TRUE)
message(sprintf("wrote %s (%d bytes) in %.1f s of DE", path, file.size(path), elapsed))

# round trip: every number parses back to R's double
back <- fromJSON(path, simplifyVector = TRUE)
for (nm in names(comparisons)) {
  raw <- attr(comparisons[[nm]], "raw")
  stopifnot(identical(as.double(back$comparisons[[nm]]$logFC), raw$logFC))
  if (!is.null(raw$p_val)) stopifnot(identical(as.double(back$comparisons[[nm]]$p_val), raw$p_val))
}
message("round-trip ok")
