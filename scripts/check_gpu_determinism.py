"""Where seeded runs agree across backends, and where a GPU run repeats itself.

Run on a machine with CuPy and a GPU (docs/RELIABILITY.md records the last output)::

    python scripts/check_gpu_determinism.py

For a small CNN, an Embedding + attention model (its backward uses
``cupyx.scatter_add``, i.e. atomics) and the multimodal classifier it reports:

* whether the initial weights are bit-identical on NumPy and CuPy (they are drawn on
  the host, so they should be);
* whether two CuPy trainings with the same seed give bit-identical weights;
* the largest difference between the NumPy and the CuPy weights after training
  (different BLAS/reduction order, and Dropout masks from CuPy's own generator).
"""

from __future__ import annotations

import sys

import numpy as np

from mmscratch import backend, nn
from mmscratch.multimodal.models import build_model


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return ({"image": rng.random((n, 8, 8, 1), dtype=np.float32),
             "audio": rng.standard_normal((n, 6, 4)).astype(np.float32),
             "text": rng.random((n, 12), dtype=np.float32),
             "tokens": rng.integers(0, 50, (n, 7))},
            rng.integers(0, 3, n))


def make(kind, seed=0):
    if kind == "cnn":
        return nn.Sequential([nn.Conv2D(8, 3, padding="same", activation="relu", seed=seed),
                              nn.MaxPooling2D(2), nn.Flatten(),
                              nn.Dropout(0.3, seed=seed + 1), nn.Dense(3, seed=seed + 2)])
    if kind == "embedding":
        return nn.Sequential([nn.Embedding(50, 8, seed=seed), nn.Attention(), nn.Flatten(),
                              nn.Dense(3, seed=seed + 1)])
    return build_model({"image": (8, 8, 1), "audio": (6, 4), "text": (12,)},
                       fusion="attention", num_classes=3, width=8, modality_dropout=0.3,
                       seed=seed)


def inputs(kind, x):
    if kind == "cnn":
        return x["image"]
    if kind == "embedding":
        return x["tokens"]
    return {k: x[k] for k in ("image", "audio", "text")}


def weights(model):
    return [backend.to_numpy(o.params[k]).copy() for o, k in model.parameters()]


def train(kind, name, epochs=3):
    x, y = data()
    with backend.use(name):
        model = make(kind)
        xs = inputs(kind, x)
        model.predict({k: v[:2] for k, v in xs.items()} if isinstance(xs, dict) else xs[:2])
        start = weights(model)
        model.compile(optimizer=nn.Adam(lr=0.01), loss=nn.SoftmaxCrossEntropy())
        model.fit(xs, y, epochs=epochs, batch_size=8, seed=0, verbose=0)
        return start, weights(model)


def same(a, b):
    return all(u.tobytes() == v.tobytes() for u, v in zip(a, b))


def main():
    if not backend.cupy_available():
        print("CuPy or a GPU is missing; nothing to check")
        return 1
    for kind in ("cnn", "embedding", "multimodal"):
        np_start, np_end = train(kind, "numpy")
        cp_start, cp_end = train(kind, "cupy")
        _, cp_end2 = train(kind, "cupy")
        diff = max(float(np.abs(u.astype(np.float64) - v).max()) for u, v in zip(np_end, cp_end))
        print(f"{kind:11s} initial weights numpy == cupy: {same(np_start, cp_start)}; "
              f"two cupy runs bit-identical: {same(cp_end, cp_end2)}; "
              f"max |numpy - cupy| after training: {diff:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
