"""Naive Bayes: GaussianNB and MultinomialNB against scikit-learn and stated properties.

Specification
-------------
* Parameters (``theta_``, ``var_``, ``class_prior_``, ``feature_log_prob_``,
  ``class_log_prior_``, counts) and probabilities agree with scikit-learn's to 1e-9 on
  several data sets (Gaussian blobs, iris, wine, breast cancer; random counts, a real
  CountVectorizer matrix), with and without sample weights, priors and smoothing options.
* CSR counts (``backend.sparse()``, e.g. straight from ``CountVectorizer``) give the same
  model as the dense matrix.
* ``partial_fit`` in batches gives the same model as one ``fit`` (and as scikit-learn's
  ``partial_fit``); ``classes`` is required on the first call.
* Log space: where every probability underflows to 0 in a product, the log-posteriors
  stay finite and the probabilities still sum to 1.
* The same results on the numpy and strict backends (cupy skips without a GPU).
* Bad input and hyperparameters raise ``ValueError`` naming the argument; ``NotFittedError``
  before ``fit``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from mmscratch import backend
from mmscratch.errors import NotFittedError
from mmscratch.features import CountVectorizer
from mmscratch.supervised import GaussianNB, MultinomialNB

sk_nb = pytest.importorskip("sklearn.naive_bayes")
sk_datasets = pytest.importorskip("sklearn.datasets")

TOL = 1e-9  # the parity bound for parameters and probabilities


def h(a):
    return backend.to_numpy(a)


def blobs(seed=0, n=300, d=6, k=4):
    r = np.random.default_rng(seed)
    centres = r.normal(scale=3.0, size=(k, d))
    y = r.integers(0, k, n)
    return centres[y] + r.normal(size=(n, d)) * r.uniform(0.5, 2.0, size=d), y


def gaussian_sets():
    iris = sk_datasets.load_iris(return_X_y=True)
    wine = sk_datasets.load_wine(return_X_y=True)
    cancer = sk_datasets.load_breast_cancer(return_X_y=True)
    return {"blobs": blobs(), "iris": iris, "wine": wine, "cancer": cancer}


def assert_close(a, b, tol=TOL):
    a, b = h(a), np.asarray(b)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# --------------------------------------------------------------------- GaussianNB
@pytest.mark.parametrize("name", ["blobs", "iris", "wine", "cancer"])
def test_gaussian_nb_matches_scikit_learn(name):
    X, y = gaussian_sets()[name]
    ours = GaussianNB().fit(X, y)
    ref = sk_nb.GaussianNB().fit(X, y)
    assert_close(ours.theta_, ref.theta_)
    # var_ is relative to the feature scale (cancer has variances ~1e5): compare relatively
    np.testing.assert_allclose(h(ours.var_), ref.var_, rtol=TOL, atol=0)
    assert_close(ours.class_prior_, ref.class_prior_)
    assert_close(ours.class_count_, ref.class_count_)
    assert ours.epsilon_ == pytest.approx(ref.epsilon_, rel=TOL)
    assert_close(ours.predict_proba(X), ref.predict_proba(X))
    # log-probabilities of near-certain classes are large negative numbers: relative check
    np.testing.assert_allclose(h(ours.predict_log_proba(X)), ref.predict_log_proba(X),
                               rtol=TOL, atol=TOL)
    assert (h(ours.predict(X)) == ref.predict(X)).all()


def test_gaussian_nb_weights_priors_and_smoothing_match_scikit_learn():
    X, y = blobs(seed=1)
    w = np.random.default_rng(2).uniform(0.0, 3.0, size=len(y))
    for kwargs in ({}, {"var_smoothing": 1e-2}, {"priors": np.array([0.1, 0.2, 0.3, 0.4])}):
        ours = GaussianNB(**kwargs).fit(X, y, sample_weight=w)
        ref = sk_nb.GaussianNB(**kwargs).fit(X, y, sample_weight=w)
        assert_close(ours.theta_, ref.theta_)
        assert_close(ours.var_, ref.var_)
        assert_close(ours.class_prior_, ref.class_prior_)
        assert_close(ours.predict_proba(X), ref.predict_proba(X))


def test_gaussian_nb_partial_fit_equals_fit_and_scikit_learn():
    X, y = blobs(seed=3, n=400)
    batches = np.array_split(np.arange(len(y)), 5)

    def run(make, **kwargs):
        m = make(**kwargs)
        for i, idx in enumerate(batches):
            m.partial_fit(X[idx], y[idx], classes=np.unique(y) if i == 0 else None)
        return m

    # Without smoothing: scikit-learn's partial_fit to 1e-9, and the pooled moments
    # (Chan et al.) equal one fit on everything.
    ours, ref = run(GaussianNB, var_smoothing=0.0), run(sk_nb.GaussianNB, var_smoothing=0.0)
    assert_close(ours.theta_, ref.theta_)
    assert_close(ours.var_, ref.var_)
    assert_close(ours.predict_proba(X), ref.predict_proba(X))
    full = GaussianNB(var_smoothing=0.0).fit(X, y)
    assert_close(ours.theta_, full.theta_, 1e-12)
    assert_close(ours.var_, full.var_, 1e-12)

    # With smoothing, scikit-learn takes the *new* batch's epsilon_ off the stored
    # variances before merging (it overwrites epsilon_ first), leaving a trace of the old
    # ones; we take off the epsilon that was added. The two differ by at most the spread
    # of the batches' epsilons, and our variances are exactly the unsmoothed ones + epsilon_.
    ours, ref = run(GaussianNB), run(sk_nb.GaussianNB)
    eps = [1e-9 * X[idx].var(axis=0).max() for idx in batches]
    assert np.abs(h(ours.var_) - ref.var_).max() <= max(eps) - min(eps) + 1e-12
    assert ours.epsilon_ == pytest.approx(ref.epsilon_, rel=TOL)
    assert_close(ours.var_, h(run(GaussianNB, var_smoothing=0.0).var_) + ours.epsilon_, 1e-12)
    assert_close(ours.theta_, ref.theta_)


def test_gaussian_nb_partial_fit_batch_missing_a_class():
    X, y = blobs(seed=4, n=200, k=3)
    first = y != 2  # the first batch has no sample of class 2
    # var_smoothing=0: see the previous test for scikit-learn's epsilon_ bookkeeping
    ours = GaussianNB(var_smoothing=0.0).partial_fit(X[first], y[first], classes=[0, 1, 2])
    ref = sk_nb.GaussianNB(var_smoothing=0.0).partial_fit(X[first], y[first],
                                                          classes=[0, 1, 2])
    assert_close(ours.class_count_, ref.class_count_)
    ours.partial_fit(X[~first], y[~first])
    ref.partial_fit(X[~first], y[~first])
    assert_close(ours.theta_, ref.theta_)
    assert_close(ours.var_, ref.var_)


def test_gaussian_nb_string_labels_are_kept_as_given():
    X, y = blobs(seed=5, k=3)
    names = np.array(["cat", "dog", "emu"])[y]
    m = GaussianNB().fit(X, names)
    assert list(h(m.classes_)) == ["cat", "dog", "emu"]
    assert (h(m.predict(X)) == sk_nb.GaussianNB().fit(X, names).predict(X)).all()


# ------------------------------------------------------------------ MultinomialNB
def count_sets():
    r = np.random.default_rng(10)
    docs = [
        "the cat sat on the mat", "dogs and cats are pets", "the stock market fell today",
        "shares and bonds rallied", "my cat chased the dog", "investors sold their shares",
        "a dog barked at the cat", "the market closed higher", "pets need food and care",
        "bond yields rose as stocks fell",
    ]
    labels = np.array([0, 0, 1, 1, 0, 1, 0, 1, 0, 1])
    text = CountVectorizer().fit_transform(docs)  # CSR of backend.sparse()
    return {
        "poisson": (r.poisson(1.5, size=(300, 40)), r.integers(0, 3, 300)),
        "sparse_counts": (scipy.sparse.random(200, 500, density=0.02, random_state=1,
                                              data_rvs=lambda n: r.integers(1, 9, n)).tocsr(),
                          r.integers(0, 5, 200)),
        "text": (text, labels),
    }


@pytest.mark.parametrize("name", ["poisson", "sparse_counts", "text"])
@pytest.mark.parametrize("kwargs", [{}, {"alpha": 0.01}, {"alpha": 2.5, "fit_prior": False}])
def test_multinomial_nb_matches_scikit_learn(name, kwargs):
    X, y = count_sets()[name]
    ours = MultinomialNB(**kwargs).fit(X, y)
    ref = sk_nb.MultinomialNB(**kwargs).fit(X, y)
    assert_close(ours.feature_count_, ref.feature_count_)
    assert_close(ours.class_count_, ref.class_count_)
    assert_close(ours.feature_log_prob_, ref.feature_log_prob_)
    assert_close(ours.class_log_prior_, ref.class_log_prior_)
    assert_close(ours.predict_proba(X), ref.predict_proba(X))
    np.testing.assert_allclose(h(ours.predict_log_proba(X)), ref.predict_log_proba(X),
                               rtol=TOL, atol=TOL)
    assert (h(ours.predict(X)) == ref.predict(X)).all()


def test_multinomial_nb_sparse_and_dense_give_the_same_model():
    X, y = count_sets()["sparse_counts"]
    sparse = MultinomialNB().fit(X, y)
    dense = MultinomialNB().fit(X.toarray(), y)
    assert_close(sparse.feature_log_prob_, dense.feature_log_prob_, 1e-12)
    assert_close(sparse.predict_proba(X), dense.predict_proba(X.toarray()), 1e-12)


def test_multinomial_nb_weights_class_prior_and_partial_fit_match_scikit_learn():
    X, y = count_sets()["poisson"]
    w = np.random.default_rng(3).uniform(0.0, 2.0, size=len(y))
    ours = MultinomialNB().fit(X, y, sample_weight=w)
    ref = sk_nb.MultinomialNB().fit(X, y, sample_weight=w)
    assert_close(ours.feature_log_prob_, ref.feature_log_prob_)
    assert_close(ours.predict_proba(X), ref.predict_proba(X))

    prior = np.array([0.5, 0.3, 0.2])
    ours = MultinomialNB(class_prior=prior).fit(X, y)
    ref = sk_nb.MultinomialNB(class_prior=prior).fit(X, y)
    assert_close(ours.class_log_prior_, ref.class_log_prior_)

    Xs = scipy.sparse.csr_matrix(X)
    inc, ref = MultinomialNB(), sk_nb.MultinomialNB()
    for i, idx in enumerate(np.array_split(np.arange(len(y)), 4)):
        classes = [0, 1, 2] if i == 0 else None
        inc.partial_fit(Xs[idx], y[idx], classes=classes)
        ref.partial_fit(X[idx], y[idx], classes=classes)
    assert_close(inc.feature_log_prob_, ref.feature_log_prob_)
    assert_close(inc.class_log_prior_, ref.class_log_prior_)
    full = MultinomialNB().fit(X, y)
    assert_close(inc.feature_count_, full.feature_count_, 1e-12)
    assert_close(inc.predict_proba(X), full.predict_proba(X), 1e-12)


def test_log_space_survives_where_a_product_of_probabilities_underflows():
    # 2,000 occurrences of words each of probability < 1/50 in class 0: the product of
    # likelihoods is < 1e-3000, far below the smallest double; the log-posterior is not.
    r = np.random.default_rng(7)
    X = r.poisson(40.0, size=(20, 50))
    y = np.arange(20) % 2
    m = MultinomialNB().fit(X, y)
    logp = h(m.predict_log_proba(X))
    assert np.isfinite(logp).all()
    np.testing.assert_allclose(h(m.predict_proba(X)).sum(axis=1), 1.0, atol=1e-12)
    direct = np.prod(np.exp(h(m.feature_log_prob_))[0] ** X[0])
    assert direct == 0.0  # what a naive product would have given
    ref = sk_nb.MultinomialNB().fit(X, y)
    np.testing.assert_allclose(logp, ref.predict_log_proba(X), rtol=TOL, atol=TOL)


# ---------------------------------------------------------------- backends
def test_same_results_on_every_backend(xp):
    X, y = blobs(seed=8)
    C, yc = count_sets()["poisson"]
    with backend.use("numpy"):
        g_ref = h(GaussianNB().fit(X, y).predict_proba(X))
        m_ref = h(MultinomialNB().fit(C, yc).predict_proba(C))
    g = GaussianNB().fit(backend.asarray(X), backend.asarray(y))
    p = g.predict_proba(backend.asarray(X))
    assert backend.get_array_module(p) is xp
    np.testing.assert_allclose(h(p), g_ref, rtol=1e-10, atol=1e-12)
    m = MultinomialNB().fit(backend.asarray(C), backend.asarray(yc))
    np.testing.assert_allclose(h(m.predict_proba(backend.asarray(C))), m_ref,
                               rtol=1e-10, atol=1e-12)
    sp = backend.sparse()
    Cs = sp.csr_matrix(backend.asarray(C.astype(float)) if backend.name() == "cupy" else C)
    ms = MultinomialNB().fit(Cs, backend.asarray(yc))
    np.testing.assert_allclose(h(ms.predict_proba(Cs)), m_ref, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("est", [GaussianNB, MultinomialNB])
def test_bad_data_raises_value_error_naming_the_argument(est):
    X = np.abs(blobs(seed=9)[0])
    y = np.arange(len(X)) % 2
    with pytest.raises(NotFittedError):
        est().predict(X)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="'X' contains NaN or inf"):
        est().fit(bad, y)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="'X' contains NaN or inf"):
        est().fit(bad, y)
    with pytest.raises(ValueError, match="'X' must be a 2-D array"):
        est().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="single class"):
        est().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="samples|one label per row"):
        est().fit(X, y[:-1])
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est().partial_fit(X, y)
    with pytest.raises(ValueError, match=r"labels \[7\] that are not in classes"):
        est().partial_fit(X, np.where(y == 1, 7, 0), classes=[0, 1])
    with pytest.raises(ValueError, match="'sample_weight'"):
        est().fit(X, y, sample_weight=-np.ones(len(y)))
    m = est().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :2])


def test_bad_hyperparameters_name_the_argument():
    X = np.abs(blobs(seed=9)[0])
    y = np.arange(len(X)) % 2
    with pytest.raises(ValueError, match="'var_smoothing'"):
        GaussianNB(var_smoothing=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="'priors'"):
        GaussianNB(priors=[0.3, 0.3]).fit(X, y)
    with pytest.raises(ValueError, match="'priors'"):
        GaussianNB(priors=[0.5, 0.3, 0.2]).fit(X, y)
    with pytest.raises(ValueError, match="'alpha'"):
        MultinomialNB(alpha=-0.5).fit(X, y)
    with pytest.raises(TypeError, match="'alpha'"):
        MultinomialNB(alpha="one").fit(X, y)
    with pytest.raises(ValueError, match="'fit_prior'"):
        MultinomialNB(fit_prior="yes").fit(X, y)
    with pytest.raises(ValueError, match="non-negative counts"):
        MultinomialNB().fit(X - 10.0, y)
    with pytest.raises(ValueError, match="non-negative counts"):
        MultinomialNB().fit(scipy.sparse.csr_matrix(X - 10.0), y)
    with pytest.raises(ValueError, match="'class_prior'"):
        MultinomialNB(class_prior=[1.0]).fit(X, y)


def test_sparse_matrix_of_the_wrong_backend_is_refused():
    X = scipy.sparse.csr_matrix(np.ones((4, 3)))
    with backend.use("strict"):  # scipy on a CPU backend is the right one: accepted
        MultinomialNB().fit(X, backend.asarray(np.array([0, 1, 0, 1])))
    if backend.cupy_available():
        with backend.use("cupy"), pytest.raises(backend.BackendError, match="'X'"):
            MultinomialNB().fit(X, backend.asarray(np.array([0, 1, 0, 1])))


# ------------------------------------------------------------- GaussianNB fast path
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gaussian_class_moments_fast_path_equals_the_readable_one(xp, weighted):
    """Per-class counts, means and variances: the class-by-class blocks (fast path) equal
    the one-hot products (readable), also for a class without samples in the batch."""
    from mmscratch.supervised.naive_bayes import (
        _class_moments,
        _class_moments_sorted,
        _total_variance,
    )

    rng = np.random.default_rng(7)
    X = (rng.normal(size=(300, 9)) * 3 + 100).astype(np.float32)  # offset: no cancellation
    y = rng.choice([0, 1, 3], size=300)  # class 2 of 4 is absent
    w = rng.uniform(0.0, 2.0, size=300) if weighted else None
    args = [backend.asarray(X), backend.asarray(y), 4,
            None if w is None else backend.asarray(w)]
    for a, b in zip(_class_moments(*args), _class_moments_sorted(*args)):
        np.testing.assert_allclose(h(b), h(a), rtol=1e-12, atol=1e-12)
    n, mu, var = _class_moments_sorted(*args)
    assert h(n)[2] == 0 and not h(mu)[2].any() and not h(var)[2].any()
    if not weighted:
        np.testing.assert_allclose(h(_total_variance(n, mu, var)),
                                   X.astype(np.float64).var(axis=0), rtol=1e-12)
