"""A classifier over a dict of modalities: one branch each, a fusion step, a head.

    h_m = branch_m(x_m)            for every modality m present
    z   = fusion([h_1, ..., h_M])  (concat, late, attention or tensor fusion)
    y   = head(z)                  (Dense layers ending in the class scores)

Backward runs the same path in reverse and routes dL/dh_m into branch m
explicitly. See chapters/04-code-example.md.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..nn.layer import LAYER_REGISTRY, Layer
from ..nn.model import Model, epoch_seed
from ..nn.sequential import Sequential

__all__ = ["MultimodalClassifier"]


def _as_sequential(block, what):
    if block is None or isinstance(block, Sequential):
        return block
    if isinstance(block, Layer):
        return Sequential([block])
    if isinstance(block, (list, tuple)):
        return Sequential(list(block))
    raise TypeError(f"MultimodalClassifier: {what} must be a Layer, a list of layers or a "
                    f"Sequential, got {type(block).__name__}")


class MultimodalClassifier(Model):
    """Multi-input model: ``{"image": ..., "audio": ..., "text": ...}`` -> class scores.

    Parameters
    ----------
    branches : dict[str, Sequential | list[Layer] | Layer]
        One feature extractor per modality; the dict order is the token order.
    fusion : FusionLayer
        :class:`ConcatFusion`, :class:`LateFusion`, :class:`AttentionFusion` or
        :class:`TensorFusion`.
    head : Sequential | list[Layer] | None
        Layers after the fusion (None for late fusion, whose branches end in logits).
    modality_dropout : float
        During training, drop each modality of each sample with this probability
        (at least one modality is always kept), so that the model still works when
        a modality is missing at test time.
    seed : int or None
        Seed of the modality-dropout draws.

    Notes
    -----
    At inference a modality may be left out of the input dict (or given as None):
    its branch is skipped and the fusion treats it as missing for every sample.
    """

    def __init__(self, branches, fusion, head=None, modality_dropout=0.0, seed=None, name=None):
        if not isinstance(branches, dict) or not branches:
            raise ValueError("MultimodalClassifier: branches must be a non-empty dict "
                             "{modality name: layers}")
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError("MultimodalClassifier: modality_dropout must be in [0, 1), "
                             f"got {modality_dropout!r}")
        self.name = name or "MultimodalClassifier"
        self.branches = {k: _as_sequential(v, f"branch {k!r}") for k, v in branches.items()}
        for key, branch in self.branches.items():
            branch.name = key
        self.fusion = fusion
        self.head = _as_sequential(head, "head")
        self.modality_dropout = float(modality_dropout)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._widths = {}

    def reseed(self, epoch):
        """Modality-dropout draws of epoch k from (seed, k) alone (see ``Model.fit``)."""
        if self.seed is not None:
            self._rng = np.random.default_rng(epoch_seed(self.seed, epoch))

    @property
    def modalities(self):
        return list(self.branches)

    # ---------------------------------------------------------------- forward
    def _check_inputs(self, x):
        if not isinstance(x, dict):
            raise ValueError(f"{self.name}: expects a dict of inputs with keys "
                             f"{self.modalities}, got {type(x).__name__}")
        unknown = sorted(set(x) - set(self.branches))
        if unknown:
            raise ValueError(f"{self.name}: unknown modalities {unknown}; "
                             f"this model has {self.modalities}")
        given = {k: v for k, v in x.items() if v is not None}
        if not given:
            raise ValueError(f"{self.name}: no modality given; expected some of "
                             f"{self.modalities}")
        sizes = {k: int(v.shape[0]) for k, v in given.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"{self.name}: modalities have different batch sizes {sizes}")
        missing = [k for k in self.branches if k not in given]
        unknown_width = [k for k in missing if k not in self._widths]
        if unknown_width:
            raise ValueError(f"{self.name}: missing modalities {unknown_width} before the model "
                             "has seen them once; the first forward needs every modality")
        return given, next(iter(sizes.values()))

    def _presence(self, n, given, training):
        present = np.ones((n, len(self.branches)), dtype=bool)
        for m, key in enumerate(self.branches):
            if key not in given:
                present[:, m] = False
        if training and self.modality_dropout > 0:
            drop = self._rng.random(present.shape) < self.modality_dropout
            kept = present & ~drop
            # never drop every modality of a sample: keep one present one at random
            empty = ~kept.any(axis=1)
            if empty.any():
                scores = self._rng.random(present.shape) * present
                kept[empty, scores[empty].argmax(axis=1)] = True
            present = kept
        return (None if present.all() else backend.asarray(present)), present

    def forward(self, x, training=False):
        given, n = self._check_inputs(x)
        self._record_spec(given)
        present_dev, present_host = self._presence(n, given, training)
        xp = backend.xp()
        feats, ran = [], []
        for key, branch in self.branches.items():
            if key in given:
                h = branch.forward(given[key], training=training)
                # token sequences (N, T, d) only for fusions that read them
                seq = h.ndim == 3 and getattr(self.fusion, "accepts_sequences", False)
                if h.ndim != 2 and not seq:
                    raise ValueError(f"{self.name}: branch {key!r} must end in (N, features), "
                                     f"got shape {tuple(h.shape)}; add Flatten or pooling")
                self._widths[key] = tuple(int(d) for d in h.shape[1:])
                ran.append(key)
            else:
                h = xp.zeros((n, *self._widths[key]), dtype=backend.floatx())
            feats.append(h)
        fusion_in = dict(zip(self.branches, feats))
        z = self.fusion.forward(fusion_in, training=training, present=present_dev)
        y = self.head.forward(z, training=training) if self.head is not None else z
        self._cache = (ran, present_host)
        return y

    __call__ = forward

    def backward(self, dy):
        """dL/dy -> head -> fusion -> each branch that ran; returns {modality: dL/dx_m}."""
        ran, _ = self._cache
        dz = self.head.backward(dy) if self.head is not None else dy
        dfeats = self.fusion.backward(dz)
        return {key: self.branches[key].backward(dfeats[key]) for key in ran}

    def input_layers(self):
        """The first layer of every branch (each sees one modality's input)."""
        return [layer for branch in self.branches.values() for layer in branch.input_layers()]

    def parameters(self):
        for branch in self.branches.values():
            yield from branch.parameters()
        yield from self.fusion.parameters()
        if self.head is not None:
            yield from self.head.parameters()

    @property
    def last_presence(self):
        """Host (N, M) booleans: which modalities the last forward used per sample."""
        return None if self._cache is None else self._cache[1]

    _cache = None

    # ---------------------------------------------------------------- config
    def get_config(self):
        return {"name": self.name,
                "branches": {k: b.get_config() for k, b in self.branches.items()},
                "fusion": {"class": type(self.fusion).__name__,
                           "config": self.fusion.get_config()},
                "head": self.head.get_config() if self.head is not None else None,
                "modality_dropout": self.modality_dropout, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        fusion_cls = LAYER_REGISTRY[config["fusion"]["class"]]
        head = Sequential.from_config(config["head"]) if config["head"] else None
        return cls({k: Sequential.from_config(v) for k, v in config["branches"].items()},
                   fusion_cls.from_config(config["fusion"]["config"]), head,
                   modality_dropout=config["modality_dropout"], seed=config["seed"],
                   name=config.get("name"))
