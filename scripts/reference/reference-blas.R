# Sourced by the reference scripts first thing: makes sure R runs on Debian's reference
# BLAS/LAPACK, re-executing the calling script with them first on the library path if not.
# Results depend on the BLAS in use (PCA via irlba, loess in vst, limma's QR, ...): with
# OpenBLAS the PCs differ in the last bits and some cells change cluster, and installing any
# package that pulls in libopenblas0 silently switches Debian's libblas.so.3 alternative.
# Set CELLWORKER_ANY_BLAS=1 to skip this (the outputs may then differ).
invisible(local({
  blas <- sessionInfo()$BLAS
  ref_blas <- Sys.glob("/usr/lib/*-linux-gnu/blas/libblas.so.3")
  ref_lapack <- Sys.glob("/usr/lib/*-linux-gnu/lapack/liblapack.so.3")
  if (grepl("/blas/libblas[.]so", blas) || Sys.getenv("CELLWORKER_ANY_BLAS") == "1") return()
  if (Sys.getenv("CELLWORKER_REEXEC") == "1")
    stop("still not on the reference BLAS after re-exec: ", blas)
  if (length(ref_blas) != 1 || length(ref_lapack) != 1)
    stop("reference BLAS/LAPACK not found (apt-get install libblas3 liblapack3), ",
         "or set CELLWORKER_ANY_BLAS=1; current BLAS: ", blas)
  script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  stopifnot(length(script) == 1)
  message("re-running with the reference BLAS/LAPACK instead of ", blas)
  ld <- paste(c(dirname(ref_blas), dirname(ref_lapack), R.home("lib"),
                dirname(dirname(ref_blas))), collapse = ":")
  rc <- system2(file.path(R.home("bin"), "Rscript"), shQuote(script),
                env = c(paste0("R_LD_LIBRARY_PATH=", ld), "CELLWORKER_REEXEC=1"))
  quit(save = "no", status = rc)
}))
