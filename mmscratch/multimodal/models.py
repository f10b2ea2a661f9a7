"""Ready-made multimodal networks: the document's model, and the one the CLI trains.

The document's section 4 (chapters/04-code-example.md) builds, in Keras::

    image (224, 224, 3) -> Conv2D 64 -> Conv2D 64 -> MaxPooling2D -> Conv2D 128
                        -> Conv2D 128 -> MaxPooling2D -> Flatten       (flatten1)
    text (1000,)        -> Dense 128 -> Dense 64 -> Flatten              (flatten2)
    Attention()([flatten1, flatten2]) -> Dense 128 -> Dropout 0.5 -> Dense 10 softmax
    compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

As written it cannot run: ``MaxPooling2D`` and ``Attention`` are not imported, and
``Attention`` would join a 359,552-wide image vector with a 64-wide text vector.
:func:`document_model` builds what it means: each branch becomes a token of the same
width (64, the text branch's width), the document's self-attention mixes the tokens
(:class:`AttentionFusion`), then the same head.
"""

from __future__ import annotations

from .. import nn
from ..errors import check_count
from ..nn.conv import Conv2D, MaxPooling2D
from ..nn.recurrent import LSTM
from .classifier import MultimodalClassifier
from .fusion import AttentionFusion
from .registry import FUSIONS, MODALITY_SAMPLES, get_fusion

__all__ = ["document_model", "build_model", "FUSIONS"]


def document_model(num_classes=10, d_model=64, seed=0, compile=True):
    """The document's image + text model with its layer sizes, made runnable.

    Input shapes are inferred on the first forward (224x224x3 and 1000 words in the
    document; any size works). Compiled as in the document: Adam,
    categorical cross-entropy on the softmax output, accuracy.
    """
    image = [Conv2D(64, 3, activation="relu", seed=seed),
             Conv2D(64, 3, activation="relu", seed=seed + 1),
             MaxPooling2D(2),
             Conv2D(128, 3, activation="relu", seed=seed + 2),
             Conv2D(128, 3, activation="relu", seed=seed + 3),
             MaxPooling2D(2),
             nn.Flatten()]
    text = [nn.Dense(128, activation="relu", seed=seed + 4),
            nn.Dense(64, activation="relu", seed=seed + 5)]
    head = [nn.Dense(128, activation="relu", seed=seed + 6), nn.Dropout(0.5, seed=seed + 7),
            nn.Dense(num_classes, activation="softmax", seed=seed + 8)]
    model = MultimodalClassifier({"image": image, "text": text},
                                 AttentionFusion(d_model, seed=seed + 9), head,
                                 name="document_model")
    if compile:
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _image_branch(shape, width, seed):
    h, w = shape[0], shape[1]
    if min(h, w) >= 20:  # MNIST-sized: two conv blocks
        layers = [Conv2D(16, 3, activation="relu", seed=seed), MaxPooling2D(2),
                  Conv2D(32, 3, activation="relu", seed=seed + 1), MaxPooling2D(2)]
    else:  # the 8x8 embedded digits
        layers = [Conv2D(16, 3, padding="same", activation="relu", seed=seed), MaxPooling2D(2),
                  Conv2D(32, 3, padding="same", activation="relu", seed=seed + 1)]
    return layers + [nn.Flatten(), nn.Dense(width, activation="relu", seed=seed + 2)]


def _audio_branch(width, seed, kind="lstm", shape=None):
    if kind == "lstm":  # an LSTM reads the MFCC frames in order; its last state is the feature
        return [LSTM(width, seed=seed)]
    if kind == "cnn":  # or a small CNN reads the (frames, coefficients) MFCC image
            # MFCC matrices of real clips (e.g. 101 x 13) take valid convolutions; tiny ones
        # (tests, short clips) keep their size with "same" padding so that nothing vanishes.
        pad = "valid" if shape is None or min(shape[0], shape[1]) >= 10 else "same"
        return [nn.ExpandDims(), Conv2D(16, 3, padding=pad, activation="relu", seed=seed),
                MaxPooling2D(2, padding=pad),
                Conv2D(32, 3, padding=pad, activation="relu", seed=seed + 1),
                MaxPooling2D(2, padding=pad), nn.Flatten(),
                nn.Dense(width, activation="relu", seed=seed + 2)]
    raise ValueError(f"audio_branch must be 'lstm' or 'cnn', got {kind!r}")


#: The layer's name before it became public as ``nn.ExpandDims`` (old imports keep working;
#: old checkpoints load through ``nn.register_layer``'s alias).
_AddChannel = nn.ExpandDims


def _text_branch(width, seed):
    # The document's text branch: Dense 128 -> Dense 64 on the bag-of-words vector.
    return [nn.Dense(128, activation="relu", seed=seed),
            nn.Dense(width, activation="relu", seed=seed + 1)]


def build_model(input_shapes, modalities=("image", "audio", "text"), fusion="attention",
                num_classes=10, width=64, modality_dropout=0.0, seed=0, audio_branch="cnn"):
    """The CLI's classifier: one branch per modality, the chosen fusion, the document's head.

    Parameters
    ----------
    input_shapes : dict
        Per-modality sample shape (without N), used to pick the image branch.
    fusion : str
        A registered fusion (``multimodal.FUSIONS``: "early", "late", "attention",
        "tensor" and whatever :func:`mmscratch.multimodal.register_fusion` added).
    num_classes, width : int
        Classes; width of every branch output (the token width d for attention fusion).
    audio_branch : {"cnn", "lstm"}
        A small CNN over the MFCC matrix (the default: on the padded clips it reaches 100%
        audio-only on ``digits`` where the LSTM, whose last state follows the zero padding,
        stays near 45% after 15 epochs), or an LSTM over the MFCC frames.

    Raises
    ------
    ValueError
        An unknown fusion or modality; an ``input_shapes`` entry of the wrong rank
        (image ``(H, W, C)``, audio ``(T, F)``, text ``(D,)``); modalities the fusion
        cannot fuse (its registered ``check``: ``crossmodal`` needs exactly image and
        audio, ``mult`` two or more), all before anything is built.

    Notes
    -----
    Seeds: branch i uses ``seed + 10 i ...``, the fusion ``seed + 99``, the head
    ``seed + 100 ...``, so a seeded model is the same whatever the registry holds.
    """
    spec = get_fusion(fusion)
    unknown = [m for m in modalities if m not in ("image", "audio", "text")]
    if unknown or not modalities:
        raise ValueError(f"modalities must be a non-empty subset of image, audio, text; "
                         f"got {list(modalities)}")
    # Every branch reads one kind of sample; a wrong rank would crash deep inside a
    # layer (IndexError), so say here which modality needs what.
    for m in modalities:
        shape = input_shapes.get(m) if input_shapes is not None else None
        rank, form, _ = MODALITY_SAMPLES[m]
        if shape is not None and len(tuple(shape)) != rank:
            article = "a" if m == "text" else "an"
            raise ValueError(f"input_shapes[{m!r}]: {article} {m} sample must be {form}, "
                             f"got {tuple(shape)}")
    if spec.check is not None:  # e.g. cross-modal attention: exactly image and audio
        spec.check(tuple(modalities), dict(input_shapes or {}))
    num_classes = check_count(num_classes, "num_classes", where="build_model")
    width = check_count(width, "width", where="build_model")
    if spec.max_width is not None:
        width = min(width, spec.max_width)
    branches = {}
    for i, m in enumerate(modalities):
        s = seed + 10 * i
        if spec.branch is not None:
            branches[m] = list(spec.branch(m, input_shapes.get(m), width, s))
        elif m == "image":
            branches[m] = _image_branch(input_shapes[m], width, s)
        elif m == "audio":
            branches[m] = _audio_branch(width, s, audio_branch, input_shapes.get(m))
        else:
            branches[m] = _text_branch(width, s)
        if not spec.head:  # late fusion: every branch ends in its own class scores
            branches[m] = branches[m] + [nn.Dropout(0.3, seed=s + 5),
                                         nn.Dense(num_classes, seed=s + 6)]
    fuse = spec.build(width=width, seed=seed + 99, num_classes=num_classes,
                      modalities=tuple(modalities))
    head = None
    if spec.head:
        head = [nn.Dense(128, activation="relu", seed=seed + 100),
                nn.Dropout(0.5, seed=seed + 101), nn.Dense(num_classes, seed=seed + 102)]
    return MultimodalClassifier(branches, fuse, head, modality_dropout=modality_dropout,
                                seed=seed)
