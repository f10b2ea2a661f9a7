"""Command line: ``python -m mmscratch train`` and ``python -m mmscratch evaluate``.

    python -m mmscratch train --data digits --fusion attention --epochs 10 --out runs/digits
    python -m mmscratch evaluate --model runs/digits/model.npz

``train`` fits the multimodal classifier (one branch per modality, the chosen
fusion, the document's head), prints per-epoch train/validation accuracy and the
final test accuracy, and writes ``metrics.json``, ``model.npz`` and plots to --out.
``evaluate`` reloads ``model.npz``, rebuilds the same test set from the run's
settings and reports the same accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import backend


def _parser():
    p = argparse.ArgumentParser(prog="python -m mmscratch",
                                description="multimodal learning from scratch")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the multimodal classifier")
    t.add_argument("--data", default="digits", choices=["digits", "avmnist"])
    t.add_argument("--data-dir", default=None, help="folder with mnist/ and fsdd/ (avmnist)")
    t.add_argument("--fusion", default="attention", choices=["early", "late", "attention",
                                                              "tensor"])
    t.add_argument("--modalities", default=None,
                   help="comma-separated subset of image,audio,text (default: all the data has)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--modality-dropout", type=float, default=0.2)
    t.add_argument("--audio-branch", default="cnn", choices=["cnn", "lstm"],
                   help="CNN over the MFCC matrix or LSTM over its frames")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--backend", default=None, choices=["numpy", "cupy", "strict"])
    t.add_argument("--out", default="runs/latest")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    e = sub.add_parser("evaluate", help="re-run the test set of a saved model")
    e.add_argument("--model", required=True, help="path to model.npz written by train")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--backend", default=None, choices=["numpy", "cupy", "strict"])
    return p


def _load_data(name, data_dir, seed):
    from .datasets import load

    return load(name, data_dir=data_dir, seed=seed)


def _split(data, modalities):
    x = {m: data[m] for m in modalities}
    return x, np.asarray(data["label"])


def _accuracy(model, x, y):
    pred = backend.to_numpy(model.predict(x)).argmax(axis=1)
    return float((pred == y).mean()), pred


def train(args):
    from . import nn
    from .multimodal import build_model

    t0 = time.time()
    data = _load_data(args.data, args.data_dir, args.seed)
    available = [m for m in ("image", "audio", "text") if m in data["train"]]
    modalities = args.modalities.split(",") if args.modalities else available
    missing = [m for m in modalities if m not in available]
    if missing:
        raise SystemExit(f"error: data set {args.data!r} has no modality {missing}; "
                         f"it has {available}")
    xtr, ytr = _split(data["train"], modalities)
    xte, yte = _split(data["test"], modalities)
    shapes = {m: tuple(xtr[m].shape[1:]) for m in modalities}
    n_classes = int(max(ytr.max(), yte.max()) + 1)
    model = build_model(shapes, modalities, args.fusion, num_classes=n_classes,
                        modality_dropout=args.modality_dropout if len(modalities) > 1 else 0.0,
                        seed=args.seed, audio_branch=args.audio_branch)
    model.compile(nn.Adam(args.lr), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
    print(f"training {args.fusion} fusion of {modalities} on {args.data} "
          f"({len(ytr)} train / {len(yte)} test) with backend {backend.name()}", flush=True)
    history = model.fit(xtr, ytr, epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(xte, yte), seed=args.seed, verbose=not args.quiet)
    for i in range(args.epochs):
        print(f"epoch {i + 1}: train accuracy {history['accuracy'][i]:.4f}, "
              f"validation accuracy {history['val_accuracy'][i]:.4f}", flush=True)
    test_acc, pred = _accuracy(model, xte, yte)
    unimodal = {}
    if len(modalities) > 1:
        for m in modalities:
            unimodal[m] = _accuracy(model, {m: xte[m]}, yte)[0]
    seconds = time.time() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.npz")
    metrics = {"test_accuracy": test_acc, "unimodal": unimodal, "epochs": args.epochs,
               "seconds": seconds, "data": args.data, "fusion": args.fusion,
               "modalities": modalities, "seed": args.seed, "backend": backend.name(),
               "history": history,
               "notes": "unimodal = this model evaluated with only that modality present"}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _plots(model, history, yte, pred, modalities, xte, out)
    print(f"test accuracy: {test_acc:.4f}")
    for m, acc in unimodal.items():
        print(f"  with only {m}: {acc:.4f}")
    print(f"wrote {out / 'metrics.json'}, {out / 'model.npz'} and plots in {seconds:.1f} s")
    return metrics


def _plots(model, history, yte, pred, modalities, xte, out):
    import matplotlib

    matplotlib.use("Agg")
    from . import plots
    from .metrics import confusion_matrix
    from .multimodal import AttentionFusion

    plots.plot_history(history, out / "history.png")
    labels = list(range(int(yte.max()) + 1))
    plots.plot_confusion_matrix(confusion_matrix(yte, pred, labels=labels),
                                out / "confusion_matrix.png", labels=labels)
    if isinstance(model.fusion, AttentionFusion):
        model.predict(xte, batch_size=len(yte))
        weights = backend.to_numpy(model.fusion.last_attention).mean(axis=0)
        plots.plot_attention(weights, modalities, out / "attention.png")


def evaluate(args):
    from .nn.model import load_model

    path = Path(args.model)
    metrics_path = path.with_name("metrics.json")
    if not metrics_path.exists():
        raise SystemExit(f"error: {metrics_path} not found; evaluate needs the metrics.json "
                         "that train wrote next to the model")
    run = json.loads(metrics_path.read_text())
    model = load_model(path)
    data = _load_data(run["data"], args.data_dir, run["seed"])
    xte, yte = _split(data["test"], run["modalities"])
    acc, _ = _accuracy(model, xte, yte)
    print(f"test accuracy: {acc:.4f} (recorded at training: {run['test_accuracy']:.4f})")
    return acc


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.backend:
        backend.use(args.backend)
    return train(args) if args.command == "train" else evaluate(args)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (ValueError, backend.BackendError) as exc:  # DataError is a ValueError
        # A missing file or a bad option is the user's to fix: one line, not a traceback
        # (set MMSCRATCH_TRACEBACK=1 to see where it came from).
        if os.environ.get("MMSCRATCH_TRACEBACK"):
            raise
        sys.exit(f"error: {exc}")
