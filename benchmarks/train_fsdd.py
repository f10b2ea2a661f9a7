"""Spoken-digit recognition on FSDD: MFCC + deltas -> small CNN, trained with Sequential.fit.

    MMSCRATCH_DATA=/path/to/data python benchmarks/train_fsdd.py [--epochs 20] [--quick]
        [--backend numpy|cupy] [--split official|speaker|both]

Pipeline (chapters/03-1-feature-extraction.md, chapters/04-code-example.md):

1. ``load_fsdd``: peak-normalised clips, padded/trimmed to 0.8 s (6,400 samples, 0.8 % of
   the clips are longer), true lengths kept.
2. ``mmscratch.features.MFCC``: 20 coefficients + 20 deltas per 32 ms hop (n_fft 512,
   40 Slaney mel bands, dB), computed per clip length; frames past a clip's end are 0.
3. Standardised per coefficient with training-set statistics -> an image (T=26, 40, 1).
4. CNN: Conv2D(8,3) -> MaxPool -> Conv2D(16,3) -> MaxPool -> Dense(64) -> Dense(10),
   SoftmaxCrossEntropy, Adam, ``Sequential.fit``.

Reports test accuracy on FSDD's official split (takes 0-4 of every speaker) and on a
speaker-held-out split (every clip of one speaker unseen in training). Writes section
"fsdd" of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, write_section  # noqa: E402

from mmscratch import backend  # noqa: E402
from mmscratch.datasets import load_fsdd  # noqa: E402
from mmscratch.features import MFCC  # noqa: E402
from mmscratch.nn import (  # noqa: E402
    Adam,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
    Sequential,
    SoftmaxCrossEntropy,
)

MAX_LEN = 6400
CMN = [False]  # set by --cmn
FEATURES = dict(n_mfcc=20, n_fft=512, hop_length=256, n_mels=40, deltas=1,
                delta_mode="edge", delta_width=5)


def features(split, extractor):
    """(N, T, 2*n_mfcc) MFCC + delta sequences (zeros past each clip) and frame counts.

    T is the frame count of a full MAX_LEN clip, for every split (a split of short clips
    would otherwise come back with fewer frames).
    """
    x = backend.asarray(split.waveforms)
    feats, n = extractor.ragged(x, split.lengths)  # (N, C, T_split)
    feats = np.swapaxes(backend.to_numpy(feats), 1, 2)
    T = int(extractor.num_frames(MAX_LEN))
    out = np.zeros((feats.shape[0], T, feats.shape[2]), dtype=feats.dtype)
    out[:, :feats.shape[1]] = feats[:, :T]
    n = np.minimum(n, T)
    if CMN[0]:
        # cepstral mean normalisation: subtract each clip's mean over its own frames, which
        # removes a fixed channel / vocal-tract offset (helps on unseen speakers)
        valid = (np.arange(T)[None, :] < n[:, None])[..., None]
        mean = (out * valid).sum(axis=1, keepdims=True) / n[:, None, None]
        out = np.where(valid, out - mean, 0.0)
    return out, n


def standardise(train, n_train, others):
    """Per-coefficient mean/std over the training frames that exist; padding stays 0."""
    valid = np.arange(train.shape[1])[None, :] < n_train[:, None]
    mean = train[valid].mean(axis=0)
    std = train[valid].std(axis=0) + 1e-6

    def apply(x, n):
        v = np.arange(x.shape[1])[None, :] < n[:, None]
        return np.where(v[..., None], (x - mean) / std, 0.0).astype(np.float32)[..., None]

    return apply(train, n_train), [apply(x, n) for x, n in others]


def build_model(seed):
    return Sequential([
        Conv2D(8, 3, padding="same", activation="relu", seed=seed),
        MaxPooling2D(2),
        Conv2D(16, 3, padding="same", activation="relu", seed=seed + 1),
        MaxPooling2D(2),
        Flatten(),
        Dropout(0.3, seed=seed + 2),
        Dense(64, activation="relu", seed=seed + 3),
        Dense(10, seed=seed + 4),
    ])


def run(split_name, args):
    data = load_fsdd(split=split_name, test_speaker=args.test_speaker, max_len=MAX_LEN)
    ex = MFCC(data.sample_rate, preset="librosa", **FEATURES)
    t0 = time.perf_counter()
    xtr, ntr = features(data.train, ex)
    xte, nte = features(data.test, ex)
    t_feat = time.perf_counter() - t0
    xtr, (xte,) = standardise(xtr, ntr, [(xte, nte)])
    ytr, yte = data.train.labels, data.test.labels
    if args.quick:
        keep = np.random.default_rng(0).permutation(len(ytr))[:600]
        xtr, ytr = xtr[keep], ytr[keep]
    model = build_model(args.seed)
    model.compile(optimizer=Adam(lr=args.lr), loss=SoftmaxCrossEntropy(), metrics=["accuracy"])
    t0 = time.perf_counter()
    # No validation_data=(test): per-epoch test scores invite choosing by them. The test
    # set is used once, below; training is the same without it.
    hist = model.fit(xtr, ytr, epochs=args.epochs, batch_size=args.batch_size,
                     seed=args.seed, verbose=args.verbose)
    t_fit = time.perf_counter() - t0
    test = model.evaluate(xte, yte)
    result = {"split": split_name, "train": int(len(ytr)), "test": int(len(yte)),
              "test_accuracy": float(test["accuracy"]), "epochs": args.epochs,
              "train_accuracy": float(hist["accuracy"][-1]),
              "seconds_features": round(t_feat, 2), "seconds_fit": round(t_fit, 1),
              "input_shape": list(xtr.shape[1:])}
    if split_name == "speaker":
        result["test_speaker"] = args.test_speaker
    print(json.dumps(result), flush=True)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="both", choices=["official", "speaker", "both"])
    ap.add_argument("--test-speaker", default="yweweler")
    ap.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    ap.add_argument("--quick", action="store_true", help="600 training clips, for a smoke test")
    ap.add_argument("--cmn", action="store_true", help="cepstral mean normalisation per clip")
    ap.add_argument("--verbose", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    CMN[0] = args.cmn
    splits = ["official", "speaker"] if args.split == "both" else [args.split]
    with backend.use(args.backend):
        results = [run(s, args) for s in splits]
    lines = [
        f"Spoken-digit recognition on FSDD: MFCC (20 + 20 deltas, 32 ms hop) -> CNN "
        f"(Conv8-Pool-Conv16-Pool-Dense64-Dense10), Adam lr {args.lr}, batch "
        f"{args.batch_size}, {args.epochs} epochs, seed {args.seed}, backend `{args.backend}`. "
        f"Machine: {machine()}.",
        "",
        "| split | train | test | test accuracy | train acc. | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        name = ("official (takes 0-4 test)" if r["split"] == "official"
                else f"speaker held out ({r['test_speaker']})")
        lines.append(f"| {name} | {r['train']} | {r['test']} | {r['test_accuracy']:.4f} | "
                     f"{r['train_accuracy']:.4f} | "
                     f"{r['seconds_fit']:.0f} |")
    lines += ["", "Test accuracy is the model after the last epoch (no early stopping); the "
              "test set is used once, at the end.", "",
              f"Command: `python benchmarks/train_fsdd.py --epochs {args.epochs} --split "
              f"{args.split}{' --quick' if args.quick else ''}`"]
    text = "\n".join(lines)
    print(text)
    if not args.no_write and not args.quick:
        write_section("fsdd", text)


if __name__ == "__main__":
    main()
