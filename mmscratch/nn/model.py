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

import importlib
import json
import os
import pkgutil
import sys
import tempfile

import numpy as np
from tqdm import tqdm

from .. import backend
from .._safe_io import new_file_mode, read_npz
from ..errors import DataError, check_array, check_count, check_real
from . import losses as losses_mod
from . import optimizers as optimizers_mod
from .layer import Layer, input_grad_skipped

__all__ = ["Model", "MODEL_REGISTRY", "save_model", "load_model", "CHECKPOINT_VERSION",
           "model_members", "model_from_members", "write_checkpoint", "read_checkpoint",
           "json_member", "json_from_member", "optimizer_from_members"]

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


def epoch_seed(seed, epoch):
    """An int seed derived from (seed, epoch) alone: the random stream of one epoch."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


def _epoch_rng(seed, epoch):
    """The host Generator of epoch ``epoch``: a function of (seed, epoch) only."""
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng([int(seed), int(epoch)])


def _split_last(x, y, n, fraction):
    """Keras' validation_split: the last ``floor(n * fraction)`` samples, unshuffled."""
    split_at = int(np.floor(n * (1.0 - fraction)))
    if split_at < 1 or split_at >= n:
        raise ValueError(f"fit: validation_split={fraction} leaves {split_at} training and "
                         f"{n - split_at} validation samples out of {n}; both need at least 1")
    xp = backend.xp()
    train, val = xp.arange(split_at), xp.arange(split_at, n)
    return _take(x, train), y[train], (_take(x, val), y[val])


def _walk(root):
    """Every Layer/Model object reachable from ``root`` through attributes, lists and
    dicts (each once), so training code can reach nested random layers."""
    seen, stack = set(), [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if obj is not root:
            yield obj
        values = obj.values() if isinstance(obj, dict) else \
            obj if isinstance(obj, (list, tuple)) else \
            vars(obj).values() if hasattr(obj, "__dict__") and _is_block(obj) else ()
        for v in values:
            if isinstance(v, (list, tuple, dict)) or _is_block(v):
                stack.append(v)


def _is_block(obj):
    return isinstance(obj, (Layer, Model))


#: Every Model subclass by class name, so that a checkpoint can name its class. Classes
#: register themselves when defined (``Model.__init_subclass__``), in whatever package;
#: a class with its own checkpoint layout that is not a Model (the contrastive dual
#: encoder) registers itself here too and provides ``_from_checkpoint`` (see load_model).
MODEL_REGISTRY: dict[str, type] = {}

#: The package this one lives in ("mmscratch"); checkpoints may only import below it.
_PACKAGE = __name__.split(".")[0]


def registered_class(registry, name, module=None):
    """The class a checkpoint names, from ``registry`` (MODEL_REGISTRY, LAYER_REGISTRY).

    A class registers itself when its module is imported, so ``nn`` needs no list of the
    packages built on top of it. When ``name`` is not registered yet, the module the
    checkpoint recorded is imported (only modules inside this package: a file cannot make
    the loader import anything else); checkpoints older than that record are served by
    importing this package's subpackages in turn until one registers the name.

    Raises ``KeyError`` naming the class when nothing registers it.
    """
    if name not in registry and isinstance(module, str) and (
            module == _PACKAGE or module.startswith(_PACKAGE + ".")):
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # renamed or moved since the file was written: search below
    if name not in registry:
        root = importlib.import_module(_PACKAGE)
        for info in pkgutil.iter_modules(root.__path__):
            if info.ispkg:
                importlib.import_module(f"{_PACKAGE}.{info.name}")
            if name in registry:
                break
    if name not in registry:
        raise KeyError(f"no registered class {name!r} (register_layer / a Model subclass)")
    return registry[name]


class Model:
    """Keras-style training API over an explicit forward/backward network."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        MODEL_REGISTRY[cls.__name__] = cls

    optimizer = None
    loss = None
    metrics = ()
    input_spec = None
    #: Epochs finished so far (saved in checkpoints; ``fit(initial_epoch=...)`` resumes).
    completed_epochs = 0
    stop_training = False

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
        with input_grad_skipped(self.input_layers()):  # dL/d(data) is never used
            self.backward(self.loss.backward())
        self.optimizer.step(self)
        return loss, self._correct(out, yb)

    def input_layers(self):
        """Layers whose input is the model's input (their input gradient is unused in
        training). Subclasses list them; the default (none) keeps every gradient."""
        return []

    def _correct(self, out, yb):
        if not self.metrics:
            return None
        pred = out.argmax(axis=-1)
        truth = yb if yb.ndim == 1 else yb.argmax(axis=-1)
        return (pred == truth).sum()

    # ------------------------------------------------------------- loops
    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, shuffle=True,
            seed=0, verbose=1, callbacks=None, validation_split=0.0, initial_epoch=0):
        """Train for epochs ``initial_epoch .. epochs-1`` in mini-batches; returns the history.

        Keras' meaning of the arguments: ``epochs`` is the index of the last epoch (so
        ``fit(epochs=4, initial_epoch=2)`` runs two more epochs after a checkpoint saved
        at epoch 2), ``validation_split`` holds out the *last* fraction of the samples
        (before any shuffling) and reports ``val_loss``/``val_accuracy`` on them,
        ``callbacks`` is a list of :mod:`mmscratch.nn.callbacks` objects.

        Reproducibility and resuming: the shuffle order of epoch k and the random
        streams of seeded layers (``Dropout(seed=...)``, modality dropout) in epoch k are
        drawn from ``(seed, k)`` alone, so 2 epochs, ``save``, ``load`` and 2 more
        (``initial_epoch=2``) give bit-identical weights to 4 straight epochs. The tqdm
        bar shows the running loss and accuracy; the history holds per-epoch ``loss``,
        ``accuracy`` and, with validation data, ``val_loss``/``val_accuracy``.

        Raises ``ValueError`` for non-positive ``epochs``/``batch_size``, ``initial_epoch``
        not below ``epochs``, a ``validation_split`` outside [0, 1) or given together
        with ``validation_data``, mismatched sample counts, NaN/inf inputs.
        """
        from .callbacks import CallbackList

        self._require_compiled()
        epochs = check_count(epochs, "epochs", where="fit")
        batch_size = check_count(batch_size, "batch_size", where="fit")
        initial_epoch = check_count(initial_epoch, "initial_epoch", where="fit", minimum=0)
        if initial_epoch >= epochs:
            raise ValueError(f"fit: initial_epoch={initial_epoch} must be below epochs={epochs} "
                             "(epochs is the index of the last epoch, as in Keras)")
        validation_split = check_real(validation_split, "validation_split", where="fit",
                                      low=0.0, high=1.0, high_open=True)
        x, y = _to_backend(x, "x"), _to_backend(y, "y")
        _check_finite(x, "x")
        n = _n_samples(x)
        if int(y.shape[0]) != n:
            raise ValueError(f"fit: x has {n} samples but y has {int(y.shape[0])}")
        if validation_split > 0:
            if validation_data is not None:
                raise ValueError("fit: pass validation_data or validation_split, not both")
            x, y, validation_data = _split_last(x, y, n, validation_split)
            n = _n_samples(x)
        if validation_data is not None:
            validation_data = (_to_backend(validation_data[0], "validation x"),
                               _to_backend(validation_data[1], "validation y"))
        history = {"loss": []}
        if self.metrics:
            history["accuracy"] = []
        self.stop_training = False
        cbs = CallbackList(callbacks, self, {"epochs": epochs, "batch_size": batch_size,
                                             "samples": n, "verbose": verbose})
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            epoch_rng = _epoch_rng(seed, epoch)
            self._reseed_layers(epoch)
            order = epoch_rng.permutation(n) if shuffle else np.arange(n)
            bar = tqdm(range(0, n, batch_size), desc=f"epoch {epoch + 1}/{epochs}",
                       disable=not verbose, file=sys.stderr, leave=True, dynamic_ncols=True)
            total_loss, total_correct = 0.0, 0
            for batch, start in enumerate(bar):
                cbs.on_train_batch_begin(batch)
                idx = backend.asarray(order[start:start + batch_size])
                xb, yb = _take(x, idx), y[idx]
                loss, correct = self.train_step(xb, yb)
                nb = int(idx.shape[0])
                total_loss += loss * nb
                postfix = {"loss": f"{total_loss / (start + nb):.4f}"}
                batch_logs = {"loss": float(loss)}
                if correct is not None:
                    total_correct += int(backend.to_numpy(correct))
                    postfix["acc"] = f"{total_correct / (start + nb):.4f}"
                    batch_logs["accuracy"] = int(backend.to_numpy(correct)) / nb
                bar.set_postfix(postfix, refresh=False)
                cbs.on_train_batch_end(batch, batch_logs)
            logs = {"loss": total_loss / n}
            if self.metrics:
                logs["accuracy"] = total_correct / n
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=max(batch_size, 256))
                logs.update({f"val_{k}": v for k, v in val.items()})
                if verbose:
                    msg = ", ".join(f"val_{k} {v:.4f}" for k, v in val.items())
                    print(f"epoch {epoch + 1}/{epochs}: {msg}", file=sys.stderr)
            bar.close()
            self.completed_epochs = epoch + 1
            cbs.on_epoch_end(epoch, logs)
            for k, v in logs.items():
                history.setdefault(k, []).append(v)
            if self.stop_training:
                break
        cbs.on_train_end()
        return history

    # ------------------------------------------------------------- weights
    def get_weights(self):
        """Host copies of every parameter, in ``parameters()`` order, then every
        non-trainable state array (BatchNormalization's moving statistics), as Keras'
        ``get_weights`` lists trainable and non-trainable weights."""
        return ([backend.to_numpy(owner.params[key]).copy() for owner, key in self.parameters()]
                + [backend.to_numpy(owner.state[key]).copy() for owner, key in _states(self)])

    def set_weights(self, weights):
        """Write arrays from :meth:`get_weights` back, in place (shapes must match)."""
        slots = [(owner.params, owner, key) for owner, key in self.parameters()] + \
                [(owner.state, owner, key) for owner, key in _states(self)]
        if len(weights) != len(slots):
            raise ValueError(f"set_weights: got {len(weights)} arrays, the model has "
                             f"{len(slots)} (parameters and state)")
        for (store, owner, key), w in zip(slots, weights):
            p = store[key]
            if tuple(w.shape) != tuple(p.shape):
                raise ValueError(f"set_weights: {owner.name}.{key} has shape {tuple(p.shape)}, "
                                 f"got {tuple(w.shape)}")
            p[...] = backend.asarray(w, dtype=p.dtype)

    def _reseed_layers(self, epoch):
        """Give every seeded random layer (and this model, for its own draws) the stream
        of this epoch: a function of the layer's seed and ``epoch`` (see ``fit``)."""
        for obj in [self, *_walk(self)]:
            reseed = getattr(obj, "reseed", None)
            if callable(reseed):
                reseed(epoch)

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
    write_checkpoint(path, model_members(model))


def json_member(obj):
    """A JSON-able object as a 0-d string member (no pickles in a checkpoint)."""
    return np.array(json.dumps(obj))


def model_members(model, what="the model"):
    """One model's checkpoint members: ``__config__`` (class, constructor config, input
    spec), ``param:i:owner.key``, ``state:i:owner.key`` and, when compiled, the training
    state (``__training__`` and ``optim:*``); :func:`model_from_members` inverts it.

    Other checkpoints (the contrastive dual encoder) store one such set per sub-model
    under a prefix. Raises ``RuntimeError`` when ``model`` never saw an input.
    """
    if model.input_spec is None:
        raise RuntimeError(f"save: {what} has never seen an input; call fit or predict first")
    # "module" lets load_model import the class's own module when it is not registered
    # yet (a MultimodalClassifier loaded by a script that only imported mmscratch.nn).
    config = {"class": type(model).__name__, "module": type(model).__module__,
              "config": model.get_config(), "input_spec": model.input_spec}
    arrays = {"__config__": json_member(config)}
    pairs = list(model.parameters())
    for i, (owner, key) in enumerate(pairs):
        arrays[f"param:{i}:{owner.name}.{key}"] = backend.to_numpy(owner.params[key])
    if model.optimizer is not None and model.loss is not None:
        # What resuming needs: optimizer state (moments, step counts), loss, epoch.
        opt_meta, opt_arrays = model.optimizer.get_state(pairs)
        training = {"optimizer": opt_meta,
                    "loss": {"class": type(model.loss).__name__,
                             "config": model.loss.get_config()},
                    "metrics": list(model.metrics),
                    "completed_epochs": int(getattr(model, "completed_epochs", 0))}
        arrays["__training__"] = json_member(training)
        for name, arr in opt_arrays.items():
            arrays[f"optim:{name}"] = arr
    for i, (owner, key) in enumerate(_states(model)):
        arrays[f"state:{i}:{owner.name}.{key}"] = backend.to_numpy(owner.state[key])
    return arrays


def write_checkpoint(path, members):
    """Write ``members`` (host arrays) after the format tag and version to ``path``,
    atomically: a temporary file in the same folder renamed into place."""
    path = os.fspath(path)
    arrays = {"__format__": np.array(_MAGIC), "__version__": np.array(CHECKPOINT_VERSION),
              **members}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz.tmp", dir=folder)
    try:
        os.chmod(tmp, new_file_mode())  # mkstemp's 0600 -> what open() would give (0644)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _states(model):
    """``(owner, key)`` for the non-trainable state of every layer that owns parameters.

    Layers keep such state (BatchNormalization's moving statistics) in a ``state`` dict
    beside ``params``; no optimizer steps it, but checkpoints must hold it.
    """
    seen = set()
    for owner, _ in model.parameters():
        if id(owner) in seen:
            continue
        seen.add(id(owner))
        for key in getattr(owner, "state", None) or {}:
            yield owner, key


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


def _stored_members(data, prefix, n_expected, what, where, class_name):
    """The names of ``data``'s ``prefix`` members (``param:`` or ``state:``) in their
    stored order, or a ``DataError`` when a name is malformed or their number is not the
    rebuilt model's ``n_expected``."""
    try:
        stored = sorted((k for k in data if k.startswith(prefix)), key=_param_index)
    except DataError as exc:
        raise DataError(f"{where} {exc}") from None
    if len(stored) != n_expected:
        raise DataError(f"{where} checkpoint has {len(stored)} {what}, the rebuilt "
                        f"{class_name} has {n_expected} (another architecture?)")
    return stored


def read_checkpoint(path):
    """``(members, meta)`` of an mmscratch checkpoint: every member as a host array and
    the parsed ``__config__`` (a dict naming the class); ``DataError`` naming the file for
    a damaged or foreign file, another format version or an unreadable configuration."""
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
        meta = json_from_member(data, "__config__")
        if not isinstance(meta, dict) or not isinstance(meta.get("class"), str):
            raise ValueError("no class name")
    except Exception as exc:  # noqa: BLE001 - any malformed member is one DataError
        raise DataError(f"{path}: checkpoint configuration is invalid "
                        f"({type(exc).__name__}: {exc})") from None
    return data, meta


def json_from_member(data, key):
    """The JSON object stored by :func:`json_member` under ``key`` (ValueError if absent)."""
    text = _scalar(data, key, "U")
    if text is None:
        raise ValueError(f"member {key!r} is missing or not a string")
    return json.loads(str(text))


def load_model(path):
    """Load any checkpoint written by :func:`save_model`; raise ``DataError`` if it is not one.

    The file is read with :func:`mmscratch._safe_io.read_npz` (``allow_pickle=False``,
    every ``.npy`` header checked against its size before anything is allocated).
    Refused with a ``DataError`` naming the file: damaged or foreign files, another
    format version, a configuration that does not rebuild, parameters whose names,
    shapes or (non-float) dtypes do not match the rebuilt model.

    A registered class that is not a :class:`Model` but writes the same format (the
    contrastive dual encoder) is rebuilt by its own ``_from_checkpoint(path, members,
    meta)``, so this one function loads every mmscratch checkpoint.
    """
    path = os.fspath(path)
    data, meta = read_checkpoint(path)
    try:
        cls = registered_class(MODEL_REGISTRY, meta["class"], meta.get("module"))
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path}: checkpoint configuration is invalid "
                        f"({type(exc).__name__}: {exc})") from None
    if not issubclass(cls, Model):
        return cls._from_checkpoint(path, data, meta)
    return model_from_members(path, data)


def model_from_members(path, data, label=None):
    """Rebuild the model whose :func:`model_members` are ``data`` (names without any
    prefix); errors are ``DataError``s naming ``path`` (and ``label``, a sub-model)."""
    where = f"{path}: {label}:" if label else f"{path}:"
    try:
        meta = json_from_member(data, "__config__")
        cls = registered_class(MODEL_REGISTRY, meta["class"], meta.get("module"))
        if not issubclass(cls, Model):
            raise TypeError(f"{meta['class']} is not a Model")
        _check_spec(meta["input_spec"])
        model = cls.from_config(meta["config"])
        model.forward(_dummy(meta["input_spec"]), training=False)  # builds lazy layers
    except Exception as exc:  # a hostile config can fail anywhere in a constructor
        raise DataError(f"{where} checkpoint configuration is invalid "
                        f"({type(exc).__name__}: {exc})") from None
    model.input_spec = meta["input_spec"]
    pairs = list(model.parameters())
    stored = _stored_members(data, "param:", len(pairs), "parameters", where, meta["class"])
    for name, (owner, key) in zip(stored, pairs):
        arr = data[name]
        expected = f"{owner.name}.{key}"
        if name.split(":", 2)[2] != expected or arr.shape != tuple(owner.params[key].shape):
            raise DataError(f"{where} parameter {name} {arr.shape} does not match "
                            f"{expected} {tuple(owner.params[key].shape)} of the rebuilt model")
        if arr.dtype.kind != "f":
            raise DataError(f"{where} parameter {name} has dtype {arr.dtype}, expected floats")
        owner.params[key] = backend.asarray(arr)
        owner.grads[key] = backend.xp().zeros_like(owner.params[key])
    state_pairs = list(_states(model))
    stored = _stored_members(data, "state:", len(state_pairs), "state arrays", where,
                             meta["class"])
    for name, (owner, key) in zip(stored, state_pairs):
        arr = data[name]
        expected = f"{owner.name}.{key}"
        if (name.split(":", 2)[2] != expected or arr.shape != tuple(owner.state[key].shape)
                or arr.dtype.kind != "f"):
            raise DataError(f"{where} state {name} {arr.shape} {arr.dtype} does not match "
                            f"{expected} {tuple(owner.state[key].shape)} of the rebuilt model")
        owner.state[key] = backend.asarray(arr)
    if "__training__" in data:
        try:
            _restore_training(model, pairs, data)
        except Exception as exc:  # noqa: BLE001 - any malformed member is one DataError
            raise DataError(f"{where} optimizer/training state is invalid "
                            f"({type(exc).__name__}: {exc})") from None
    return model


def optimizer_from_members(pairs, opt_meta, data):
    """The optimizer ``opt_meta`` (from ``Optimizer.get_state``) describes, its state
    (the ``optim:*`` members of ``data``) set for the parameters ``pairs``."""
    opt_cls = optimizers_mod.OPTIMIZERS[opt_meta["class"]]
    optimizer = opt_cls(**opt_meta["config"])
    arrays = {k[len("optim:"):]: data[k] for k in data if k.startswith("optim:")}
    for name, arr in arrays.items():
        if arr.dtype.kind != "f":
            raise ValueError(f"optimizer array {name} has dtype {arr.dtype}")
    optimizer.set_state(pairs, opt_meta, arrays)
    return optimizer


def _restore_training(model, pairs, data):
    """Compile ``model`` with the checkpoint's optimizer (state included) and loss, and
    set ``completed_epochs``: what ``fit(initial_epoch=...)`` needs to resume."""
    meta = json_from_member(data, "__training__")
    optimizer = optimizer_from_members(pairs, meta["optimizer"], data)
    loss_cls = losses_mod.LOSSES[meta["loss"]["class"]]
    model.compile(optimizer=optimizer, loss=loss_cls(**meta["loss"]["config"]),
                  metrics=meta.get("metrics") or None)
    model.completed_epochs = int(meta.get("completed_epochs", 0))
