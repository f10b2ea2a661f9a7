"""GRU: update gate z, reset gate r, candidate h~, h_t = z h_{t-1} + (1 - z) h~.

Specification:
* float64 gradient checks (input, W, U, b, initial state) in both forms
  (``reset_after`` True and False), with and without a mask, last state or sequence;
* the forward pass equals the cell written one step at a time from Keras' formulas
  (both forms);
* ``reset_after=True`` equals PyTorch's ``nn.GRU`` (forward, every gradient, the
  initial state's gradient) to 1e-9 in float64, and with packed sequences under a mask;
* a masked step carries the state and gets no gradient; Keras' parameter layout;
  clear errors for bad input.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.gradcheck import assert_gradcheck, check_function, check_layer, to_float64
from mmscratch.nn import GRU

N, T, D, H = 2, 4, 3, 4
MASK = np.array([[True, True, False, True], [True, False, True, False]])
EPS = 1e-5  # see tests/test_recurrent.py: balances round-off and truncation


def _x(seed=0, shape=(N, T, D)):
    return backend.asarray(np.random.default_rng(seed).standard_normal(shape))


def _layer(seed=1, **kwargs):
    layer = GRU(H, seed=seed, **kwargs)
    layer.forward(_x())
    rng = np.random.default_rng(seed)
    for k, v in layer.params.items():
        layer.params[k] = backend.asarray(0.5 * rng.standard_normal(v.shape))
    return to_float64(layer)


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_gradcheck_input_and_params(xp, reset_after, return_sequences, masked):
    layer = _layer(reset_after=reset_after, return_sequences=return_sequences)
    fwd = {"mask": backend.asarray(MASK)} if masked else {}
    results = check_layer(layer, _x(), forward_kwargs=fwd, eps=EPS)
    assert set(results) == {"x", "W", "U", "b"}
    assert_gradcheck(results, tol=1e-6)


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
def test_gradcheck_initial_state(xp, reset_after):
    layer = _layer(reset_after=reset_after, return_sequences=True)
    x, mask = _x(), backend.asarray(MASK)

    def bwd(dy):
        layer.backward(dy)
        return layer.d_initial_state

    h0 = np.random.default_rng(4).standard_normal((N, H))
    result = check_function(lambda h: layer.forward(x, mask=mask, initial_state=h), bwd, h0,
                            eps=EPS)
    assert_gradcheck(result, tol=1e-6)


def _keras_cell(x, W, U, b, reset_after, h0):
    """Keras' GRUCell, one step at a time, written as plainly as possible."""
    def sig(a):
        return 1 / (1 + np.exp(-a))

    h = h0
    out = []
    for t in range(x.shape[1]):
        if reset_after:
            xz, xr, xh = np.split(x[:, t] @ W + b[0], 3, axis=1)
            uz, ur, uh = np.split(h @ U + b[1], 3, axis=1)
            z, r = sig(xz + uz), sig(xr + ur)
            hh = np.tanh(xh + r * uh)
        else:
            xz, xr, xh = np.split(x[:, t] @ W + b, 3, axis=1)
            z = sig(xz + h @ U[:, :H])
            r = sig(xr + h @ U[:, H:2 * H])
            hh = np.tanh(xh + (r * h) @ U[:, 2 * H:])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
def test_matches_keras_cell_step_by_step(xp, reset_after):
    layer = _layer(reset_after=reset_after, return_sequences=True)
    x = backend.to_numpy(_x(3))
    h0 = np.random.default_rng(5).standard_normal((N, H))
    p = {k: backend.to_numpy(v) for k, v in layer.params.items()}
    y = layer.forward(backend.asarray(x), initial_state=backend.asarray(h0))
    np.testing.assert_allclose(backend.to_numpy(y),
                               _keras_cell(x, p["W"], p["U"], p["b"], reset_after, h0),
                               atol=1e-13)


def test_keras_layout_and_defaults(xp):
    for reset_after, b_shape in ((True, (2, 3 * H)), (False, (3 * H,))):
        layer = GRU(H, reset_after=reset_after, seed=0)
        assert layer.forward(_x()).shape == (N, H)
        assert {k: tuple(v.shape) for k, v in layer.params.items()} == {
            "W": (D, 3 * H), "U": (H, 3 * H), "b": b_shape}
        assert not backend.to_numpy(layer.params["b"]).any()
    assert GRU(H).reset_after is True
    assert GRU(H, return_sequences=True).forward(_x()).shape == (N, T, H)


def test_masked_step_carries_state_and_gets_no_gradient(xp):
    layer = _layer(return_sequences=True)
    y = layer.forward(_x(), mask=backend.asarray(MASK))
    yh = backend.to_numpy(y)
    np.testing.assert_array_equal(yh[0, 2], yh[0, 1])
    np.testing.assert_array_equal(yh[1, 1], yh[1, 0])
    dx = backend.to_numpy(layer.backward(xp.ones_like(y)))
    assert not dx[~MASK].any()


def test_config_round_trip_and_overwritten_grads(xp):
    layer = GRU(H, return_sequences=True, reset_after=False, seed=3)
    clone = GRU(**layer.get_config())
    x = _x()
    np.testing.assert_array_equal(backend.to_numpy(layer.forward(x)),
                                  backend.to_numpy(clone.forward(x)))
    dy = xp.ones((N, T, H), dtype=layer.forward(x).dtype)
    layer.backward(dy)
    first = {k: backend.to_numpy(v).copy() for k, v in layer.grads.items()}
    layer.forward(x)
    layer.backward(dy)
    for k in first:
        np.testing.assert_array_equal(backend.to_numpy(layer.grads[k]), first[k])


def test_bad_input_is_a_clear_value_error(xp):
    layer = GRU(H)
    with pytest.raises(ValueError, match="'x' must have 3 dimensions"):
        layer.forward(backend.asarray(np.zeros((N, D))))
    x = _x()
    with pytest.raises(ValueError, match=r"'mask' must have shape \(2, 4\)"):
        layer.forward(x, mask=backend.asarray(np.ones((N, T + 1), dtype=bool)))
    with pytest.raises(ValueError, match=r"'initial_state' must have shape \(2, 4\)"):
        layer.forward(x, initial_state=backend.asarray(np.zeros((N, H + 1))))
    layer.forward(x)
    with pytest.raises(ValueError, match="must have 3 features"):
        layer.forward(backend.asarray(np.zeros((N, T, D + 1))))
    with pytest.raises(ValueError, match="'dy' must have shape"):
        layer.backward(backend.asarray(np.zeros((N, T, H))))
    with pytest.raises(ValueError, match="units must be a positive int"):
        GRU(0)


# ------------------------------------------------------------------ PyTorch parity
def _torch_pair():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ours = GRU(H, return_sequences=True, seed=0)
    ours.forward(backend.asarray(np.zeros((1, 1, D))))
    ref = torch.nn.GRU(D, H, batch_first=True).double()
    # PyTorch stacks its rows r, z, n; ours are columns z, r, h.
    perm = np.r_[H:2 * H, 0:H, 2 * H:3 * H]
    w = {k: v.detach().numpy() for k, v in ref.named_parameters()}
    ours.params["W"] = backend.asarray(w["weight_ih_l0"][perm].T.copy())
    ours.params["U"] = backend.asarray(w["weight_hh_l0"][perm].T.copy())
    ours.params["b"] = backend.asarray(np.stack([w["bias_ih_l0"][perm],
                                                 w["bias_hh_l0"][perm]]))
    return torch, ours, ref, perm


@pytest.mark.torch
def test_parity_with_torch_gru(xp):
    torch, ours, ref, perm = _torch_pair()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 6, D))
    h0 = rng.standard_normal((N, H))
    y = ours.forward(backend.asarray(x), initial_state=backend.asarray(h0))
    dy = rng.standard_normal(tuple(y.shape))
    dx = ours.backward(backend.asarray(dy))
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, _ = ref(xt, h0t)
    (out * torch.tensor(dy)).sum().backward()
    g = {k: v.grad.numpy() for k, v in ref.named_parameters()}
    tol = dict(rtol=0, atol=1e-9)
    np.testing.assert_allclose(backend.to_numpy(y), out.detach().numpy(), **tol)
    np.testing.assert_allclose(backend.to_numpy(dx), xt.grad.numpy(), **tol)
    np.testing.assert_allclose(backend.to_numpy(ours.grads["W"]), g["weight_ih_l0"][perm].T,
                               **tol)
    np.testing.assert_allclose(backend.to_numpy(ours.grads["U"]), g["weight_hh_l0"][perm].T,
                               **tol)
    np.testing.assert_allclose(backend.to_numpy(ours.grads["b"]),
                               np.stack([g["bias_ih_l0"][perm], g["bias_hh_l0"][perm]]), **tol)
    np.testing.assert_allclose(backend.to_numpy(ours.d_initial_state), h0t.grad[0].numpy(),
                               **tol)


@pytest.mark.torch
def test_mask_parity_with_torch_packed_sequences(xp):
    torch, ours, ref, perm = _torch_pair()
    ours.return_sequences = False
    lengths = [6, 3]
    x = np.random.default_rng(1).standard_normal((N, 6, D))
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]
    y = ours.forward(backend.asarray(x), mask=backend.asarray(mask))
    dy = np.random.default_rng(2).standard_normal((N, H))
    dx = ours.backward(backend.asarray(dy))
    xt = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=True)
    _, h_n = ref(packed)
    (h_n[0] * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(backend.to_numpy(y), h_n[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(dx), xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(ours.grads["U"]),
                               ref.weight_hh_l0.grad.numpy()[perm].T, atol=1e-12)
