"""SVMs from scratch against scikit-learn: speed, accuracy, and the multimodal SVM.

Run: ``MMSCRATCH_DATA=/path/to/data python benchmarks/bench_svm.py [--quick] [--no-write]``.
Writes the section "svm" of benchmarks/RESULTS.md.

1. Speed: ``SVC(kernel="rbf").fit`` on 5,000 MNIST training images (pixels in [0, 1]),
   mmscratch and scikit-learn one after the other in this process, best of ``--repeat``.
2. Accuracy, same features for both libraries:
   * ``SVC(rbf)`` on MNIST (first 10,000 training images, the 10,000 test images);
   * ``LinearSVC`` on the 20 Newsgroups subset (4 groups, headers stripped, by-date split,
     TF-IDF with ``max_features=1000`` as in ``benchmarks/text_tasks.py``), beside
     scikit-learn's ``LogisticRegression`` on the same features;
   * ``SVC(rbf)`` on FSDD MFCC statistics: per clip, the mean and standard deviation over
     its frames of 20 MFCCs and their deltas (80 numbers; librosa-preset MFCC as
     ``benchmarks/train_fsdd.py``), standardised; official split and speaker held out.
3. The multimodal SVM (``MultiKernelSVC``, one RBF kernel per modality, alignment weights)
   on AV-MNIST and the embedded ``digits`` set, against ``SVC(rbf)`` on each modality
   alone and on the concatenated features (early fusion), 3 seeds as the fusion table.
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
from mmscratch.datasets import load, load_fsdd  # noqa: E402
from mmscratch.datasets.mnist import load_mnist  # noqa: E402
from mmscratch.multimodal import MultiKernelSVC  # noqa: E402
from mmscratch.supervised import SVC, LinearSVC  # noqa: E402


def _mnist(n_train, n_test=None):
    (xtr, ytr), (xte, yte) = load_mnist(None, "train"), load_mnist(None, "test")
    xtr = xtr[:n_train].reshape(n_train, -1).astype(np.float64)
    ytr = ytr[:n_train]
    n_test = len(yte) if n_test is None else n_test
    xte = xte[:n_test].reshape(n_test, 784).astype(np.float64)
    return xtr, ytr, xte, yte[:n_test]


def speed(n, repeat):
    from sklearn import svm as sk_svm

    X, y, _, _ = _mnist(n, 0)
    t_ours, t_ref = [], []
    for _ in range(repeat):  # interleaved, so both see the same machine load
        t0 = time.perf_counter()
        ours = SVC().fit(X, y)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = sk_svm.SVC().fit(X, y)
        t_ref.append(time.perf_counter() - t0)
    same_sv = np.array_equal(np.asarray(ours.support_), ref.support_)
    return dict(n=n, ours=min(t_ours), ref=min(t_ref), n_sv=len(ours.support_),
                n_sv_ref=len(ref.support_), same_sv=same_sv,
                iters=int(ours.n_iter_.sum()), iters_ref=int(ref.n_iter_.sum()))


def mnist_accuracy(n_train):
    from sklearn import svm as sk_svm

    xtr, ytr, xte, yte = _mnist(n_train)
    t0 = time.perf_counter()
    ours = SVC().fit(xtr, ytr)
    t_ours = time.perf_counter() - t0
    p_ours = np.asarray(ours.predict(xte))
    t0 = time.perf_counter()
    ref = sk_svm.SVC().fit(xtr, ytr)
    t_ref = time.perf_counter() - t0
    p_ref = ref.predict(xte)
    return dict(n=n_train, acc=(p_ours == yte).mean(), acc_ref=(p_ref == yte).mean(),
                agree=(p_ours == p_ref).mean(), t=t_ours, t_ref=t_ref)


def text_accuracy():
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC as SkLinearSVC

    from mmscratch.datasets.text import load_text
    from mmscratch.features import TfidfVectorizer

    d = load_text(strip_headers=True)
    vec = TfidfVectorizer(max_features=1000)
    xtr = np.asarray(vec.fit_transform(d.train_texts).toarray())
    xte = np.asarray(vec.transform(d.test_texts).toarray())
    ytr, yte = np.asarray(d.train_labels), np.asarray(d.test_labels)
    out = {}
    for name, make in [("mmscratch LinearSVC (squared hinge)", lambda: LinearSVC()),
                       ("scikit-learn LinearSVC (squared hinge)", lambda: SkLinearSVC()),
                       ("mmscratch LinearSVC (hinge)", lambda: LinearSVC(loss="hinge")),
                       ("scikit-learn LinearSVC (hinge)",
                        lambda: SkLinearSVC(loss="hinge", max_iter=10000)),
                       ("scikit-learn LogisticRegression (C=1)",
                        lambda: LogisticRegression(max_iter=1000))]:
        t0 = time.perf_counter()
        m = make().fit(xtr, ytr)
        t = time.perf_counter() - t0
        out[name] = (float((np.asarray(m.predict(xte)) == yte).mean()), t)
    return out, xtr.shape, xte.shape


def fsdd_accuracy():
    from sklearn import svm as sk_svm

    from mmscratch import backend
    from mmscratch.features import MFCC

    max_len = 6400
    feats = dict(n_mfcc=20, n_fft=512, hop_length=256, n_mels=40, deltas=1,
                 delta_mode="edge", delta_width=5)
    out = {}
    for split in ("official", "speaker"):
        data = load_fsdd(split=split, max_len=max_len)
        ex = MFCC(data.sample_rate, preset="librosa", **feats)

        def stats(part, ex=ex):
            f, n = ex.ragged(backend.asarray(part.waveforms), part.lengths)  # (N, C, T)
            f, n = backend.to_numpy(f), np.asarray(backend.to_numpy(n))
            valid = (np.arange(f.shape[2])[None, :] < n[:, None])[:, None, :]  # (N, 1, T)
            cnt = np.maximum(valid.sum(axis=2), 1)
            mean = (f * valid).sum(axis=2) / cnt
            std = np.sqrt((((f - mean[..., None]) ** 2) * valid).sum(axis=2) / cnt)
            return np.concatenate([mean, std], axis=1)  # (N, 2C)

        xtr, xte = stats(data.train), stats(data.test)
        mu, sd = xtr.mean(0), xtr.std(0) + 1e-9
        xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
        ytr, yte = data.train.labels, data.test.labels
        ours = np.asarray(SVC(C=10.0).fit(xtr, ytr).predict(xte))
        ref = sk_svm.SVC(C=10.0).fit(xtr, ytr).predict(xte)
        out[split] = dict(acc=(ours == yte).mean(), acc_ref=(ref == yte).mean(),
                          agree=(ours == ref).mean(), n_train=len(ytr), n_test=len(yte),
                          dim=xtr.shape[1])
    return out


def _flat(a):
    a = np.asarray(a)
    return a.reshape(a.shape[0], -1).astype(np.float64)


def multimodal(name, seeds):
    rows = {}
    weights = {}
    for seed in seeds:
        data = load(name, seed=seed)
        mods = data["info"]["modalities"]
        tr, te = data["train"], data["test"]
        ytr, yte = tr["label"], te["label"]

        def add(key, acc):
            rows.setdefault(key, []).append(100.0 * acc)

        for m in mods:
            add(f"SVC(rbf), {m} only", SVC().fit(_flat(tr[m]), ytr).score(_flat(te[m]), yte))
        # early fusion: one RBF kernel (one gamma) on standardised, concatenated features
        parts_tr = [_flat(tr[m]) for m in mods]
        parts_te = [_flat(te[m]) for m in mods]
        mus = [p.mean(0) for p in parts_tr]
        sds = [p.std() + 1e-12 for p in parts_tr]
        ctr = np.concatenate([(p - u) / s for p, u, s in zip(parts_tr, mus, sds)], axis=1)
        cte = np.concatenate([(p - u) / s for p, u, s in zip(parts_te, mus, sds)], axis=1)
        add("SVC(rbf) on concatenated features", SVC().fit(ctr, ytr).score(cte, yte))
        for w in ("uniform", "alignment"):
            mk = MultiKernelSVC({m: "rbf" for m in mods}, weights=w)
            mk.fit({m: tr[m] for m in mods}, ytr)
            add(f"MultiKernelSVC (weights={w})", mk.score({m: te[m] for m in mods}, yte))
            if w == "alignment":
                for m, v in mk.kernel_weights_.items():
                    weights.setdefault(m, []).append(v)
        print(name, seed, {k: round(v[-1], 1) for k, v in rows.items()}, flush=True)
    return rows, {m: float(np.mean(v)) for m, v in weights.items()}, mods


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, one seed")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    q = args.quick
    seeds = [0] if q else [0, 1, 2]

    sp = speed(1000 if q else 5000, 1 if q else args.repeat)
    print("speed", sp, flush=True)
    mn = mnist_accuracy(2000 if q else 10000)
    print("mnist", mn, flush=True)
    tx, shtr, shte = text_accuracy()
    print("text", tx, flush=True)
    fs = fsdd_accuracy()
    print("fsdd", fs, flush=True)
    mm = {name: multimodal(name, seeds) for name in ("avmnist", "digits")}

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    lines = [
        "## svm: SVC, LinearSVC and the multimodal SVM (`benchmarks/bench_svm.py`)",
        "",
        f"Machine: {machine()}, shared with other jobs while measured; "
        f"OPENBLAS_NUM_THREADS={threads}. Command: `python benchmarks/bench_svm.py"
        f"{' --quick' if q else ''}`.",
        "",
        f"**Speed**, `SVC(kernel='rbf').fit` on {sp['n']:,} MNIST images (784 pixels in "
        f"[0, 1], 10 classes, 45 one-vs-one problems), best of {1 if q else args.repeat} "
        "interleaved runs in one process:",
        "",
        "| | fit s | support vectors | SMO iterations (sum) |",
        "|---|---|---|---|",
        f"| mmscratch SVC | {sp['ours']:.2f} | {sp['n_sv']} | {sp['iters']} |",
        f"| scikit-learn SVC (libsvm) | {sp['ref']:.2f} | {sp['n_sv_ref']} | "
        f"{sp['iters_ref']} |",
        f"| ratio mmscratch / scikit-learn | **{sp['ours'] / sp['ref']:.2f}x** | "
        f"same support_: {sp['same_sv']} | |",
        "",
        f"mmscratch computes the whole {sp['n']:,} x {sp['n']:,} RBF kernel once with BLAS "
        "(float64, "
        "copied to the host as float32 like libsvm's cache) and runs SMO on slices of it "
        "(identical iterations to libsvm's); "
        "libsvm computes kernel rows on demand with scalar loops and caches them.",
        "",
        "**Accuracy** (test, %), the same features for both libraries:",
        "",
        "| task | mmscratch | scikit-learn | predictions agree |",
        "|---|---|---|---|",
        f"| SVC(rbf), MNIST {mn['n']:,} train / 10,000 test (fit {mn['t']:.0f} s vs "
        f"{mn['t_ref']:.0f} s) | {100 * mn['acc']:.2f} | {100 * mn['acc_ref']:.2f} | "
        f"{100 * mn['agree']:.2f} |",
    ]
    for split, r in fs.items():
        what = "official split (takes 0-4)" if split == "official" else \
            "speaker `yweweler` held out"
        lines.append(f"| SVC(rbf, C=10), FSDD MFCC statistics ({r['dim']} per clip), {what}, "
                     f"{r['n_train']} / {r['n_test']} | {100 * r['acc']:.2f} | "
                     f"{100 * r['acc_ref']:.2f} | {100 * r['agree']:.2f} |")
    for kind in ("squared hinge", "hinge"):
        a, t = tx[f"mmscratch LinearSVC ({kind})"]
        b, tb = tx[f"scikit-learn LinearSVC ({kind})"]
        lines.append(f"| LinearSVC ({kind}), 20 Newsgroups 4 groups, TF-IDF(1000), "
                     f"{shtr[0]} / {shte[0]} (fit {t:.1f} s vs {tb:.1f} s) | {100 * a:.2f} | "
                     f"{100 * b:.2f} | |")
    lr, _ = tx["scikit-learn LogisticRegression (C=1)"]
    lines.append(f"| (for comparison) LogisticRegression on the same TF-IDF | | {100 * lr:.2f} "
                 "| |")
    lines += ["", "**Multimodal SVM** (test accuracy %, mean ± std over "
              f"{len(seeds)} seed(s), the data of the fusion table in README):", ""]
    for name, (rows, weights, mods) in mm.items():
        lines += [f"*{name}* (alignment weights, mean over seeds: "
                  + ", ".join(f"{m} {weights[m]:.2f}" for m in mods) + ")", "",
                  "| model | accuracy |", "|---|---|"]
        for key, vals in rows.items():
            lines.append(f"| {key} | {np.mean(vals):.1f} ± {np.std(vals):.1f} |")
        best_single = max(np.mean(v) for k, v in rows.items() if "only" in k)
        gain = np.mean(rows["MultiKernelSVC (weights=alignment)"]) - best_single
        lines += ["", f"Alignment-weighted kernel fusion minus the best single modality: "
                  f"**{gain:+.1f} points**.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("svm", text)


if __name__ == "__main__":
    main()
