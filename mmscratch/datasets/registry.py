"""One entry point for the paired multimodal data sets: ``load("digits")``, ``load("avmnist")``.

Chapter: chapters/04-code-example.md.
"""

from __future__ import annotations

__all__ = ["DATASETS", "load"]

#: Names accepted by :func:`load`, with a one-line description.
DATASETS = {
    "digits": "embedded, offline: sklearn 8x8 digit images + synthetic speech + synthetic "
              "captions (mmscratch.datasets.digits.load_digits_multimodal)",
    "avmnist": "AV-MNIST from the data folder: PCA-degraded MNIST + noisy FSDD speech "
               "(mmscratch.datasets.avmnist.load_avmnist)",
}


def load(name="digits", **kwargs):
    """Load a paired multimodal data set by name.

    Every loader returns ``{"train": {...}, "test": {...}, "info": {...}}`` where each
    split maps modality names (``"image"``, ``"audio"``, ``"text"``) to host arrays with
    the batch first, plus ``"label"`` (N,) int64 and ``"meta"`` (raw material such as
    waveforms and captions); ``info["modalities"]`` lists the modality keys.

    Parameters
    ----------
    name : {"digits", "avmnist"}
    **kwargs : passed to the loader (``seed``, ``test_size``, ``data_dir``, ...).
    """
    if name == "digits":
        from .digits import load_digits_multimodal  # noqa: PLC0415

        return load_digits_multimodal(**kwargs)
    if name == "avmnist":
        from .avmnist import load_avmnist  # noqa: PLC0415

        return load_avmnist(**kwargs)
    raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
