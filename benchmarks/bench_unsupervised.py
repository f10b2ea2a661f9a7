"""PCA(50) and KMeans(10, n_init=10) on 10,000 MNIST images: mmscratch vs scikit-learn.

Run: ``MMSCRATCH_DATA=/path/to/data python benchmarks/bench_unsupervised.py``
(``--backend cupy`` times mmscratch on the GPU; ``--no-write`` skips RESULTS.md).

Both libraries get the same float32 (10000, 784) matrix (the MNIST test split, pixels
/ 255) in the same process; each timing is the best of ``--repeat`` runs. Writes the
section "unsupervised" of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _report  # noqa: E402
from mmscratch import backend  # noqa: E402
from mmscratch.datasets import load_mnist  # noqa: E402
from mmscratch.unsupervised import PCA, KMeans  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from sklearn import __version__ as sk_version
    from sklearn.cluster import KMeans as SKKMeans
    from sklearn.decomposition import PCA as SKPCA

    images, _ = load_mnist(kind="test")
    X_host = np.ascontiguousarray(images.reshape(len(images), -1)[: args.n])  # (n, 784) f32
    backend.use(args.backend)
    X = backend.asarray(X_host)
    sync = backend.synchronize

    rows = []

    def compare(task, ours, theirs, quality):
        t_ours = _report.best_of(ours, repeat=args.repeat, sync=sync)
        t_ref = _report.best_of(theirs, repeat=args.repeat)
        rows.append((task, t_ours, t_ref, t_ours / t_ref, quality()))
        print(f"{task}: mmscratch {t_ours:.3f} s, sklearn {t_ref:.3f} s, "
              f"ratio {t_ours / t_ref:.2f}, {rows[-1][4]}", flush=True)

    for solver in ("auto", "randomized"):
        def ours(solver=solver):
            return PCA(50, svd_solver=solver, random_state=0).fit(X)

        def theirs(solver=solver):
            return SKPCA(50, svd_solver=solver, random_state=0).fit(X_host)

        def quality(ours=ours, theirs=theirs):
            a, b = ours(), theirs()
            rel = np.abs(backend.to_numpy(a.explained_variance_ratio_)
                         / b.explained_variance_ratio_ - 1).max()
            return f"solver {a.svd_solver_}; max rel. diff of explained_variance_ratio_ {rel:.1e}"

        compare(f"PCA(50, svd_solver={solver!r}).fit", ours, theirs, quality)

    km_runs = {}

    def ours_km():
        km_runs["ours"] = KMeans(10, n_init=10, random_state=0).fit(X)

    def theirs_km():
        km_runs["ref"] = SKKMeans(10, n_init=10, random_state=0, algorithm="lloyd").fit(X_host)

    def km_quality():
        a, b = km_runs["ours"], km_runs["ref"]
        return (f"inertia {a.inertia_:.6g} vs {b.inertia_:.6g} "
                f"(ratio {a.inertia_ / b.inertia_:.4f})")

    compare("KMeans(10, n_init=10).fit", ours_km, theirs_km, km_quality)

    device = "CPU (NumPy)" if args.backend == "numpy" else "GPU (CuPy)"
    lines = [
        "## unsupervised",
        "",
        f"Written by `benchmarks/bench_unsupervised.py` (backend {args.backend}). Data: the "
        f"{args.n:,} MNIST test images as a float32 ({args.n}, 784) matrix, pixels / 255. "
        f"mmscratch on {device} vs scikit-learn {sk_version} on the CPU, same process, "
        f"best of {args.repeat}. Threads: OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}. Machine: {_report.machine()}; "
        "shared with other jobs, so timings are noisy (±30 % between runs is common).",
        "",
        "| task | mmscratch s | scikit-learn s | ratio | check |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {t} | {a:.3f} | {b:.3f} | {r:.2f} | {q} |" for t, a, b, r, q in rows]
    lines += ["", "Both KMeans runs use k-means++ seeding with different random streams, so "
              "their inertias differ slightly; PCA `auto` picks `covariance_eigh` here in "
              "both libraries (n >= 10 d)."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        _report.write_section("unsupervised", text)


if __name__ == "__main__":
    main()
