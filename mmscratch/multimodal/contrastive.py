"""Contrastive dual encoders: one tower per modality, a shared embedding space (CLIP-style).

Chapter: chapters/05-future.md (cross-modal feature learning and retrieval).
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from .. import backend, nn
from ..errors import DataError, check_array, check_count
from ..nn import initializers
from ..nn import model as ckpt  # the checkpoint format every mmscratch model writes
from ..nn.contrastive import InfoNCELoss, l2_normalize
from ..nn.layer import input_grad_skipped
from ..nn.sequential import Sequential

__all__ = ["ContrastiveDualEncoder", "DualEncoder", "build_dual_encoder"]


def _tower(block, key):
    if isinstance(block, Sequential):
        return block
    if isinstance(block, nn.Layer):
        return Sequential([block])
    if isinstance(block, (list, tuple)):
        return Sequential(list(block))
    raise TypeError(f"ContrastiveDualEncoder: tower {key!r} must be a Layer, a list of layers "
                    f"or a Sequential, got {type(block).__name__}")


class ContrastiveDualEncoder:
    """Two encoders f_a, f_b mapping paired samples of two modalities into one space.

        u_i = f_a(x_a,i) / ||f_a(x_a,i)||,   v_i = f_b(x_b,i) / ||f_b(x_b,i)||
        trained with the symmetric InfoNCE loss (:class:`mmscratch.nn.InfoNCELoss`):
        the pair (u_i, v_i) must score higher than (u_i, v_j) and (u_j, v_i), j != i.

    After training, cos(u, v) compares any recording with any image: cross-modal
    retrieval (rank a gallery by it), and zero-shot classification (label a recording
    by the class whose mean image embedding, its prototype, is closest) without a
    single audio label.

    Parameters
    ----------
    towers : dict of two entries {modality: Sequential | list of layers | Layer}
        Each tower maps its modality's batch to ``(N, D)``, the same D for both (end
        each with a linear ``Dense(D)``, the projection head of CLIP).
    loss : InfoNCELoss, optional
        Default ``InfoNCELoss(0.07, learnable=True)`` (CLIP's learnable temperature).

    Methods
    -------
    ``fit(x, epochs, batch_size, optimizer, seed)``: x a dict of the two paired arrays;
    returns ``{"loss": [...], "temperature": [...]}`` per epoch.
    ``encode(modality, x)``: L2-normalised embeddings ``(N, D)`` on the active backend.
    ``similarity(query_modality, x_query, gallery_modality, x_gallery)``: cosines (N, M).
    ``class_prototypes(modality, x, y)`` / ``zero_shot_predict(modality, x)``.
    ``save(path)`` / ``ContrastiveDualEncoder.load(path)``: a checkpoint in the format
    of ``Model.save`` (the same writer and reader, :mod:`mmscratch.nn.model`).

    Checkpoints hold everything: both towers (configuration, input spec, parameters,
    layer state), the loss's configuration and (learnable) temperature, the encoder's
    name, the optimizer of the last ``fit`` with its state (Adam's moments and step
    counts) and the epochs finished, and the zero-shot state (``classes_``,
    ``prototypes_``, ``prototype_modality_``) when set. After ``load``, ``encode``,
    ``similarity`` and ``zero_shot_predict`` give bit-identical numbers on the same
    backend, and ``fit(x, epochs=4, initial_epoch=2, seed=s)`` continues a run saved
    after 2 epochs to the same weights as 4 uninterrupted epochs with seed s.

    ``parameters()`` yields both towers' parameters and the loss's temperature, so one
    optimizer steps them all. The explicit backward routes dL/du, dL/dv (from the loss)
    through each tower. Source: Radford et al. 2021 (CLIP); for images and speech,
    Harwath et al. 2018 ("Jointly discovering visual objects and spoken words").
    Chapter: chapters/05-future.md.
    """

    def __init__(self, towers, loss=None, name=None):
        if not isinstance(towers, dict) or len(towers) != 2:
            raise ValueError("ContrastiveDualEncoder: towers must be a dict of exactly two "
                             f"modalities, got {towers!r:.80}")
        self.towers = {k: _tower(v, k) for k, v in towers.items()}
        for key, tower in self.towers.items():
            tower.name = key
        self.loss = loss if loss is not None else InfoNCELoss(0.07, learnable=True)
        if not isinstance(self.loss, InfoNCELoss):
            raise TypeError(f"ContrastiveDualEncoder: loss must be an InfoNCELoss, got "
                            f"{type(self.loss).__name__}")
        self.name = name or "ContrastiveDualEncoder"
        self.prototypes_ = None
        self.classes_ = None
        self.prototype_modality_ = None
        self.optimizer = None
        self.completed_epochs = 0

    @property
    def modalities(self):
        return list(self.towers)

    def parameters(self):
        for tower in self.towers.values():
            yield from tower.parameters()
        yield from self.loss.parameters()

    # ------------------------------------------------------------ checks
    def _modality(self, modality):
        if modality not in self.towers:
            raise ValueError(f"{self.name}: unknown modality {modality!r}; this encoder has "
                             f"{self.modalities}")
        return self.towers[modality]

    def _pairs(self, x):
        if not isinstance(x, dict) or sorted(x) != sorted(self.towers):
            got = sorted(x) if isinstance(x, dict) else type(x).__name__
            raise ValueError(f"{self.name}: expects a dict of paired arrays with keys "
                             f"{self.modalities}, got {got}")
        out = {}
        for key in self.towers:
            a = backend.asarray(x[key])
            check_array(a, f"x[{key!r}]", where=self.name, min_ndim=2, finite=True)
            out[key] = a
        sizes = {k: int(v.shape[0]) for k, v in out.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"{self.name}: paired arrays must have the same number of "
                             f"samples, got {sizes}")
        return out, next(iter(sizes.values()))

    # ------------------------------------------------------------ one step
    def forward(self, x, training=False):
        """(raw) tower outputs ``[z_a, z_b]`` for a dict of paired batches."""
        za, zb = (self.towers[k].forward(x[k], training=training) for k in self.towers)
        for key, z in zip(self.towers, (za, zb)):
            if z.ndim != 2:
                raise ValueError(f"{self.name}: tower {key!r} must end in (N, D), got shape "
                                 f"{tuple(z.shape)}")
        if za.shape[1] != zb.shape[1]:
            raise ValueError(f"{self.name}: both towers must end in the same width D, got "
                             f"{za.shape[1]} and {zb.shape[1]}")
        return [za, zb]

    def backward(self, dz):
        """[dL/dz_a, dL/dz_b] -> each tower; returns {modality: dL/dx}."""
        return {k: self.towers[k].backward(g) for k, g in zip(self.towers, dz)}

    def train_step(self, xb, optimizer):
        za, zb = self.forward(xb, training=True)
        value = self.loss.forward(za, zb)
        first = [layer for tower in self.towers.values() for layer in tower.input_layers()]
        with input_grad_skipped(first):  # dL/d(data) is never used in training
            self.backward(self.loss.backward())
        optimizer.step(self)
        return value

    # ------------------------------------------------------------ loops
    def fit(self, x, epochs=10, batch_size=64, optimizer=None, seed=0, verbose=0,
            initial_epoch=0):
        """Train on paired samples ``{modality_a: (N, ...), modality_b: (N, ...)}``.

        Each epoch visits a seeded random order in mini-batches of ``batch_size``; the
        other pairs of a batch are the negatives, so larger batches give a harder task.
        Returns the history dict (mean loss and temperature per epoch run).

        ``optimizer``: an Optimizer or a name; ``None`` (default) keeps the optimizer of
        the previous ``fit`` or of the loaded checkpoint, with its state, and uses
        ``"adam"`` when there is none. Passing one starts it afresh.
        ``epochs`` is the index of the last epoch, as in Keras: ``fit(x, epochs=4,
        initial_epoch=2, seed=s)`` runs epochs 2 and 3 with the shuffle orders that an
        uninterrupted ``fit(x, epochs=4, seed=s)`` would use (the seeded order of the
        epochs before is drawn and skipped), so a run saved after 2 epochs resumes
        exactly. Raises ``ValueError`` for ``initial_epoch`` not below ``epochs``.
        """
        where = f"{self.name}.fit"
        epochs = check_count(epochs, "epochs", where=where)
        batch_size = check_count(batch_size, "batch_size", where=where, minimum=2)
        initial_epoch = check_count(initial_epoch, "initial_epoch", where=where, minimum=0)
        if initial_epoch >= epochs:
            raise ValueError(f"{where}: initial_epoch={initial_epoch} must be below "
                             f"epochs={epochs} (epochs is the index of the last epoch)")
        x, n = self._pairs(x)
        if optimizer is not None or self.optimizer is None:
            self.optimizer = nn.optimizers.get("adam" if optimizer is None else optimizer)
        rng = initializers.make_rng(seed)
        for _ in range(initial_epoch):  # the orders of the epochs already run
            rng.permutation(n)
        history = {"loss": [], "temperature": []}
        for epoch in range(initial_epoch, epochs):
            order = rng.permutation(n)
            total = 0.0
            starts = range(0, n - 1, batch_size)  # a last batch of 1 has no negatives
            bar = tqdm(starts, desc=f"epoch {epoch + 1}/{epochs}", disable=not verbose,
                       file=sys.stderr)
            seen = 0
            for start in bar:
                idx = backend.asarray(order[start:start + batch_size])
                if int(idx.shape[0]) < 2:
                    continue
                nb = int(idx.shape[0])
                total += self.train_step({k: v[idx] for k, v in x.items()}, self.optimizer) * nb
                seen += nb
            history["loss"].append(total / max(seen, 1))
            history["temperature"].append(1.0 / self.loss.scale)
            self.completed_epochs = epoch + 1
        return history

    def encode(self, modality, x, batch_size=256):
        """L2-normalised embeddings ``(N, D)`` of one modality (inference mode)."""
        tower = self._modality(modality)
        x = backend.asarray(x)
        check_array(x, "x", where=f"{self.name}.encode", min_ndim=2, finite=True)
        xp = backend.xp()
        n = int(x.shape[0])
        outs = [tower.forward(x[s:s + batch_size], training=False)
                for s in range(0, n, batch_size)]
        return l2_normalize(xp.concatenate(outs, axis=0))[0]

    def similarity(self, query_modality, x_query, gallery_modality, x_gallery):
        """Cosine similarities ``(N_query, N_gallery)`` between two modalities' samples."""
        return self.encode(query_modality, x_query) @ self.encode(gallery_modality,
                                                                  x_gallery).T

    # ------------------------------------------------------------ zero-shot
    def class_prototypes(self, modality, x, y):
        """One prototype per class: the normalised mean embedding of its samples.

            p_c = mean_{i: y_i = c} u_i / ||mean_{i: y_i = c} u_i||

        Stores and returns ``classes_ (C,)`` and ``prototypes_ (C, D)``.
        """
        xp = backend.xp()
        u = self.encode(modality, x)
        y = backend.asarray(y)
        check_array(y, "y", where=f"{self.name}.class_prototypes", shape=(u.shape[0],),
                    dtype_kind="iu")
        classes, inverse = xp.unique(y, return_inverse=True)
        onehot = (inverse.reshape(-1)[:, None] == xp.arange(classes.shape[0])[None, :])
        sums = onehot.astype(u.dtype).T @ u  # (C, D)
        self.classes_, self.prototypes_ = classes, l2_normalize(sums)[0]
        self.prototype_modality_ = modality
        return self.classes_, self.prototypes_

    def zero_shot_predict(self, modality, x):
        """Label each sample by its nearest class prototype (cosine), across modalities."""
        if self.prototypes_ is None:
            from ..errors import NotFittedError  # noqa: PLC0415

            raise NotFittedError(f"{self.name}: call class_prototypes(modality, x, y) before "
                                 "zero_shot_predict")
        return self.classes_[(self.encode(modality, x) @ self.prototypes_.T).argmax(axis=1)]

    # ------------------------------------------------------------ checkpoints
    def save(self, path):
        """Write the encoder to ``path`` (.npz, atomically; see the class docstring).

        Members: ``tower{i}:*`` (each tower as ``Model.save`` writes a model), the loss's
        ``loss:param:*``, ``optim:*`` with ``__training__`` after a ``fit``, and
        ``zero_shot:classes`` / ``zero_shot:prototypes`` after ``class_prototypes``.
        Raises ``RuntimeError`` when a tower has never seen an input.
        """
        unbuilt = [k for k, tower in self.towers.items() if tower.input_spec is None]
        if unbuilt:
            raise RuntimeError(f"{self.name}.save: tower(s) {unbuilt} have never seen an "
                               "input (their weights do not exist yet); call fit, or "
                               "encode each modality, first")
        members = {}
        for i, (key, tower) in enumerate(self.towers.items()):
            for name, arr in ckpt.model_members(tower, what=f"tower {key!r}").items():
                members[f"tower{i}:{name}"] = arr
        config = {"name": self.name, "modalities": self.modalities,
                  "loss": {"class": type(self.loss).__name__,
                           "config": self.loss.get_config()},
                  "prototype_modality": self.prototype_modality_
                  if self.prototypes_ is not None else None}
        members["__config__"] = ckpt.json_member({"class": type(self).__name__,
                                             "module": type(self).__module__,
                                             "config": config})
        for i, (owner, key) in enumerate(self.loss.parameters()):
            members[f"loss:param:{i}:{owner.name}.{key}"] = backend.to_numpy(owner.params[key])
        if self.optimizer is not None:
            opt_meta, opt_arrays = self.optimizer.get_state(list(self.parameters()))
            members["__training__"] = ckpt.json_member({"optimizer": opt_meta,
                                                   "completed_epochs": self.completed_epochs})
            members.update({f"optim:{k}": v for k, v in opt_arrays.items()})
        if self.prototypes_ is not None:
            members["zero_shot:classes"] = backend.to_numpy(self.classes_)
            members["zero_shot:prototypes"] = backend.to_numpy(self.prototypes_)
        ckpt.write_checkpoint(path, members)

    @classmethod
    def load(cls, path):
        """Rebuild an encoder written by :meth:`save` (arrays on the active backend).

        Raises :class:`mmscratch.DataError` naming the file for a damaged file, one that
        holds another model (a Sequential's checkpoint), or members that do not fit.
        """
        enc = ckpt.load_model(path)
        if not isinstance(enc, cls):
            raise DataError(f"{path}: holds a {type(enc).__name__}, not a {cls.__name__}")
        return enc

    @classmethod
    def _from_checkpoint(cls, path, data, meta):
        """The loader :func:`mmscratch.nn.load_model` calls for this class's files."""
        try:
            config = meta["config"]
            names = config["modalities"]
            if not (isinstance(names, list) and len(names) == 2 and len(set(names)) == 2
                    and all(isinstance(m, str) for m in names)):
                raise ValueError(f"modalities {names!r} are not two distinct names")
            if config["loss"]["class"] != "InfoNCELoss":
                raise ValueError(f"loss {config['loss']['class']!r} is not InfoNCELoss")
            loss = InfoNCELoss(**config["loss"]["config"])
            name = config.get("name")
            if name is not None and not isinstance(name, str):
                raise ValueError(f"name {name!r} is not a string")
        except Exception as exc:  # noqa: BLE001 - any malformed member is one DataError
            raise DataError(f"{path}: dual encoder configuration is invalid "
                            f"({type(exc).__name__}: {exc})") from None
        towers = {}
        for i, key in enumerate(names):
            prefix = f"tower{i}:"
            sub = {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix)}
            tower = ckpt.model_from_members(path, sub, label=f"tower {key!r}")
            if not isinstance(tower, Sequential):
                raise DataError(f"{path}: tower {key!r} holds a {type(tower).__name__}, "
                                "not a Sequential")
            towers[key] = tower
        enc = cls(towers, loss, name=name)
        try:
            enc._restore(data, config)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{path}: dual encoder state is invalid "
                            f"({type(exc).__name__}: {exc})") from None
        return enc

    def _restore(self, data, config):
        """Temperature, optimizer and zero-shot state from checkpoint members."""
        xp = backend.xp()
        stored = sorted(k for k in data if k.startswith("loss:param:"))
        pairs = list(self.loss.parameters())
        if [k.split(":", 3)[3] for k in stored] != [f"{o.name}.{k}" for o, k in pairs]:
            raise ValueError(f"loss parameters {stored} do not match the loss "
                             f"{self.loss.get_config()}")
        for name, (owner, key) in zip(stored, pairs):
            arr = data[name]
            if arr.shape != tuple(owner.params[key].shape) or arr.dtype.kind != "f":
                raise ValueError(f"{name} has shape {arr.shape} and dtype {arr.dtype}, "
                                 f"expected {tuple(owner.params[key].shape)} floats")
            owner.params[key] = backend.asarray(arr)
            owner.grads[key] = xp.zeros_like(owner.params[key])
        if "__training__" in data:
            training = ckpt.json_from_member(data, "__training__")
            self.optimizer = ckpt.optimizer_from_members(list(self.parameters()),
                                                    training["optimizer"], data)
            self.completed_epochs = check_count(training["completed_epochs"],
                                                "completed_epochs", minimum=0)
        modality = config.get("prototype_modality")
        if modality is None:
            return
        self._modality(modality)
        classes, protos = data["zero_shot:classes"], data["zero_shot:prototypes"]
        spec = self.towers[modality].input_spec
        width = self.towers[modality].forward(
            xp.zeros((1, *spec["shape"]), dtype=spec["dtype"])).shape[1]
        if classes.ndim != 1 or classes.dtype.kind not in "iu" or protos.dtype.kind != "f" \
                or protos.shape != (classes.shape[0], width):
            raise ValueError(f"zero-shot classes {classes.shape} {classes.dtype} and "
                             f"prototypes {protos.shape} {protos.dtype} do not fit "
                             f"(C,) integers and (C, {width}) floats")
        self.classes_, self.prototypes_ = backend.asarray(classes), backend.asarray(protos)
        self.prototype_modality_ = modality


#: The DESIGN.md name.
DualEncoder = ContrastiveDualEncoder

# Checkpoints name their class; nn.load_model finds this one (and its _from_checkpoint)
# in the registry of Model classes although it is not a Model.
ckpt.MODEL_REGISTRY[ContrastiveDualEncoder.__name__] = ContrastiveDualEncoder


def build_dual_encoder(input_shapes, embed_dim=64, width=64, temperature=0.07, learnable=True,
                       audio_branch="cnn", seed=0):
    """The image + audio dual encoder trained on AV-MNIST: the classifier's branches
    (:func:`mmscratch.multimodal.build_model`'s small CNNs), each followed by a linear
    projection ``Dense(embed_dim)`` (CLIP's projection head).

    ``input_shapes``: ``{"image": (H, W, C), "audio": (T, n_mfcc)}``.
    """
    from .models import _audio_branch, _image_branch  # noqa: PLC0415

    embed_dim = check_count(embed_dim, "embed_dim", where="build_dual_encoder")
    towers = {"image": _image_branch(input_shapes["image"], width, seed)
              + [nn.Dense(embed_dim, seed=seed + 7)],
              "audio": _audio_branch(width, seed + 10, audio_branch, input_shapes.get("audio"))
              + [nn.Dense(embed_dim, seed=seed + 17)]}
    return ContrastiveDualEncoder(towers, InfoNCELoss(temperature, learnable=learnable))
