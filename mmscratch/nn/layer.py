"""The base class every mmscratch layer derives from.

Contract (DESIGN.md, "Layers"):

* ``forward(x, training=False) -> y`` (also ``layer(x)``) keeps in ``self`` what
  ``backward`` needs;
* ``backward(dy) -> dx`` fills ``self.grads[name]`` for every ``self.params[name]``;
  gradients are **overwritten** on every call, never accumulated, and ``dy`` is never
  modified;
* ``params`` and ``grads`` are dicts with the same keys and shapes. Layers read their
  params from the dict on every forward, so replacing an entry (as the gradient
  checker does when it casts to float64) takes effect at once, and optimizers update
  the arrays in place.

Multi-input layers take a list, ``forward([query, value])``, and their ``backward``
returns a list of input gradients in the same order.

Bad input (one policy for every layer, tested in tests/test_validation.py): an array
of another backend, the wrong rank or a wrong dtype (integers, booleans or objects
where floats are expected) raises ``BackendError``/``ValueError`` naming the layer and
the argument. An empty batch passes through element-wise layers as an empty batch.
NaN and inf: ``Model.fit``/``predict`` reject them at the entry and ``Dense`` checks
its input (while ``Layer.check_finite`` is True); every other layer does not scan
values (that costs a reduction and a GPU sync per call) and *propagates* NaN: a NaN
in gives NaN out where it reaches, never a silently finite result.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .. import backend
from ..errors import check_array

#: Every Layer subclass by class name, so that checkpoints can rebuild a model. A class
#: registers itself when it is defined (``Layer.__init_subclass__``), whichever package
#: defines it: ``nn`` never needs to know the packages built on top of it.
LAYER_REGISTRY: dict[str, type] = {}


def register_layer(cls=None, *, aliases=()):
    """Register a layer class for checkpoints under its name and older ``aliases``.

    Every :class:`Layer` subclass is registered under its class name automatically; use
    this (as a decorator or a call) to also accept the names older checkpoints used,
    e.g. ``register_layer(ExpandDims, aliases=("_AddChannel",))`` so files written before
    the rename still load. Returns the class.
    """
    def add(klass):
        for key in (klass.__name__, *aliases):
            known = LAYER_REGISTRY.get(key)
            if known is not None and known is not klass and key != klass.__name__:
                raise ValueError(f"register_layer: {key!r} already names {known.__name__}")
            LAYER_REGISTRY[key] = klass
        return klass

    return add if cls is None else add(cls)


class Layer:
    """Base layer: parameter bookkeeping, lazy building and the forward/backward API."""

    #: Layers that validate values (not only shapes) reject NaN/inf inputs when True.
    #: Set ``Layer.check_finite = False`` to skip that reduction (and GPU sync) for speed.
    check_finite = True

    #: False while nobody uses this layer's input gradient (``Model.train_step`` sets it
    #: on the layers that see the model's input); a layer may then skip computing dx and
    #: return None from ``backward``. Parameter gradients are always computed.
    needs_input_grad = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        LAYER_REGISTRY[cls.__name__] = cls

    def __init__(self, name: str | None = None):
        self.name = name or type(self).__name__
        self.params: dict = {}
        self.grads: dict = {}
        self.built = False
        self._cache = None

    # ------------------------------------------------------------ building
    def build(self, input_shape) -> None:
        """Create parameters for an input of ``input_shape`` (override when needed)."""
        self.built = True

    def add_param(self, key: str, value) -> None:
        """Register a parameter given as a host (NumPy) array; stored on the active backend."""
        dtype = value.dtype if value.dtype.kind == "f" else backend.floatx()
        arr = backend.asarray(np.asarray(value, dtype=dtype))
        self.params[key] = arr
        self.grads[key] = backend.xp().zeros_like(arr)

    def _ensure_built(self, input_shape) -> None:
        if not self.built:
            self.build(input_shape)
            self.built = True

    # ------------------------------------------------------------ computing
    def __call__(self, x, training: bool = False):
        return self.forward(x, training=training)

    def forward(self, x, training: bool = False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def _saved(self):
        """What forward stored for backward; a clear error if forward never ran."""
        if self._cache is None:
            raise RuntimeError(f"{self.describe()}: backward() called before forward()")
        return self._cache

    def _check_input(self, x, argument="x", **kwargs):
        return check_array(x, argument, where=self.describe(), **kwargs)

    def _check_grad(self, dy, expected_shape, argument="dy"):
        check_array(dy, argument, where=self.describe(), shape=tuple(expected_shape),
                    allow_empty=True)
        return dy

    # ------------------------------------------------------------ bookkeeping
    def parameters(self):
        """Yield ``(owner_layer, key)`` for every parameter (composites recurse)."""
        for key in self.params:
            yield self, key

    def get_config(self) -> dict:
        """Constructor keyword arguments that rebuild this layer (for checkpoints)."""
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if k != "name" and not isinstance(v, (list, dict)))
        return f"{type(self).__name__}({args})"

    def __repr__(self):
        return self.describe()



@contextmanager
def input_grad_skipped(layers):
    """Inside the block, ``layers`` (a model's first layers, whose input is the data)
    do not compute their input gradient: training never uses dL/dx of the data, and for
    a first Conv2D it is a third of the backward's cost. Restored afterwards, even on
    an error (the flag goes back to the class default)."""
    switched = [layer for layer in layers if layer.needs_input_grad]
    for layer in switched:
        layer.needs_input_grad = False
    try:
        yield
    finally:
        for layer in switched:
            del layer.needs_input_grad
