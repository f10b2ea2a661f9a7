"""The estimator base: scikit-learn's BaseEstimator contract and the one count validator."""

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.base import BaseEstimator, ClassifierMixin, RegressorMixin, check_X, check_X_y
from mmscratch.errors import NotFittedError, check_count, check_real


class Toy(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0, *, kernel="rbf"):
        self.C = C
        self.kernel = kernel

    def fit(self, X, y):
        X, y = check_X_y(X, y, self._where())
        self.classes_ = np.unique(backend.to_numpy(y))
        return self

    def predict(self, X):
        self._check_is_fitted()
        return backend.xp().full(check_X(X, self._where()).shape[0], int(self.classes_[0]))


class Mean(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        X, y = check_X_y(X, y, "Mean()", y_numeric=True)
        self.mean_ = y.mean()
        return self

    def predict(self, X):
        return backend.xp().zeros(X.shape[0]) + self.mean_


def test_params_come_from_the_constructor_signature():
    t = Toy(C=2.0)
    assert t.get_params() == {"C": 2.0, "kernel": "rbf"}
    assert t.set_params(kernel="linear") is t and t.kernel == "linear"
    with pytest.raises(ValueError, match="invalid parameter 'gamma' for estimator Toy"):
        t.set_params(gamma=1.0)


def test_repr_shows_only_non_default_parameters():
    assert repr(Toy()) == "Toy()"
    assert repr(Toy(C=0.5, kernel="poly")) == "Toy(C=0.5, kernel='poly')"


def test_using_an_unfitted_estimator_raises_not_fitted_error():
    with pytest.raises(NotFittedError, match="Toy instance is not fitted yet"):
        Toy().predict(np.zeros((2, 2)))
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


def test_score_is_accuracy_for_classifiers_and_r2_for_regressors():
    X = np.zeros((4, 1))
    assert Toy().fit(X, [0, 0, 0, 1]).score(X, [0, 0, 0, 1]) == 0.75
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert Mean().fit(X, y).score(X, y) == pytest.approx(0.0)


def test_input_checks_name_the_argument():
    with pytest.raises(ValueError, match="X has 3 samples but y has 2"):
        check_X_y(np.zeros((3, 2)), [0, 1], "Toy()")
    with pytest.raises(ValueError, match="reshape"):
        check_X(np.zeros(3), "Toy()")
    with pytest.raises(ValueError, match="NaN or inf"):
        check_X(np.array([[np.nan]]), "Toy()")
    with pytest.raises(ValueError, match="y.ravel"):
        check_X_y(np.zeros((3, 2)), np.zeros((3, 1)), "Toy()")


def test_host_arrays_and_lists_move_to_the_active_backend(xp):
    X = check_X([[1, 2], [3, 4]], "Toy()")
    assert backend.get_array_module(X) is backend.get_array_module(xp.zeros(1))
    assert X.dtype == np.float64


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_counts_accept_python_and_numpy_integers(value):
    assert check_count(value, "n_components") == 3
    assert type(check_count(value, "n_components")) is int


@pytest.mark.parametrize("value", [True, 3.0, "3", None])
def test_counts_refuse_bools_floats_and_strings(value):
    with pytest.raises(TypeError, match="argument 'n_fft' must be an int"):
        check_count(value, "n_fft", where="MFCC()")


def test_counts_below_the_minimum_are_value_errors():
    with pytest.raises(ValueError, match=">= 1, got 0"):
        check_count(0, "units")
    assert check_count(0, "verbose", minimum=0) == 0
    assert check_count(None, "max_depth", allow_none=True) is None


def test_real_parameters_are_checked_against_their_interval():
    assert check_real(1, "C", low=0, low_open=True) == 1.0
    with pytest.raises(ValueError, match=r"must be in \(0, inf\]"):
        check_real(0.0, "C", low=0, low_open=True)
    with pytest.raises(TypeError):
        check_real(True, "C")
    with pytest.raises(ValueError, match="NaN"):
        check_real(float("nan"), "tol")


def test_sklearn_clone_and_grid_search_work():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    t = Toy(C=3.0)
    assert clone(t).get_params() == t.get_params() and clone(t) is not t
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.array([0, 1] * 10)
    assert GridSearchCV(Toy(), {"C": [1.0, 2.0]}, cv=2).fit(X, y).best_params_ == {"C": 1.0}
    assert sklearn.base.is_classifier(Toy())
