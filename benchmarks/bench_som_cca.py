"""SOM (20x20 map, 10,000 MNIST images) vs MiniSom and CCA vs scikit-learn, side by side.

Run: ``MMSCRATCH_DATA=/path/to/data python benchmarks/bench_som_cca.py``
(``--quick`` uses 2,000 images and fewer steps; ``--backend cupy`` times mmscratch on the
GPU; ``--no-write`` skips RESULTS.md).

Rows, each mmscratch and the reference in the same process on the same data:

1. online SOM, one pass of single-sample steps (``num_iteration = N``) from the same seed:
   ``SOM.fit`` vs ``MiniSom.train(random_order=True)``; both must give the same weights.
2. batch SOM, the same epochs of Kohonen's batch rule: ``SOM.fit(method="batch")`` vs
   ``MiniSom.train_batch_offline``; same weights again.
3. batch SOM to a map as good as the online one: ``SOM.fit(method="batch")`` for a few
   epochs vs row 1's MiniSom online pass; quantization errors side by side.
4. CCA, 10 components: ``CCA`` (closed form) vs ``sklearn.cross_decomposition.CCA``
   (NIPALS, default ``max_iter=500, tol=1e-6``) on the two halves of each MNIST image
   (left 14 columns vs right 14 columns; pixels that are ink in under 5 % of the
   images dropped).

Writes the section "som_cca_speed" of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _report  # noqa: E402
from mmscratch import backend  # noqa: E402
from mmscratch.datasets import load_mnist  # noqa: E402
from mmscratch.unsupervised import CCA, SOM  # noqa: E402

SOM_KW = dict(sigma=3.0, learning_rate=0.5)


def timed(fn, sync=None):
    t0 = time.perf_counter()
    out = fn()
    if sync:
        sync()
    return time.perf_counter() - t0, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch-epochs", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    from minisom import MiniSom
    from sklearn import __version__ as sk_version
    from sklearn.cross_decomposition import CCA as SKCCA

    n = 2000 if args.quick else 10000
    images, _ = load_mnist(kind="test")
    X64 = images.reshape(len(images), -1)[:n].astype(np.float64)  # (n, 784), already / 255
    X32 = X64.astype(np.float32)
    backend.use(args.backend)
    sync = backend.synchronize
    rows = []

    def row(task, t_ours, t_ref, check):
        rows.append((task, t_ours, t_ref, t_ref / t_ours, check))
        print(f"{task}: mmscratch {t_ours:.3f} s, reference {t_ref:.3f} s, "
              f"speed-up {t_ref / t_ours:.1f}x; {check}", flush=True)

    # 1. online, one pass from the same seed
    ref = MiniSom(20, 20, 784, random_seed=0, **SOM_KW)
    t_ref, _ = timed(lambda: ref.train(X64, n, random_order=True))
    ours = SOM(20, 20, random_state=0, **SOM_KW)
    t64, _ = timed(lambda: ours.fit(backend.asarray(X64), n), sync)
    diff = np.abs(backend.to_numpy(ours.weights_) - ref.get_weights()).max()
    q_ref_online = ref.quantization_error(X64)
    row(f"online SOM, {n:,} steps, float64", t64, t_ref,
        f"max abs weight diff {diff:.1e}; QE {q_ref_online:.4f}")
    ours32 = SOM(20, 20, random_state=0, **SOM_KW)
    t32, _ = timed(lambda: ours32.fit(backend.asarray(X32), n), sync)
    diff32 = np.abs(backend.to_numpy(ours32.weights_) - ref.get_weights()).max()
    row(f"online SOM, {n:,} steps, float32 (MiniSom float64)", t32, t_ref,
        f"max abs weight diff {diff32:.1e}")

    # 2. batch, the same epochs
    epochs_ref = 1 if args.quick else 2
    ref_b = MiniSom(20, 20, 784, random_seed=0, **SOM_KW)
    t_ref_b, _ = timed(lambda: ref_b.train_batch_offline(X64, epochs_ref))
    ours_b = SOM(20, 20, random_state=0, **SOM_KW)
    t_b, _ = timed(lambda: ours_b.fit(backend.asarray(X64), epochs_ref, method="batch"), sync)
    diff_b = np.abs(backend.to_numpy(ours_b.weights_) - ref_b.get_weights()).max()
    row(f"batch SOM, {epochs_ref} epoch(s), float64", t_b, t_ref_b,
        f"max abs weight diff {diff_b:.1e}")
    ours_b32 = SOM(20, 20, random_state=0, **SOM_KW)
    t_b32, _ = timed(lambda: ours_b32.fit(backend.asarray(X32), epochs_ref, method="batch"),
                     sync)
    row(f"batch SOM, {epochs_ref} epoch(s), float32 (MiniSom float64)", t_b32, t_ref_b,
        "same rule, float32")

    # 3. batch to a map as good as MiniSom's online pass
    E = 3 if args.quick else args.batch_epochs
    ours_q = SOM(20, 20, sigma=3.0, learning_rate=1.0, random_state=0)
    t_q, _ = timed(lambda: ours_q.fit(backend.asarray(X32), E, method="batch"), sync)
    q_b = ours_q.quantization_error(backend.asarray(X64))
    row(f"batch SOM ({E} epochs, learning_rate 1, float32) vs MiniSom online "
        f"({n:,} steps)", t_q, t_ref,
        f"QE {q_b:.4f} vs {q_ref_online:.4f}; TE {ours_q.topographic_error(X64):.3f} vs "
        f"{ref.topographic_error(X64):.3f}")

    # 4. CCA on the left and right halves of the images
    left, right = (X64.reshape(n, 28, 28)[:, :, s].reshape(n, -1)
                   for s in (slice(0, 14), slice(14, 28)))
    # Pixels that are ink in fewer than 5 % of the images are dropped: the rarest ones
    # are ink in the same one or two images, collinear, and make the covariance singular.
    left, right = (v[:, (v > 0).mean(axis=0) >= 0.05] for v in (left, right))
    k = 10
    t_cca, cca = timed(lambda: CCA(k).fit(backend.asarray(left), backend.asarray(right)), sync)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NIPALS may stop at max_iter; reported below
        t_sk, sk = timed(lambda: SKCCA(k).fit(left, right))
    u, v = sk.transform(left, right)
    rho_sk = np.array([np.corrcoef(u[:, j], v[:, j])[0, 1] for j in range(k)])
    rho = backend.to_numpy(cca.canonical_correlations_)
    row(f"CCA({k}).fit, MNIST left/right halves ({left.shape[1]} + {right.shape[1]} pixels)",
        t_cca, t_sk, f"max abs diff of canonical correlations {np.abs(rho - rho_sk).max():.1e} "
        f"(rho_1 {rho[0]:.4f}, rho_10 {rho[-1]:.4f})")

    device = "CPU (NumPy)" if args.backend == "numpy" else "GPU (CuPy)"
    lines = [
        "## som_cca_speed",
        "",
        f"Written by `benchmarks/bench_som_cca.py{' --quick' if args.quick else ''}` "
        f"(backend {args.backend}). Data: {n:,} MNIST test images, pixels / 255. SOM: 20x20 "
        f"map, sigma {SOM_KW['sigma']}, learning_rate {SOM_KW['learning_rate']} (row 5: 1.0), "
        f"gaussian, asymptotic decay, seed 0 (both libraries draw the same initial weights "
        f"and sample order from it). mmscratch on {device} vs MiniSom 2.3.5 / scikit-learn "
        f"{sk_version} on the CPU, same process, one run each (MiniSom's runs take tens of "
        f"seconds). Threads: OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}. Machine: {_report.machine()}; "
        "2-core CPU, shared with other jobs while measured, so timings are noisy.",
        "",
        "| task | mmscratch s | reference s | speed-up | check |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {t} | {a:.2f} | {b:.2f} | {r:.1f}x | {q} |" for t, a, b, r, q in rows]
    lines += ["", "Speed-up = reference seconds / mmscratch seconds (> 1: mmscratch is "
              "faster). The online rule is sequential (one step per sample) in both; "
              "mmscratch vectorizes each step over the map and reuses one buffer. The batch "
              "rule needs one (N, units) matrix product per epoch in mmscratch, a Python "
              "loop over samples in MiniSom. CCA: one eigendecomposition per view and one "
              "SVD in mmscratch, NIPALS power iterations with deflation in scikit-learn, "
              "here at its defaults (max_iter 500, tol 1e-06), where it stops short of "
              "convergence (hence the 1e-4 differences; run to tol 1e-15 it agrees to 1e-6, "
              "tests/test_cca.py)."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        _report.write_section("som_cca_speed", text)


if __name__ == "__main__":
    main()
