# Reference fixtures for cellworker's CellCycleScoring task: Seurat 4.3.0's CellCycleScoring on
# data/pbmc3k and data/pbmc_multibatch_2100, called the way the original Cellenics worker calls
# it (reference spec §5.20): the object's features are the gene ids (features.tsv column 1),
# the feature lists are the symbols of a Seurat gene list followed by the ids of the genes
# whose symbol matches one of them case-insensitively (first match per symbol), so
# ctrl = min(length(S list), length(G2M list)) counts both parts; set.ident = TRUE.
#
# Same Debian (bookworm) packages as scripts/reference/seurat-pbmc3k.R (r-base-core 4.2.2,
# r-cran-seurat 4.3.0, r-cran-matrix, r-cran-jsonlite). Run from the repository root:
#   Rscript scripts/reference/seurat-cellcycle.R      # ~20 s
# It writes test/fixtures/reference/cellcycle-pbmc3k.json and
# test/fixtures/reference/cellcycle-pbmc_multibatch_2100.json.
#
# Contents, per gene list ("cc.genes", the original worker's, and "cc.genes.updated.2019"):
# - s_features, g2m_features: the genes AddModuleScore kept, as 0-based rows of features.tsv,
#   in its order; ctrl: the number of control genes drawn per feature;
# - s_controls, g2m_controls: the unique control genes (0-based rows, first-draw order). Seurat
#   does not return them: they are re-drawn here by replaying AddModuleScore's steps with the
#   same seed (set.seed(1), rowMeans of `data`, cut_number of the averages + rnorm / 1e30 into
#   24 bins, sample(ctrl) per feature), and the script checks that scores computed from these
#   controls are identical to Seurat's (so they are the controls Seurat used);
# - bins: every gene's expression bin (1..24) from that replay;
# - s_score, g2m_score, phase: per cell (0-based columns), Seurat's S.Score, G2M.Score and Phase.
# Doubles are written with sprintf("%.17g") so they parse back exactly (checked).

# ---------------------------------------------------------------- BLAS
# Nothing here depends on BLAS; keep the same setup as the other reference scripts.
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "reference-blas.R"))

suppressPackageStartupMessages({
  library(Matrix)
  library(Seurat)
  library(jsonlite)
})

out_dir <- "test/fixtures/reference"
if (!dir.exists("data/pbmc3k")) stop("run from the repository root (data/pbmc3k not found)")

num_json <- function(x) {
  x <- as.double(x)
  stopifnot(all(is.finite(x)))
  structure(paste0("[", paste(sprintf("%.17g", x), collapse = ","), "]"), class = "json")
}
int_json <- function(x) {
  x <- as.integer(x)
  stopifnot(!anyNA(x))
  structure(paste0("[", paste(x, collapse = ","), "]"), class = "json")
}
str_json <- function(x) structure(as.character(toJSON(as.character(x))), class = "json")

read_gz <- function(dir, name, reader) {
  con <- gzfile(file.path(dir, name), "rt")
  on.exit(close(con))
  reader(con)
}

# AddModuleScore's control genes, replayed step by step (Seurat 4.3.0, seed = 1, nbin = 24).
replay_controls <- function(data, features, ctrl, nbin = 24) {
  set.seed(1)
  avg <- Matrix::rowMeans(data)
  avg <- avg[order(avg)]
  cut <- ggplot2::cut_number(avg + rnorm(length(avg)) / 1e30, n = nbin, labels = FALSE, right = FALSE)
  names(cut) <- names(avg)
  controls <- lapply(features, function(f) {
    drawn <- character()
    for (g in f) drawn <- c(drawn, names(sample(cut[which(cut == cut[g])], size = ctrl, replace = FALSE)))
    unique(drawn)
  })
  list(controls = controls, bins = cut[rownames(data)])
}

run_dataset <- function(name) {
  dir <- file.path("data", name)
  counts <- as(read_gz(dir, "matrix.mtx.gz", readMM), "CsparseMatrix")
  features <- read_gz(dir, "features.tsv.gz", function(con)
    read.delim(con, header = FALSE, stringsAsFactors = FALSE, quote = "", colClasses = "character"))
  barcodes <- read_gz(dir, "barcodes.tsv.gz", readLines)
  ids <- features[[1]]
  symbols <- features[[2]]
  stopifnot(!anyDuplicated(ids), !any(grepl("_", ids, fixed = TRUE)))
  dimnames(counts) <- list(ids, barcodes)
  obj <- CreateSeuratObject(counts = counts, min.cells = 0, min.features = 0)
  obj <- NormalizeData(obj, normalization.method = "LogNormalize", scale.factor = 1e4, verbose = FALSE)
  data <- GetAssayData(obj, slot = "data")
  stopifnot(identical(rownames(data), ids))
  annotations <- data.frame(input = ids, name = symbols)

  cases <- list()
  for (list_name in c("cc.genes", "cc.genes.updated.2019")) {
    genes <- eval(parse(text = paste0("Seurat::", list_name)))
    # as the original worker's run_cell_cycle_scoring builds its feature lists
    with_ids <- function(names) c(names, na.omit(annotations[match(tolower(names), tolower(annotations$name)), "input"]))
    s_genes <- with_ids(genes$s.genes)
    g2m_genes <- with_ids(genes$g2m.genes)
    scored <- suppressWarnings(CellCycleScoring(obj, s.features = s_genes, g2m.features = g2m_genes, set.ident = TRUE))
    md <- scored[[]]
    stopifnot(identical(rownames(md), barcodes))
    ctrl <- min(length(s_genes), length(g2m_genes))
    kept <- list(intersect(s_genes, ids), intersect(g2m_genes, ids))
    replay <- replay_controls(data, kept, ctrl)
    # the replayed controls give Seurat's scores exactly: they are Seurat's controls
    score_of <- function(f, c) Matrix::colMeans(data[f, , drop = FALSE]) - Matrix::colMeans(data[c, , drop = FALSE])
    stopifnot(identical(unname(score_of(kept[[1]], replay$controls[[1]])), unname(md$S.Score)),
              identical(unname(score_of(kept[[2]], replay$controls[[2]])), unname(md$G2M.Score)))
    row0 <- function(x) match(x, ids) - 1L
    phase <- as.character(md$Phase)
    message(sprintf("%s / %s: %d + %d features, ctrl %d, %d + %d controls; phases %s", name, list_name,
                    length(kept[[1]]), length(kept[[2]]), ctrl, length(replay$controls[[1]]),
                    length(replay$controls[[2]]), paste(names(table(phase)), table(phase), collapse = " ")))
    cases[[list_name]] <- list(
      s_features = int_json(row0(kept[[1]])), g2m_features = int_json(row0(kept[[2]])), ctrl = ctrl,
      s_controls = int_json(row0(replay$controls[[1]])), g2m_controls = int_json(row0(replay$controls[[2]])),
      bins = int_json(replay$bins),
      s_score = num_json(md$S.Score), g2m_score = num_json(md$G2M.Score), phase = str_json(phase),
      values = list(s_score = md$S.Score, g2m_score = md$G2M.Score)
    )
  }
  deb <- if (nzchar(Sys.which("dpkg-query"))) {
    suppressWarnings(system2("dpkg-query", c("-W", "-f", shQuote("${Package} ${Version}\\n"),
      "r-base-core", "r-cran-seurat", "r-cran-seuratobject", "r-cran-ggplot2", "r-cran-matrix"), stdout = TRUE))
  } else character()
  out <- list(
    description = paste("Seurat CellCycleScoring(set.ident = TRUE) as the Cellenics worker calls it (features =",
                        "gene ids; lists = symbols + case-insensitively matched ids); LogNormalize 1e4;",
                        "controls replayed from AddModuleScore's seeded draws and checked against its scores"),
    dataset = name, n_genes = nrow(data), n_cells = ncol(data),
    versions = list(R = R.version.string, Seurat = as.character(packageVersion("Seurat")),
                    ggplot2 = as.character(packageVersion("ggplot2")),
                    Matrix = as.character(packageVersion("Matrix")), debian = I(deb)),
    cases = lapply(cases, function(c) c[setdiff(names(c), "values")])
  )
  txt <- toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null", digits = NA, pretty = FALSE)
  path <- file.path(out_dir, sprintf("cellcycle-%s.json", name))
  con <- file(path, "wb")
  writeLines(txt, con, useBytes = TRUE)
  close(con)
  back <- fromJSON(path, simplifyVector = TRUE)
  for (list_name in names(cases)) for (f in c("s_score", "g2m_score")) {
    if (!identical(as.double(back$cases[[list_name]][[f]]), as.double(cases[[list_name]]$values[[f]])))
      stop(sprintf("%s %s %s does not round-trip", path, list_name, f))
  }
  message(sprintf("wrote %s (%d bytes), round-trip ok", path, file.size(path)))
}

for (name in c("pbmc3k", "pbmc_multibatch_2100")) run_dataset(name)
