"""Determinism: the same seed gives bit-identical weights and metrics.

Specification
-------------
On NumPy (and on the strict backend, which is NumPy underneath):

* training a small CNN (Conv2D, pooling, Dropout, Dense) and the multimodal
  classifier (attention fusion, modality dropout, a Dropout head) twice with the same
  seeds gives bit-identical weights, loss/accuracy histories and predictions;
* a different seed gives different weights (so the test can fail);
* the numpy and strict backends give bit-identical results (no backend-dependent
  random stream on the CPU);
* the seeded estimators (KMeans, randomized PCA, TruncatedSVD) repeat exactly;
* two separate processes with different ``PYTHONHASHSEED`` (which reorders Python
  sets and str-keyed hashing) produce the same vocabulary, TF-IDF matrix and trained
  weights.

Where each random number comes from (CuPy story in docs/RELIABILITY.md): initial
weights from host NumPy Generators (``initializers``), the fit shuffle order and the
modality-dropout masks from host Generators, ``Dropout`` masks from
``backend.default_rng(seed)`` (CuPy's own stream on a GPU).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmscratch import backend, nn
from mmscratch.multimodal.models import build_model
from mmscratch.unsupervised import PCA, KMeans, TruncatedSVD

MM_SHAPES = {"image": (8, 8, 1), "audio": (6, 4), "text": (12,)}


def data(seed=123, n=24):
    rng = np.random.default_rng(seed)
    return ({"image": rng.random((n, 8, 8, 1), dtype=np.float32),
             "audio": rng.standard_normal((n, 6, 4)).astype(np.float32),
             "text": rng.random((n, 12), dtype=np.float32)},
            rng.integers(0, 3, n))


def cnn(seed):
    return nn.Sequential([nn.Conv2D(4, 3, padding="same", activation="relu", seed=seed),
                          nn.MaxPooling2D(2), nn.Flatten(), nn.Dropout(0.3, seed=seed + 1),
                          nn.Dense(3, seed=seed + 2)])


def multimodal(seed):
    return build_model(MM_SHAPES, fusion="attention", num_classes=3, width=8,
                       modality_dropout=0.3, seed=seed)


def run(kind, seed):
    """Train from scratch; return (weights, history, predictions) on the host."""
    x, y = data()
    if kind == "cnn":
        x, model = x["image"], cnn(seed)
    else:
        model = multimodal(seed)
    model.compile(optimizer=nn.Adam(lr=0.01), loss=nn.SoftmaxCrossEntropy(),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=8, seed=seed, verbose=0)
    weights = [backend.to_numpy(o.params[k]).copy() for o, k in model.parameters()]
    return weights, history, backend.to_numpy(model.predict(x))


def assert_identical(a, b):
    (wa, ha, pa), (wb, hb, pb) = a, b
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        assert u.dtype == v.dtype and u.tobytes() == v.tobytes()
    assert ha == hb  # exact float equality of every loss and accuracy
    assert pa.tobytes() == pb.tobytes()


@pytest.mark.parametrize("kind", ["cnn", "multimodal"])
@pytest.mark.parametrize("name", ["numpy", "strict"])
def test_same_seed_gives_bit_identical_training(kind, name):
    with backend.use(name):
        assert_identical(run(kind, seed=7), run(kind, seed=7))


@pytest.mark.parametrize("kind", ["cnn", "multimodal"])
def test_another_seed_gives_other_weights(kind):
    a, b = run(kind, seed=7), run(kind, seed=8)
    assert any(u.tobytes() != v.tobytes() for u, v in zip(a[0], b[0]))


@pytest.mark.parametrize("kind", ["cnn", "multimodal"])
def test_numpy_and_strict_backends_train_bit_identically(kind):
    with backend.use("numpy"):
        a = run(kind, seed=3)
    with backend.use("strict"):
        b = run(kind, seed=3)
    assert_identical(a, b)


def test_seeded_estimators_repeat_exactly(xp):
    X = backend.asarray(np.random.default_rng(0).standard_normal((40, 6)))

    def fit_all():
        km = KMeans(3, n_init=2, random_state=5).fit(X)
        pca = PCA(2, svd_solver="randomized", random_state=5).fit(X)
        svd = TruncatedSVD(2, random_state=5).fit(X)
        return [backend.to_numpy(a).tobytes() for a in (
            km.cluster_centers_, km.labels_, pca.components_, svd.components_)]

    assert fit_all() == fit_all()


_SCRIPT = r"""
import hashlib, numpy as np
from mmscratch import nn
from mmscratch.features import TfidfVectorizer
from mmscratch.multimodal.models import build_model
docs = ["the cat sat on the mat", "dogs and cats", "a mat for the dog", "zebra cat dog"] * 3
vec = TfidfVectorizer()
text = vec.fit_transform(docs).toarray().astype(np.float32)
rng = np.random.default_rng(0)
x = {"image": rng.random((12, 8, 8, 1), dtype=np.float32), "text": text}
model = build_model({"image": (8, 8, 1), "text": text.shape[1:]}, ("image", "text"),
                    fusion="early", num_classes=2, width=4, modality_dropout=0.2, seed=1)
model.compile(optimizer="adam", loss=nn.SoftmaxCrossEntropy())
model.fit(x, np.arange(12) % 2, epochs=1, batch_size=4, verbose=0)
h = hashlib.sha256(" ".join(vec.get_feature_names_out()).encode())
h.update(text.tobytes())
for owner, key in model.parameters():
    h.update(np.ascontiguousarray(owner.params[key]).tobytes())
print(h.hexdigest())
"""


def test_separate_processes_with_other_hash_seeds_agree():
    root = Path(__file__).resolve().parents[1]
    digests = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "MMSCRATCH_BACKEND": "numpy",
               "PYTHONPATH": str(root)}
        out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=root,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        digests.append(out.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1]
    assert len(digests[0]) == len(hashlib.sha256().hexdigest())
