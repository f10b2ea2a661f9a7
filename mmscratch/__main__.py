"""Command line: ``python -m mmscratch train`` and ``python -m mmscratch evaluate``.

    python -m mmscratch train --data digits --fusion attention --epochs 10 --out runs/digits
    python -m mmscratch evaluate --model runs/digits

``train`` fits the multimodal classifier (one branch per modality, the chosen
fusion, the document's head) on the training data minus a seeded, stratified
validation part, prints per-epoch train/validation accuracy, touches the test set
once at the end, and writes ``metrics.json``, ``model.npz`` and plots to --out, with
``history.csv`` (one row per epoch), ``checkpoint.npz`` (the model, optimizer state and
epoch count after the last finished epoch) and ``args.json``; early stopping on the
validation loss keeps the best epoch, and ``metrics.json`` gives its validation numbers
and ``best_epoch``. ``metrics.json["history"]`` and ``history.png`` cover every epoch of
the run (a resumed run's earlier epochs come from ``history.csv``);
``confusion_matrix.png`` is written on every run, ``attention.png`` only for attention
fusion of two or more modalities. With ``--patience``, ``best.npz`` holds the best
epoch's model so far, so that a resumed run's early stopping goes on from it.
``train --resume DIR`` continues such a run exactly where its checkpoint stopped
(Ctrl-C leaves a checkpoint to resume from).
``evaluate`` takes the run folder (or its ``model.npz``), checks that the model is
the one its ``metrics.json`` describes, rebuilds the same test set from the run's
settings and reports the same accuracy.

The installed ``mmscratch`` command and ``python -m mmscratch`` both run :func:`cli`:
a bad option, a missing or damaged file or an unusable backend is one ``error:``
line naming the file (``MMSCRATCH_TRACEBACK=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import backend
from .nn.callbacks import Callback, EarlyStopping


def _positive_int(text):
    """argparse type: an int >= 1 (checked before any data is loaded)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _fraction(low_open=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (0 < value < 1 if low_open else 0 <= value < 1):
            raise argparse.ArgumentTypeError(
                f"expected a number in {'(0' if low_open else '[0'}, 1), got {value}")
        return value
    return parse


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return value


_DATA_HELP = ("Data folder (real data sets only; 'digits' is embedded): --data-dir, else "
              "$MMSCRATCH_DATA, else ~/.cache/mmscratch. Backend: --backend, else "
              "$MMSCRATCH_BACKEND, else numpy.")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" for every option that has a real default (not None/False)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:  # 0 is a real default
            return action.help
        return super()._get_help_string(action)


def _parser():
    fmt = _HelpFormatter
    p = argparse.ArgumentParser(prog="python -m mmscratch", formatter_class=fmt,
                                description="multimodal learning from scratch",
                                epilog=_DATA_HELP)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the multimodal classifier", formatter_class=fmt,
                       epilog=_DATA_HELP)
    t.add_argument("--data", default="digits", choices=["digits", "avmnist"],
                   help="data set: 'digits' is embedded, 'avmnist' needs MNIST and FSDD")
    t.add_argument("--data-dir", default=None,
                   help="folder with mnist/ and fsdd/ (avmnist); default $MMSCRATCH_DATA, "
                        "else ~/.cache/mmscratch")
    from .multimodal import FUSION_REGISTRY  # the registered fusions are the choices

    t.add_argument("--fusion", default="attention", choices=list(FUSION_REGISTRY),
                   help="how the modalities are combined (ignored for one modality): "
                        + "; ".join(f"{name}: {spec.description}"
                                    for name, spec in FUSION_REGISTRY.items()))
    t.add_argument("--modalities", default=None,
                   help="comma-separated subset of image,audio,text (default: all the data has)")
    t.add_argument("--epochs", type=_positive_int, default=10, help="training epochs (>= 1)")
    t.add_argument("--batch-size", type=_positive_int, default=32, help="mini-batch size")
    t.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate")
    t.add_argument("--modality-dropout", type=_fraction(), default=0.2,
                   help="probability of hiding each modality of a training sample")
    t.add_argument("--validation-split", type=_fraction(low_open=True), default=0.1,
                   help="fraction of the training data held out (seeded, stratified) for "
                        "the per-epoch validation accuracy; the test set is used once, "
                        "at the end")
    t.add_argument("--audio-branch", default="cnn", choices=["cnn", "lstm"],
                   help="CNN over the MFCC matrix or LSTM over its frames")
    t.add_argument("--seed", type=int, default=0, help="seed of the split, weights, shuffling")
    t.add_argument("--backend", default=None, choices=["numpy", "cupy", "strict"],
                   help="array backend (default: $MMSCRATCH_BACKEND, else numpy)")
    t.add_argument("--out", default="runs/latest",
                   help="run folder for metrics.json, model.npz and plots (created; files "
                        "in it are replaced)")
    t.add_argument("--patience", type=int, default=5,
                   help="early stopping: stop after this many epochs without a lower "
                        "validation loss and keep the best epoch's weights (0: off)")
    t.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the run in DIR from its last checkpoint (its settings "
                        "are reused; --epochs may raise the total)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    e = sub.add_parser("evaluate", help="re-run the test set of a saved run", formatter_class=fmt,
                       epilog=_DATA_HELP)
    e.add_argument("--model", required=True,
                   help="run folder written by train (or its model.npz); its metrics.json "
                        "must be beside the model")
    e.add_argument("--data-dir", default=None,
                   help="default $MMSCRATCH_DATA, else ~/.cache/mmscratch")
    e.add_argument("--backend", default=None, choices=["numpy", "cupy", "strict"],
                   help="array backend (default: $MMSCRATCH_BACKEND, else numpy)")
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


def _parse_modalities(text):
    """``"image, audio"`` -> ``["image", "audio"]`` (spaces and empty items ignored)."""
    items = [m.strip() for m in text.split(",")]
    return [m for m in items if m]


def validation_split(y, fraction, seed):
    """Seeded, stratified hold-out: indices ``(train_idx, val_idx)`` into ``y (n,)``.

    Every class puts ``round(fraction * n_c)`` of its ``n_c`` samples into validation,
    drawn by a host Generator seeded with ``seed``
    (:func:`mmscratch.datasets._pairing.stratified_split`, the split the data sets use;
    scikit-learn's ``train_test_split(..., stratify=y)`` in spirit). Both index arrays
    are sorted.
    """
    from .datasets._pairing import stratified_split

    return stratified_split(np.asarray(y), fraction, np.random.default_rng(seed))


def _prepare_out(out):
    """Create the run folder and check its files can be written, before any work."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    for name in ("model.npz", "metrics.json", "history.png", "confusion_matrix.png",
                 "attention.png", "checkpoint.npz", "history.csv", "args.json", "best.npz"):
        target = out / name
        if target.is_dir():
            raise ValueError(f"{target}: is a folder; train writes a file there")
    if not os.access(out, os.W_OK):
        raise ValueError(f"--out {out}: folder is not writable")
    return out


def _sha256(path):
    from .extmath import sha256_file

    return sha256_file(path)


#: Settings a resumed run takes from the first run (everything that shapes the model,
#: the data splits and the random streams).
_RUN_SETTINGS = ("data", "data_dir", "fusion", "modalities", "epochs", "batch_size", "lr",
                 "modality_dropout", "validation_split", "audio_branch", "seed", "patience")


def _resume_settings(args, argv):
    """For ``--resume DIR``: the first run's settings from DIR/args.json, with DIR as
    --out and, when given on this command line, a new --epochs (the new total)."""
    run_dir = Path(args.resume)
    saved_path = run_dir / "args.json"
    if not (run_dir / "checkpoint.npz").is_file() or not saved_path.is_file():
        raise ValueError(f"--resume {run_dir}: no checkpoint.npz and args.json there; "
                         "resume a folder that 'train' wrote (--out)")
    try:
        saved = json.loads(saved_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{saved_path}: damaged ({exc})") from None
    epochs_given = any(a == "--epochs" or a.startswith("--epochs=") for a in argv or [])
    for key in _RUN_SETTINGS:
        if key in saved and not (key == "epochs" and epochs_given):
            setattr(args, key, saved[key])
    args.out = str(run_dir)
    return args


def train(args):
    from . import nn
    from .multimodal import build_model
    from .nn.callbacks import CSVLogger, ModelCheckpoint
    from .nn.model import load_model

    t0 = time.time()
    out = _prepare_out(args.out)
    backend.xp()  # an unusable $MMSCRATCH_BACKEND fails here, before loading data
    data = _load_data(args.data, args.data_dir, args.seed)
    available = [m for m in ("image", "audio", "text") if m in data["train"]]
    modalities = (list(args.modalities) if isinstance(args.modalities, list)  # from --resume
                  else _parse_modalities(args.modalities) if args.modalities else available)
    missing = [m for m in modalities if m not in available]
    if missing or not modalities:
        raise SystemExit(f"error: data set {args.data!r} has no modality {missing}; "
                         f"it has {available}")
    xall, yall = _split(data["train"], modalities)
    tr, va = validation_split(yall, args.validation_split, args.seed)
    xtr, ytr = {m: x[tr] for m, x in xall.items()}, yall[tr]
    xva, yva = {m: x[va] for m, x in xall.items()}, yall[va]
    xte, yte = _split(data["test"], modalities)
    shapes = {m: tuple(xtr[m].shape[1:]) for m in modalities}
    n_classes = int(max(yall.max(), yte.max()) + 1)
    # One modality has nothing to fuse: build the plain one-branch model (concatenating
    # one feature vector is the identity) and say so, whatever --fusion says.
    fusion = args.fusion if len(modalities) > 1 else "early"
    described = (f"{args.fusion} fusion of {modalities}" if len(modalities) > 1
                 else f"the {modalities[0]} branch alone (one modality: no fusion)")
    checkpoint = out / "checkpoint.npz"
    if args.resume:
        model = load_model(checkpoint)  # weights, optimizer state, finished epochs
        start = model.completed_epochs
        if start >= args.epochs:
            raise ValueError(f"--resume {out}: the run already finished {start} epochs; "
                             f"give --epochs above {start} to train more")
    else:
        model = build_model(shapes, modalities, fusion, num_classes=n_classes,
                            modality_dropout=args.modality_dropout if len(modalities) > 1
                            else 0.0, seed=args.seed, audio_branch=args.audio_branch)
        model.compile(nn.Adam(args.lr), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
        start = 0
        (out / "args.json").write_text(json.dumps(
            {k: getattr(args, k) for k in _RUN_SETTINGS} | {"modalities": modalities},
            indent=2))
    print(f"training {described} on {args.data} ({len(ytr)} train / {len(yva)} validation / "
          f"{len(yte)} test) with backend {backend.name()}"
          + (f", resuming after epoch {start}" if start else ""), flush=True)
    # checkpoint.npz after every epoch (exact resume point), then the CSV row; early
    # stopping watches the validation loss and puts the best epoch's weights back.
    callbacks = [ModelCheckpoint(checkpoint, save_best_only=False),
                 CSVLogger(out / "history.csv", append=bool(start))]
    # A resumed run reads the earlier epochs from history.csv (for metrics.json, the plot
    # and early stopping's memory of its best epoch).
    earlier = _earlier_history(out / "history.csv", start) if start else None
    stopper = None
    if args.patience > 0:
        stopper = _ContinuedEarlyStopping(monitor="val_loss", patience=args.patience,
                                          restore_best_weights=True)
        if start:
            stopper.continue_from(earlier, start, out / "best.npz", model)
        callbacks += [stopper, _SaveBest(stopper, out / "best.npz")]
    try:
        history = model.fit(xtr, ytr, epochs=args.epochs, batch_size=args.batch_size,
                            validation_data=(xva, yva), seed=args.seed,
                            verbose=not args.quiet, callbacks=callbacks, initial_epoch=start)
    except KeyboardInterrupt:
        done = model.completed_epochs
        if done == start:  # no epoch finished: keep what the interrupted one learned
            model.save(checkpoint)
        print(f"\ninterrupted during epoch {done + 1}: {checkpoint} holds the model after "
              f"epoch {done}; continue with: python -m mmscratch train --resume {out}",
              file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    for i, (acc, val_acc) in enumerate(zip(history["accuracy"], history["val_accuracy"])):
        print(f"epoch {start + i + 1}: train accuracy {acc:.4f}, "
              f"validation accuracy {val_acc:.4f}", flush=True)
    # The epoch whose weights are kept: the best one when early stopping put its
    # weights back, else the last one trained.
    best_epoch = (stopper.best_epoch + 1 if stopper is not None
                  and stopper.best_weights is not None else model.completed_epochs)
    if model.completed_epochs < args.epochs:
        print(f"early stopping after epoch {model.completed_epochs}: no lower validation "
              f"loss for {args.patience} epochs; kept the weights of epoch {best_epoch}",
              flush=True)
    elif best_epoch != model.completed_epochs:
        print(f"kept the weights of epoch {best_epoch} (lowest validation loss)", flush=True)
    # The whole run's history (a resumed run's fit saw only its own epochs), with the
    # true 1-based epoch numbers.
    history = {"epoch": list(range(start + 1, start + len(history["loss"]) + 1)), **history}
    if start:
        history = _merge_history(earlier, history)
    at_best = history["epoch"].index(best_epoch)
    # The test set, once, after every training decision.
    test_acc, pred = _accuracy(model, xte, yte)
    unimodal = {}
    if len(modalities) > 1:
        for m in modalities:
            unimodal[m] = _accuracy(model, {m: xte[m]}, yte)[0]
    seconds = time.time() - t0
    model.save(out / "model.npz")
    metrics = {"test_accuracy": test_acc, "unimodal": unimodal, "epochs": args.epochs,
               "epochs_trained": model.completed_epochs, "resumed_from_epoch": start,
               "seconds": seconds, "data": args.data,
               "fusion": args.fusion if len(modalities) > 1 else None,
               "modalities": modalities, "seed": args.seed, "backend": backend.name(),
               "validation_split": args.validation_split,
               "splits": {"train": int(len(ytr)), "validation": int(len(yva)),
                          "test": int(len(yte))},
               "best_epoch": best_epoch,
               "validation_accuracy": history["val_accuracy"][at_best],
               "validation_loss": history["val_loss"][at_best],
               "history": history,
               "model_sha256": _sha256(out / "model.npz"),
               "notes": "validation = a seeded stratified part of the training data; "
                        "validation_accuracy/validation_loss = those of the saved weights, "
                        "from epoch best_epoch (early stopping keeps the epoch with the "
                        "lowest validation loss; a resumed run chooses among the epochs it "
                        "trained itself); history = every epoch of the run (epoch 1-based), "
                        "a resumed run's earlier epochs read from history.csv; "
                        "unimodal = this model evaluated on the test set with only that "
                        "modality present"}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _plots(model, history, yte, pred, modalities, xte, out)
    print(f"test accuracy: {test_acc:.4f}")
    for m, acc in unimodal.items():
        print(f"  with only {m}: {acc:.4f}")
    print(f"wrote {out / 'metrics.json'}, {out / 'model.npz'} and plots in {seconds:.1f} s")
    return metrics


class _ContinuedEarlyStopping(EarlyStopping):
    """Early stopping that, in a resumed run, goes on from the earlier epochs: their
    lowest validation loss, its epoch, the epochs waited since, and that epoch's
    weights (``best.npz``), so that stopping and the kept weights are those of an
    uninterrupted run."""

    _prior = None

    def continue_from(self, earlier, start, best_path, model):
        """Remember epochs 1..start (``earlier``: their history) for :meth:`on_train_begin`."""
        from .nn.model import load_model

        losses = earlier.get("val_loss") or []
        if len(losses) != start or not all(isinstance(v, float) and math.isfinite(v)
                                           for v in losses):
            return  # history.csv incomplete: decide on the resumed epochs alone
        best_i = min(range(start), key=lambda i: (losses[i], i))  # the first lowest
        if best_i == start - 1:  # the checkpoint itself is the best so far
            weights = model.get_weights()
        elif Path(best_path).is_file():
            weights = load_model(best_path).get_weights()
        else:
            print(f"warning: {best_path} is missing; early stopping chooses among the "
                  "resumed epochs only", file=sys.stderr, flush=True)
            return
        self._prior = (losses[best_i], best_i, start - 1 - best_i, weights)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._prior is not None:
            self._tracker.best, self.best_epoch, self.wait, self.best_weights = \
                self._prior


class _SaveBest(Callback):
    """Writes the model to ``path`` after each epoch early stopping takes as its new
    best (what a resumed run needs to put those weights back)."""

    def __init__(self, stopper, path):
        self.stopper, self.path = stopper, path

    def on_epoch_end(self, epoch, logs=None):
        if self.stopper.best_epoch == epoch and self.stopper.best_weights is not None:
            self.model.save(self.path)


def _earlier_history(csv_path, start):
    """Epochs 1..start of a resumed run as history lists, read from its ``history.csv``.

    The CSV has one row per finished epoch (``epoch`` 0-based, then the logs); a later
    row for the same epoch (a run resumed twice) replaces an earlier one. Epochs the CSV
    lacks (deleted or damaged file) are left out, with a warning on stderr: the history
    then shows the gap in its ``epoch`` numbers instead of renumbering.
    """
    import csv

    rows = {}
    try:
        with open(csv_path, newline="") as f:
            for row in csv.DictReader(f):
                try:
                    epoch = int(row.pop("epoch"))
                    rows[epoch] = {k: float(v) for k, v in row.items()
                                   if k is not None and v not in (None, "", "NA")}
                except (KeyError, TypeError, ValueError):
                    continue  # a damaged row: its epoch is reported missing below
    except (OSError, UnicodeDecodeError, csv.Error):
        rows = {}
    lost = [e + 1 for e in range(start) if e not in rows]
    if lost:
        print(f"warning: {csv_path} lacks epochs {lost}; metrics.json's history and "
              "history.png leave them out", file=sys.stderr, flush=True)
    epochs = [e for e in range(start) if e in rows]
    keys = sorted({k for e in epochs for k in rows[e]})
    return {"epoch": [e + 1 for e in epochs],
            **{k: [rows[e].get(k) for e in epochs] for k in keys}}


def _merge_history(earlier, later):
    """Concatenate two histories (dicts of per-epoch lists with an ``epoch`` list); a
    value one of them lacks is None."""
    n1, n2 = len(earlier["epoch"]), len(later["epoch"])
    keys = list(later) + [k for k in earlier if k not in later]
    return {k: list(earlier.get(k, [None] * n1)) + list(later.get(k, [None] * n2))
            for k in keys}


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
    if isinstance(model.fusion, AttentionFusion) and len(modalities) > 1:
        model.predict(xte, batch_size=len(yte))
        weights = backend.to_numpy(model.fusion.last_attention).mean(axis=0)
        plots.plot_attention(weights, modalities, out / "attention.png")
    else:  # no attention map for this run: an older run's must not pass for this one's
        (out / "attention.png").unlink(missing_ok=True)


_RUN_KEYS = ("data", "seed", "modalities", "test_accuracy")


def _read_run(metrics_path):
    """``metrics.json`` of a run as a dict; ValueError naming the file if unusable."""
    try:
        run = json.loads(metrics_path.read_text())
    except OSError as exc:
        raise ValueError(f"{metrics_path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{metrics_path}: damaged metrics.json, not valid JSON ({exc})") \
            from None
    if not isinstance(run, dict):
        raise ValueError(f"{metrics_path}: damaged metrics.json (expected an object, "
                         f"got {type(run).__name__})")
    lost = [k for k in _RUN_KEYS if k not in run]
    if lost:
        raise ValueError(f"{metrics_path}: metrics.json lacks {lost}; was it written by "
                         "'mmscratch train'?")
    return run


def evaluate(args):
    from .errors import DataError
    from .nn.model import load_model

    path = Path(args.model)
    if path.is_dir():
        path = path / "model.npz"
    metrics_path = path.with_name("metrics.json")
    if not path.is_file():
        raise ValueError(f"{path}: model file not found; give the run folder that train "
                         "wrote (default runs/latest) or its model.npz")
    if not metrics_path.is_file():
        raise ValueError(f"{metrics_path} not found; evaluate needs the metrics.json that "
                         "train wrote next to the model")
    run = _read_run(metrics_path)
    recorded = run.get("model_sha256")
    if recorded is not None and recorded != _sha256(path):
        raise ValueError(f"{path}: this model.npz does not belong to {metrics_path} (its "
                         "SHA-256 differs from the one train recorded); it was replaced "
                         "or modified after that run")
    backend.xp()  # an unusable $MMSCRATCH_BACKEND fails here, before loading data
    try:
        model = load_model(path)
    except DataError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: cannot rebuild the model ({type(exc).__name__}: {exc})") \
            from None
    data = _load_data(run["data"], args.data_dir, run["seed"])
    xte, yte = _split(data["test"], run["modalities"])
    acc, _ = _accuracy(model, xte, yte)
    print(f"test accuracy: {acc:.4f} (recorded at training: {run['test_accuracy']:.4f})")
    return acc


def main(argv=None):
    """Parse ``argv`` and run the command; returns its result (metrics dict or accuracy).

    Errors propagate as exceptions (for tests and scripts); :func:`cli` turns them
    into one ``error:`` line.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    if getattr(args, "resume", None):
        args = _resume_settings(args, argv)
    if args.backend:
        backend.use(args.backend)
    return train(args) if args.command == "train" else evaluate(args)


def cli(argv=None):
    """Entry point of ``python -m mmscratch`` and of the installed ``mmscratch`` command.

    Runs :func:`main`; a user's error (bad option value, missing or damaged file,
    unusable backend, unwritable output) becomes one ``error: ...`` line on stderr and
    exit status 1 instead of a traceback (set ``MMSCRATCH_TRACEBACK=1`` to see it).
    Returns 0 on success, as console scripts expect.
    """
    try:
        main(sys.argv[1:] if argv is None else argv)
    except (ValueError, OSError, backend.BackendError) as exc:  # DataError is a ValueError
        if os.environ.get("MMSCRATCH_TRACEBACK"):
            raise
        sys.exit(f"error: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
