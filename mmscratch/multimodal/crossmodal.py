"""Cross-modal attention fusion: each modality's tokens attend to the other's.

The image's spatial positions query the audio's time steps (which sounds explain this
part of the digit?) and the audio's time steps query the image's positions, with the
cross form of :class:`mmscratch.nn.MultiHeadAttention` (no second copy of the
attention math). Chapter: chapters/05-future.md ("cross-modal attention").
"""

from __future__ import annotations

from .. import backend
from ..errors import check_count
from ..nn.attention import MultiHeadAttention
from ..nn.layer import Layer
from .fusion import FusionLayer, split_modalities
from .registry import MODALITY_SAMPLES, register_fusion

__all__ = ["Tokens", "CrossModalAttentionFusion", "token_branch"]

def _what(modality, input_shapes):
    """``"text is a vector of shape (116,)"`` (the shape if known, else its form)."""
    _, form, kind = MODALITY_SAMPLES.get(modality, (None, "?", "an unknown modality"))
    shape = (input_shapes or {}).get(modality)
    return f"{modality} is {kind} of shape {tuple(shape) if shape is not None else form}"


class Tokens(Layer):
    """Feature map -> a sequence of tokens, so that attention can read it.

    ``axis="space"``: ``(N, H, W, C) -> (N, H*W, C)``, one token per position (images).
    ``axis="time"``: ``(N, T, F, C) -> (N, T, F*C)``, one token per time step (an MFCC
    matrix after 2-D convolutions: time first, the frequency rows folded into channels).
    Backward reshapes back.
    """

    def __init__(self, axis="space", name=None):
        super().__init__(name)
        if axis not in ("space", "time"):
            raise ValueError(f"Tokens: axis must be 'space' or 'time', got {axis!r}")
        self.axis = axis

    def get_config(self):
        return {"axis": self.axis}

    def forward(self, x, training=False):
        self._check_input(x, ndim=4)
        n, a, b, c = x.shape
        self._cache = x.shape
        return x.reshape(n, a * b, c) if self.axis == "space" else x.reshape(n, a, b * c)

    def backward(self, dy):
        return dy.reshape(self._saved())


class CrossModalAttentionFusion(FusionLayer):
    """Two modalities as token sequences, each attending to the other (Tsai et al. 2019).

    For tokens ``A (N, T_a, d_a)`` and ``B (N, T_b, d_b)``:

        A' = MHA_ab([A, B])     queries from A, keys and values from B   (N, T_a, d_a)
        B' = MHA_ba([B, A])     queries from B, keys and values from A   (N, T_b, d_b)
        z  = [ pool(A + A') ; pool(B + B') ]

    with pool = the mean over tokens (``pooling="mean"``, ``(N, d_a + d_b)``) or every
    token kept in place (``pooling="flatten"``, the default, ``(N, T_a d_a + T_b d_b)``:
    like the classifier's Flatten branches, it keeps where in the image and when in the
    recording a feature occurred, which the mean throws away), and MHA the multi-head
    attention of Vaswani et al. (``nn.MultiHeadAttention``,
    e_ij = softmax_j(q_i . k_j / sqrt(d_k)) per head) and a residual connection, as in the
    cross-modal transformer of MulT (Tsai et al. 2019).

    Missing modality (``present`` False for a sample): its tokens are hidden as keys
    (the other modality's attention row is all zero, so A' = the output bias only) and
    its half of z is zeroed, so nothing of it reaches the head.

    Parameters
    ----------
    num_heads : int
    key_dim : int
        Size of each head.
    pooling : {"flatten", "mean"}
    seed : int, optional

    Notes
    -----
    ``attention_ab`` and ``attention_ba`` are the two MultiHeadAttention sublayers (their
    params appear as ``attention_ab.Wq`` etc.); ``last_attention`` holds the head-averaged
    weights of the last forward, ``{"ab": (N, T_a, T_b), "ba": (N, T_b, T_a)}``, for
    drawing which audio frames each image position looked at.

    Source: Tsai et al. 2019, "Multimodal Transformer for Unaligned Multimodal Language
    Sequences" (MulT). Chapter: chapters/05-future.md.
    """

    accepts_sequences = True

    #: The modalities it can read as token sequences (``token_branch``).
    TOKEN_MODALITIES = ("image", "audio")

    @classmethod
    def check_modalities(cls, modalities, input_shapes=None, name="crossmodal"):
        """Raise ``ValueError`` unless ``modalities`` are exactly two token modalities.

        Cross-modal attention needs two token sequences: ``image`` samples
        ``(H, W, C)`` (one token per position) and ``audio`` samples ``(T, F)`` (one
        token per frame). Text is one bag-of-words vector ``(D,)``, with no positions to
        attend over, and a third modality has no partner in A <-> B attention. The
        message names ``modalities`` (the CLI's ``--modalities``), what is needed and
        what was given, with the sample shape from ``input_shapes`` (dict, optional).
        Called by ``build_model`` before anything is built. Returns ``modalities`` as a
        tuple.
        """
        modalities = tuple(modalities)
        shapes = input_shapes or {}
        bad = [m for m in modalities if m not in cls.TOKEN_MODALITIES]
        wrong_shape = [m for m in modalities if m in cls.TOKEN_MODALITIES
                       and shapes.get(m) is not None
                       and len(tuple(shapes[m])) != MODALITY_SAMPLES[m][0]]
        if len(modalities) == 2 and not bad and not wrong_shape:
            return modalities
        why = "; ".join(_what(m, shapes) for m in bad + wrong_shape)
        raise ValueError(
            f"modalities: fusion {name!r} fuses exactly two sequence/image modalities "
            f"(image {MODALITY_SAMPLES['image'][1]}, audio {MODALITY_SAMPLES['audio'][1]}); got "
            f"{', '.join(modalities) or 'none'}" + (f" ({why})" if why else "")
            + " - pass modalities=['image', 'audio'] (CLI: --modalities image,audio) or "
            "choose a fusion that takes any modalities (e.g. attention, transformer)")

    def __init__(self, num_heads=2, key_dim=16, pooling="flatten", seed=None, name=None):
        super().__init__(name)
        if pooling not in ("mean", "flatten"):
            raise ValueError(f"CrossModalAttentionFusion: pooling must be 'mean' or 'flatten', "
                             f"got {pooling!r}")
        self.pooling = pooling
        self.num_heads = check_count(num_heads, "num_heads", where="CrossModalAttentionFusion")
        self.key_dim = check_count(key_dim, "key_dim", where="CrossModalAttentionFusion")
        self.seed = seed
        base = 0 if seed is None else seed
        self.attention_ab = MultiHeadAttention(self.num_heads, self.key_dim, seed=base,
                                               name="attention_ab")
        self.attention_ba = MultiHeadAttention(self.num_heads, self.key_dim, seed=base + 1,
                                               name="attention_ba")
        self.last_attention = None

    def get_config(self):
        return {"num_heads": self.num_heads, "key_dim": self.key_dim, "pooling": self.pooling,
                "seed": self.seed}

    def parameters(self):
        yield from self.attention_ab.parameters()
        yield from self.attention_ba.parameters()

    def _unpack_tokens(self, inputs, present):
        keys, feats = split_modalities(inputs, self.describe(), "two token sequences")
        if len(feats) != 2:
            raise ValueError(f"{self.describe()}: fuses exactly two modalities, got "
                             f"{len(feats)}")
        for i, h in enumerate(feats):
            self._check_input(h, f"inputs[{keys[i] if keys else i}]", ndim=3)
        if feats[0].shape[0] != feats[1].shape[0]:
            raise ValueError(f"{self.describe()}: modalities have different batch sizes "
                             f"{[int(f.shape[0]) for f in feats]}")
        if present is not None:
            self._check_input(present, "present", shape=(feats[0].shape[0], 2), dtype_kind="b")
        return keys, feats, present

    def forward(self, inputs, training=False, present=None):
        keys, (a, b), present = self._unpack_tokens(inputs, present)
        xp = backend.xp()
        n, ta, tb = a.shape[0], a.shape[1], b.shape[1]
        if present is None:
            mask_b = mask_a = None
        else:
            mask_b = xp.repeat(present[:, 1:2], tb, axis=1)  # (N, T_b) keys of B
            mask_a = xp.repeat(present[:, 0:1], ta, axis=1)  # (N, T_a) keys of A
        a2 = self.attention_ab.forward([a, b], training=training, mask=mask_b)
        b2 = self.attention_ba.forward([b, a], training=training, mask=mask_a)
        if self.pooling == "mean":
            za, zb = (a + a2).mean(axis=1), (b + b2).mean(axis=1)  # (N, d_a), (N, d_b)
        else:  # every token kept in place, like Flatten in the classifier's branches
            za, zb = (a + a2).reshape(n, -1), (b + b2).reshape(n, -1)  # (N, T_a d_a), ...
        if present is not None:
            pf = present.astype(za.dtype)
            za, zb = za * pf[:, 0:1], zb * pf[:, 1:2]
        self.last_attention = {"ab": self.attention_ab.attention_scores.mean(axis=1),
                               "ba": self.attention_ba.attention_scores.mean(axis=1)}
        self._cache = (keys, (n, ta, tb), present, za.shape[1])
        return xp.concatenate([za, zb], axis=1)

    def backward(self, dy):
        keys, (n, ta, tb), present, da_width = self._saved()
        dza, dzb = dy[:, :da_width], dy[:, da_width:]
        if present is not None:
            pf = present.astype(dy.dtype)
            dza, dzb = dza * pf[:, 0:1], dzb * pf[:, 1:2]
        # mean over tokens: each token gets dz / T (flatten: its own slice of dz); the
        # residual passes it to the input too
        if self.pooling == "mean":
            dsa = backend.xp().repeat(dza[:, None, :] / ta, ta, axis=1)  # (N, T_a, d_a)
            dsb = backend.xp().repeat(dzb[:, None, :] / tb, tb, axis=1)  # (N, T_b, d_b)
        else:
            dsa, dsb = dza.reshape(n, ta, -1), dzb.reshape(n, tb, -1)
        dq_a, dkv_b = self.attention_ab.backward(dsa)
        dq_b, dkv_a = self.attention_ba.backward(dsb)
        da = dsa + dq_a + dkv_a
        db = dsb + dq_b + dkv_b
        return self._pack(keys, [da, db])


def token_branch(modality, shape, width, seed):
    """A branch that ends in tokens ``(N, T, width)`` for :class:`CrossModalAttentionFusion`.

    ``"image"``: the classifier's two conv blocks, then one token per position of the
    last feature map (5 x 5 = 25 tokens for 28 x 28 MNIST). ``"audio"``: the audio CNN's
    two conv blocks over the ``(T, 13)`` MFCC matrix, then one token per remaining time
    step (23 for 101 frames; each covers about 4 frames). A ``Dense(width)`` gives both
    the same token width.
    """
    from .. import nn  # noqa: PLC0415
    from ..nn.conv import Conv2D, MaxPooling2D  # noqa: PLC0415

    if modality not in CrossModalAttentionFusion.TOKEN_MODALITIES:
        raise ValueError(f"token_branch: modality must be 'image' or 'audio', got "
                         f"{modality!r}")
    rank, form, _ = MODALITY_SAMPLES[modality]
    if shape is None or len(tuple(shape)) != rank:
        got = None if shape is None else tuple(shape)
        raise ValueError(f"token_branch: shape of {modality!r} must be {form}, got {got}")
    pad = "valid" if min(shape[0], shape[1]) >= 20 else "same"
    if modality == "image":
        layers, axis = [], "space"
    else:  # audio
        pad = "valid" if min(shape[0], shape[1]) >= 10 else "same"
        layers, axis = [nn.ExpandDims()], "time"
    return layers + [Conv2D(16, 3, padding=pad, activation="relu", seed=seed),
                     MaxPooling2D(2, padding=pad),
                     Conv2D(32, 3, padding=pad, activation="relu", seed=seed + 1),
                     MaxPooling2D(2, padding=pad), Tokens(axis),
                     nn.Dense(width, activation="relu", seed=seed + 2)]


# ------------------------------------------------------------------ registry
# ``build_model(fusion="crossmodal")`` / ``--fusion crossmodal``: image and audio token
# branches (32-wide tokens), two heads of 16, then the document's head.
register_fusion("crossmodal", lambda seed, **_: CrossModalAttentionFusion(2, 16, seed=seed),
                max_width=32, branch=token_branch,
                check=CrossModalAttentionFusion.check_modalities,
                description="image positions and audio frames attend to each other "
                            "(MulT-style cross-modal attention; needs exactly the two "
                            "modalities image and audio, not text)")
