"""SGD (with momentum, Nesterov) and Adam against torch.optim, and gradient clipping."""

import numpy as np
import pytest

from mmscratch import backend, nn


class _Params(nn.Layer):
    """A bare holder of one parameter, to drive an optimizer by hand."""

    def __init__(self, value):
        super().__init__()
        self.add_param("w", value)


def _run(optimizer, grads, start):
    holder = _Params(start.copy())
    for g in grads:
        holder.grads["w"] = backend.asarray(g)
        optimizer.step(holder)
    return backend.to_numpy(holder.params["w"])


def _torch_run(torch_opt_cls, grads, start, **kw):
    torch = pytest.importorskip("torch")
    w = torch.tensor(start.copy(), requires_grad=True)
    opt = torch_opt_cls([w], **kw)
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
    return w.detach().numpy()


GRADS = [np.random.default_rng(i).standard_normal((3, 2)) for i in range(5)]
START = np.random.default_rng(9).standard_normal((3, 2))


@pytest.mark.torch
@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_matches_torch(momentum, nesterov):
    torch = pytest.importorskip("torch")
    ours = _run(nn.SGD(lr=0.1, momentum=momentum, nesterov=nesterov), GRADS, START)
    ref = _torch_run(torch.optim.SGD, GRADS, START, lr=0.1, momentum=momentum,
                     nesterov=nesterov)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.torch
def test_adam_matches_torch():
    torch = pytest.importorskip("torch")
    ours = _run(nn.Adam(lr=0.01, epsilon=1e-8), GRADS, START)
    ref = _torch_run(torch.optim.Adam, GRADS, START, lr=0.01, eps=1e-8)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


def test_sgd_step_is_lr_times_gradient(xp):
    out = _run(nn.SGD(lr=0.5), [np.ones((3, 2))], np.zeros((3, 2)))
    np.testing.assert_allclose(out, -0.5)


def test_clipnorm_rescales_to_the_global_norm(xp):
    grads = [backend.asarray(np.array([3.0, 0.0])), backend.asarray(np.array([0.0, 4.0]))]
    clipped = nn.clip_grad_norm(grads, 1.0)
    total = np.sqrt(sum((backend.to_numpy(g) ** 2).sum() for g in clipped))
    assert total == pytest.approx(1.0, rel=1e-9)
    np.testing.assert_allclose(backend.to_numpy(clipped[0]), [0.6, 0.0], rtol=1e-9)
    same = nn.clip_grad_norm(grads, 10.0)
    np.testing.assert_allclose(backend.to_numpy(same[1]), [0.0, 4.0])


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="lr"):
        nn.SGD(lr=0)
    with pytest.raises(ValueError, match="nesterov"):
        nn.SGD(nesterov=True)
    with pytest.raises(ValueError, match="unknown optimizer"):
        nn.optimizers.get("rmsprop")
