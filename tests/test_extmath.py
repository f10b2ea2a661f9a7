"""Shared math in one home (mmscratch/extmath.py): checked against its definitions.

Specification
-------------
* ``svd_flip_rows`` gives scikit-learn's ``svd_flip(u_based_decision=False)`` signs and
  leaves ``U S Vt`` unchanged;
* ``randomized_range_finder`` returns orthonormal columns spanning the range of a
  low-rank matrix (Halko et al. 2011), with every normalizer;
* ``gaussian`` draws scikit-learn's own test matrix (``RandomState(seed).normal``) and
  ``host_rng`` refuses what is not a seed;
* ``sha256_file`` equals ``hashlib.sha256`` of the bytes;
* ``column_sums`` (the layers' bias gradient as one GEMV) equals ``a.sum(axis=0)``, in
  the array's dtype and backend.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.extmath import (
    column_sums,
    gaussian,
    host_rng,
    legacy_random_state,
    randomized_range_finder,
    sha256_file,
    svd_flip_rows,
)


def test_svd_flip_rows_matches_sklearn_and_keeps_the_product(xp):
    rng = np.random.default_rng(0)
    U, S, Vt = np.linalg.svd(rng.normal(size=(6, 4)), full_matrices=False)
    U2, Vt2 = (backend.to_numpy(a) for a in svd_flip_rows(backend.asarray(U),
                                                          backend.asarray(Vt)))
    np.testing.assert_allclose(U2 * S @ Vt2, U * S @ Vt, atol=1e-12)
    pivots = Vt2[np.arange(4), np.abs(Vt2).argmax(axis=1)]
    assert np.all(pivots > 0)
    extmath = pytest.importorskip("sklearn.utils.extmath")
    U3, Vt3 = extmath.svd_flip(U.copy(), Vt.copy(), u_based_decision=False)
    np.testing.assert_array_equal(U2, U3)
    np.testing.assert_array_equal(Vt2, Vt3)


@pytest.mark.parametrize("normalizer", ["QR", "cholesky", "none"])
def test_range_finder_spans_a_low_rank_range(xp, normalizer):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(40, 3)) @ rng.normal(size=(3, 25))  # rank 3
    Q = backend.to_numpy(randomized_range_finder(backend.asarray(A), 5, 2, 0,
                                                 normalizer=normalizer))
    assert Q.shape == (40, 5)
    np.testing.assert_allclose(Q.T @ Q, np.eye(5), atol=1e-10)
    np.testing.assert_allclose(Q @ (Q.T @ A), A, atol=1e-9)  # the range is captured


def test_random_helpers():
    np.testing.assert_array_equal(backend.to_numpy(gaussian(3, (4, 2), np.float64)),
                                  np.random.RandomState(3).normal(size=(4, 2)))
    g = np.random.default_rng(5)
    assert host_rng(g) is g
    assert host_rng(7).integers(1000) == np.random.default_rng(7).integers(1000)
    for bad in (True, 1.5, "0"):
        with pytest.raises(TypeError, match="random_state"):
            host_rng(bad)
    assert isinstance(legacy_random_state(None), np.random.RandomState)


def test_sha256_file(tmp_path):
    path = tmp_path / "blob.bin"
    data = np.random.default_rng(2).bytes(3 << 20)
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("shape", [(1, 3), (7, 1), (4099, 16), (300, 64)])
def test_column_sums_equals_the_axis0_sum(xp, shape, dtype, rtol):
    a = np.random.default_rng(1).normal(size=shape).astype(dtype)
    s = column_sums(backend.asarray(a))
    assert backend.get_array_module(s) is backend.xp()
    s = backend.to_numpy(s)
    assert s.dtype == a.dtype and s.shape == (shape[1],)
    exact = a.sum(axis=0, dtype=np.float64)
    np.testing.assert_allclose(s, exact, rtol=rtol, atol=rtol * np.abs(a).sum(axis=0).max())
