"""The scanpy 1.9.8 reference for `npm run bench -- --reference scanpy|all`: the steps a scanpy
user runs for what each cellworker task does (the same steps as bench/seurat.R), on the same
input, timed the same way (one warm-up run, then the median of up to `runs` runs within `budget`
seconds per step; a step whose first run alone exceeds budget / (runs + 1) is timed once).

One thread: bench.ts runs this pinned to one CPU (taskset -c 0) with OMP/OPENBLAS/MKL/NUMBA
threads = 1 set before Python starts; scanpy's n_jobs is 1 and t-SNE gets n_jobs = 1.

Usage: python3 bench/scanpy.py <10x folder> <runs> <budget seconds> <scratch dir>
(with PYTHONPATH holding scanpy 1.9.8: see bench/setup-scanpy.sh)
Prints one JSON document on stdout (progress on stderr).

Choices, to match cellworker's preprocessing and bench/seurat.R:
- highly_variable_genes(flavor="seurat_v3", n_top_genes=2000) on the counts: Seurat's vst
  (what cellworker and FindVariableFeatures do; needs skmisc's loess, Debian python3-skmisc).
- normalize_total(target_sum=1e4) + log1p = Seurat's LogNormalize; the log-normalised matrix of
  all genes is kept as `.raw` (what the expression, marker and DE steps read, as Seurat's `data`).
- scale(max_value=10) on the 2,000 HVGs only (Seurat's ScaleData scales the variable features),
  pca(50 comps, svd_solver="arpack").
- neighbors(n_neighbors=20, n_pcs=30): k = 20 counting the cell itself (cellworker's and Seurat's
  k.param). scanpy's graph is UMAP's fuzzy connectivities, not Seurat's SNN.
- Clusters: leiden(resolution=0.8) (leidenalg). scanpy's Louvain at a resolution needs the
  `louvain` package of Traag, which Debian does not package (Debian's python3-louvain is
  python-louvain, whose scanpy flavour "taynaud", like flavour "igraph", ignores the resolution).
- umap: its own 30-neighbour graph on 30 PCs (neighbors(n_neighbors=30, key_added="umap30")) +
  umap(min_dist=0.3), as Seurat's RunUMAP(n.neighbors = 30, min.dist = 0.3) searches its own.
- tsne: tsne(n_pcs=30, perplexity=30, n_jobs=1) (scikit-learn's Barnes-Hut, 1,000 iterations).
"""
import json
import os
import re
import sys
import time
import warnings

# this file is named scanpy.py: keep its own folder off sys.path so `import scanpy` finds scanpy
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
warnings.filterwarnings("ignore")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scanpy as sc  # noqa: E402
import threadpoolctl  # noqa: E402

GENES2 = ["MS4A1", "CD3E"]
GENES50 = ["CD3E", "CD3D", "CD2", "IL7R", "CCR7", "LEF1", "TCF7", "CD8A", "CD8B", "GZMK", "GZMA",
           "GZMB", "GZMH", "PRF1", "NKG7", "GNLY", "KLRD1", "KLRB1", "FCGR3A", "MS4A7", "CD14", "LYZ",
           "S100A8", "S100A9", "FCN1", "VCAN", "CST3", "FCER1A", "CLEC10A", "CD1C", "MS4A1", "CD79A",
           "CD79B", "CD19", "BANK1", "CD74", "HLA-DRA", "TCL1A", "PPBP", "PF4", "GP9", "HBB", "HBA1",
           "CD4", "FOXP3", "IL2RA", "CTLA4", "MKI67", "TOP2A", "ITGAX"]
DOTPLOT_GENES = ["CD3E", "MS4A1", "CD14", "LYZ", "NKG7", "GNLY", "FCGR3A", "PPBP", "CST3", "IL7R"]
LIST_FILTER = "^CD"

N_HVG, N_PCS, PCS_USED, K, RESOLUTION, UMAP_K = 2000, 50, 30, 20, 0.8, 30

if len(sys.argv) < 5:
    sys.stderr.write("usage: scanpy.py <10x folder> <runs> <budget seconds> <scratch dir>\n")
    sys.exit(2)
input_path, runs, budget, scratch = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
if not os.path.isdir(input_path):
    sys.stderr.write(f"scanpy.py: {input_path} is not a 10x Matrix Market folder\n")
    sys.exit(2)

sc.settings.verbosity = 0
sc.settings.n_jobs = 1


def say(*parts):
    sys.stderr.write(time.strftime("%H:%M:%S ") + "".join(str(p) for p in parts) + "\n")


def ms(fn):
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return round(int(line.split()[1]) / 1024)
    return None


def repeated(name, fn):
    say(name)
    first, _ = ms(fn)
    samples, warmup = [], True
    if first * (runs + 1) > budget * 1000:
        samples, warmup = [first], False
    else:
        spent = first
        while len(samples) < runs and spent < budget * 1000:
            t, _ = ms(fn)
            samples.append(t)
            spent += t
    return {"medianMs": round(float(np.median(samples)), 1), "runs": len(samples), "warmup": warmup,
            "samplesMs": [round(s, 1) for s in samples], "firstMs": round(first, 1)}


def cold_start():
    """Read the 10x folder + the preprocessing cellworker does on first load; per-stage ms."""
    t = {}
    say("read ", input_path)

    def read():
        a = sc.read_10x_mtx(input_path, var_names="gene_symbols", make_unique=True)
        ann = os.path.join(input_path, "annotations.csv")
        if os.path.exists(ann):
            labels = pd.read_csv(ann)
            if "sample" in labels.columns:
                a.obs["sample"] = labels["sample"].astype(str).values
        return a
    t["readMs"], adata = ms(read)
    say("highly_variable_genes (seurat_v3)")
    t["hvgMs"], _ = ms(lambda: sc.pp.highly_variable_genes(adata, flavor="seurat_v3", n_top_genes=N_HVG))
    say("normalize_total + log1p")

    def normalize():
        sc.pp.normalize_total(adata, target_sum=1e4)
        sc.pp.log1p(adata)
        adata.raw = adata
    t["normalizeMs"], _ = ms(normalize)
    say("scale (HVGs, max_value 10)")

    def scale():
        h = adata[:, adata.var["highly_variable"].values].copy()
        sc.pp.scale(h, max_value=10)
        return h
    t["scaleMs"], hv = ms(scale)
    say("pca")
    t["pcaMs"], _ = ms(lambda: sc.tl.pca(hv, n_comps=N_PCS, svd_solver="arpack", random_state=0))
    say("neighbors")
    t["neighborsMs"], _ = ms(lambda: sc.pp.neighbors(hv, n_neighbors=K, n_pcs=PCS_USED, random_state=0))
    say("leiden")
    t["clustersMs"], _ = ms(lambda: sc.tl.leiden(hv, resolution=RESOLUTION, random_state=0))
    t = {k: round(v) for k, v in t.items()}
    t["totalMs"] = sum(t.values())
    t["processingMs"] = t["totalMs"] - t["readMs"]
    return t, hv


out = {
    "scanpy": sc.__version__, "scanpyFile": sc.__file__, "python": sys.version.split()[0], "input": input_path,
    "threadpools": [{k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
                    for p in threadpoolctl.threadpool_info()],
    "threadEnv": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                   "NUMBA_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
}
numba_cache = os.environ.get("NUMBA_CACHE_DIR")
out["numbaCacheDir"] = numba_cache
out["numbaCacheWarmAtStart"] = bool(numba_cache and os.path.isdir(numba_cache) and any(os.scandir(numba_cache)))

# ---- cold start (the first in this process: includes numba's just-in-time compiling that its
# on-disk cache does not cover); then the same again in the same process, compiled.
cold, adata = cold_start()
say("cold start again (compiled)")
cold_again, adata = cold_start()
out["cells"], out["genes"] = int(adata.raw.shape[0]), int(adata.raw.shape[1])
out["clusters"] = int(adata.obs["leiden"].nunique())
out["coldStart"] = cold
out["coldStartAgainSameProcess"] = cold_again
out["peakRssMiBAfterColdStart"] = peak_rss_mib()

# ---- warm start: the processed AnnData (with .raw) written uncompressed and read back -------
h5ad = os.path.join(scratch, "scanpy-object.h5ad")
say("write_h5ad")
save_ms, _ = ms(lambda: adata.write_h5ad(h5ad, compression=None))
say("read_h5ad")
warm_samples = [ms(lambda: sc.read_h5ad(h5ad))[0] for _ in range(max(3, runs))]
os.remove(h5ad)
out["warmStart"] = {"medianMs": round(float(np.median(warm_samples))), "samplesMs": [round(s) for s in warm_samples],
                    "how": "read_h5ad of the processed AnnData (with .raw) written with compression=None",
                    "saveMs": round(save_ms)}

# ---- steps ------------------------------------------------------------------------------------
steps = {}


def umap():
    a = adata.copy()
    sc.pp.neighbors(a, n_neighbors=UMAP_K, n_pcs=PCS_USED, random_state=0, key_added="umap30")
    sc.tl.umap(a, min_dist=0.3, neighbors_key="umap30", random_state=0)
    return a


steps["umap"] = repeated("umap (own 30-neighbour graph + umap)", umap)
steps["tsne"] = repeated("tsne", lambda: sc.tl.tsne(adata, n_pcs=PCS_USED, perplexity=30, n_jobs=1, random_state=0, copy=True))
steps["clusterCells"] = repeated("leiden", lambda: sc.tl.leiden(adata, resolution=RESOLUTION, random_state=0, copy=True))


def differential():
    a = sc.tl.rank_genes_groups(adata, "leiden", groups=["0"], reference="rest", method="wilcoxon",
                                use_raw=True, copy=True)
    df = sc.get.rank_genes_groups_df(a, group="0")
    return df.sort_values("pvals_adj").head(50)


steps["differentialExpression"] = repeated("rank_genes_groups wilcoxon 0 vs rest", differential)


def marker_heatmap():
    a = sc.tl.rank_genes_groups(adata, "leiden", method="wilcoxon", use_raw=True, copy=True)
    df = sc.get.rank_genes_groups_df(a, group=None)
    df = df[df["logfoldchanges"] > 0].sort_values("pvals").drop_duplicates("names")
    top = df.sort_values("logfoldchanges", ascending=False).groupby("group", observed=True).head(5)
    return list(dict.fromkeys(top["names"]))


steps["markerHeatmap"] = repeated("rank_genes_groups wilcoxon all clusters + top 5", marker_heatmap)


def gene_data(genes):
    raw = adata.raw
    present = [g for g in genes if g in raw.var_names]
    x = sp.csc_matrix(raw[:, present].X)
    dense = x.toarray()
    return x, dense.mean(axis=0), dense.std(axis=0, ddof=1), np.quantile(dense, 0.95, axis=0)


steps["geneExpression2"] = repeated("GeneExpression 2 genes", lambda: gene_data(GENES2))
steps["geneExpression50"] = repeated("GeneExpression 50 genes", lambda: gene_data(GENES50))
pattern = re.compile(LIST_FILTER, re.IGNORECASE)


def list_genes():
    var = adata.raw.var if "variances_norm" in adata.raw.var else adata.var
    hv = var.loc[[bool(pattern.search(g)) for g in var.index], ["variances_norm"]]
    return hv.sort_values("variances_norm", ascending=False).head(50)


steps["listGenes"] = repeated("ListGenes", list_genes)


def dot_plot():
    # DotPlot's constructor computes the per-cluster mean expression and fraction expressing
    # (what Seurat's DotPlot(...)$data holds); nothing is drawn.
    d = sc.pl.DotPlot(adata, DOTPLOT_GENES, groupby="leiden", use_raw=True)
    return d.dot_color_df, d.dot_size_df


steps["dotPlot"] = repeated("DotPlot", dot_plot)
out["steps"] = steps
out["peakRssMiB"] = peak_rss_mib()
print(json.dumps(out, indent=2))
