"""Matplotlib figures shared by the notebooks and the command line.

Every function takes host data (NumPy arrays or lists), draws one figure and returns
it; pass ``path`` to also save it (the figure is then closed).
"""

from __future__ import annotations

import numpy as np

from . import backend

__all__ = ["plot_history", "plot_confusion_matrix", "plot_attention", "plot_som",
           "som_cell_labels"]


#: Resolution of saved figures: at 150 dpi the 7-point labels of a 10x10 confusion
#: matrix stay readable (80 dpi made them a blur of pixels).
DPI = 150


def _finish(fig, path, dpi=DPI):
    import matplotlib.pyplot as plt

    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
    return fig


def plot_history(history, path=None, title="training"):
    """Loss and accuracy per epoch, training and validation, side by side.

    ``history`` maps ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` to per-epoch
    lists (what ``fit`` returns); an optional ``epoch`` list gives the x values (the
    CLI's 1-based epoch numbers, so a resumed run's plot shows its true epochs),
    otherwise 1, 2, ... A None value (an epoch without that number) is left as a gap.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, key in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                x = history.get("epoch") or range(1, len(values) + 1)
                y = [np.nan if v is None else float(v) for v in values]
                ax.plot(list(x), y, style, marker="o", label=(prefix or "train_") + key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
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


def som_cell_labels(positions, labels, shape):
    """Majority label of each SOM cell and its share of the cell's samples.

    ``positions (N, 2)`` are ``SOM.predict`` grid positions, ``labels (N,)`` integer
    classes, ``shape = (m, n)``. Returns ``(majority (m, n) int, -1 for empty cells;
    purity (m, n) float, NaN for empty cells)``.
    """
    pos = np.asarray(backend.to_numpy(positions)).astype(np.int64)
    y = np.asarray(backend.to_numpy(labels)).astype(np.int64)
    m, n = shape
    counts = np.zeros((m * n, int(y.max()) + 1))
    np.add.at(counts, (pos[:, 0] * n + pos[:, 1], y), 1)
    total = counts.sum(axis=1)
    majority = np.where(total > 0, counts.argmax(axis=1), -1).reshape(m, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        purity = np.where(total > 0, counts.max(axis=1) / total, np.nan).reshape(m, n)
    return majority, purity


def plot_som(distance_map, positions=None, labels=None, path=None, title="SOM U-matrix"):
    """The U-matrix of a SOM (white: units close to their neighbours, inside a cluster;
    dark: a border between clusters) with, when ``positions`` and ``labels`` are given,
    the majority label of each cell written in it (coloured by label). Rectangular
    grids drawn as squares."""
    import matplotlib.pyplot as plt

    um = np.asarray(backend.to_numpy(distance_map))
    m, n = um.shape
    fig, ax = plt.subplots(figsize=(0.32 * n + 1.5, 0.32 * m + 0.8))
    im = ax.imshow(um, cmap="Greys", vmin=0, vmax=1)
    if positions is not None and labels is not None:
        majority, _ = som_cell_labels(positions, labels, (m, n))
        colours = plt.get_cmap("tab10")
        for (i, j), v in np.ndenumerate(majority):
            if v >= 0:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color=colours(v % 10), fontweight="bold",
                        bbox=dict(boxstyle="round,pad=0.1", fc="white", alpha=0.7, lw=0))
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, fraction=0.046, label="U-matrix (scaled to [0, 1])")
    ax.set_title(title, fontsize=9)
    return _finish(fig, path)

