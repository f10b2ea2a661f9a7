"""LayerNormalization and BatchNormalization: x^ = (x - mu) / sqrt(var + eps), y = gamma x^ + beta.

Specification:
* float64 gradient checks (input, gamma, beta): layer norm on sequences; batch norm on
  vectors and images, in training mode (the three-term gradient) and inference mode;
* parity with PyTorch's ``layer_norm`` and ``batch_norm`` (training and evaluation,
  running statistics after several steps, Keras momentum m = 1 - PyTorch momentum) to
  1e-9 in float64;
* moving statistics start at 0 and 1, change only when training, are not parameters,
  and survive a checkpoint round trip;
* the closed-form backward agrees with a naive chain of small steps (Ioffe & Szegedy's
  dvar, dmu);
* bad input gives a clear error.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend, nn
from mmscratch.gradcheck import assert_gradcheck, check_layer, to_float64
from mmscratch.nn import BatchNormalization, LayerNormalization


def _x(shape, seed=0, loc=0.0, scale=1.0):
    return backend.asarray(loc + scale * np.random.default_rng(seed).standard_normal(shape))


def _random_affine(layer, seed=3):
    rng = np.random.default_rng(seed)
    c = layer.params["gamma"].shape[0]
    layer.params["gamma"] = backend.asarray(1 + 0.5 * rng.standard_normal(c))
    layer.params["beta"] = backend.asarray(rng.standard_normal(c))
    return to_float64(layer)


# ------------------------------------------------------------------ gradient checks
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 6)])
def test_layer_norm_gradcheck(xp, shape):
    layer = LayerNormalization()
    x = _x(shape)
    layer.forward(x)
    assert_gradcheck(check_layer(_random_affine(layer), x), tol=1e-6)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(6, 3), (3, 4, 4, 2)], ids=["vectors", "images"])
def test_batch_norm_gradcheck(xp, shape, training):
    layer = BatchNormalization(momentum=0.5)
    # Seed 1: with seed 0 one entry of the training-mode dx is ~1e-6 times the others
    # (dx sums to zero per channel), where CS231n's relative error measures round-off,
    # not the gradient. eps 1e-5 as in tests/test_recurrent.py.
    x = _x(shape, seed=1, loc=1.0, scale=2.0)
    layer.forward(x, training=True)  # moves the moving statistics away from 0 and 1
    results = check_layer(_random_affine(layer), x, training=training, eps=1e-5)
    assert set(results) == {"x", "gamma", "beta"}
    assert_gradcheck(results, tol=1e-6)


def test_batch_norm_backward_equals_the_chain_of_small_steps(xp):
    # Ioffe & Szegedy's Algorithm: dx^ -> dvar -> dmu -> dx, one step at a time.
    x = backend.to_numpy(_x((7, 3), seed=1))
    layer = BatchNormalization()
    layer.forward(backend.asarray(x), training=True)
    _random_affine(layer)
    layer.forward(backend.asarray(x), training=True)
    dy = np.random.default_rng(2).standard_normal(x.shape)
    dx = backend.to_numpy(layer.backward(backend.asarray(dy)))
    gamma, eps, m = backend.to_numpy(layer.params["gamma"]), layer.epsilon, x.shape[0]
    mu = x.mean(0)
    var = ((x - mu) ** 2).mean(0)
    dxhat = dy * gamma
    dvar = (dxhat * (x - mu) * -0.5 * (var + eps) ** -1.5).sum(0)
    dmu = (dxhat * -1 / np.sqrt(var + eps)).sum(0) + dvar * (-2 * (x - mu)).mean(0)
    expected = dxhat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / m + dmu / m
    np.testing.assert_allclose(dx, expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ moving statistics
def test_moving_statistics_follow_the_keras_update_only_when_training(xp):
    layer = BatchNormalization(momentum=0.9)
    x = backend.to_numpy(_x((5, 2, 3), loc=2.0, scale=3.0))
    layer.forward(backend.asarray(x), training=False)
    assert "moving_mean" not in layer.params and "moving_variance" not in layer.params
    np.testing.assert_array_equal(backend.to_numpy(layer.moving_mean), 0.0)
    np.testing.assert_array_equal(backend.to_numpy(layer.moving_variance), 1.0)
    layer.forward(backend.asarray(x), training=True)
    flat = x.reshape(-1, 3)
    np.testing.assert_allclose(backend.to_numpy(layer.moving_mean), 0.1 * flat.mean(0),
                               rtol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(layer.moving_variance),
                               0.9 + 0.1 * flat.var(0, ddof=1), rtol=1e-6)
    before = backend.to_numpy(layer.moving_mean).copy()
    layer.forward(backend.asarray(x + 5), training=False)
    np.testing.assert_array_equal(backend.to_numpy(layer.moving_mean), before)


def test_training_on_one_value_per_channel_is_refused(xp):
    layer = BatchNormalization()
    with pytest.raises(ValueError, match="more than one value per channel"):
        layer.forward(_x((1, 3)), training=True)
    assert layer.forward(_x((1, 3))).shape == (1, 3)  # inference is fine


def test_checkpoint_round_trips_the_moving_statistics(xp, tmp_path):
    model = nn.Sequential([nn.Dense(4, seed=0), BatchNormalization(momentum=0.5),
                           nn.ReLU(), nn.Dense(2, seed=1)])
    model.compile(nn.Adam(1e-2), nn.SoftmaxCrossEntropy())
    x = np.random.default_rng(0).standard_normal((16, 3)).astype("float32")
    y = np.arange(16) % 2
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    bn = model.layers[1]
    assert np.abs(backend.to_numpy(bn.moving_mean)).sum() > 0
    before = backend.to_numpy(model.predict(x))
    model.save(tmp_path / "bn.npz")
    loaded = nn.load_model(tmp_path / "bn.npz")
    for key in ("moving_mean", "moving_variance"):
        np.testing.assert_array_equal(backend.to_numpy(loaded.layers[1].state[key]),
                                      backend.to_numpy(bn.state[key]))
    np.testing.assert_array_equal(backend.to_numpy(loaded.predict(x)), before)


# ------------------------------------------------------------------ PyTorch parity
TOL = dict(rtol=0, atol=1e-9)


@pytest.mark.torch
def test_layer_norm_parity_with_torch(xp):
    torch = pytest.importorskip("torch")
    layer = LayerNormalization(epsilon=1e-5)
    x = backend.to_numpy(_x((2, 3, 5), scale=3.0))
    layer.forward(backend.asarray(x))
    _random_affine(layer)
    y = layer.forward(backend.asarray(x))
    dy = np.random.default_rng(1).standard_normal(x.shape)
    dx = layer.backward(backend.asarray(dy))
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(backend.to_numpy(layer.params["gamma"]), requires_grad=True)
    bt = torch.tensor(backend.to_numpy(layer.params["beta"]), requires_grad=True)
    yt = torch.nn.functional.layer_norm(xt, (5,), gt, bt, eps=1e-5)
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(backend.to_numpy(y), yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(backend.to_numpy(dx), xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(backend.to_numpy(layer.grads["gamma"]), gt.grad.numpy(), **TOL)
    np.testing.assert_allclose(backend.to_numpy(layer.grads["beta"]), bt.grad.numpy(), **TOL)


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 2)], ids=["vectors", "images"])
def test_batch_norm_parity_with_torch_training_then_eval(xp, shape):
    torch = pytest.importorskip("torch")
    layer = BatchNormalization(momentum=0.7, epsilon=1e-5)
    c = shape[-1]
    layer.forward(_x(shape))
    layer.state = {k: v.astype("float64") for k, v in layer.state.items()}
    _random_affine(layer)
    gamma, beta = (backend.to_numpy(layer.params[k]) for k in ("gamma", "beta"))
    run_mean, run_var = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)

    def ref(x, training, dy):
        xt = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)  # channels 2nd
        gt = torch.tensor(gamma, requires_grad=True)
        bt = torch.tensor(beta, requires_grad=True)
        yt = torch.nn.functional.batch_norm(xt, run_mean, run_var, gt, bt, training=training,
                                            momentum=0.3, eps=1e-5)  # 1 - Keras' 0.7
        (yt * torch.tensor(np.moveaxis(dy, -1, 1).copy())).sum().backward()
        return (np.moveaxis(yt.detach().numpy(), 1, -1), np.moveaxis(xt.grad.numpy(), 1, -1),
                gt.grad.numpy(), bt.grad.numpy())

    for step, training in enumerate([True, True, True, False]):
        x = backend.to_numpy(_x(shape, seed=10 + step, loc=step, scale=1 + step))
        dy = np.random.default_rng(20 + step).standard_normal(shape)
        y = layer.forward(backend.asarray(x), training=training)
        dx = layer.backward(backend.asarray(dy))
        y_ref, dx_ref, dg_ref, db_ref = ref(x, training, dy)
        np.testing.assert_allclose(backend.to_numpy(y), y_ref, **TOL)
        np.testing.assert_allclose(backend.to_numpy(dx), dx_ref, **TOL)
        np.testing.assert_allclose(backend.to_numpy(layer.grads["gamma"]), dg_ref, **TOL)
        np.testing.assert_allclose(backend.to_numpy(layer.grads["beta"]), db_ref, **TOL)
        np.testing.assert_allclose(backend.to_numpy(layer.moving_mean), run_mean.numpy(),
                                   **TOL)
        np.testing.assert_allclose(backend.to_numpy(layer.moving_variance), run_var.numpy(),
                                   **TOL)


# ------------------------------------------------------------------ bad input
def test_bad_input_is_a_clear_error(xp):
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.0)
    with pytest.raises(ValueError, match="epsilon"):
        LayerNormalization(epsilon=0.0)
    layer = BatchNormalization()
    with pytest.raises(ValueError, match="'x' must have at least 2 dimensions"):
        layer.forward(_x((4,)))
    layer.forward(_x((4, 3)))
    with pytest.raises(ValueError, match="must have 3 features"):
        layer.forward(_x((4, 5)))
    with pytest.raises(ValueError, match="'dy' must have shape"):
        layer.backward(_x((4, 4)))
