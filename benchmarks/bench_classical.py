"""Classical learners on the real data, mmscratch next to scikit-learn in one run.

Run: ``MMSCRATCH_DATA=/path/to/data python benchmarks/bench_classical.py [--quick]``.
Writes the section "classical" of benchmarks/RESULTS.md.

* MNIST (first 10,000 training images, the 10,000 test images, pixels / 255):
  ``RandomForestClassifier(50).fit`` time, mmscratch vs scikit-learn (both single
  threaded, same process, alternated, best of ``--repeat``), test accuracies; and
  ``GaussianNB``.
* FSDD (official split: recordings 0-4 of every speaker are the test set): mean and std
  over frames of 13 MFCCs per clip (26 numbers) -> random forest (100 trees) and
  ``GaussianNB``.
* 20 Newsgroups (4 groups, date split, headers stripped): ``MultinomialNB`` on the CSR
  counts of ``CountVectorizer(min_df=2, stop_words="english")`` (the sparse matrix goes
  in as it is), mmscratch's vectorizer and NB vs scikit-learn's on the same texts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import machine, write_section  # noqa: E402
from benchmarks.multimodal_clustering import mfcc_statistics  # noqa: E402
from mmscratch import backend  # noqa: E402
from mmscratch.datasets.fsdd import load_fsdd  # noqa: E402
from mmscratch.datasets.mnist import load_mnist  # noqa: E402
from mmscratch.datasets.text import load_text  # noqa: E402
from mmscratch.features import CountVectorizer  # noqa: E402
from mmscratch.supervised import GaussianNB, MultinomialNB, RandomForestClassifier  # noqa: E402


def acc(pred, y):
    return float((backend.to_numpy(pred) == y).mean())


def timed(fn):
    """``fn()``, its wall-clock seconds and the CPU seconds of this process.

    The CPU time is what the ratio uses: on a machine shared with other jobs the wall
    clock also counts the time other processes held the cores.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    backend.synchronize()
    return out, (time.perf_counter() - t0, time.process_time() - c0)


def timed_fits(ours, theirs, fits, repeat):
    """Both fits timed as ``fits`` calls in a row (one fit is too short to time),
    alternated ``repeat`` times; the best round of each, and the last fitted models."""
    best_ours = best_ref = None
    for _ in range(repeat):
        model, t = timed(lambda: [ours() for _ in range(fits)][-1])
        best_ours = t if best_ours is None or t[1] < best_ours[1] else best_ours
        ref, t = timed(lambda: [theirs() for _ in range(fits)][-1])
        best_ref = t if best_ref is None or t[1] < best_ref[1] else best_ref
    return model, best_ours, ref, best_ref


def mnist(n_train, n_trees, repeat):
    from sklearn.ensemble import RandomForestClassifier as SkForest
    from sklearn.naive_bayes import GaussianNB as SkGNB

    (xtr, ytr), (xte, yte) = (load_mnist(kind=k) for k in ("train", "test"))
    xtr = xtr.reshape(len(xtr), -1)[:n_train].astype(np.float64)
    ytr = ytr[:n_train]
    xte = xte.reshape(len(xte), -1).astype(np.float64)
    Xtr, Ytr, Xte = backend.asarray(xtr), backend.asarray(ytr), backend.asarray(xte)
    ours_t, ref_t = [], []
    for _ in range(repeat):  # alternate, so both see the same load on a shared machine
        ours, t = timed(lambda: RandomForestClassifier(n_trees, random_state=0).fit(Xtr, Ytr))
        ours_t.append(t)
        ref, t = timed(lambda: SkForest(n_trees, random_state=0).fit(xtr, ytr))
        ref_t.append(t)
    rows = [(f"RandomForestClassifier({n_trees}) on MNIST {n_train // 1000}k",
             acc(ours.predict(Xte), yte), acc(ref.predict(xte), yte),
             min(ours_t, key=lambda t: t[1]), min(ref_t, key=lambda t: t[1]))]
    g, tg, r, tr = timed_fits(lambda: GaussianNB().fit(Xtr, Ytr),
                              lambda: SkGNB().fit(xtr, ytr), 20, repeat)
    rows.append((f"GaussianNB on MNIST {n_train // 1000}k (20 fits)", acc(g.predict(Xte), yte),
                 acc(r.predict(xte), yte), tg, tr))
    return rows


def fsdd(n_trees):
    from sklearn.ensemble import RandomForestClassifier as SkForest
    from sklearn.naive_bayes import GaussianNB as SkGNB

    data = load_fsdd(split="official", normalize="peak")
    xtr = mfcc_statistics(data.train.waveforms, data.train.lengths, data.sample_rate)
    xte = mfcc_statistics(data.test.waveforms, data.test.lengths, data.sample_rate)
    ytr, yte = data.train.labels, data.test.labels
    Xtr, Ytr, Xte = backend.asarray(xtr), backend.asarray(ytr), backend.asarray(xte)
    ours, t_ours = timed(lambda: RandomForestClassifier(n_trees, random_state=0).fit(Xtr, Ytr))
    ref, t_ref = timed(lambda: SkForest(n_trees, random_state=0).fit(xtr, ytr))
    rows = [(f"RandomForestClassifier({n_trees}) on FSDD MFCC statistics (26)",
             acc(ours.predict(Xte), yte), acc(ref.predict(xte), yte), t_ours, t_ref)]
    g, tg, r, tr = timed_fits(lambda: GaussianNB().fit(Xtr, Ytr),
                              lambda: SkGNB().fit(xtr, ytr), 200, 3)
    rows.append(("GaussianNB on FSDD MFCC statistics (26) (200 fits)", acc(g.predict(Xte), yte),
                 acc(r.predict(xte), yte), tg, tr))
    return rows


def newsgroups():
    from sklearn.feature_extraction.text import CountVectorizer as SkCount
    from sklearn.naive_bayes import MultinomialNB as SkMNB

    d = load_text(strip_headers=True)
    vec = CountVectorizer(min_df=2, stop_words="english").fit(d.train_texts)
    Xtr, Xte = vec.transform(d.train_texts), vec.transform(d.test_texts)  # CSR
    sk_vec = SkCount(min_df=2, stop_words="english").fit(d.train_texts)
    xtr, xte = sk_vec.transform(d.train_texts), sk_vec.transform(d.test_texts)
    ours, t_ours = timed(lambda: MultinomialNB().fit(Xtr, backend.asarray(d.train_labels)))
    ref, t_ref = timed(lambda: SkMNB().fit(xtr, d.train_labels))
    return [(f"MultinomialNB on 20 Newsgroups counts (CSR, {Xtr.shape[1]} words)",
             acc(ours.predict(Xte), d.test_labels), acc(ref.predict(xte), d.test_labels),
             t_ours, t_ref)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2,000 MNIST images, 10 trees")
    p.add_argument("--repeat", type=int, default=2, help="forest fits per library (best)")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    n_train, n_trees = (2000, 10) if args.quick else (10000, 50)

    rows = mnist(n_train, n_trees, args.repeat) + fsdd(20 if args.quick else 100) \
        + newsgroups()
    lines = ["| task | mmscratch acc | scikit-learn acc | mmscratch fit s (CPU) | "
             "scikit-learn fit s (CPU) | CPU time ratio |", "|---|---|---|---|---|---|"]
    for name, a, b, t, r in rows:
        ratio = f"{t[1] / r[1]:.2f}" if r[1] >= 0.05 else "(too short)"
        lines.append(f"| {name} | {a:.4f} | {b:.4f} | {t[0]:.2f} ({t[1]:.2f}) | "
                     f"{r[0]:.2f} ({r[1]:.2f}) | {ratio} |")
    table = "\n".join(lines)
    print(table)
    load = os.getloadavg()[0]
    text = (
        "Classical learners (`mmscratch.supervised`) next to scikit-learn "
        f"{__import__('sklearn').__version__}, same data, same process, backend "
        f"`{backend.name()}`; both single-threaded (but BLAS, used by GaussianNB's "
        "matrix products, may use both cores). Fit times: wall clock, and in "
        "parentheses the CPU time of the process, which other jobs on the machine disturb "
        "less; the ratio is of CPU times (mmscratch / scikit-learn, > 1: slower). Forest "
        f"fits on MNIST: best of {args.repeat} alternated fits; GaussianNB: one fit is too "
        "short to time, so a row times 20 (MNIST) or 200 (FSDD) fits in a row, best of "
        f"{args.repeat} (MNIST) or 3 (FSDD) alternated rounds. Machine: {machine()}; "
        f"load average at the end {load:.1f} (2-core CPU shared with other jobs while "
        "measured: times are noisy).\n\n"
        f"{table}\n\n"
        "Command: `python benchmarks/bench_classical.py"
        f"{' --quick' if args.quick else ''}"
        f"{f' --repeat {args.repeat}' if args.repeat != 2 else ''}`"
    )
    if not args.no_write:
        write_section("classical", text)


if __name__ == "__main__":
    main()
