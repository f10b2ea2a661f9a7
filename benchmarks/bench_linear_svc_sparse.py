"""LinearSVC on the sparse TF-IDF of 20 Newsgroups, mmscratch against scikit-learn (liblinear).

Run: ``OPENBLAS_NUM_THREADS=1 MMSCRATCH_DATA=/path/to/data python
benchmarks/bench_linear_svc_sparse.py [--repeat 5] [--no-write]``.
Writes the section "linear_svc_sparse" of benchmarks/RESULTS.md.

The data of ``benchmarks/bench_svm.py`` (4 groups, headers stripped, by-date split), TF-IDF
from ``mmscratch.features.TfidfVectorizer`` with ``max_features=1000`` and with the whole
vocabulary, passed to both libraries as the same SciPy CSR matrix. ``fit`` with the
squared hinge (both libraries' default), timed in CPU seconds (``time.process_time``, one
BLAS thread), interleaved, best of ``--repeat``. scikit-learn's default (``dual="auto"``)
picks liblinear's primal Newton solver when n > d and the dual coordinate descent when
d > n; its primal solver (``dual=False``, the problem mmscratch solves the same way) is
timed as well. mmscratch on the densified matrix shows what the sparse path saves.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads BLAS

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import machine, write_section  # noqa: E402
from mmscratch.supervised import LinearSVC  # noqa: E402


def cpu_time(fn):
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def run(max_features, repeat, data):
    from sklearn.svm import LinearSVC as SkLinearSVC

    from mmscratch.features import TfidfVectorizer

    vec = TfidfVectorizer(max_features=max_features)
    xtr, xte = vec.fit_transform(data.train_texts), vec.transform(data.test_texts)
    ytr, yte = np.asarray(data.train_labels), np.asarray(data.test_labels)
    makers = {"mmscratch LinearSVC, CSR": (lambda: LinearSVC(), xtr, xte),
              "scikit-learn LinearSVC (default dual='auto'), CSR":
                  (lambda: SkLinearSVC(), xtr, xte),
              "scikit-learn LinearSVC (dual=False: primal Newton), CSR":
                  (lambda: SkLinearSVC(dual=False), xtr, xte)}
    if max_features is not None and max_features <= 2000:
        makers["mmscratch LinearSVC, densified X"] = (lambda: LinearSVC(), xtr.toarray(),
                                                      xte.toarray())
    times = {k: [] for k in makers}
    models = {}
    for _ in range(repeat):  # interleaved: every solver sees the same machine load
        for name, (make, a, _) in makers.items():
            t, models[name] = cpu_time(lambda make=make, a=a: make().fit(a, ytr))
            times[name].append(t)
    ours = models["mmscratch LinearSVC, CSR"]
    ref = models["scikit-learn LinearSVC (dual=False: primal Newton), CSR"]
    rows = []
    for name, (_, _, b) in makers.items():
        m = models[name]
        pred = np.asarray(m.predict(b))
        rows.append(dict(name=name, t=min(times[name]), acc=float((pred == yte).mean()),
                         n_iter=int(np.max(m.n_iter_))))
    coef_err = float(np.abs(np.asarray(ours.coef_) - ref.coef_).max() / np.abs(ref.coef_).max())
    agree = float((np.asarray(ours.predict(xte)) == ref.predict(xte)).mean())
    return dict(shape=xtr.shape, nnz=xtr.nnz, n_test=xte.shape[0], rows=rows,
                coef_err=coef_err, agree=agree)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    from mmscratch.datasets.text import load_text

    data = load_text(strip_headers=True)
    results = {mf: run(mf, args.repeat, data) for mf in (1000, None)}
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    lines = [
        "## linear_svc_sparse: LinearSVC on sparse TF-IDF "
        "(`benchmarks/bench_linear_svc_sparse.py`)",
        "",
        f"Machine: {machine()}, shared with other jobs while measured; "
        f"OPENBLAS_NUM_THREADS={threads}. Command: `OPENBLAS_NUM_THREADS=1 python "
        f"benchmarks/bench_linear_svc_sparse.py --repeat {args.repeat}`.",
        "",
        "20 Newsgroups, 4 groups (the data of the svm section), TF-IDF as "
        "`mmscratch.features.TfidfVectorizer` gives it (SciPy CSR), squared hinge, C=1, "
        f"tol=1e-4. `fit` CPU seconds, best of {args.repeat} interleaved runs in one "
        "process; ratio = time / scikit-learn's default. (The LinearSVC rows of the svm "
        "section fit the densified TF-IDF(1000), timed by wall clock.)",
        "",
    ]
    for mf, r in results.items():
        base = next(x["t"] for x in r["rows"] if "dual='auto'" in x["name"])
        what = f"max_features={mf}" if mf else "whole vocabulary"
        lines += [f"*TF-IDF {what}*: train {r['shape'][0]} x {r['shape'][1]:,}, "
                  f"{r['nnz']:,} stored values; test {r['n_test']}.", "",
                  "| fit | CPU s | ratio | iterations | test accuracy % |",
                  "|---|---|---|---|---|"]
        for x in r["rows"]:
            lines.append(f"| {x['name']} | {x['t']:.3f} | {x['t'] / base:.1f}x | "
                         f"{x['n_iter']} | {100 * x['acc']:.2f} |")
        lines += ["", f"mmscratch (CSR) against liblinear's primal solver: coef_ within "
                  f"{r['coef_err']:.1e} of its largest entry, test predictions agree on "
                  f"{100 * r['agree']:.2f}%.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("linear_svc_sparse", text)


if __name__ == "__main__":
    main()
