#!/usr/bin/env bash
# Prepares the scanpy reference for `npm run bench -- --reference scanpy|all`.
#
# scanpy is not a Debian package and PyPI is not reachable from this project's machines, so:
#   - its dependencies come from Debian's packages (installed below with apt-get when missing);
#   - scanpy 1.9.8 itself (pure Python) comes from a snapshot of its public git repository,
#     exported at the 1.9.8 tag OUTSIDE this repository (default /tmp/scanpy-1.9.8) and put on
#     PYTHONPATH. Nothing of it is committed here. scanpy reads its version with setuptools_scm
#     or from a generated scanpy/_version.py; the export has neither, so this script writes
#     scanpy/_version.py (`__version__ = "1.9.8"`) into the exported copy (scanpy's own files are
#     not edited).
#
# Usage: bash bench/setup-scanpy.sh [<scanpy git dir>]
#   <scanpy git dir>: a (bare) clone or snapshot of the scanpy repository holding the 1.9.8 tag
#                     (also read from SCANPY_GIT_DIR; default /work/.mirror/scverse+scanpy/repo)
#   SCANPY_SRC:       where to export it (default /tmp/scanpy-1.9.8); kept if already there
#   SCANPY_NO_APT=1:  do not apt-get install missing packages, only check
#   NUMBA_CACHE_DIR:  numba's on-disk cache, primed here with a tiny neighbors + umap + leiden run
#                     (default /tmp/scanpy-bench-numba-cache; bench.ts passes the same)
# Prints, as its last line, one JSON object: the PYTHONPATH to use and the versions of Python,
# scanpy and each dependency ("installedFrom" says how). Exits non-zero with a one-line reason
# when something is missing.
set -euo pipefail

TAG=1.9.8
GIT_DIR_IN="${1:-${SCANPY_GIT_DIR:-/work/.mirror/scverse+scanpy/repo}}"
SRC="${SCANPY_SRC:-/tmp/scanpy-$TAG}"
PY=/usr/bin/python3
# Debian 12 (bookworm) names: scanpy 1.9.8's requirements, plus igraph + leidenalg (clusters) and skmisc
# (loess, for highly_variable_genes flavor seurat_v3 = Seurat's vst).
DEBS=(python3-anndata python3-numpy python3-scipy python3-pandas python3-h5py python3-sklearn python3-numba
      umap-learn python3-pynndescent python3-statsmodels python3-patsy python3-networkx python3-natsort
      python3-joblib python3-tqdm python3-matplotlib python3-seaborn python3-packaging python3-threadpoolctl
      python3-igraph python3-leidenalg python3-skmisc)

say() { echo "[setup-scanpy] $*" >&2; }
die() { echo "setup-scanpy: $*" >&2; exit 1; }

[ -x "$PY" ] || die "Debian's $PY is missing (apt-get install python3)"

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${SCANPY_NO_APT:-0}" = 1 ] && die "missing Debian packages: ${missing[*]}"
  say "apt-get install ${missing[*]}"
  if pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null; then die "another apt-get/dpkg is running; run this again when it has finished"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed (run apt-get update once first?)"
fi

if [ ! -f "$SRC/scanpy/__init__.py" ]; then
  [ -d "$GIT_DIR_IN" ] || die "no scanpy git snapshot at $GIT_DIR_IN (fetch github:scverse/scanpy and pass its git dir)"
  git --git-dir="$GIT_DIR_IN" rev-parse -q --verify "refs/tags/$TAG" >/dev/null || die "$GIT_DIR_IN has no tag $TAG"
  say "exporting scanpy $TAG from $GIT_DIR_IN to $SRC"
  mkdir -p "$SRC"
  git --git-dir="$GIT_DIR_IN" archive "$TAG" scanpy pyproject.toml LICENSE | tar -x -C "$SRC"
  git --git-dir="$GIT_DIR_IN" rev-parse "$TAG^{commit}" > "$SRC/COMMIT"
fi
# scanpy/__init__.py falls back to scanpy/_version.py when setuptools_scm is absent.
[ -f "$SRC/scanpy/_version.py" ] || printf '__version__ = "%s"\n' "$TAG" > "$SRC/scanpy/_version.py"

debs_json=$(for p in "${DEBS[@]}"; do printf '"%s": "%s",' "$p" "$(dpkg-query -W -f='${Version}' "$p")"; done)
export SRC DEBS_JSON="{${debs_json%,}}"
cd /
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-/tmp/scanpy-bench-numba-cache}"
PYTHONPATH="$SRC" "$PY" - <<'EOF' || die "importing scanpy from $SRC failed"
import json, os, sys, importlib, warnings
warnings.filterwarnings("ignore")
import scanpy
src = os.environ["SRC"]
if not scanpy.__file__.startswith(src):
    raise SystemExit(f"scanpy came from {scanpy.__file__}, not {src}")
mods = ["anndata", "numpy", "scipy", "pandas", "h5py", "sklearn", "numba", "umap", "pynndescent",
        "statsmodels", "patsy", "networkx", "natsort", "joblib", "tqdm", "matplotlib", "seaborn",
        "packaging", "threadpoolctl", "igraph", "leidenalg", "skmisc"]
versions = {}
for m in mods:
    mod = importlib.import_module(m)
    versions[m] = getattr(mod, "__version__", None) or getattr(mod, "version", None)
    if not isinstance(versions[m], str):
        versions[m] = str(versions[m])
# prime numba's on-disk cache (NUMBA_CACHE_DIR): a scanpy user's first call in a new process
# loads the compiled neighbour search and UMAP from it; what numba does not cache compiles anyway
import time
import numpy as np
import anndata
t0 = time.perf_counter()
a = anndata.AnnData(np.random.default_rng(0).normal(size=(300, 30)).astype("float32"))
a.obsm["X_pca"] = a.X
scanpy.pp.neighbors(a, n_neighbors=20, use_rep="X_pca")
scanpy.tl.umap(a)
scanpy.tl.leiden(a)
primed_s = round(time.perf_counter() - t0, 1)
commit = open(os.path.join(src, "COMMIT")).read().strip() if os.path.exists(os.path.join(src, "COMMIT")) else None
debs = json.loads(os.environ["DEBS_JSON"])
print(json.dumps({
    "pythonpath": src,
    "python": sys.executable + " " + sys.version.split()[0],
    "scanpy": scanpy.__version__,
    "scanpyCommit": commit,
    "versions": versions,
    "debianPackages": debs,
    "numbaCacheDir": os.environ.get("NUMBA_CACHE_DIR"),
    "numbaCachePrimingSeconds": primed_s,
    "installedFrom": "Debian 12 packages " + ", ".join(f"{k} {v}" for k, v in debs.items())
        + f"; scanpy {scanpy.__version__} from a git snapshot of its public repository (tag {scanpy.__version__}, commit {commit}), exported to {src} and put on PYTHONPATH (not pip-installed; PyPI is not reachable here)",
}))
EOF
