"""SOM: equal to MiniSom from the same start, batch rule, errors.

A SOM has no gradient; the specification is MiniSom (the SOM library people use): from
the same initial weights and the same sample order, every step is the same arithmetic,
so weights, winners, quantization/topographic errors and the U-matrix agree to
round-off. Where MiniSom is not installed, the naive loops below still pin the meaning.
"""

import warnings

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.errors import NotFittedError
from mmscratch.unsupervised import SOM

DECAYS = [("asymptotic_decay", "asymptotic_decay"),
          ("linear_decay_to_zero", "linear_decay_to_one"),
          ("inverse_decay_to_zero", "inverse_decay_to_one")]


def blobs(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(4, d))
    return centres[rng.integers(4, size=n)] + rng.normal(size=(n, d))


def minisom_pair(m, n, X, seed=3, **kw):
    minisom = pytest.importorskip("minisom")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # triangle on hex warns in MiniSom
        ref = minisom.MiniSom(m, n, X.shape[1], random_seed=seed, **kw)
    ours = SOM(m, n, random_state=seed, **kw)
    return ref, ours


def assert_same_map(ref, ours, X):
    np.testing.assert_allclose(backend.to_numpy(ours.weights_), ref.get_weights(),
                               rtol=1e-12, atol=1e-12)
    winners = np.array([ref.winner(x) for x in X])
    np.testing.assert_array_equal(backend.to_numpy(ours.predict(backend.asarray(X))), winners)
    assert ours.winner(backend.asarray(X[0])) == tuple(int(v) for v in ref.winner(X[0]))
    Xb = backend.asarray(X)
    assert ours.quantization_error(Xb) == pytest.approx(ref.quantization_error(X), abs=1e-12)
    assert ours.topographic_error(Xb) == pytest.approx(ref.topographic_error(X), abs=1e-12)
    for scaling in ("sum", "mean"):
        np.testing.assert_allclose(backend.to_numpy(ours.distance_map(scaling)),
                                   ref.distance_map(scaling), rtol=0, atol=1e-12)


@pytest.mark.parametrize("neighborhood", ["gaussian", "mexican_hat", "bubble", "triangle"])
@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
@pytest.mark.parametrize("decay,sigma_decay", DECAYS)
def test_online_equals_minisom(neighborhood, topology, decay, sigma_decay):
    # n = 5 (odd): MiniSom's hex U-matrix offsets are right for odd n (see below).
    X = blobs()
    kw = dict(sigma=2.0, learning_rate=0.5, neighborhood_function=neighborhood,
              topology=topology, decay_function=decay, sigma_decay_function=sigma_decay)
    ref, ours = minisom_pair(6, 5, X, **kw)
    np.testing.assert_allclose(backend.to_numpy(ours.neighborhood((2, 3), 1.7)),
                               ref.neighborhood((2, 3), 1.7), rtol=0, atol=1e-15)
    ref.train(X, 200, random_order=True)
    ours.fit(X, 200)  # same seed: same default initial weights, same shuffled order
    assert_same_map(ref, ours, X)


@pytest.mark.parametrize("distance", ["euclidean", "cosine", "manhattan"])
def test_online_equals_minisom_each_backend(xp, distance):
    X = blobs(seed=1)
    ref, ours = minisom_pair(5, 4, X, sigma=1.5, activation_distance=distance)
    W0 = np.random.default_rng(5).normal(size=(5, 4, X.shape[1]))
    ref._weights = W0.copy()
    ours.weights_ = backend.asarray(W0)  # the same start, given
    ref.train(X, 150, random_order=False)
    ours.fit(backend.asarray(X), 150, random_order=False)
    assert_same_map(ref, ours, X)


@pytest.mark.parametrize("neighborhood,topology", [("gaussian", "rectangular"),
                                                   ("bubble", "rectangular"),
                                                   ("mexican_hat", "hexagonal")])
def test_batch_equals_minisom_train_batch_offline(xp, neighborhood, topology):
    X = blobs(seed=2)
    ref, ours = minisom_pair(6, 5, X, sigma=2.0, neighborhood_function=neighborhood,
                             topology=topology)
    ref.train_batch_offline(X, 15)
    ours.fit(backend.asarray(X), 15, method="batch")
    assert_same_map(ref, ours, X)


def test_chebyshev_is_max_abs_difference(xp):
    # MiniSom 2.3.5 computes max(x - w) without the absolute value; ours is the metric.
    X = blobs(n=20, seed=3)
    som = SOM(3, 3, activation_distance="chebyshev", random_state=0).fit(backend.asarray(X), 5)
    W = backend.to_numpy(som.weights_).reshape(9, -1)
    naive = [divmod(int(np.argmin([np.max(np.abs(x - w)) for w in W])), 3) for x in X]
    assert [tuple(map(int, p)) for p in backend.to_numpy(som.predict(backend.asarray(X)))] \
        == naive


def test_initialisations_equal_minisom(xp):
    X = blobs(seed=4)
    ref, ours = minisom_pair(4, 6, X)
    ref.random_weights_init(X)
    ours.random_weights_init(backend.asarray(X))
    np.testing.assert_array_equal(backend.to_numpy(ours.weights_), ref.get_weights())
    ref.pca_weights_init(X)
    ours.pca_weights_init(backend.asarray(X))
    got, want = backend.to_numpy(ours.weights_), ref.get_weights()
    # Eigenvectors have no sign: ours fixes one (largest |entry| > 0), so compare
    # against MiniSom's up to the sign of each principal axis.
    mean = X.mean(axis=0)
    a, b = np.linspace(-1, 1, 4), np.linspace(-1, 1, 6)
    pc1 = (want[-1, 0] - want[0, 0]) / 2
    pc2 = (want[0, -1] - want[0, 0]) / 2
    best = min(np.abs(got - (mean + s1 * a[:, None, None] * pc1 + s2 * b[None, :, None] * pc2))
               .max() for s1 in (1, -1) for s2 in (1, -1))
    assert best < 1e-10


def test_hexagonal_u_matrix_uses_the_six_neighbours_for_even_n(xp):
    # MiniSom hard-codes hexagonal U-matrix offsets that match its own coordinates only
    # for odd n. Ours takes the units at distance 1: check against a naive loop.
    X = blobs(seed=5)
    som = SOM(5, 6, sigma=1.5, topology="hexagonal", random_state=0).fit(backend.asarray(X), 100)
    W = backend.to_numpy(som.weights_)
    gi, gj = np.meshgrid(np.arange(5), np.arange(6), indexing="ij")
    px = gi - 0.5 * ((6 - 1 - gj) % 2 == 0)
    py = gj * np.sqrt(3) / 2
    um = np.zeros((5, 6))
    for i in range(5):
        for j in range(6):
            near = [(a, b) for a in range(5) for b in range(6) if (a, b) != (i, j)
                    and np.isclose(np.hypot(px[i, j] - px[a, b], py[i, j] - py[a, b]), 1)]
            assert len(near) <= 6
            um[i, j] = sum(np.linalg.norm(W[i, j] - W[a, b]) for a, b in near)
    np.testing.assert_allclose(backend.to_numpy(som.distance_map()), um / um.max(), atol=1e-12)


def test_topographic_error_naive(xp):
    X = blobs(seed=6)
    som = SOM(4, 4, random_state=1).fit(backend.asarray(X), 50)
    W = backend.to_numpy(som.weights_).reshape(16, -1)
    errors = 0
    for x in X:
        first, second = np.argsort(np.linalg.norm(x - W, axis=1))[:2]
        (i1, j1), (i2, j2) = divmod(first, 4), divmod(second, 4)
        errors += max(abs(i1 - i2), abs(j1 - j2)) > 1  # not one of the 8 around
    assert som.topographic_error(backend.asarray(X)) == pytest.approx(errors / len(X))
    with pytest.warns(UserWarning, match="1-by-1"):
        assert np.isnan(SOM(1, 1).fit(backend.asarray(X), 5).topographic_error(X))


def test_batch_quantization_error_close_to_online(xp):
    # Kohonen's batch rule reaches about the same quantization error as the online rule.
    X = blobs(n=400, d=8, seed=7)
    Xb = backend.asarray(X)
    online = SOM(8, 8, sigma=2.0, random_state=0).fit(Xb, 20 * len(X))
    batch = SOM(8, 8, sigma=2.0, learning_rate=1.0, random_state=0).fit(Xb, 20, method="batch")
    q_on, q_b = online.quantization_error(Xb), batch.quantization_error(Xb)
    assert abs(q_b - q_on) / q_on < 0.05, (q_on, q_b)


def test_fast_winners_agree_with_distances(xp):
    X = backend.asarray(blobs(n=300, seed=8))
    som = SOM(7, 7, random_state=0).fit(X, 300)
    W = som.weights_.reshape(49, -1)
    np.testing.assert_array_equal(backend.to_numpy(som._bmu_fast(X, W)),
                                  backend.to_numpy(som._bmu(X, W)))
    Xh = backend.to_numpy(X)
    naive = np.argmin(((Xh[:, None, :] - backend.to_numpy(W)[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(backend.to_numpy(som._bmu(X, W)), naive)


def test_errors(xp):
    X = backend.asarray(blobs(n=30))
    with pytest.raises(NotFittedError):
        SOM(3, 3).predict(X)
    with pytest.raises(ValueError, match="neighborhood_function"):
        SOM(3, 3, neighborhood_function="cone").fit(X, 10)
    with pytest.raises(ValueError, match="topology"):
        SOM(3, 3, topology="torus").fit(X, 10)
    with pytest.raises(ValueError, match="decay_function"):
        SOM(3, 3, decay_function="fast").fit(X, 10)
    with pytest.raises(ValueError, match="sigma"):
        SOM(3, 3, sigma=0.0).fit(X, 10)
    with pytest.raises(TypeError, match="'m' must be an int"):
        SOM(3.0, 3).fit(X, 10)
    with pytest.raises(TypeError, match="num_iteration"):
        SOM(3, 3).fit(X, 10.0)
    with pytest.raises(ValueError, match="method"):
        SOM(3, 3).fit(X, 10, method="minibatch")
    som = SOM(3, 3)
    som.weights_ = np.zeros((3, 4, 5))
    with pytest.raises(ValueError, match=r"weights_ must have shape \(m, n, D\) = \(3, 3, 5\)"):
        som.fit(X, 10)
    som = SOM(3, 3, random_state=0).fit(X, 10)
    with pytest.raises(ValueError, match="has 4 features, but weights_ has shape"):
        som.predict(X[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        som.fit(backend.asarray(np.full((3, 5), np.nan)), 1)
    with pytest.raises(ValueError, match="scaling"):
        som.distance_map("max")


def test_estimator_contract():
    som = SOM(4, 5, sigma=2.0)
    assert som.get_params()["m"] == 4 and som.get_params()["sigma"] == 2.0
    assert repr(som) == "SOM(m=4, n=5, sigma=2.0)"
    X = blobs(n=30)
    assert som.fit(X, 20) is som  # host arrays accepted
    assert som.weights_.shape == (4, 5, 5)
    assert backend.to_numpy(som.activation_response(X)).sum() == 30
    assert som.transform(X).shape == (30, 4, 5)


def test_float32_far_from_the_origin_keeps_the_right_winners(xp):
    # ||x||^2 - 2 x.w + ||w||^2 cancels catastrophically in float32 when the data sit
    # far from the origin (scikit-learn issue #9354); the batch rule trains on centred
    # data and the evaluation uses mmscratch.distances, so float32 follows float64.
    X64 = blobs(n=300, d=6, seed=9) + 1e4
    fits = {}
    for dtype in (np.float64, np.float32):
        som = SOM(5, 5, sigma=1.5, learning_rate=1.0, random_state=0)
        som.pca_weights_init(backend.asarray(X64.astype(dtype)))
        fits[dtype] = som.fit(backend.asarray(X64.astype(dtype)), 10, method="batch")
    W64 = backend.to_numpy(fits[np.float64].weights_)
    W32 = backend.to_numpy(fits[np.float32].weights_).astype(np.float64)
    assert np.abs(W32 - W64).max() < 1e-2  # float32 spacing at 1e4 is ~1e-3
    naive = np.argmin(((X64[:, None, :] - W32.reshape(25, -1)[None]) ** 2).sum(-1), axis=1)
    got = backend.to_numpy(fits[np.float32].predict(backend.asarray(X64.astype(np.float32))))
    assert np.mean(got[:, 0] * 5 + got[:, 1] == naive) > 0.99
