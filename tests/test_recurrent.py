"""SimpleRNN and LSTM: the document's h_t = f(W x_t + U h_{t-1} + b), with BPTT.

Specification:
* float64 gradient checks w.r.t. the input, W, U, b and the initial state, with and
  without a mask, returning the last state or the whole sequence;
* a padded (masked) step carries the state and gets no gradient, so a masked run equals
  the run on the unpadded sequence;
* forward and backward agree with PyTorch's nn.RNN / nn.LSTM (gate order i, f, g, o);
* a long LSTM stays finite; bad input gives a ValueError naming the argument.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.gradcheck import assert_gradcheck, check_function, check_layer, to_float64
from mmscratch.nn.recurrent import LSTM, SimpleRNN, stable_sigmoid

N, T, D, H = 2, 3, 3, 4
MASK = np.array([[True, True, False], [True, False, True]])  # padding and a gap
# eps 1e-5 balances round-off (~1e-16 |f| / eps) and truncation (~eps^2) for these
# O(1) outputs better than 1e-6, so that small gradient entries still meet tol 1e-6.
EPS = 1e-5


def _x(seed=0, shape=(N, T, D)):
    return backend.asarray(np.random.default_rng(seed).standard_normal(shape))


def _layer(cls, seed=1, **kwargs):
    """A built float64 layer with O(1) random weights (no saturated, tiny gradients)."""
    layer = cls(H, seed=seed, **kwargs)
    layer.forward(_x())
    rng = np.random.default_rng(seed)
    for k, v in layer.params.items():
        layer.params[k] = backend.asarray(0.5 * rng.standard_normal(v.shape))
    return to_float64(layer)


LAYERS = [
    pytest.param(SimpleRNN, {}, id="rnn-tanh"),
    pytest.param(SimpleRNN, {"activation": "sigmoid"}, id="rnn-sigmoid"),
    pytest.param(SimpleRNN, {"activation": None}, id="rnn-linear"),
    pytest.param(LSTM, {}, id="lstm"),
]


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("cls, kwargs", LAYERS)
def test_gradcheck_input_and_params(xp, cls, kwargs, masked, return_sequences):
    layer = _layer(cls, return_sequences=return_sequences, **kwargs)
    fwd = {"mask": backend.asarray(MASK)} if masked else {}
    results = check_layer(layer, _x(), forward_kwargs=fwd, eps=EPS)
    assert set(results) == {"x", "W", "U", "b"}
    assert_gradcheck(results, tol=1e-6)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradcheck_simple_rnn_relu(xp, return_sequences):
    # ReLU has a kink at 0; random O(1) pre-activations do not hit it.
    layer = _layer(SimpleRNN, activation="relu", return_sequences=return_sequences)
    assert_gradcheck(check_layer(layer, _x(), eps=EPS), tol=1e-6)


@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("cls", [SimpleRNN, LSTM])
def test_gradcheck_initial_state(xp, cls, masked):
    layer = _layer(cls, return_sequences=True)
    x = _x()
    mask = backend.asarray(MASK) if masked else None
    other = backend.asarray(np.random.default_rng(5).standard_normal((N, H)))

    def state(h0):
        return h0 if cls is SimpleRNN else [h0, other]

    def fwd(h0):
        return layer.forward(x, mask=mask, initial_state=state(h0))

    def bwd(dy):
        layer.backward(dy)
        d = layer.d_initial_state
        return d if cls is SimpleRNN else d[0]

    h0 = np.random.default_rng(4).standard_normal((N, H))
    assert_gradcheck(check_function(fwd, bwd, h0, eps=EPS), tol=1e-6)
    if cls is LSTM:  # the cell state c0 too
        def fwd_c(c0):
            return layer.forward(x, mask=mask, initial_state=[other, c0])

        def bwd_c(dy):
            layer.backward(dy)
            return layer.d_initial_state[1]

        assert_gradcheck(check_function(fwd_c, bwd_c, h0, eps=EPS), tol=1e-6)


def test_no_initial_state_means_no_state_gradient(xp):
    layer = _layer(SimpleRNN)
    layer.forward(_x())
    layer.backward(xp.ones((N, H)))
    assert layer.d_initial_state is None


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM])
def test_masked_run_equals_run_on_unpadded_sequence(xp, cls):
    layer = _layer(cls, return_sequences=False)
    x = _x(shape=(N, 5, D))
    lengths = [5, 2]
    mask = np.arange(5)[None, :] < np.array(lengths)[:, None]  # trailing padding
    y = backend.to_numpy(layer.forward(x, mask=backend.asarray(mask)))
    dy = np.random.default_rng(2).standard_normal((N, H))
    dx = backend.to_numpy(layer.backward(backend.asarray(dy)))
    grads = {k: backend.to_numpy(v).copy() for k, v in layer.grads.items()}
    g_sum = {k: 0 for k in grads}
    for i, length in enumerate(lengths):
        xi = x[i:i + 1, :length]
        yi = backend.to_numpy(layer.forward(xi))
        np.testing.assert_allclose(y[i], yi[0], atol=1e-12)
        dxi = backend.to_numpy(layer.backward(backend.asarray(dy[i:i + 1])))
        np.testing.assert_allclose(dx[i, :length], dxi[0], atol=1e-12)
        assert not dx[i, length:].any(), "padded steps must get exactly zero gradient"
        for k in grads:
            g_sum[k] = g_sum[k] + backend.to_numpy(layer.grads[k])
    for k in grads:
        np.testing.assert_allclose(grads[k], g_sum[k], atol=1e-12)


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM])
def test_masked_step_carries_state_in_sequence_output(xp, cls):
    layer = _layer(cls, return_sequences=True)
    y = backend.to_numpy(layer.forward(_x(), mask=backend.asarray(MASK)))
    np.testing.assert_array_equal(y[0, 2], y[0, 1])
    np.testing.assert_array_equal(y[1, 1], y[1, 0])


def test_simple_rnn_matches_unrolled_loop(xp):
    # The document's formula, one step at a time, written as plainly as possible.
    layer = _layer(SimpleRNN, return_sequences=True)
    x = backend.to_numpy(_x())
    W, U, b = (backend.to_numpy(layer.params[k]) for k in "WUb")
    h = np.zeros((N, H))
    expected = []
    for t in range(T):
        h = np.tanh(x[:, t] @ W + h @ U + b)
        expected.append(h)
    y = backend.to_numpy(layer.forward(backend.asarray(x)))
    np.testing.assert_allclose(y, np.stack(expected, axis=1), atol=1e-12)


def test_return_sequences_shapes(xp):
    x = backend.asarray(np.zeros((N, T, D), dtype=np.float32))
    for cls in (SimpleRNN, LSTM):
        assert cls(H).forward(x).shape == (N, H)
        y = cls(H, return_sequences=True).forward(x)
        assert y.shape == (N, T, H) and y.dtype == np.float32


def test_lstm_params_follow_keras_layout(xp):
    layer = LSTM(H, seed=0)
    layer.forward(_x())
    assert {k: tuple(v.shape) for k, v in layer.params.items()} == {
        "W": (D, 4 * H), "U": (H, 4 * H), "b": (4 * H,)}
    b = backend.to_numpy(layer.params["b"])
    np.testing.assert_array_equal(b[H:2 * H], 1.0)  # unit forget bias, gates i, f, c, o
    np.testing.assert_array_equal(np.delete(b, np.s_[H:2 * H]), 0.0)


def test_stable_sigmoid_does_not_overflow(xp):
    special = pytest.importorskip("scipy.special")
    z = np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0])
    with np.errstate(all="raise"):
        s = backend.to_numpy(stable_sigmoid(backend.asarray(z)))
    np.testing.assert_allclose(s, special.expit(z), rtol=0, atol=1e-15)


def test_lstm_over_1000_steps_stays_finite(xp):
    layer = LSTM(H, return_sequences=True, seed=0)
    x = backend.asarray(10 * np.random.default_rng(0).standard_normal((2, 1000, D)))
    y = layer.forward(x)
    dx = layer.backward(xp.ones_like(y))
    assert bool(backend.to_numpy(xp.isfinite(y).all()))
    assert bool(backend.to_numpy(xp.isfinite(dx).all()))
    for k, g in layer.grads.items():
        assert bool(backend.to_numpy(xp.isfinite(g).all())), k


def test_backward_overwrites_grads(xp):
    layer = _layer(LSTM)
    x = _x()
    dy = backend.asarray(np.ones((N, H)))
    layer.forward(x)
    layer.backward(dy)
    first = {k: backend.to_numpy(v).copy() for k, v in layer.grads.items()}
    layer.forward(x)
    layer.backward(dy)
    for k in first:
        np.testing.assert_allclose(backend.to_numpy(layer.grads[k]), first[k], atol=1e-14)


@pytest.mark.parametrize("cls, kwargs", LAYERS)
def test_config_round_trip(xp, cls, kwargs):
    layer = cls(H, return_sequences=True, seed=3, **kwargs)
    clone = type(layer)(**layer.get_config())
    x = _x()
    np.testing.assert_array_equal(backend.to_numpy(layer.forward(x)),
                                  backend.to_numpy(clone.forward(x)))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("cls", [SimpleRNN, LSTM])
def test_bad_input_is_a_clear_value_error(xp, cls):
    layer = cls(H)
    with pytest.raises(ValueError, match="'x' must have 3 dimensions"):
        layer.forward(backend.asarray(np.zeros((N, D))))
    x = _x()
    with pytest.raises(ValueError, match=r"'mask' must have shape \(2, 3\)"):
        layer.forward(x, mask=backend.asarray(np.ones((N, T + 1), dtype=bool)))
    with pytest.raises(ValueError, match="'mask' must have a boolean dtype"):
        layer.forward(x, mask=backend.asarray(np.ones((N, T))))
    with pytest.raises(ValueError, match=r"'initial_state.*must have shape \(2, 4\)"):
        layer.forward(x, initial_state=backend.asarray(np.zeros((N, H + 1))))
    if cls is LSTM:
        with pytest.raises(ValueError, match=r"initial_state must be \[h0, c0\]"):
            layer.forward(x, initial_state=[backend.asarray(np.zeros((N, H)))] * 3)
    layer.forward(x)
    with pytest.raises(ValueError, match="must have 3 features"):
        layer.forward(backend.asarray(np.zeros((N, T, D + 1))))
    with pytest.raises(ValueError, match="'dy' must have shape"):
        layer.backward(backend.asarray(np.zeros((N, T, H))))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="units must be a positive int"):
        SimpleRNN(0)
    with pytest.raises(ValueError, match="activation must be one of"):
        SimpleRNN(4, activation="softmax")
    with pytest.raises(ValueError, match="units must be a positive int"):
        LSTM(2.5)


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="before forward"):
        LSTM(H).backward(np.zeros((N, H)))


# ------------------------------------------------------------------ PyTorch parity
TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-11)}


def _torch_pair(cls, dtype, return_sequences):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ours = cls(H, return_sequences=return_sequences, seed=0)
    ours.forward(backend.asarray(np.zeros((1, 1, D), dtype=dtype)))
    ref_cls = torch.nn.RNN if cls is SimpleRNN else torch.nn.LSTM
    ref = ref_cls(D, H, batch_first=True).to(getattr(torch, dtype))
    with torch.no_grad():
        # PyTorch computes x W_ih^T + b_ih + h W_hh^T + b_hh: transpose, one bias set to 0.
        ours.params["W"] = backend.asarray(ref.weight_ih_l0.detach().numpy().T.copy())
        ours.params["U"] = backend.asarray(ref.weight_hh_l0.detach().numpy().T.copy())
        ours.params["b"] = backend.asarray(ref.bias_ih_l0.detach().numpy().copy())
        ref.bias_hh_l0.zero_()
    return torch, ours, ref


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("cls", [SimpleRNN, LSTM])
def test_parity_with_torch(xp, cls, return_sequences, dtype):
    torch, ours, ref = _torch_pair(cls, dtype, return_sequences)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 6, D)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    c0 = rng.standard_normal((N, H)).astype(dtype)
    state = backend.asarray(h0) if cls is SimpleRNN else [backend.asarray(h0),
                                                          backend.asarray(c0)]
    y = ours.forward(backend.asarray(x), initial_state=state)
    dy = rng.standard_normal(tuple(y.shape)).astype(dtype)
    dx = ours.backward(backend.asarray(dy))

    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    c0t = torch.tensor(c0[None], requires_grad=True)
    out, _ = ref(xt, h0t if cls is SimpleRNN else (h0t, c0t))
    yt = out if return_sequences else out[:, -1]
    (yt * torch.tensor(dy)).sum().backward()

    tol = TOL[dtype]
    np.testing.assert_allclose(backend.to_numpy(y), yt.detach().numpy(), **tol)
    np.testing.assert_allclose(backend.to_numpy(dx), xt.grad.numpy(), **tol)
    np.testing.assert_allclose(backend.to_numpy(ours.grads["W"]), ref.weight_ih_l0.grad.T,
                               **tol)
    np.testing.assert_allclose(backend.to_numpy(ours.grads["U"]), ref.weight_hh_l0.grad.T,
                               **tol)
    np.testing.assert_allclose(backend.to_numpy(ours.grads["b"]), ref.bias_ih_l0.grad, **tol)
    d0 = ours.d_initial_state
    if cls is SimpleRNN:
        np.testing.assert_allclose(backend.to_numpy(d0), h0t.grad[0], **tol)
    else:
        np.testing.assert_allclose(backend.to_numpy(d0[0]), h0t.grad[0], **tol)
        np.testing.assert_allclose(backend.to_numpy(d0[1]), c0t.grad[0], **tol)


@pytest.mark.torch
@pytest.mark.parametrize("cls", [SimpleRNN, LSTM])
def test_mask_parity_with_torch_packed_sequences(xp, cls):
    torch, ours, ref = _torch_pair(cls, "float64", False)
    lengths = [6, 3]
    x = np.random.default_rng(1).standard_normal((N, 6, D))
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]
    y = ours.forward(backend.asarray(x), mask=backend.asarray(mask))
    dy = np.random.default_rng(2).standard_normal((N, H))
    dx = ours.backward(backend.asarray(dy))

    xt = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=True)
    _, state = ref(packed)
    h_n = state if cls is SimpleRNN else state[0]
    (h_n[0] * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(backend.to_numpy(y), h_n[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(dx), xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(ours.grads["W"]), ref.weight_ih_l0.grad.T,
                               atol=1e-12)
