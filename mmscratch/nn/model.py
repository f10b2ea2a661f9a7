"""Training loop and checkpoints shared by ``Sequential`` and the multimodal classifier.

A subclass provides ``forward(x, training)``, ``backward(dy)``, ``parameters()`` and
``get_config()``/``from_config``; this base class adds the Keras-style
``compile / fit / evaluate / predict / save / load``.

Inputs may be one array or a dict of named arrays (one per modality). ``fit``,
``evaluate`` and ``predict`` accept host NumPy arrays and move them to the active
backend once, explicitly, at the start of the call; arrays already on the active
backend are used as they are.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import numpy as np
from tqdm import tqdm

from .. import backend
from .._safe_io import read_npz
from ..errors import DataError, check_array
from . import losses as losses_mod
from . import optimizers as optimizers_mod

__all__ = ["Model", "MODEL_REGISTRY", "save_model", "load_model", "CHECKPOINT_VERSION"]

#: Bumped whenever the checkpoint layout changes; older files are refused clearly.
CHECKPOINT_VERSION = 1
_MAGIC = "mmscratch-checkpoint"
#: Largest one-sample input (values) a checkpoint may ask load to build the model with.
_MAX_DUMMY = 1 << 24


def _n_samples(x):
    if isinstance(x, dict):
        sizes = {k: int(v.shape[0]) for k, v in x.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"all inputs must have the same batch size, got {sizes}")
        return next(iter(sizes.values()))
    return int(x.shape[0])


def _take(x, idx):
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    return x[idx]


def _to_backend(x, argument):
    """Move host arrays to the active backend once; refuse anything else."""
    if isinstance(x, dict):
        return {k: _to_backend(v, f"{argument}[{k!r}]") for k, v in x.items() if v is not None}
    if isinstance(x, np.ndarray) and backend.name() != "numpy":
        return backend.asarray(x)
    backend.check_backend(x, argument, "fit/evaluate/predict")
    return x


def _check_finite(x, argument):
    if isinstance(x, dict):
        for k, v in x.items():
            _check_finite(v, f"{argument}[{k!r}]")
    elif x.dtype.kind == "f":
        check_array(x, argument, where="Model", finite=True, allow_empty=False)


def _spec(x):
    if isinstance(x, dict):
        return {k: _spec(v) for k, v in x.items()}
    return {"shape": [int(d) for d in x.shape[1:]], "dtype": str(x.dtype)}


def _dummy(spec):
    if "shape" not in spec:
        return {k: _dummy(v) for k, v in spec.items()}
    return backend.xp().zeros((1, *spec["shape"]), dtype=spec["dtype"])


#: Every Model subclass by class name, so that a checkpoint can name its class.
MODEL_REGISTRY: dict[str, type] = {}


class Model:
    """Keras-style training API over an explicit forward/backward network."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        MODEL_REGISTRY[cls.__name__] = cls

    optimizer = None
    loss = None
    metrics = ()
    input_spec = None

    # ------------------------------------------------------------- compile
    def compile(self, optimizer="adam", loss="categorical_crossentropy", metrics=None):
        """Choose the optimizer and loss (objects, or the document's strings) and metrics.

        ``loss="categorical_crossentropy"`` expects probabilities (a softmax output
        layer, as in the document); use ``SoftmaxCrossEntropy()`` on logits.
        """
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses_mod.get(loss)
        metrics = list(metrics or [])
        unknown = [m for m in metrics if m not in ("accuracy", "acc")]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; only 'accuracy' is supported")
        self.metrics = ["accuracy"] if metrics else []
        return self

    def _require_compiled(self):
        if self.optimizer is None or self.loss is None:
            raise RuntimeError("call compile(optimizer, loss) before fit/evaluate")

    def _record_spec(self, x):
        if self.input_spec is None:
            self.input_spec = _spec(x)

    # ------------------------------------------------------------- one step
    def train_step(self, xb, yb):
        """forward, loss, backward, optimizer step on one batch; returns (loss, n_correct)."""
        out = self.forward(xb, training=True)
        loss = self.loss.forward(out, yb)
        self.backward(self.loss.backward())
        self.optimizer.step(self)
        return loss, self._correct(out, yb)

    def _correct(self, out, yb):
        if not self.metrics:
            return None
        pred = out.argmax(axis=-1)
        truth = yb if yb.ndim == 1 else yb.argmax(axis=-1)
        return (pred == truth).sum()

    # ------------------------------------------------------------- loops
    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, shuffle=True,
            seed=0, verbose=1):
        """Train for ``epochs`` passes over (x, y) in mini-batches; returns the history dict.

        The shuffle order comes from a NumPy Generator seeded with ``seed``, so a
        seeded run visits the same batches on every backend. The tqdm bar shows the
        running loss and accuracy; the history holds per-epoch ``loss``,
        ``accuracy`` and, with ``validation_data``, ``val_loss``/``val_accuracy``.
        """
        self._require_compiled()
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"fit: batch_size must be a positive int, got {batch_size!r}")
        x, y = _to_backend(x, "x"), _to_backend(y, "y")
        _check_finite(x, "x")
        n = _n_samples(x)
        if int(y.shape[0]) != n:
            raise ValueError(f"fit: x has {n} samples but y has {int(y.shape[0])}")
        if validation_data is not None:
            validation_data = (_to_backend(validation_data[0], "validation x"),
                               _to_backend(validation_data[1], "validation y"))
        rng = np.random.default_rng(seed)
        history = {"loss": []}
        if self.metrics:
            history["accuracy"] = []
        for epoch in range(epochs):
            order = rng.permutation(n) if shuffle else np.arange(n)
            bar = tqdm(range(0, n, batch_size), desc=f"epoch {epoch + 1}/{epochs}",
                       disable=not verbose, file=sys.stderr, leave=True, dynamic_ncols=True)
            total_loss, total_correct = 0.0, 0
            for start in bar:
                idx = backend.asarray(order[start:start + batch_size])
                xb, yb = _take(x, idx), y[idx]
                loss, correct = self.train_step(xb, yb)
                nb = int(idx.shape[0])
                total_loss += loss * nb
                postfix = {"loss": f"{total_loss / (start + nb):.4f}"}
                if correct is not None:
                    total_correct += int(backend.to_numpy(correct))
                    postfix["acc"] = f"{total_correct / (start + nb):.4f}"
                bar.set_postfix(postfix, refresh=False)
            history["loss"].append(total_loss / n)
            if self.metrics:
                history["accuracy"].append(total_correct / n)
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=max(batch_size, 256))
                for k, v in val.items():
                    history.setdefault(f"val_{k}", []).append(v)
                if verbose:
                    msg = ", ".join(f"val_{k} {v:.4f}" for k, v in val.items())
                    print(f"epoch {epoch + 1}/{epochs}: {msg}", file=sys.stderr)
            bar.close()
        return history

    def evaluate(self, x, y, batch_size=256):
        """Mean loss (and accuracy when compiled with it) over (x, y), in inference mode."""
        self._require_compiled()
        x, y = _to_backend(x, "x"), _to_backend(y, "y")
        n = _n_samples(x)
        total_loss, total_correct = 0.0, 0
        xp = backend.xp()
        for start in range(0, n, batch_size):
            idx = xp.arange(start, min(n, start + batch_size))
            out = self.forward(_take(x, idx), training=False)
            yb = y[idx]
            total_loss += self.loss.forward(out, yb) * int(idx.shape[0])
            correct = self._correct(out, yb)
            if correct is not None:
                total_correct += int(backend.to_numpy(correct))
        result = {"loss": total_loss / n}
        if self.metrics:
            result["accuracy"] = total_correct / n
        return result

    def predict(self, x, batch_size=256):
        """Outputs for x in inference mode, as an array of the active backend."""
        x = _to_backend(x, "x")
        _check_finite(x, "x")
        n = _n_samples(x)
        xp = backend.xp()
        outs = [self.forward(_take(x, xp.arange(s, min(n, s + batch_size))), training=False)
                for s in range(0, n, batch_size)]
        return xp.concatenate(outs, axis=0)

    # ------------------------------------------------------------- checkpoints
    def save(self, path):
        """Write the configuration and all parameters to ``path`` (.npz), atomically."""
        save_model(self, path)

    @classmethod
    def load(cls, path):
        """Rebuild a model saved with :meth:`save` (parameters on the active backend)."""
        model = load_model(path)
        if not isinstance(model, cls):
            raise DataError(f"{path}: holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def save_model(model, path):
    """Checkpoint: format tag and version, JSON config, parameters as host arrays.

    Written to a temporary file in the same folder and renamed into place, so a
    crash never leaves a half-written checkpoint under ``path``.
    """
    if model.input_spec is None:
        raise RuntimeError("save: the model has never seen an input; call fit or predict first")
    path = os.fspath(path)
    config = {"class": type(model).__name__, "config": model.get_config(),
              "input_spec": model.input_spec}
    arrays = {"__format__": np.array(_MAGIC), "__version__": np.array(CHECKPOINT_VERSION),
              "__config__": np.array(json.dumps(config))}
    for i, (owner, key) in enumerate(model.parameters()):
        arrays[f"param:{i}:{owner.name}.{key}"] = backend.to_numpy(owner.params[key])
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _check_spec(spec):
    """An input_spec from a file: positive int sizes, a numeric dtype, a bounded size."""
    if isinstance(spec, dict) and "shape" in spec:
        shape = spec["shape"]
        if not isinstance(shape, list) or not all(
                type(d) is int and d >= 1 for d in shape):
            raise ValueError(f"input_spec shape {shape!r} is not a list of positive ints")
        if int(np.prod(shape, dtype=np.float64)) > _MAX_DUMMY:
            raise ValueError(f"input_spec shape {shape!r} exceeds {_MAX_DUMMY} values")
        if np.dtype(spec.get("dtype")).kind not in "fiub":
            raise ValueError(f"input_spec dtype {spec.get('dtype')!r} is not numeric")
        return
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"input_spec {spec!r} is not a shape/dtype record")
    for value in spec.values():
        _check_spec(value)


def _scalar(data, key, kind):
    """A 0-d member of the given dtype kind(s), or None when absent or malformed."""
    value = data.get(key)
    if value is None or value.shape != () or value.dtype.kind not in kind:
        return None
    return value[()]


def _param_index(name):
    parts = name.split(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        raise DataError(f"malformed parameter name {name!r}")
    return int(parts[1])


def load_model(path):
    """Load any checkpoint written by :func:`save_model`; raise ``DataError`` if it is not one.

    The file is read with :func:`mmscratch._safe_io.read_npz` (``allow_pickle=False``,
    every ``.npy`` header checked against its size before anything is allocated).
    Refused with a ``DataError`` naming the file: damaged or foreign files, another
    format version, a configuration that does not rebuild, parameters whose names,
    shapes or (non-float) dtypes do not match the rebuilt model.
    """
    path = os.fspath(path)
    data = read_npz(path, what="mmscratch checkpoint")
    if _scalar(data, "__format__", "U") != _MAGIC:
        raise DataError(f"{path}: not an mmscratch checkpoint (format tag missing)")
    version = _scalar(data, "__version__", "iu")
    if version is None or int(version) != CHECKPOINT_VERSION:
        raise DataError(f"{path}: checkpoint format version "
                        f"{data.get('__version__', 'missing')!s}, this mmscratch reads "
                        f"version {CHECKPOINT_VERSION}")
    try:
        meta = json.loads(str(_scalar(data, "__config__", "U")))
        from .. import multimodal  # noqa: F401 - registers MultimodalClassifier

        cls = MODEL_REGISTRY[meta["class"]]
        _check_spec(meta["input_spec"])
        model = cls.from_config(meta["config"])
        model.forward(_dummy(meta["input_spec"]), training=False)  # builds lazy layers
    except Exception as exc:  # a hostile config can fail anywhere in a constructor
        raise DataError(f"{path}: checkpoint configuration is invalid "
                        f"({type(exc).__name__}: {exc})") from None
    model.input_spec = meta["input_spec"]
    try:
        stored = sorted((k for k in data if k.startswith("param:")), key=_param_index)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    pairs = list(model.parameters())
    if len(stored) != len(pairs):
        raise DataError(f"{path}: checkpoint has {len(stored)} parameters, the rebuilt "
                        f"{meta['class']} has {len(pairs)} (another architecture?)")
    for name, (owner, key) in zip(stored, pairs):
        arr = data[name]
        expected = f"{owner.name}.{key}"
        if name.split(":", 2)[2] != expected or arr.shape != tuple(owner.params[key].shape):
            raise DataError(f"{path}: parameter {name} {arr.shape} does not match "
                            f"{expected} {tuple(owner.params[key].shape)} of the rebuilt model")
        if arr.dtype.kind != "f":
            raise DataError(f"{path}: parameter {name} has dtype {arr.dtype}, expected floats")
        owner.params[key] = backend.asarray(arr)
        owner.grads[key] = backend.xp().zeros_like(owner.params[key])
    return model
