"""KMeans(10) on 10,000 MNIST images, float32 and float64: mmscratch vs scikit-learn's Lloyd.

Both run in this process on the same matrix (the MNIST test split, pixels / 255), one
thread each (``threadpoolctl`` limits NumPy's BLAS and scikit-learn's OpenMP) and CPU
time (``time.process_time``), which a machine shared with other jobs disturbs far less
than wall time. Best of ``--repeat`` interleaved runs.

Three rows per dtype: ``init=`` the same 10 seeded points and ``n_init=1`` (the same
Lloyd iterations on both sides, so the ratio is the cost per iteration plus fixed
costs); the default k-means++ with ``n_init=3`` (the two libraries draw different
random seeds, so their iteration counts differ too); and k-means++ with ``n_init=1``
over ``--seeds`` random states, summed (times, iterations; the inertia is the mean), so
that the luck of one draw weighs less.

Usage::

    MMSCRATCH_DATA=/path/to/data python benchmarks/bench_kmeans.py [--repeat 3] [--seeds 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _report  # noqa: E402
from mmscratch import backend  # noqa: E402
from mmscratch.datasets import load_mnist  # noqa: E402
from mmscratch.unsupervised import KMeans  # noqa: E402


def _cpu(fn):
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def _seeds_row(X, seeds, repeat, SKKMeans):
    """k-means++, n_init=1, random_state 0..seeds-1: summed CPU time and iterations."""
    t_ours, t_ref = [], []
    for _ in range(repeat):
        a = b = 0.0
        it_a, it_b, in_a, in_b = 0, 0, [], []
        for seed in range(seeds):  # interleaved seed by seed
            ta, ours = _cpu(lambda seed=seed: KMeans(10, n_init=1, random_state=seed).fit(X))
            tb, ref = _cpu(lambda seed=seed: SKKMeans(10, n_init=1, random_state=seed,
                                                      algorithm="lloyd").fit(X))
            a, b = a + ta, b + tb
            it_a, it_b = it_a + ours.n_iter_, it_b + ref.n_iter_
            in_a.append(ours.inertia_)
            in_b.append(ref.inertia_)
        t_ours.append(a)
        t_ref.append(b)
    return (f"{X.dtype}, k-means++, n_init=1, random_state 0..{seeds - 1} (sums; mean inertia)",
            min(t_ours), min(t_ref), it_a, it_b, float(np.mean(in_a)), float(np.mean(in_b)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=8,
                        help="random states of the summed k-means++ row (0 leaves it out)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    from sklearn import __version__ as sk_version
    from sklearn.cluster import KMeans as SKKMeans
    from threadpoolctl import threadpool_limits

    backend.use("numpy")
    images, _ = load_mnist(kind="test")
    X32 = np.ascontiguousarray(images.reshape(len(images), -1)[:10000], dtype=np.float32)
    rows = []
    with threadpool_limits(1):
        for X in (X32, X32.astype(np.float64)):
            init = X[np.random.default_rng(1).choice(X.shape[0], 10, replace=False)]
            cases = [("init= 10 seeded points, n_init=1", dict(init=init, n_init=1)),
                     ("k-means++, n_init=3, random_state=0",
                      dict(n_init=3, random_state=0))]
            for label, kw in cases:
                t_ours, t_ref = [], []
                for _ in range(args.repeat):
                    a, ours = _cpu(lambda kw=kw, X=X: KMeans(10, **kw).fit(X))
                    b, ref = _cpu(lambda kw=kw, X=X: SKKMeans(10, algorithm="lloyd",
                                                              **kw).fit(X))
                    t_ours.append(a)
                    t_ref.append(b)
                row = (f"{X.dtype}, {label}", min(t_ours), min(t_ref), ours.n_iter_,
                       ref.n_iter_, ours.inertia_, ref.inertia_)
                rows.append(row)
                print(row, flush=True)
            if args.seeds:
                rows.append(_seeds_row(X, args.seeds, args.repeat, SKKMeans))
                print(rows[-1], flush=True)
    lines = [
        "## kmeans: KMeans(10) on 10,000 MNIST images vs scikit-learn "
        "(`benchmarks/bench_kmeans.py`)",
        "",
        f"Backend numpy, one thread each, CPU time (time.process_time), best of {args.repeat} "
        f"interleaved runs; scikit-learn {sk_version} (`algorithm='lloyd'`). Machine: "
        f"{_report.machine()}, shared with other jobs while measured. Command: "
        f"`python benchmarks/bench_kmeans.py --repeat {args.repeat} --seeds {args.seeds}`.",
        "",
        "| case | mmscratch s | scikit-learn s | ratio | iterations (ours / sklearn) "
        "| inertia (ours / sklearn) |",
        "|---|---|---|---|---|---|",
    ]
    for label, a, b, it_a, it_b, in_a, in_b in rows:
        lines.append(f"| {label} | {a:.3f} | {b:.3f} | {a / b:.2f}x | {it_a} / {it_b} | "
                     f"{in_a:.6g} / {in_b:.6g} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        _report.write_section("kmeans", text)


if __name__ == "__main__":
    main()
