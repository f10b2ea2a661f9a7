"""InfoNCE (CLIP) loss: value and gradients against PyTorch, central differences, errors."""

import math

import numpy as np
import pytest

from mmscratch import backend, gradcheck, nn
from mmscratch.nn.contrastive import InfoNCELoss

TOL = 1e-6  # float64 central differences


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def torch_clip_loss(a, b, log_scale):
    """CLIP's loss written the way open_clip writes it, in float64 PyTorch."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    za = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    zb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(log_scale, dtype=torch.float64, requires_grad=True)
    logits = t.exp() * F.normalize(za, dim=1) @ F.normalize(zb, dim=1).T
    labels = torch.arange(len(a))
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    loss.backward()
    return loss.item(), za.grad.numpy(), zb.grad.numpy(), t.grad.item()


@pytest.mark.parametrize("learnable", [False, True])
def test_value_and_gradients_match_pytorch(xp, learnable):
    a, b = rand(6, 5, seed=1), rand(6, 5, seed=2)
    loss = InfoNCELoss(temperature=0.3, learnable=learnable)
    if learnable:
        loss.params["logit_scale"] = xp.asarray(math.log(1 / 0.3), dtype=xp.float64)
    value = loss.forward(backend.asarray(a), backend.asarray(b))
    da, db = loss.backward()
    ref, ra, rb, rt = torch_clip_loss(a, b, math.log(1 / 0.3))
    assert abs(value - ref) < 1e-10
    np.testing.assert_allclose(backend.to_numpy(da), ra, rtol=0, atol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(db), rb, rtol=0, atol=1e-10)
    if learnable:
        assert abs(float(backend.to_numpy(loss.grads["logit_scale"])) - rt) < 1e-10


def test_central_differences_inputs_and_temperature(xp):
    za, zb = backend.asarray(rand(5, 4, seed=3)), backend.asarray(rand(5, 4, seed=4))
    loss = InfoNCELoss(temperature=0.5, learnable=True)
    loss.params["logit_scale"] = xp.asarray(math.log(2.0), dtype=xp.float64)

    def f():
        return loss.forward(za, zb)

    f()
    da, db = loss.backward()
    dt = loss.grads["logit_scale"]
    results = {"z_a": gradcheck.rel_error(da, gradcheck.numerical_gradient(f, za), "z_a"),
               "z_b": gradcheck.rel_error(db, gradcheck.numerical_gradient(f, zb), "z_b"),
               "logit_scale": gradcheck.rel_error(
                   dt, gradcheck.numerical_gradient(f, loss.params["logit_scale"]), "t")}
    gradcheck.assert_gradcheck(results, TOL)


def test_matching_pairs_give_low_loss_and_shuffled_pairs_high(xp):
    z = backend.asarray(rand(8, 16, seed=5))
    loss = InfoNCELoss(0.07)
    aligned = loss.forward(z, 3.0 * z)  # same directions: scale must not matter
    shuffled = loss.forward(z, z[backend.asarray(np.roll(np.arange(8), 1))])
    assert aligned < 0.05 < math.log(8) < shuffled


def test_clipped_temperature_passes_no_gradient(xp):
    loss = InfoNCELoss(0.001, learnable=True, max_scale=100.0)  # exp(t) = 1000 > 100
    loss.forward(backend.asarray(rand(4, 3, seed=6)), backend.asarray(rand(4, 3, seed=7)))
    loss.backward()
    assert float(backend.to_numpy(loss.grads["logit_scale"])) == 0.0
    assert loss.scale == 100.0


def test_learnable_temperature_is_stepped_by_an_optimizer(xp):
    loss = InfoNCELoss(0.5, learnable=True)
    before = float(backend.to_numpy(loss.params["logit_scale"]))
    loss.forward(backend.asarray(rand(6, 4, seed=8)), backend.asarray(rand(6, 4, seed=8)))
    loss.backward()
    nn.SGD(0.1).step(loss)
    assert float(backend.to_numpy(loss.params["logit_scale"])) != before


@pytest.mark.parametrize("kwargs", [{"temperature": 0}, {"temperature": -1.0},
                                    {"temperature": float("nan")}])
def test_bad_temperature_is_refused(kwargs):
    with pytest.raises(ValueError, match="temperature"):
        InfoNCELoss(**kwargs)


def test_bad_inputs_are_refused(xp):
    loss = InfoNCELoss()
    with pytest.raises(ValueError, match="z_b"):
        loss.forward(backend.asarray(rand(4, 3)), backend.asarray(rand(5, 3)))
    with pytest.raises(ValueError, match="z_a"):
        loss.forward(backend.asarray(rand(4)), backend.asarray(rand(4)))
    with pytest.raises(RuntimeError, match="before forward"):
        InfoNCELoss().backward()
