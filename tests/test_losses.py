"""Losses: gradients, stability at extreme logits, PyTorch parity, label validation."""

import numpy as np
import pytest

from mmscratch import backend, nn
from mmscratch.gradcheck import assert_gradcheck, check_loss

TOL = 1e-6


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def labels(*values):
    return backend.asarray(np.array(values, dtype=np.int64))


def test_softmax_cross_entropy_gradient_integer_labels(xp):
    assert_gradcheck(check_loss(nn.SoftmaxCrossEntropy(), rand(4, 5), labels(0, 4, 2, 2)), TOL)


def test_softmax_cross_entropy_gradient_one_hot(xp):
    y = backend.asarray(np.eye(5)[[1, 3, 0, 4]])
    assert_gradcheck(check_loss(nn.SoftmaxCrossEntropy(), rand(4, 5), y), TOL)


def test_categorical_crossentropy_on_probabilities_gradient(xp):
    p = np.random.default_rng(0).dirichlet(np.ones(5), 4)
    assert_gradcheck(check_loss(nn.CategoricalCrossentropy(), p, labels(0, 4, 2, 2)), TOL)


def test_mse_gradient(xp):
    target = backend.asarray(rand(3, 2, seed=1))
    assert_gradcheck(check_loss(nn.MeanSquaredError(), rand(3, 2), target), TOL)


def test_cross_entropy_finite_at_huge_logits(xp):
    loss = nn.SoftmaxCrossEntropy()
    z = backend.asarray(np.array([[1e4, -1e4], [-1e4, 1e4]]))
    value = loss.forward(z, labels(1, 0))
    assert value == pytest.approx(2e4)
    assert np.isfinite(backend.to_numpy(loss.backward())).all()


def test_labels_out_of_range_are_refused(xp):
    with pytest.raises(ValueError, match=r"\[0, 2\].*got values in \[0, 3\]"):
        nn.SoftmaxCrossEntropy().forward(backend.asarray(rand(2, 3)), labels(0, 3))


def test_mse_refuses_to_broadcast(xp):
    with pytest.raises(ValueError, match="shape"):
        nn.MeanSquaredError().forward(backend.asarray(rand(3, 2)), backend.asarray(rand(3, 1)))


def test_keras_names_resolve():
    assert isinstance(nn.losses.get("categorical_crossentropy"), nn.CategoricalCrossentropy)
    assert isinstance(nn.losses.get("mse"), nn.MeanSquaredError)
    with pytest.raises(ValueError, match="unknown loss"):
        nn.losses.get("hinge")


@pytest.mark.torch
def test_cross_entropy_and_mse_match_torch():
    torch = pytest.importorskip("torch")
    z, y = rand(6, 4), np.array([0, 3, 1, 1, 2, 0])
    loss = nn.SoftmaxCrossEntropy()
    value = loss.forward(z, y)
    tz = torch.tensor(z, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tz, torch.tensor(y))
    tl.backward()
    assert value == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), tz.grad.numpy(), rtol=1e-10, atol=1e-15)
    p, t = rand(3, 2), rand(3, 2, seed=1)
    mse = nn.MeanSquaredError()
    tp = torch.tensor(p, requires_grad=True)
    tm = torch.nn.functional.mse_loss(tp, torch.tensor(t))
    tm.backward()
    assert mse.forward(p, t) == pytest.approx(tm.item(), rel=1e-12)
    np.testing.assert_allclose(mse.backward(), tp.grad.numpy(), rtol=1e-12)
