"""Classical learners on the GPU: what the kernel matrix and the tree splits gain (issue 15).

NumPy (CPU) vs CuPy (GPU) on the same synthetic data, with scikit-learn on the CPU as
the reference, side by side in one run. GPU timings synchronize the device before the
clock is read (``backend.synchronize``). Rows:

* ``rbf_kernel`` of 5,000 x 784 against itself: the Gram matrix is one GEMM plus
  element-wise work, the GPU's best case;
* ``SVC(rbf).fit`` on 2,000 x 784, 10 classes (one-vs-one): SMO's kernel columns come
  from the backend, its working-set loop runs on the host;
* ``DecisionTreeClassifier().fit`` and ``RandomForestClassifier(20).fit`` on
  5,000 x 784, 10 classes: the level-wise split search (sorted prefix sums over all
  nodes of a level at once) runs on the backend.

The data: 10 Gaussian classes in 784 dimensions whose means lie on a 20-dimensional
subspace, values clipped to [0, 1] like MNIST's pixels (the device machine has no data
sets). ``--dry-run`` runs every code path on the CPU with the "strict" backend in place
of CuPy (numbers mean nothing). Run by ``benchmarks/gpu_check.sh``; writes the
"gpu_classical" section of benchmarks/RESULTS.md (and a copy to ``--out``).

Usage::

    python benchmarks/bench_gpu_classical.py [--dry-run] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import best_of, write_section  # noqa: E402

from mmscratch import backend  # noqa: E402
from mmscratch.supervised import (  # noqa: E402
    SVC,
    DecisionTreeClassifier,
    RandomForestClassifier,
)
from mmscratch.supervised.kernels import rbf_kernel  # noqa: E402


def make_data(n, d=784, k=10, seed=0):
    """(X, y): k Gaussian classes in d dimensions, means on a 20-dimensional subspace."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((20, d)) / np.sqrt(20)
    means = 0.5 + 0.25 * rng.standard_normal((k, 20)) @ basis
    y = np.arange(n) % k
    X = np.clip(means[y] + 0.2 * rng.standard_normal((n, d)), 0.0, 1.0)
    return X.astype(np.float32), y


def _timed(fn, name, repeat):
    """Best time of fn() on backend ``name`` (data moved there first by fn)."""
    with backend.use(name):
        return best_of(fn, repeat=repeat, warmup=1, sync=backend.synchronize)


def workloads(quick):
    """(label, ours(), sklearn() or None, repeat) for every row."""
    from sklearn import svm as sk_svm
    from sklearn.ensemble import RandomForestClassifier as SkForest
    from sklearn.metrics.pairwise import rbf_kernel as sk_rbf
    from sklearn.tree import DecisionTreeClassifier as SkTree

    n_gram, n_svc, n_tree = (1000, 500, 2000) if quick else (5000, 2000, 5000)
    Xg, _ = make_data(n_gram, seed=1)
    Xs, ys = make_data(n_svc, seed=2)
    Xt, yt = make_data(n_tree, seed=3)
    gamma = 1.0 / (784 * Xg.var())

    def gram():
        Xb = backend.asarray(Xg)
        return rbf_kernel(Xb, Xb, gamma=gamma)

    def svc():
        return SVC(kernel="rbf", gamma="scale").fit(backend.asarray(Xs), ys)

    def tree():
        return DecisionTreeClassifier(random_state=0).fit(backend.asarray(Xt), yt)

    def forest():
        return RandomForestClassifier(20, random_state=0).fit(backend.asarray(Xt), yt)

    return [
        (f"rbf_kernel, {n_gram} x 784 Gram matrix", gram,
         lambda: sk_rbf(Xg, Xg, gamma=gamma), 3),
        (f"SVC(rbf).fit, {n_svc} x 784, 10 classes", svc,
         lambda: sk_svm.SVC(kernel="rbf", gamma="scale").fit(Xs, ys), 2),
        (f"DecisionTreeClassifier().fit, {n_tree} x 784", tree,
         lambda: SkTree(random_state=0).fit(Xt, yt), 1),
        (f"RandomForestClassifier(20).fit, {n_tree} x 784", forest,
         lambda: SkForest(20, random_state=0).fit(Xt, yt), 1),
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None)
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--dry-run", action="store_true",
                   help="no GPU: the 'strict' backend stands in for cupy; numbers mean nothing")
    args = p.parse_args(argv)
    if args.dry_run:
        gpu, device = "strict", "none (dry run on CPU; numbers mean nothing)"
    elif not backend.cupy_available():
        raise SystemExit("bench_gpu_classical.py needs CuPy and a GPU (or --dry-run)")
    else:
        import cupy

        gpu = "cupy"
        device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    lines = [f"Device: {device}; CPU side: {os.cpu_count()} cores, BLAS threads as the "
             "machine sets them. Written by `benchmarks/bench_gpu_classical.py` (run by "
             "`benchmarks/gpu_check.sh`). Best-of-N wall time in ms; synthetic data "
             "(10 Gaussian classes in 784 dimensions, clipped to [0, 1]).", "",
             "| workload | NumPy CPU ms | CuPy GPU ms | scikit-learn CPU ms | "
             "NumPy / CuPy (speed-up) | CuPy / scikit-learn |", "|---|---|---|---|---|---|"]
    for label, ours, theirs, repeat in workloads(args.quick or args.dry_run):
        t = {}
        try:
            t["numpy"] = _timed(ours, "numpy", repeat)
            t[gpu] = _timed(ours, gpu, repeat)
            t["sklearn"] = best_of(theirs, repeat=repeat, warmup=1)
        except Exception as exc:  # keep the other rows when one breaks
            label = f"{label} FAILED: {type(exc).__name__}: {exc}"

        def ms(k, t=t):
            return f"{1e3 * t[k]:.1f}" if k in t else "-"

        speed = f"{t['numpy'] / t[gpu]:.1f}x" if gpu in t and "numpy" in t else "-"
        ratio = f"{t[gpu] / t['sklearn']:.2f}" if gpu in t and "sklearn" in t else "-"
        lines.append(f"| {label} | {ms('numpy')} | {ms(gpu)} | {ms('sklearn')} | {speed} | "
                     f"{ratio} |")
        print(lines[-1], flush=True)
    text = "\n".join(["## gpu_classical: kernel matrix, SVC and trees, NumPy vs CuPy "
                      "(issue 15)", "", *lines])
    if not args.dry_run:
        write_section("gpu_classical", text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
