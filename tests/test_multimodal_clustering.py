"""Multimodal clustering: standardize -> PCA -> early fusion -> k-means, scored by ARI/NMI.

Specification (chapters/03-3-tasks.md): each modality is clustered alone and fused;
when each modality only separates some of the classes, the fused features separate
all of them.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.unsupervised import format_clustering_table, multimodal_clustering, standardize


def _complementary(n=400, seed=0):
    """4 classes: modality A tells {0,1} from {2,3}, modality B tells {0,2} from {1,3}.

    Each signal is repeated over several columns (plus noise), so it is the first
    principal component even after the columns are standardized.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    a = np.repeat(((y >= 2) * 4.0)[:, None], 3, axis=1) + rng.normal(size=(n, 3))
    a = np.hstack([a, rng.normal(size=(n, 2))])  # (n, 5)
    b = np.repeat(((y % 2) * 4.0)[:, None], 2, axis=1) + rng.normal(size=(n, 2))
    b = np.hstack([b, rng.normal(size=(n, 1))])  # (n, 3)
    return a, b, y


def test_fusion_recovers_classes_no_single_modality_can(xp):
    a, b, y = _complementary()
    rows = multimodal_clustering({"a": backend.asarray(a), "b": backend.asarray(b)},
                                 backend.asarray(y), n_clusters=4, n_components=2,
                                 random_state=0, n_init=5)
    by_name = {r["features"]: r for r in rows}
    assert list(by_name) == ["a", "b", "fused (a + b)"]
    assert by_name["fused (a + b)"]["ari"] > 0.9
    assert by_name["a"]["ari"] < 0.6 and by_name["b"]["ari"] < 0.6
    assert by_name["fused (a + b)"]["n_components"] == 4
    assert all(isinstance(r["nmi"], float) for r in rows)
    table = format_clustering_table(rows)
    assert table.count("\n") == 4 and "| fused (a + b) | 8 | 4 |" in table


def test_sparse_input_is_densified(xp):
    sparse = pytest.importorskip("scipy.sparse")
    if backend.name() == "cupy":
        pytest.skip("scipy.sparse input is for the CPU backends")
    a, _, y = _complementary(100)
    rows = multimodal_clustering({"a": sparse.csr_matrix(a)}, backend.asarray(y),
                                 n_clusters=2, n_components=2, n_init=2)
    assert len(rows) == 1 and rows[0]["n_features"] == 5


def test_standardize_keeps_constant_columns_finite(xp):
    X = backend.asarray(np.column_stack([np.arange(5.0), np.full(5, 3.0)]))
    Z = backend.to_numpy(standardize(X))
    np.testing.assert_allclose(Z[:, 0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, 0].std(), 1, atol=1e-12)
    np.testing.assert_array_equal(Z[:, 1], 0)


def test_unpaired_modalities_are_a_clear_error(xp):
    a, b, y = _complementary(50)
    with pytest.raises(ValueError, match="paired"):
        multimodal_clustering({"a": backend.asarray(a), "b": backend.asarray(b[:40])},
                              backend.asarray(y))
    with pytest.raises(ValueError, match="non-empty dict"):
        multimodal_clustering({}, backend.asarray(y))
