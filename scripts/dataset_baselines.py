"""How hard are the paired data sets? Logistic-regression baselines per modality.

Prints, as markdown tables:

* ``digits``: size of the embedded audio file, load time (wall and CPU), and test
  accuracy of a logistic regression on each modality alone and on all three
  concatenated;
* ``avmnist`` (needs ``$MMSCRATCH_DATA``): image-only accuracy for several numbers of
  kept principal components (how the default ``image_pca_components`` was chosen),
  audio-only accuracy for several SNRs (how the default ``snr_db`` was chosen), and
  image + audio concatenated at the defaults.

scikit-learn's ``LogisticRegression`` on flattened features is the yardstick: quick,
deterministic, and a floor for what the neural branches should reach.

Usage: ``MMSCRATCH_DATA=/path/to/data python scripts/dataset_baselines.py [--skip-avmnist]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier


def flat(a):
    return a.reshape(len(a), -1)


def lr_acc(train, test, y_train, y_test):
    clf = LogisticRegression(max_iter=3000).fit(flat(train), y_train)
    return clf.score(flat(test), y_test)


def digits_table():
    from mmscratch.datasets import load
    from mmscratch.datasets.digits import EMBEDDED_AUDIO

    path = Path(__file__).resolve().parents[1] / "mmscratch" / "datasets" / "embedded"
    size = (path / EMBEDDED_AUDIO).stat().st_size
    t0, c0 = time.perf_counter(), time.process_time()
    d = load("digits", seed=0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tr, te = d["train"], d["test"]
    rows = [f"embedded audio: {size / 1e6:.2f} MB ({d['info']['n_clips']} clips, "
            f"{len(d['info']['voices'])} voices); load('digits'): {wall:.2f} s wall, "
            f"{cpu:.2f} s CPU; train {len(tr['label'])}, test {len(te['label'])}", "",
            "| digits, logistic regression | test accuracy |", "|---|---|"]
    for m in ("image", "audio", "text"):
        rows.append(f"| {m} only | {lr_acc(tr[m], te[m], tr['label'], te['label']):.3f} |")
    cat = [np.hstack([flat(s[m]) for m in ("image", "audio", "text")]) for s in (tr, te)]
    rows.append(f"| image + audio + text (concatenated) | "
                f"{lr_acc(cat[0], cat[1], tr['label'], te['label']):.3f} |")
    noisy = load("digits", seed=0, audio_snr_db=-10.0)
    acc = lr_acc(noisy["train"]["audio"], noisy["test"]["audio"], tr["label"], te["label"])
    rows.append(f"| audio only, white noise at -10 dB | {acc:.3f} |")
    return "\n".join(rows)


def avmnist_table():
    from mmscratch.datasets._pairing import add_white_noise, mfcc_features, standardize
    from mmscratch.datasets.avmnist import (
        DEFAULT_PCA_COMPONENTS,
        DEFAULT_SNR_DB,
        degrade_images,
        load_avmnist,
    )

    t0 = time.perf_counter()
    d = load_avmnist(seed=0, image_pca_components=None, snr_db=None, features=False)
    wall = time.perf_counter() - t0
    tr, te = d["train"], d["test"]
    ytr, yte = tr["label"], te["label"]
    rows = [f"AV-MNIST raw load (no PCA, no noise, no MFCC): {wall:.1f} s wall; "
            f"train {len(ytr)} pairs (5 speakers), test {len(yte)} (yweweler)", "",
            "| image: principal components kept | variance kept | LR | MLP(128) |",
            "|---|---|---|---|"]
    for k in (3, 4, 5, 6, 10, None):
        if k is None:
            a, b, kept = tr["image"], te["image"], 1.0
        else:
            (a, b), kept = degrade_images(tr["image"], te["image"], n_components=k)
        mlp = MLPClassifier((128,), max_iter=300, random_state=0).fit(flat(a), ytr)
        mark = " (default)" if k == DEFAULT_PCA_COMPONENTS else ""
        rows.append(f"| {k if k else 'all (784)'}{mark} | {kept:.3f} | "
                    f"{lr_acc(a, b, ytr, yte):.3f} | {mlp.score(flat(b), yte):.3f} |")
    rows += ["", "| audio: SNR (dB) of white noise | LR on MFCC |", "|---|---|"]
    feats = {}
    for snr in (None, 20.0, 10.0, 5.0, 0.0):
        rng = np.random.default_rng(0)
        w = [add_white_noise(s["meta"]["waveform"], snr, rng, s["meta"]["length"])
             for s in (tr, te)]
        f = [mfcc_features(x, 8000, s["meta"]["length"])[0] for x, s in zip(w, (tr, te))]
        (fa, fb), _ = standardize(*f)
        feats[snr] = (fa, fb)
        mark = " (default)" if snr == DEFAULT_SNR_DB else ""
        rows.append(f"| {'clean' if snr is None else snr}{mark} | "
                    f"{lr_acc(fa, fb, ytr, yte):.3f} |")
    (a, b), _ = degrade_images(tr["image"], te["image"], n_components=DEFAULT_PCA_COMPONENTS)
    fa, fb = feats[DEFAULT_SNR_DB]
    both = lr_acc(np.hstack([flat(a), flat(fa)]), np.hstack([flat(b), flat(fb)]), ytr, yte)
    rows.append(f"\nimage + audio concatenated, LR, defaults (k={DEFAULT_PCA_COMPONENTS}, "
                f"{DEFAULT_SNR_DB} dB): {both:.3f}")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-avmnist", action="store_true")
    args = p.parse_args()
    print(digits_table())
    if not args.skip_avmnist:
        if not os.environ.get("MMSCRATCH_DATA"):
            print("\n(avmnist skipped: set MMSCRATCH_DATA)")
        else:
            print()
            print(avmnist_table())


if __name__ == "__main__":
    main()
