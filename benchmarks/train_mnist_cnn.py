"""Train the Keras mnist_cnn network with mmscratch's Sequential.fit and report test accuracy.

    Conv2D(32, 3) -> ReLU -> Conv2D(64, 3) -> ReLU -> MaxPooling2D -> Dropout(0.25)
    -> Flatten -> Dense(128) -> ReLU -> Dropout(0.5) -> Dense(10)

(Keras reports 99.25% after 12 epochs.) One ``fit`` call per epoch so that the
time per epoch and the test accuracy after each epoch are logged; a checkpoint is
saved after every epoch and the section "mnist_cnn" of RESULTS.md is rewritten, so a
run that is stopped early still leaves honest partial results.

Usage::

    MMSCRATCH_DATA=/path/to/data python benchmarks/train_mnist_cnn.py --epochs 12
    python benchmarks/train_mnist_cnn.py --backend cupy --epochs 12     # on a GPU
    python benchmarks/train_mnist_cnn.py --subset 2000 --epochs 1       # smoke run
    python benchmarks/train_mnist_cnn.py --compare-batchnorm --subset 6000 --epochs 4
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import _report

from mmscratch import backend
from mmscratch.datasets import load_mnist
from mmscratch.nn import (
    Adam,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
)


def mnist_cnn(seed=0, batchnorm=False):
    """The Keras mnist_cnn example network (logits out; the loss applies the softmax).

    ``batchnorm=True`` puts a BatchNormalization after each Conv2D and the hidden Dense,
    before the ReLU (Ioffe & Szegedy's placement); those layers then need no bias, since
    BN's beta takes its place.
    """
    if batchnorm:
        return Sequential([
            Conv2D(32, 3, use_bias=False, seed=seed), BatchNormalization(), ReLU(),
            Conv2D(64, 3, use_bias=False, seed=seed + 1), BatchNormalization(), ReLU(),
            MaxPooling2D(2),
            Dropout(0.25, seed=seed + 2),
            Flatten(),
            Dense(128, use_bias=False, seed=seed + 3), BatchNormalization(), ReLU(),
            Dropout(0.5, seed=seed + 4),
            Dense(10, seed=seed + 5),
        ], name="mnist_cnn_bn")
    return Sequential([
        Conv2D(32, 3, seed=seed), ReLU(),
        Conv2D(64, 3, seed=seed + 1), ReLU(),
        MaxPooling2D(2),
        Dropout(0.25, seed=seed + 2),
        Flatten(),
        Dense(128, seed=seed + 3), ReLU(),
        Dropout(0.5, seed=seed + 4),
        Dense(10, seed=seed + 5),
    ], name="mnist_cnn")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--subset", type=int, default=0, help="train on the first N images")
    parser.add_argument("--backend", default=None, help="numpy or cupy (default: active)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="mnist_cnn_run", help="folder for log/checkpoint")
    parser.add_argument("--no-report", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--section", default="mnist_cnn")
    parser.add_argument("--report-only", metavar="LOG_JSON",
                        help="only rewrite the RESULTS.md section from a saved log.json "
                             "(e.g. one brought back from a GPU machine)")
    parser.add_argument("--machine", default=None,
                        help="machine description for --report-only (default: this one)")
    parser.add_argument("--note", default="", help="extra sentence for the section")
    parser.add_argument("--batchnorm", action="store_true",
                        help="BatchNormalization after each Conv2D and the hidden Dense")
    parser.add_argument("--compare-batchnorm", action="store_true",
                        help="train the network without and with BatchNormalization on the "
                             "same batches; write the section mnist_cnn_batchnorm")
    args = parser.parse_args(argv)
    if args.compare_batchnorm:
        return compare_batchnorm(args)
    if args.report_only:
        log = json.loads(Path(args.report_only).read_text())
        _report.write_section(args.section, _markdown(log, args))
        return log
    if args.backend:
        backend.use(args.backend)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train = load_mnist(args.data_dir, "train")
    x_test, y_test = load_mnist(args.data_dir, "test")
    if args.subset:
        x_train, y_train = x_train[:args.subset], y_train[:args.subset]
    x_train, y_train = backend.asarray(x_train), backend.asarray(y_train)
    x_test, y_test = backend.asarray(x_test), backend.asarray(y_test)

    model = mnist_cnn(seed=0, batchnorm=args.batchnorm)
    model.compile(optimizer=Adam(lr=args.lr), loss=SoftmaxCrossEntropy(), metrics=["accuracy"])
    log = {"backend": backend.name(), "batch_size": args.batch_size, "lr": args.lr,
           "n_train": int(x_train.shape[0]), "epochs": []}
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        hist = model.fit(x_train, y_train, epochs=1, batch_size=args.batch_size,
                         seed=epoch, verbose=1)
        seconds = time.perf_counter() - t0
        test = model.evaluate(x_test, y_test, batch_size=1000)
        row = {"epoch": epoch, "seconds": round(seconds, 1), "loss": round(hist["loss"][0], 4),
               "train_accuracy": round(hist["accuracy"][0], 4),
               "test_loss": round(test["loss"], 4), "test_accuracy": round(test["accuracy"], 4)}
        log["epochs"].append(row)
        print(json.dumps(row), flush=True)
        (out / "log.json").write_text(json.dumps(log, indent=1))
        model.save(out / "model.npz")
        if not args.no_report:
            _report.write_section(args.section, _markdown(log, args))
    return log


def compare_batchnorm(args):
    """Both networks, same data, same seeds, same batches: test accuracy after each epoch."""
    if args.backend:
        backend.use(args.backend)
    x_train, y_train = load_mnist(args.data_dir, "train")
    x_test, y_test = load_mnist(args.data_dir, "test")
    if args.subset:
        x_train, y_train = x_train[:args.subset], y_train[:args.subset]
    logs = {}
    t_start = time.perf_counter()
    for bn in (False, True):
        model = mnist_cnn(seed=0, batchnorm=bn)
        model.compile(optimizer=Adam(lr=args.lr), loss=SoftmaxCrossEntropy(),
                      metrics=["accuracy"])
        rows = []
        for epoch in range(1, args.epochs + 1):
            t0 = time.perf_counter()
            hist = model.fit(x_train, y_train, epochs=1, batch_size=args.batch_size,
                             seed=epoch, verbose=0)
            test = model.evaluate(x_test, y_test, batch_size=1000)
            rows.append({"epoch": epoch, "seconds": round(time.perf_counter() - t0, 1),
                         "loss": round(hist["loss"][0], 4),
                         "test_accuracy": round(test["accuracy"], 4)})
            print(("bn" if bn else "plain"), json.dumps(rows[-1]), flush=True)
        logs["with BatchNormalization" if bn else "without"] = rows
    minutes = (time.perf_counter() - t_start) / 60
    lines = [
        "## mnist_cnn_batchnorm: the Keras mnist_cnn without and with BatchNormalization "
        "(`benchmarks/train_mnist_cnn.py --compare-batchnorm`)",
        "",
        f"Backend `{backend.name()}`, the first {len(x_train)} training images, batch "
        f"{args.batch_size}, Adam lr {args.lr}, the same seeds and batches for both; "
        "BatchNormalization (momentum 0.99, epsilon 1e-3) after each Conv2D and the hidden "
        "Dense, before the ReLU. Test accuracy on the 10,000 test images after each epoch "
        "(inference mode: the BN layers use their moving statistics). Command: "
        f"`python benchmarks/train_mnist_cnn.py --compare-batchnorm --subset {len(x_train)} "
        f"--epochs {args.epochs}`; {minutes:.0f} min on {_report.machine()} (shared).",
        "",
        "| epoch | " + " | ".join(f"train loss ({k}) | test acc ({k})" for k in logs) + " |",
        "|---|" + "---|---|" * len(logs),
    ]
    for i in range(args.epochs):
        lines.append(f"| {i + 1} | " + " | ".join(
            f"{rows[i]['loss']} | {rows[i]['test_accuracy']}" for rows in logs.values()) + " |")
    if args.note:
        lines += ["", args.note]
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        _report.write_section("mnist_cnn_batchnorm", text)
    return logs


def _markdown(log, args):
    rows = log["epochs"]
    last = rows[-1]
    secs = [r["seconds"] for r in rows]
    lines = [
        f"## {args.section}: Keras mnist_cnn trained with Sequential.fit "
        "(`benchmarks/train_mnist_cnn.py`)",
        "",
        f"Backend `{log['backend']}`, {log['n_train']} training images, batch "
        f"{log['batch_size']}, Adam lr {log['lr']}; machine: "
        f"{getattr(args, 'machine', None) or _report.machine()}. "
        "Command: `python benchmarks/train_mnist_cnn.py "
        f"--epochs {len(rows)}{' --backend cupy' if log['backend'] == 'cupy' else ''}`.",
        "",
        f"**Test accuracy after {last['epoch']} epoch(s): {100 * last['test_accuracy']:.2f}%** "
        f"on the 10,000 test images; median time per epoch {sorted(secs)[len(secs) // 2]:.0f} s.",
        "",
        "| epoch | s | train loss | train acc | test loss | test acc |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['epoch']} | {r['seconds']} | {r['loss']} | {r['train_accuracy']} | "
              f"{r['test_loss']} | {r['test_accuracy']} |" for r in rows]
    if getattr(args, "note", ""):
        lines += ["", args.note]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
