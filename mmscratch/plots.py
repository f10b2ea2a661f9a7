"""Matplotlib figures shared by the notebooks and the command line.

Every function takes host data (NumPy arrays or lists), draws one figure and returns
it; pass ``path`` to also save it (the figure is then closed).
"""

from __future__ import annotations

import numpy as np

from . import backend

__all__ = ["plot_history", "plot_confusion_matrix", "plot_attention"]


def _finish(fig, path, dpi=80):
    import matplotlib.pyplot as plt

    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
    return fig


def plot_history(history, path=None, title="training"):
    """Loss and accuracy per epoch, training and validation, side by side."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, key in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, marker="o",
                        label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.suptitle(title)
    return _finish(fig, path)


def plot_confusion_matrix(cm, path=None, labels=None, title="confusion matrix"):
    """Counts of (true class, predicted class) as an annotated heat map."""
    import matplotlib.pyplot as plt

    cm = np.asarray(backend.to_numpy(cm))
    fig, ax = plt.subplots(figsize=(4.5, 4))
    im = ax.imshow(cm, cmap="Blues")
    labels = labels if labels is not None else list(range(cm.shape[0]))
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=7,
                color="white" if v > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title)
    return _finish(fig, path)


def plot_attention(weights, modalities, path=None, title="attention between modalities"):
    """Mean attention weights e_ij (query modality i attends to key modality j)."""
    import matplotlib.pyplot as plt

    w = np.asarray(backend.to_numpy(weights))
    fig, ax = plt.subplots(figsize=(3.8, 3.2))
    im = ax.imshow(w, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(modalities)), modalities)
    ax.set_yticks(range(len(modalities)), modalities)
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")
    for (i, j), v in np.ndenumerate(w):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title)
    return _finish(fig, path)
