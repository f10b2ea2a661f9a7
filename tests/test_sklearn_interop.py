"""mmscratch estimators inside scikit-learn's machinery.

Specification
-------------
Every estimator derives from :class:`mmscratch.base.BaseEstimator`, so scikit-learn can
clone it, set its parameters and use it in ``Pipeline``, ``cross_val_score`` and
``GridSearchCV``; ``sklearn.utils.estimator_checks.check_estimator`` passes every check
except those listed, with the reason, in ``mmscratch.base.SKLEARN_EXPECTED_FAILED_CHECKS``
(the one place), and each listed check really fails for some estimator, so the list
cannot go stale. ``import mmscratch`` never imports scikit-learn. All on the numpy
backend, where host arrays are the backend's arrays.

Every estimator that takes a plain ``X`` runs ``check_estimator``, with small settings
(forests of 5 trees) so the checks stay fast. Two cannot, by their published API, and
are tested here on their own (clone, parameters, Pipeline/GridSearchCV, pickling):

* ``SOM.fit(X, num_iteration)`` is MiniSom's ``train(data, num_iteration)``: the second
  positional argument is a step count, not a target, so the checks' ``fit(X, y)`` with an
  array ``y`` cannot call it (``fit(X, None)``, as Pipeline and GridSearchCV call it,
  takes the constructor's ``num_iteration``); and ``transform`` returns ``(N, m, n)``
  distances to the map's units, not a 2-D feature matrix.
* ``multimodal.MultiKernelSVC`` takes ``X`` as a dict modality -> array.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.base import SKLEARN_EXPECTED_FAILED_CHECKS
from mmscratch.errors import NotFittedError
from mmscratch.features import CountVectorizer, TfidfTransformer, TfidfVectorizer
from mmscratch.multimodal import MultiKernelSVC
from mmscratch.supervised import (
    SVC,
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    GaussianNB,
    LinearSVC,
    MultinomialNB,
    RandomForestClassifier,
    RandomForestRegressor,
)
from mmscratch.unsupervised import CCA, PCA, SOM, KMeans, TruncatedSVD

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

ESTIMATORS = {
    "PCA": lambda: PCA(2),
    "KMeans": lambda: KMeans(3, n_init=2, random_state=0),
    "TruncatedSVD": lambda: TruncatedSVD(2, random_state=0),
    "TfidfTransformer": TfidfTransformer,
    "CountVectorizer": CountVectorizer,
    "TfidfVectorizer": TfidfVectorizer,
    "GaussianNB": GaussianNB,
    "MultinomialNB": MultinomialNB,
    "LinearSVC": LinearSVC,
    "SVC": SVC,
    "DecisionTreeClassifier": lambda: DecisionTreeClassifier(random_state=0),
    "DecisionTreeRegressor": lambda: DecisionTreeRegressor(random_state=0),
    "RandomForestClassifier": lambda: RandomForestClassifier(5, random_state=0),
    "RandomForestRegressor": lambda: RandomForestRegressor(5, random_state=0),
    "CCA": lambda: CCA(1),
}


@pytest.fixture(autouse=True)
def numpy_backend():
    with backend.use("numpy"):
        yield


def run_checks(est):
    results = check_estimator(est, expected_failed_checks=SKLEARN_EXPECTED_FAILED_CHECKS,
                              on_fail=None, on_skip=None)
    return {r["check_name"]: r for r in results}


@pytest.fixture(scope="module")
def check_results():
    with backend.use("numpy"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: run_checks(make()) for name, make in ESTIMATORS.items()}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_check_estimator_passes_except_the_listed_checks(check_results, name):
    failed = {k: repr(r["exception"])[:300] for k, r in check_results[name].items()
              if r["status"] == "failed"}
    assert not failed, f"{name} fails scikit-learn checks not listed as expected: {failed}"
    assert any(r["status"] == "passed" for r in check_results[name].values())


def test_every_expected_failure_has_a_reason_and_still_fails_somewhere(check_results):
    for check, reason in SKLEARN_EXPECTED_FAILED_CHECKS.items():
        assert len(reason) > 40, f"say why {check} fails on purpose"
        statuses = {name: res[check]["status"] for name, res in check_results.items()
                    if check in res}
        assert statuses, f"{check} is never run: remove it from the list"
        # An xfail check that raised nothing would be reported as passing; at least one
        # estimator must really fail it, or the entry is stale.
        assert any(res[check]["exception"] is not None for res in check_results.values()
                   if check in res), f"{check} no longer fails: remove it from the list"


def test_import_mmscratch_does_not_import_sklearn():
    code = ("import sys, mmscratch, mmscratch.unsupervised, mmscratch.features, "
            "mmscratch.base, mmscratch.supervised, mmscratch.multimodal; "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_clone_keeps_parameters_and_repr_shows_them(name):
    est = ESTIMATORS[name]()
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert repr(twin) == repr(est)


def test_repr_shows_the_non_default_parameters():
    assert repr(CountVectorizer()) == "CountVectorizer()"
    assert repr(CountVectorizer(max_features=1000, binary=True)) == \
        "CountVectorizer(binary=True, max_features=1000)"
    assert repr(PCA(3, whiten=True)) == "PCA(n_components=3, whiten=True)"
    assert repr(KMeans(4, random_state=0)) == "KMeans(n_clusters=4, random_state=0)"
    assert repr(TruncatedSVD(5)) == "TruncatedSVD(n_components=5)"


@pytest.mark.parametrize("make,method", [
    (lambda: PCA(2), "transform"), (lambda: PCA(2), "inverse_transform"),
    (lambda: KMeans(2), "predict"), (lambda: KMeans(2), "transform"),
    (lambda: TruncatedSVD(2), "transform"), (lambda: TruncatedSVD(2), "inverse_transform"),
    (TfidfTransformer, "transform"),
])
def test_use_before_fit_raises_not_fitted_error(make, method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(make(), method)(np.ones((3, 2)))


def blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [5.0, 5.0, 0.0, 0.0], [0.0, 5.0, 5.0, 5.0]])
    y = np.repeat(np.arange(3), 30)
    order = rng.permutation(90)  # shuffled, so that every fold holds every blob
    return (centres[y] + rng.normal(scale=0.5, size=(90, 4)))[order], y[order]


def test_pipeline_pca_then_kmeans_recovers_the_blobs():
    X, y = blobs()
    pipe = Pipeline([("pca", PCA(2)), ("km", KMeans(3, n_init=3, random_state=0))])
    labels = pipe.fit_predict(X)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(y, labels) == 1.0
    assert pipe.named_steps["pca"].components_.shape == (2, 4)


def test_cross_val_score_and_grid_search_use_our_score():
    """KMeans.score is -inertia: three clusters fit held-out three-blob data far better
    than one, so the grid keeps k = 3; cross_val_score returns one score per fold."""
    X, _ = blobs()
    scores = cross_val_score(KMeans(3, n_init=2, random_state=0), X, cv=3)
    assert scores.shape == (3,) and np.all(scores < 0)
    grid = GridSearchCV(Pipeline([("pca", PCA(2)), ("km", KMeans(n_init=2, random_state=0))]),
                        {"km__n_clusters": [1, 3], "pca__whiten": [False, True]}, cv=3)
    grid.fit(X)
    assert grid.best_params_["km__n_clusters"] == 3
    assert grid.best_estimator_.named_steps["km"].n_clusters == 3


def test_text_pipeline_matches_sklearn_tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer as SkTfidf

    docs = ["the cat sat", "the dog sat down", "a cat and a dog", "down the road"]
    ours = Pipeline([("counts", CountVectorizer()), ("tfidf", TfidfTransformer()),
                     ("lsa", TruncatedSVD(2, random_state=0))]).fit_transform(docs)
    ref = SkTfidf().fit_transform(docs)
    from sklearn.decomposition import TruncatedSVD as SkTSVD

    np.testing.assert_allclose(ours, SkTSVD(2, random_state=0).fit_transform(ref),
                               rtol=1e-7, atol=1e-10)


# ---------------------------------------------------------------- supervised learners
def noisy_blobs():
    """Three overlapping blobs (some points fall on the wrong side of every boundary)."""
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 0.0], [0.0, 2.0, 2.0]])
    y = np.repeat(np.arange(3), 40)[rng.permutation(120)]
    return centres[y] + rng.normal(scale=1.0, size=(120, 3)), y


def test_pipeline_cross_val_score_matches_sklearn_pipeline():
    """PCA then SVC, and standard-scaled GaussianNB, scored by 3-fold stratified cross
    validation: the same fold accuracies as the same pipelines built from
    scikit-learn's estimators (PCA signs differ, which neither model sees)."""
    from sklearn import decomposition, naive_bayes, svm

    X, y = noisy_blobs()
    ours = cross_val_score(Pipeline([("pca", PCA(2)), ("svc", SVC(C=0.5))]), X, y, cv=3)
    ref_pipe = Pipeline([("pca", decomposition.PCA(2)), ("svc", svm.SVC(C=0.5))])
    ref = cross_val_score(ref_pipe, X, y, cv=3)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert 0.5 < ours.mean() < 1.0  # overlapping blobs: neither trivial nor chance
    np.testing.assert_allclose(cross_val_score(GaussianNB(), X, y, cv=3),
                               cross_val_score(naive_bayes.GaussianNB(), X, y, cv=3), atol=1e-12)


def test_grid_search_over_our_classifiers_and_regressors():
    """A depth-1 tree separates only two of three classes, so the grid keeps depth 3;
    a forest regressor's R² (our RegressorMixin.score) is what GridSearchCV ranks."""
    X, y = blobs()
    grid = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 3]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_ == {"max_depth": 3}
    assert grid.cv_results_["mean_test_score"][0] < 0.8 < grid.best_score_

    rng = np.random.default_rng(2)
    Xr = rng.uniform(-1, 1, size=(90, 3))
    yr = 3 * Xr[:, 0] + Xr[:, 1] ** 2
    grid = GridSearchCV(Pipeline([("pca", PCA(3)),
                                  ("rf", RandomForestRegressor(5, random_state=0))]),
                        {"rf__max_depth": [1, None]}, cv=3).fit(Xr, yr)
    assert grid.best_params_ == {"rf__max_depth": None} and grid.best_score_ > 0.7
    scores = cross_val_score(DecisionTreeRegressor(random_state=0), Xr, yr, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


def test_classifiers_keep_string_labels_as_given_through_cross_validation():
    X, y = blobs()
    names = np.array(["cat", "dog", "eel"])[y]
    for est in (GaussianNB(), LinearSVC(), RandomForestClassifier(5, random_state=0)):
        fitted = clone(est).fit(X, names)
        assert list(fitted.classes_) == ["cat", "dog", "eel"]
        assert cross_val_score(est, X, names, cv=3).min() > 0.9


# ---------------------------------------------------------------- SOM on its own
def test_som_clones_and_runs_inside_pipeline_and_grid_search():
    """Pipeline and GridSearchCV call ``fit(X, None)``: the step count then comes from
    the constructor's ``num_iteration``. A fixed random_state makes the map
    reproducible, so the pipeline's map equals one trained by hand and the grid's refit
    equals a fresh fit."""
    import pickle

    X, _ = blobs()
    som = SOM(3, 3, sigma=1.0, random_state=0, num_iteration=100)
    twin = clone(som)
    assert twin.get_params() == som.get_params() and repr(twin) == repr(som)
    with pytest.raises(NotFittedError):
        som.predict(X)
    with pytest.raises(TypeError, match="num_iteration"):
        SOM(3, 3).fit(X)

    Xp = PCA(2).fit_transform(X)
    by_hand = SOM(3, 3, random_state=0).fit(Xp, 200)
    pipe = Pipeline([("pca", PCA(2)), ("som", SOM(3, 3, random_state=0, num_iteration=200))])
    pipe.fit(X)
    np.testing.assert_array_equal(pipe.named_steps["som"].weights_, by_hand.weights_)
    np.testing.assert_array_equal(pipe.predict(X), by_hand.predict(Xp))

    def score(est, X, y=None):
        return -est.quantization_error(X)

    grid = GridSearchCV(SOM(3, 3, random_state=0), {"sigma": [0.5, 1.5],
                                                    "num_iteration": [10, 100]},
                        scoring=score, cv=3).fit(X)
    fresh = SOM(3, 3, random_state=0, **grid.best_params_).fit(X)
    np.testing.assert_array_equal(grid.best_estimator_.weights_, fresh.weights_)

    again = pickle.loads(pickle.dumps(fresh))
    np.testing.assert_array_equal(again.transform(X), fresh.transform(X))
    with pytest.raises(ValueError, match="X has 3 features, but SOM is expecting 4"):
        fresh.predict(X[:, :3])


# ---------------------------------------------------------------- MultiKernelSVC
class Modalities(dict):
    """A dict modality -> (n, ...) array that scikit-learn's splitters can index by row
    (``shape`` gives n; a row index selects those rows of every modality), so
    GridSearchCV can cross-validate MultiKernelSVC, which takes a dict."""

    @property
    def shape(self):
        return (len(next(iter(self.values()))),)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, str):
            return dict.__getitem__(self, key)
        rows = key[0] if isinstance(key, tuple) else key
        return Modalities({m: v[rows] for m, v in self.items()})


def test_multi_kernel_svc_clones_and_runs_in_grid_search():
    """GridSearchCV over C and the kernel weighting scores each candidate exactly as a
    hand-written stratified 3-fold loop over the dict of modalities does."""
    from sklearn.model_selection import StratifiedKFold

    X, y = noisy_blobs()
    views = Modalities({"a": X[:, :2], "b": X[:, 2:]})
    est = MultiKernelSVC({"a": "rbf", "b": {"kernel": "linear"}}, weights="uniform")
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin.kernels is not est.kernels
    assert twin.set_params(C=2.0).C == 2.0 and est.C == 1.0
    with pytest.raises(NotFittedError):
        est.predict(dict(views))

    grid_params = {"C": [0.01, 1.0], "weights": ["uniform", "alignment"]}
    grid = GridSearchCV(est, grid_params, cv=3).fit(views, y)
    for params, got in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_score"],
                           strict=True):
        fold_scores = []
        for train, test in StratifiedKFold(3).split(X, y):
            model = clone(est).set_params(**params).fit(dict(views[train]), y[train])
            fold_scores.append(np.mean(model.predict(dict(views[test])) == y[test]))
        assert got == pytest.approx(np.mean(fold_scores), abs=1e-12)
    fresh = clone(est).set_params(**grid.best_params_).fit(dict(views), y)
    np.testing.assert_array_equal(grid.best_estimator_.predict(dict(views)),
                                  fresh.predict(dict(views)))


# ---------------------------------------------------------------- scikit-learn's words
SUPERVISED = {
    "GaussianNB": GaussianNB,
    "MultinomialNB": MultinomialNB,
    "LinearSVC": LinearSVC,
    "SVC": SVC,
    "DecisionTreeClassifier": lambda: DecisionTreeClassifier(random_state=0),
    "RandomForestClassifier": lambda: RandomForestClassifier(5, random_state=0),
    "DecisionTreeRegressor": lambda: DecisionTreeRegressor(random_state=0),
    "RandomForestRegressor": lambda: RandomForestRegressor(5, random_state=0),
}


@pytest.mark.parametrize("name", sorted(SUPERVISED))
def test_supervised_input_errors_are_scikit_learns(name):
    """The messages scikit-learn's checks (and its users) look for: a missing y, a
    regression target given to a classifier, a single class, all-zero weights, and a
    predict-time width that differs from the fitted one."""
    import inspect

    X, y = blobs()
    X = np.abs(X)  # counts for MultinomialNB, harmless for the others
    make = SUPERVISED[name]
    is_classifier = "Regressor" not in name
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        make().fit(X, None)
    if is_classifier:
        with pytest.raises(ValueError, match="Unknown label type: continuous"):
            make().fit(X, y + 0.5)
        with pytest.raises(ValueError, match="1 class"):
            make().fit(X, np.zeros(len(y)))
        fitted = make().fit(X, y.astype(np.float64))  # integral floats are labels
        assert np.asarray(fitted.classes_).tolist() == [0.0, 1.0, 2.0]
    if "sample_weight" in inspect.signature(make().fit).parameters:
        with pytest.raises(ValueError, match="sample_weight.*zero for every sample"):
            make().fit(X, y, sample_weight=np.zeros(len(y)))
    fitted = make().fit(X, y)
    with pytest.raises(ValueError, match=f"X has 3 features, but {name} is expecting 4 "
                                         "features as input"):
        fitted.predict(X[:, :3])


def test_cca_takes_a_one_column_view_as_1d_like_sklearn():
    from sklearn.cross_decomposition import CCA as SkCCA  # noqa: N811

    X, _ = blobs()
    target = X[:, 0] - 2 * X[:, 1] + np.random.default_rng(3).normal(size=len(X))
    ours = CCA(1).fit(X, target)
    np.testing.assert_allclose(ours.transform(X), CCA(1).fit(X, target[:, None]).transform(X))
    u, v = CCA(1).fit_transform(X, y=target)
    assert u.shape == v.shape == (len(X), 1)
    ref_u, ref_v = SkCCA(1).fit_transform(X, target)
    # Same canonical correlation as scikit-learn's NIPALS (scores differ in scale).
    assert np.corrcoef(u[:, 0], v[:, 0])[0, 1] == pytest.approx(
        abs(np.corrcoef(ref_u[:, 0], ref_v[:, 0])[0, 1]), rel=1e-6)
