"""Keras-style training callbacks: hooks that ``Model.fit`` calls around epochs and batches.

``fit(..., callbacks=[...])`` calls, in this order::

    on_train_begin
      on_epoch_begin(epoch)
        on_train_batch_begin(batch) / on_train_batch_end(batch, logs={"loss", "accuracy"})
      on_epoch_end(epoch, logs={"loss", "accuracy", "val_loss", "val_accuracy", "lr"})
    on_train_end

``epoch`` counts from 0 (from ``initial_epoch`` when a run resumes), as in Keras. A
callback reaches the model as ``self.model``; setting ``model.stop_training = True``
ends training after the current epoch. The names, arguments and defaults follow
``keras.callbacks`` (Keras 3), so code written for Keras reads the same here.

Chapter: chapters/02-core-concepts.md ("Training: callbacks and resuming").
"""

from __future__ import annotations

import csv
import math
import os
import sys

from ..errors import check_count, check_real

__all__ = ["Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger"]


class Callback:
    """Base class: every hook does nothing; subclasses override the ones they need."""

    model = None
    params: dict = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class CallbackList:
    """Calls one hook on every callback in order (what ``fit`` talks to)."""

    def __init__(self, callbacks, model, params):
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"fit: callbacks must be Callback instances, got "
                                f"{type(cb).__name__}")
            cb.set_model(model)
            cb.set_params(params)
        self.callbacks = callbacks

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)
        return call


# ------------------------------------------------------------------ monitoring helpers
def _check_mode(mode, where):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{where}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode


def _is_max_mode(mode, monitor):
    # Keras' "auto": accuracies (and AUCs) improve upwards, everything else downwards.
    if mode == "auto":
        return "acc" in monitor or monitor.endswith("auc")
    return mode == "max"


class _Monitor:
    """Tracks the best value of ``monitor``: improvement means better by more than
    ``min_delta`` (downwards in min mode, upwards in max mode)."""

    def __init__(self, monitor, mode, min_delta):
        self.monitor = monitor
        self.maximize = _is_max_mode(mode, monitor)
        self.min_delta = abs(min_delta)
        self.best = -math.inf if self.maximize else math.inf

    def current(self, logs, where):
        logs = logs or {}
        if self.monitor not in logs:
            available = ", ".join(sorted(logs)) or "none"
            raise KeyError(f"{where}: monitored metric {self.monitor!r} is not in the logs "
                           f"(available: {available}); pass validation_data or "
                           "validation_split to fit for the 'val_' metrics")
        return float(logs[self.monitor])

    def is_improvement(self, value, reference=None):
        ref = self.best if reference is None else reference
        if self.maximize:
            return value - self.min_delta > ref
        return value + self.min_delta < ref


# ------------------------------------------------------------------ EarlyStopping
class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Keras' rule: after each epoch ``wait += 1``; an improvement (by more than
    ``min_delta``) records the best value and epoch, and resets ``wait`` to 0 when it
    also beats ``baseline``; training stops once ``wait >= patience`` (never after the
    first epoch). With ``restore_best_weights`` the weights of the best epoch are put
    back when training ends (stopped early or not).

    Attributes: ``best``, ``best_epoch``, ``stopped_epoch`` (0 when it never stopped),
    ``wait``.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        where = "EarlyStopping"
        self.monitor = monitor
        self.min_delta = check_real(min_delta, "min_delta", where=where)
        self.patience = check_count(patience, "patience", where=where, minimum=0)
        self.verbose = verbose
        self.mode = _check_mode(mode, where)
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_count(start_from_epoch, "start_from_epoch",
                                            where=where, minimum=0)

    def on_train_begin(self, logs=None):
        self._tracker = _Monitor(self.monitor, self.mode, self.min_delta)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None

    @property
    def best(self):
        return self._tracker.best

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        value = self._tracker.current(logs, "EarlyStopping")
        self.wait += 1
        if self._tracker.is_improvement(value):
            self._tracker.best = value
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._tracker.is_improvement(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", file=sys.stderr)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.", file=sys.stderr)
            self.model.set_weights(self.best_weights)


# ------------------------------------------------------------------ ModelCheckpoint
class ModelCheckpoint(Callback):
    """Save the model (weights, optimizer state and epoch: a resumable checkpoint) after
    every epoch, or only when ``monitor`` improved (``save_best_only``).

    ``filepath`` may hold Keras-style fields filled from the epoch (1-based) and the
    logs, e.g. ``"runs/ckpt-{epoch:02d}-{val_loss:.3f}.npz"``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 mode="auto"):
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.mode = _check_mode(mode, "ModelCheckpoint")

    def on_train_begin(self, logs=None):
        self._tracker = _Monitor(self.monitor, self.mode, 0.0)

    @property
    def best(self):
        return self._tracker.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = self._tracker.current(logs, "ModelCheckpoint")
            if not self._tracker.is_improvement(value):
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{value:.5f}, saving model to {path}", file=sys.stderr)
            self._tracker.best = value
        self.model.save(path)


# ------------------------------------------------------------------ learning rate
def _set_lr(model, lr, where):
    if model.optimizer is None:
        raise RuntimeError(f"{where}: the model has no optimizer; call compile first")
    model.optimizer.lr = float(lr)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has stalled for
    ``patience`` epochs (Keras' rule, with ``cooldown`` epochs of rest after a cut and
    a floor ``min_lr``): lr <- max(lr * factor, min_lr)."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        where = "ReduceLROnPlateau"
        self.monitor = monitor
        self.factor = check_real(factor, "factor", where=where, low=0, high=1,
                                 low_open=True, high_open=True)
        self.patience = check_count(patience, "patience", where=where, minimum=0)
        self.verbose = verbose
        self.mode = _check_mode(mode, where)
        self.min_delta = check_real(min_delta, "min_delta", where=where)
        self.cooldown = check_count(cooldown, "cooldown", where=where, minimum=0)
        self.min_lr = check_real(min_lr, "min_lr", where=where, low=0)

    def on_train_begin(self, logs=None):
        self._tracker = _Monitor(self.monitor, self.mode, self.min_delta)
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(self.model.optimizer.lr)
        value = self._tracker.current(logs, "ReduceLROnPlateau")
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._tracker.is_improvement(value):
            self._tracker.best = value
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.lr)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    _set_lr(self.model, new, "ReduceLROnPlateau")
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new:g}.", file=sys.stderr)
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch: ``lr = schedule(epoch, lr)``
    (``schedule(epoch)`` with one argument works too, as in Keras)."""

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got "
                            f"{type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.model.optimizer.lr)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:  # a one-argument schedule(epoch)
            new = self.schedule(epoch)
        new = check_real(new, "the schedule's learning rate", where="LearningRateScheduler",
                         low=0, low_open=True)
        _set_lr(self.model, new, "LearningRateScheduler")
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {new:g}.",
                  file=sys.stderr)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(self.model.optimizer.lr)


# ------------------------------------------------------------------ CSVLogger
class CSVLogger(Callback):
    """Append one row per epoch (``epoch`` and every log value) to a CSV file.

    ``append=True`` continues an existing file (what a resumed run wants); otherwise the
    file is started afresh. Rows are flushed at each epoch so a crash loses nothing.
    """

    def __init__(self, filename, separator=",", append=False):
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self._file = None

    def on_train_begin(self, logs=None):
        exists = os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._keys = None
        if self.append and exists:
            with open(self.filename, newline="") as f:
                header = f.readline().strip()
            self._keys = header.split(self.separator)[1:] if header else None
        folder = os.path.dirname(os.path.abspath(self.filename))
        os.makedirs(folder, exist_ok=True)
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self._keys is None:
            self._keys = sorted(logs)
            csv.writer(self._file, delimiter=self.separator).writerow(["epoch", *self._keys])
        row = [epoch] + [logs.get(k, "NA") for k in self._keys]
        csv.writer(self._file, delimiter=self.separator).writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
