"""Dense, activations, Flatten and Dropout: gradients, PyTorch parity, bad input."""

import numpy as np
import pytest

from mmscratch import backend, nn
from mmscratch.gradcheck import assert_gradcheck, check_layer

TOL = 1e-6  # float64 central differences; see mmscratch/gradcheck.py


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid", "softmax"])
def test_dense_gradients(xp, activation):
    assert_gradcheck(check_layer(nn.Dense(3, activation=activation, seed=1), rand(4, 5)), TOL)


def test_dense_on_sequences_applies_to_last_axis(xp):
    assert_gradcheck(check_layer(nn.Dense(3, seed=1), rand(2, 3, 4)), TOL)


@pytest.mark.parametrize("layer", [nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Softmax, nn.Flatten])
def test_parameter_free_layer_gradients(xp, layer):
    assert_gradcheck(check_layer(layer(), rand(2, 3, 4) + 0.01), TOL)


def test_sigmoid_is_stable_at_extremes(xp):
    y = backend.to_numpy(nn.Sigmoid().forward(backend.asarray(np.array([-1e3, 0.0, 1e3]))))
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])
    assert np.isfinite(y).all()


def test_softmax_is_stable_at_large_logits(xp):
    y = backend.to_numpy(nn.Softmax().forward(backend.asarray(np.array([[1e4, -1e4, 0.0]]))))
    np.testing.assert_allclose(y, [[1.0, 0.0, 0.0]])


def test_dropout_is_identity_at_inference_and_inverted_in_training(xp):
    x = backend.asarray(np.ones((200, 50)))
    layer = nn.Dropout(0.3, seed=0)
    assert (backend.to_numpy(layer.forward(x, training=False)) == 1).all()
    y = backend.to_numpy(layer.forward(x, training=True))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.7)
    assert abs(kept.mean() - 0.7) < 0.02
    dy = backend.asarray(rand(200, 50))
    dx = backend.to_numpy(layer.backward(dy))
    np.testing.assert_allclose(dx, backend.to_numpy(dy) * y)


def test_backward_never_modifies_its_argument(xp):
    for layer in (nn.ReLU(), nn.Dense(3, seed=0), nn.Dropout(0.5, seed=0), nn.Softmax()):
        x = backend.asarray(rand(4, 3))
        y = layer.forward(x, training=True)
        dy = backend.asarray(rand(*y.shape, seed=1))
        before = backend.to_numpy(dy).copy()
        layer.backward(dy)
        np.testing.assert_array_equal(backend.to_numpy(dy), before)


def test_gradients_are_overwritten_not_accumulated(xp):
    layer = nn.Dense(2, seed=0)
    x = backend.asarray(rand(3, 4))
    dy = backend.asarray(rand(3, 2))
    layer.forward(x)
    layer.backward(dy)
    first = backend.to_numpy(layer.grads["W"]).copy()
    layer.backward(dy)
    np.testing.assert_array_equal(backend.to_numpy(layer.grads["W"]), first)


@pytest.mark.parametrize("bad, match", [
    (np.ones(3, dtype=np.float32), "at least 2 dimensions"),
    (np.ones((2, 5), dtype=np.float32), "last dimension 4"),
    (np.ones((2, 4), dtype=np.int64), "floating dtype"),
    (np.full((2, 4), np.nan, dtype=np.float32), "NaN"),
])
def test_dense_bad_input_names_layer_and_shapes(xp, bad, match):
    layer = nn.Dense(3, seed=0)
    layer.forward(backend.asarray(np.ones((2, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match=match) as info:
        layer.forward(backend.asarray(bad))
    assert "Dense(units=3" in str(info.value)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Dense(3).backward(np.ones((1, 3)))


def test_invalid_constructor_arguments():
    with pytest.raises(ValueError, match="units"):
        nn.Dense(0)
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="activation"):
        nn.Dense(3, activation="swish")


@pytest.mark.torch
@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid"])
def test_dense_matches_torch(activation):
    torch = pytest.importorskip("torch")
    x = rand(5, 4)
    dy = rand(5, 3, seed=1)
    layer = nn.Dense(3, activation=activation, seed=0)
    y = layer.forward(x.astype(np.float64))
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    y = layer.forward(x)
    dx = layer.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    tW = torch.tensor(layer.params["W"], requires_grad=True)
    tb = torch.tensor(layer.params["b"], requires_grad=True)
    fn = {None: lambda z: z, "relu": torch.relu, "tanh": torch.tanh,
          "sigmoid": torch.sigmoid}[activation]
    ty = fn(tx @ tW + tb)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], tW.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], tb.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.torch
def test_softmax_matches_torch():
    torch = pytest.importorskip("torch")
    x, dy = rand(4, 6), rand(4, 6, seed=1)
    layer = nn.Softmax()
    y = layer.forward(x)
    dx = layer.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.softmax(tx, dim=-1)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-14)
