"""The gradient checker itself: it must pass correct gradients and catch wrong ones."""

import numpy as np
import pytest

from mmscratch import backend, gradcheck, nn


def test_rel_error_reports_worst_element_and_index():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    n = a.copy()
    n[1, 0] = 3.3
    r = gradcheck.rel_error(a, n)
    assert r.index == (1, 0)
    assert r.rel_error == pytest.approx(0.3 / 6.3)


def test_numerical_gradient_of_a_quadratic(xp):
    x = backend.asarray(np.array([1.0, -2.0, 3.0]))
    g = gradcheck.numerical_gradient(lambda: (x * x).sum(), x)
    np.testing.assert_allclose(g, [2.0, -4.0, 6.0], rtol=1e-8)


class _WrongDense(nn.Dense):
    """A Dense whose weight gradient is off by 1%: the checker must notice."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["W"] = self.grads["W"] * 1.01
        return dx


def test_checker_catches_a_wrong_gradient(xp):
    x = np.random.default_rng(0).standard_normal((3, 4))
    results = gradcheck.check_layer(_WrongDense(2, seed=0), x)
    assert results["x"].passed(1e-6)
    with pytest.raises(AssertionError, match="W"):
        gradcheck.assert_gradcheck(results, tol=1e-6)


def test_checker_refuses_an_empty_comparison():
    with pytest.raises(AssertionError, match="nothing"):
        gradcheck.assert_gradcheck({})
