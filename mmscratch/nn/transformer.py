"""The Transformer encoder block: the document's self-attention, grown up.

Section 3.2.3 of the source document stops at one self-attention a_i = sum_j e_ij h_j.
Vaswani et al. (2017) wrap it into a block that can be stacked: multi-head attention
and a position-wise feed-forward net, each with a residual connection and a layer
normalization, plus a positional encoding so that the order of the tokens matters.

* :class:`PositionalEncoding`: adds PE[t, 2i] = sin(t / 10000^(2i/D)),
  PE[t, 2i+1] = cos(t / 10000^(2i/D)).
* :class:`TransformerEncoder`: one block, post-norm (the paper's and PyTorch's
  default) or pre-norm, built from :class:`~mmscratch.nn.MultiHeadAttention`,
  :class:`~mmscratch.nn.Dense` and :class:`~mmscratch.nn.LayerNormalization`; its
  backward is theirs, chained in reverse.

Explained in chapters/03-2-models.md.
"""

from __future__ import annotations

from .. import backend
from ..errors import check_array, check_count, check_real
from .attention import MultiHeadAttention
from .dense import Dense
from .layer import Layer
from .normalization import LayerNormalization
from .shape import Dropout
from .special import gelu, gelu_grad

__all__ = ["PositionalEncoding", "TransformerEncoder", "positional_encoding"]


def positional_encoding(length, depth, dtype=None):
    """The sinusoidal table PE ``(length, depth)`` of Vaswani et al. (2017), section 3.5.

    PE[t, 2i] = sin(t / 10000^(2i / D)),  PE[t, 2i + 1] = cos(t / 10000^(2i / D)),

    for t = 0 .. T-1 and every column of D (for odd D the last column, 2i = D - 1, is a
    sine). Built on the active backend. Chapter: chapters/03-2-models.md.
    """
    xp = backend.xp()
    dtype = dtype or backend.floatx()
    t = xp.arange(length, dtype="float64")[:, None]  # (T, 1)
    col = xp.arange(depth)
    two_i = (col - col % 2).astype("float64")  # 2i for both the sine and the cosine column
    angle = t / xp.power(10000.0, two_i / depth)[None, :]  # (T, D)
    return xp.where(col % 2 == 0, xp.sin(angle), xp.cos(angle)).astype(dtype)


class PositionalEncoding(Layer):
    """y = x + PE[:T] for x ``(N, T, D)``; no parameters; dx = dy.

    Any T and any D (odd D: the last column is a sine). The table is rebuilt only when
    (T, D, dtype) changes. Source: Vaswani et al., "Attention Is All You Need", 2017.
    Chapter: chapters/03-2-models.md.
    """

    def __init__(self, name=None):
        super().__init__(name)
        self._table = None

    def forward(self, x, training=False):
        self._check_input(x, ndim=3)
        _, t, d = x.shape
        key = (t, d, str(x.dtype))
        if self._table is None or self._table[0] != key:
            self._table = (key, positional_encoding(t, d, x.dtype))
        self._cache = x.shape
        return x + self._table[1]

    def backward(self, dy):
        self._check_grad(dy, self._saved())
        return dy.copy()


_ACTIVATIONS = ("relu", "gelu")


class TransformerEncoder(Layer):
    """One Transformer encoder block, sublayers named as PyTorch's ``TransformerEncoderLayer``.

    Post-norm (``norm_first=False``, the default, as the paper and PyTorch)::

        x1 = norm1(x + attention(x))
        y  = norm2(x1 + dense2(f(dense1(x1))))

    Pre-norm (``norm_first=True``, easier to train deep)::

        x1 = x + attention(norm1(x))
        y  = x1 + dense2(f(dense1(norm2(x1))))

    attention is the document's self-attention e_ij = softmax_j(q_i . k_j / sqrt(d_k)),
    a_i = sum_j e_ij v_j, in ``num_heads`` heads with learned projections and biases;
    f is ReLU or the exact GELU x Phi(x).

    Parameters
    ----------
    num_heads : int
    key_dim : int
        Size of each head; ``num_heads * key_dim`` need not equal D (PyTorch requires it).
    ff_dim : int
        Width of the feed-forward hidden layer (PyTorch's ``dim_feedforward``).
    dropout : float in [0, 1)
        Dropout on the attention output, after f, and on the feed-forward output while
        training (PyTorch's dropout1, dropout, dropout2; PyTorch also drops attention
        weights, which this block does not).
    norm_first : bool
    activation : {"relu", "gelu"}
    epsilon : float
        Of both LayerNormalizations (PyTorch's ``layer_norm_eps`` 1e-5).
    seed : int, optional
        Seeds of the sublayers' initial weights.

    Notes
    -----
    Sublayers: ``attention`` (MultiHeadAttention with biases), ``dense1`` (D -> ff_dim),
    ``dense2`` (ff_dim -> D), ``norm1``, ``norm2`` (and ``norm_context``, used only by
    cross-attention); ``parameters()`` yields theirs.

    Shapes
    ------
    ``forward(x, mask=None, training=False)``: x ``(N, T, D)``, mask ``(N, T)`` booleans,
    ``True`` = the token may be attended (PyTorch's ``src_key_padding_mask`` is the
    negation) -> ``(N, T, D)``. Padded positions are still computed (they attend to
    the real tokens), as in PyTorch. ``backward(dy) -> dx (N, T, D)``.

    Cross-attention (MulT's crossmodal block, Tsai et al. 2019): ``forward([x, context])``
    with context ``(N, Tc, Dc)`` lets x's tokens attend to the context's (queries from x,
    keys and values from the context; ``mask`` is then ``(N, Tc)``); with
    ``norm_first`` the context passes through its own LayerNormalization
    ``norm_context``. ``backward`` then returns ``[dx, dcontext]``. A query whose keys
    are all masked gets a zero attention output (see :mod:`mmscratch.nn.attention`).

    Source: Vaswani et al., "Attention Is All You Need", 2017; Xiong et al., "On Layer
    Normalization in the Transformer Architecture", 2020 (pre-norm);
    ``torch.nn.TransformerEncoderLayer``. Chapter: chapters/03-2-models.md.
    """

    def __init__(self, num_heads, key_dim, ff_dim, dropout=0.0, norm_first=False,
                 activation="relu", epsilon=1e-5, seed=None, name=None):
        super().__init__(name)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"TransformerEncoder: activation must be one of {_ACTIVATIONS}, "
                             f"got {activation!r}")
        ff_dim = check_count(ff_dim, "ff_dim", where="TransformerEncoder")
        self.dropout = check_real(dropout, "dropout", where="TransformerEncoder", low=0.0,
                                  high=1.0, high_open=True)
        self.num_heads, self.key_dim, self.ff_dim = num_heads, key_dim, int(ff_dim)
        self.norm_first = bool(norm_first)
        self.activation = activation
        self.epsilon = epsilon
        self.seed = seed
        s = (lambda k: None) if seed is None else (lambda k: seed + k)
        self.attention = MultiHeadAttention(num_heads, key_dim, use_bias=True, seed=s(0),
                                            name="attention")
        self.dense1 = Dense(self.ff_dim, seed=s(1), name="dense1")
        self.dense2 = None  # its width is D, known at the first forward
        self.norm1 = LayerNormalization(epsilon, name="norm1")
        self.norm2 = LayerNormalization(epsilon, name="norm2")
        # Cross-attention with norm_first normalises the context too (MulT); built, and
        # so in parameters(), only once a [x, context] input has been seen.
        self.norm_context = LayerNormalization(epsilon, name="norm_context")
        self.drop1 = Dropout(self.dropout, seed=s(3), name="dropout1")
        self.drop_ff = Dropout(self.dropout, seed=s(4), name="dropout")
        self.drop2 = Dropout(self.dropout, seed=s(5), name="dropout2")

    def build(self, input_shape):
        s = None if self.seed is None else self.seed + 2
        self.dense2 = Dense(int(input_shape[-1]), seed=s, name="dense2")
        self.built = True

    def sublayers(self):
        """The parametrised sublayers in a fixed order (checkpoints rely on it)."""
        return [self.attention, self.dense1, self.dense2, self.norm1, self.norm2,
                self.norm_context]

    def parameters(self):
        if not self.built:
            return
        for layer in self.sublayers():
            yield from layer.parameters()

    # ------------------------------------------------------------ computing
    def _attend(self, x, context, mask, training):
        inputs = x if context is None else [x, context]
        a = self.attention.forward(inputs, training=training, mask=mask)
        return self.drop1.forward(a, training=training)

    def _attend_backward(self, da):
        """dL/d(attention output) -> (dL/dquery, dL/dcontext or None)."""
        d = self.attention.backward(self.drop1.backward(da))
        return (d[0], d[1]) if isinstance(d, list) else (d, None)

    def _feed_forward(self, x, training):
        z = self.dense1.forward(x, training=training)  # (N, T, ff_dim)
        self._ff_pre = z
        h = gelu(z) if self.activation == "gelu" else backend.xp().maximum(z, 0)
        h = self.drop_ff.forward(h, training=training)
        return self.drop2.forward(self.dense2.forward(h, training=training),
                                  training=training)

    def _feed_forward_backward(self, dy):
        dh = self.dense2.backward(self.drop2.backward(dy))
        dh = self.drop_ff.backward(dh)
        z = self._ff_pre
        dz = dh * gelu_grad(z) if self.activation == "gelu" else dh * (z > 0)
        return self.dense1.backward(dz)

    def _split(self, inputs, where):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(f"{where}: a list input must be [x, context], got "
                                 f"{len(inputs)} arrays")
            x, context = inputs
            check_array(x, "x", where=where, ndim=3)
            check_array(context, "context", where=where, ndim=3)
            if context.shape[0] != x.shape[0]:
                raise ValueError(f"{where}: x and context must share the batch size N, got "
                                 f"{x.shape[0]} and {context.shape[0]}")
            return x, context
        check_array(inputs, "x", where=where, ndim=3)
        return inputs, None

    def forward(self, inputs, mask=None, training=False):
        where = self.describe()
        x, context = self._split(inputs, where)
        if isinstance(mask, bool):
            raise ValueError(f"{where}: argument 'mask' must be an (N, T) boolean array or "
                             f"None, got {mask!r} (pass training= by keyword)")
        keys = x if context is None else context
        if mask is not None:
            check_array(mask, "mask", where=where, shape=tuple(keys.shape[:2]), dtype_kind="b")
        self._ensure_built(x.shape)
        if x.shape[2] != self.dense2.units:
            raise ValueError(f"{where}: argument 'x' must have {self.dense2.units} features "
                             f"(the block was built for that), got shape {tuple(x.shape)}")
        if self.norm_first:
            ctx = None if context is None else self.norm_context.forward(context)
            x1 = x + self._attend(self.norm1.forward(x), ctx, mask, training)
            y = x1 + self._feed_forward(self.norm2.forward(x1), training)
        else:
            x1 = self.norm1.forward(x + self._attend(x, context, mask, training))
            y = self.norm2.forward(x1 + self._feed_forward(x1, training))
        self._cache = (x.shape, context is not None)
        return y

    def backward(self, dy):
        shape, cross = self._saved()
        self._check_grad(dy, shape)
        if self.norm_first:
            # y = x1 + FF(norm2(x1));  x1 = x + A(norm1(x), norm_context(context))
            dx1 = dy + self.norm2.backward(self._feed_forward_backward(dy))
            dq, dc = self._attend_backward(dx1)
            dx = dx1 + self.norm1.backward(dq)
            if cross:
                dc = self.norm_context.backward(dc)
        else:
            # y = norm2(x1 + FF(x1));  x1 = norm1(x + A(x, context))
            ds2 = self.norm2.backward(dy)
            dx1 = ds2 + self._feed_forward_backward(ds2)
            ds1 = self.norm1.backward(dx1)
            dq, dc = self._attend_backward(ds1)
            dx = ds1 + dq
        return [dx, dc] if cross else dx

    def get_config(self):
        return {"num_heads": self.num_heads, "key_dim": self.key_dim, "ff_dim": self.ff_dim,
                "dropout": self.dropout, "norm_first": self.norm_first,
                "activation": self.activation, "epsilon": self.epsilon, "seed": self.seed}
