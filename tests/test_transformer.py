"""PositionalEncoding, the exact GELU and TransformerEncoder.

Specification:
* PositionalEncoding adds sin/cos(t / 10000^(2i/D)) (checked against a plain loop over
  t and i), for odd D too, and passes the gradient through;
* erf/erfc agree with Python's ``math.erf``/``math.erfc``; gelu and its derivative
  with PyTorch's exact ``gelu``;
* TransformerEncoder equals ``torch.nn.TransformerEncoderLayer(batch_first=True)``
  (post-norm and pre-norm, ReLU and GELU, with and without a key padding mask):
  output, input gradient and every parameter gradient to 1e-9 in float64;
* float64 gradient checks of the whole block (both norm orders, mask, GELU);
* its sublayers carry the contract's names; ``parameters()`` yields all of them;
  dropout acts only while training; bad input gives a clear error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.gradcheck import assert_gradcheck, check_layer, to_float64
from mmscratch.nn import PositionalEncoding, TransformerEncoder
from mmscratch.nn.special import erf, erfc, gelu, gelu_grad

N, T, D, HEADS, FF = 2, 5, 8, 2, 12
MASK = np.array([[True, True, True, False, False], [True, True, True, True, True]])


def _x(seed=0, shape=(N, T, D)):
    return backend.asarray(np.random.default_rng(seed).standard_normal(shape))


# ------------------------------------------------------------------ positional encoding
@pytest.mark.parametrize("depth", [6, 7, 1])
def test_positional_encoding_is_the_sinusoid_table(xp, depth):
    t_len = 9
    expected = np.zeros((t_len, depth))
    for t in range(t_len):
        for j in range(depth):
            two_i = j - j % 2
            angle = t / 10000 ** (two_i / depth)
            expected[t, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    x = _x(shape=(2, t_len, depth))
    layer = PositionalEncoding()
    y = layer.forward(x)
    np.testing.assert_allclose(backend.to_numpy(y - x), np.broadcast_to(expected, y.shape),
                               atol=1e-12)
    dy = _x(1, shape=tuple(y.shape))
    np.testing.assert_array_equal(backend.to_numpy(layer.backward(dy)), backend.to_numpy(dy))
    assert layer.params == {}


# ------------------------------------------------------------------ erf and gelu
def test_erf_and_erfc_match_the_standard_library(xp):
    x = np.concatenate([np.linspace(-8, 8, 4001), [-40.0, -1e-9, 0.0, 1e-12, 26.0, 40.0]])
    got_erf = backend.to_numpy(erf(backend.asarray(x)))
    got_erfc = backend.to_numpy(erfc(backend.asarray(x)))
    ref_erf = np.array([math.erf(v) for v in x])
    ref_erfc = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(got_erf, ref_erf, rtol=0, atol=1e-15)
    np.testing.assert_allclose(got_erfc, ref_erfc, rtol=1e-12, atol=1e-300)


@pytest.mark.torch
def test_gelu_and_its_derivative_match_torch_exact_gelu(xp):
    torch = pytest.importorskip("torch")
    x = np.linspace(-12, 12, 2001)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate="none")
    yt.sum().backward()
    np.testing.assert_allclose(backend.to_numpy(gelu(backend.asarray(x))),
                               yt.detach().numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(backend.to_numpy(gelu_grad(backend.asarray(x))),
                               xt.grad.numpy(), rtol=0, atol=1e-14)


# ------------------------------------------------------------------ the encoder block
def _block(norm_first=False, activation="relu", seed=0, d=D, ff=FF):
    block = TransformerEncoder(HEADS, d // HEADS, ff, norm_first=norm_first,
                               activation=activation, seed=seed)
    block.forward(_x(9, shape=(1, 2, d)))
    rng = np.random.default_rng(seed + 7)
    for norm in (block.norm1, block.norm2):  # non-trivial gamma, beta
        norm.params["gamma"] = backend.asarray(1 + 0.3 * rng.standard_normal(d))
        norm.params["beta"] = backend.asarray(0.3 * rng.standard_normal(d))
    return to_float64(block)


def test_sublayers_have_the_contract_names_and_parameters_yields_them_all(xp):
    block = TransformerEncoder(HEADS, 4, FF)
    assert list(block.parameters()) == []  # nothing before the first forward
    block.forward(_x())
    names = {(owner.name, key) for owner, key in block.parameters()}
    assert {o for o, _ in names} == {"attention", "dense1", "dense2", "norm1", "norm2"}
    assert {k for o, k in names if o == "attention"} == {
        "Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo"}
    assert block.dense1.params["W"].shape == (D, FF)
    assert block.dense2.params["W"].shape == (FF, D)
    assert block.norm1.params["gamma"].shape == (D,)
    assert block.norm1.epsilon == 1e-5


# attention.bk has an exactly zero gradient (softmax is unchanged when one constant is
# added to every score of a row), where a relative error compares round-off to round-off;
# it is checked to be ~0 separately.
# A small block (D 4, ff 6, T 4) keeps the element-by-element check fast; four of the
# eight combinations cover each option on and off.
@pytest.mark.parametrize("norm_first, activation, masked", [
    (False, "relu", True), (False, "gelu", False), (True, "relu", False), (True, "gelu", True)])
def test_gradcheck_whole_block(xp, norm_first, activation, masked):
    block = _block(norm_first, activation, d=4, ff=6)
    fwd = {"mask": backend.asarray(MASK[:, 1:])} if masked else {}
    names = {"x"} | {f"{o.name}.{k}" for o, k in block.parameters()} - {"attention.bk"}
    results = check_layer(block, _x(shape=(N, 4, 4)), forward_kwargs=fwd, eps=1e-5, wrt=names)
    assert set(results) == names
    assert_gradcheck(results, tol=1e-6)
    assert float(np.abs(backend.to_numpy(block.attention.grads["bk"])).max()) < 1e-12


def _torch_layer(ours, norm_first, activation):
    torch = pytest.importorskip("torch")
    ref = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation=activation,
                                           batch_first=True, norm_first=norm_first).double()
    a = {k: backend.to_numpy(v) for k, v in ours.attention.params.items()}
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(torch.tensor(
            np.concatenate([a["Wq"].T, a["Wk"].T, a["Wv"].T])))
        ref.self_attn.in_proj_bias.copy_(torch.tensor(np.concatenate([a["bq"], a["bk"],
                                                                      a["bv"]])))
        ref.self_attn.out_proj.weight.copy_(torch.tensor(a["Wo"].T))
        ref.self_attn.out_proj.bias.copy_(torch.tensor(a["bo"]))
        for ours_name, ref_name in (("dense1", "linear1"), ("dense2", "linear2")):
            p = getattr(ours, ours_name).params
            getattr(ref, ref_name).weight.copy_(torch.tensor(backend.to_numpy(p["W"]).T))
            getattr(ref, ref_name).bias.copy_(torch.tensor(backend.to_numpy(p["b"])))
        for name in ("norm1", "norm2"):
            p = getattr(ours, name).params
            getattr(ref, name).weight.copy_(torch.tensor(backend.to_numpy(p["gamma"])))
            getattr(ref, name).bias.copy_(torch.tensor(backend.to_numpy(p["beta"])))
    return torch, ref


@pytest.mark.torch
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post", "pre"])
def test_parity_with_torch_transformer_encoder_layer(xp, norm_first, activation, masked):
    block = _block(norm_first, activation, seed=3)
    torch, ref = _torch_layer(block, norm_first, activation)
    x = backend.to_numpy(_x(1))
    dy = np.random.default_rng(2).standard_normal(x.shape)
    mask = backend.asarray(MASK) if masked else None
    y = block.forward(backend.asarray(x), mask=mask)
    dx = block.backward(backend.asarray(dy))
    xt = torch.tensor(x, requires_grad=True)
    ref.train()  # dropout 0; training mode keeps PyTorch off its fused inference path
    yt = ref(xt, src_key_padding_mask=torch.tensor(~MASK) if masked else None)
    (yt * torch.tensor(dy)).sum().backward()
    tol = dict(rtol=0, atol=1e-9)
    np.testing.assert_allclose(backend.to_numpy(y), yt.detach().numpy(), **tol)
    np.testing.assert_allclose(backend.to_numpy(dx), xt.grad.numpy(), **tol)
    g = {k: backend.to_numpy(v) for k, v in block.attention.grads.items()}
    np.testing.assert_allclose(np.concatenate([g["Wq"].T, g["Wk"].T, g["Wv"].T]),
                               ref.self_attn.in_proj_weight.grad.numpy(), **tol)
    np.testing.assert_allclose(np.concatenate([g["bq"], g["bk"], g["bv"]]),
                               ref.self_attn.in_proj_bias.grad.numpy(), **tol)
    np.testing.assert_allclose(g["Wo"].T, ref.self_attn.out_proj.weight.grad.numpy(), **tol)
    np.testing.assert_allclose(g["bo"], ref.self_attn.out_proj.bias.grad.numpy(), **tol)
    for ours_name, ref_name, w, b in (("dense1", "linear1", "W", "b"),
                                      ("dense2", "linear2", "W", "b"),
                                      ("norm1", "norm1", "gamma", "beta"),
                                      ("norm2", "norm2", "gamma", "beta")):
        gr = getattr(block, ours_name).grads
        ref_layer = getattr(ref, ref_name)
        gw = backend.to_numpy(gr[w])
        np.testing.assert_allclose(gw.T if w == "W" else gw, ref_layer.weight.grad.numpy(),
                                   **tol)
        np.testing.assert_allclose(backend.to_numpy(gr[b]), ref_layer.bias.grad.numpy(), **tol)


def test_dropout_acts_only_while_training(xp):
    block = TransformerEncoder(HEADS, 4, FF, dropout=0.5, seed=0)
    x = _x()
    a = backend.to_numpy(block.forward(x))
    np.testing.assert_array_equal(a, backend.to_numpy(block.forward(x)))
    b = backend.to_numpy(block.forward(x, training=True))
    assert not np.allclose(a, b)
    clone = TransformerEncoder(**block.get_config())
    np.testing.assert_array_equal(backend.to_numpy(clone.forward(x)), a)


def test_bad_input_is_a_clear_error(xp):
    with pytest.raises(ValueError, match="activation must be one of"):
        TransformerEncoder(2, 4, 8, activation="tanh")
    with pytest.raises(ValueError, match="ff_dim must be a positive int"):
        TransformerEncoder(2, 4, 0)
    block = TransformerEncoder(HEADS, 4, FF)
    with pytest.raises(ValueError, match="'x' must have 3 dimensions"):
        block.forward(_x(shape=(N, D)))
    with pytest.raises(ValueError, match=r"'mask' must have shape \(2, 5\)"):
        block.forward(_x(), mask=backend.asarray(np.ones((N, T + 1), dtype=bool)))
    with pytest.raises(ValueError, match="'mask' must be an"):
        block.forward(_x(), True)
    block.forward(_x())
    with pytest.raises(ValueError, match="must have 8 features"):
        block.forward(_x(shape=(N, T, D + 1)))


@pytest.mark.parametrize("norm_first", [False, True], ids=["post", "pre"])
def test_gradcheck_cross_attention_block(xp, norm_first):
    # MulT's crossmodal block: x attends to a context of another length and width.
    block = TransformerEncoder(2, 3, 5, norm_first=norm_first, activation="gelu", seed=1)
    x, context = _x(2, shape=(N, 3, 4)), _x(3, shape=(N, 4, 5))
    mask = backend.asarray(np.array([[True, True, False, False], [True] * 4]))
    block.forward([x, context], mask=mask)
    to_float64(block)
    names = {"x0", "x1"} | {f"{o.name}.{k}" for o, k in block.parameters()} - {"attention.bk"}
    assert ("norm_context.gamma" in names) == norm_first
    results = check_layer(block, [x, context], forward_kwargs={"mask": mask}, eps=1e-5,
                          wrt=names)
    assert set(results) == names
    assert_gradcheck(results, tol=1e-6)


def test_cross_attention_to_a_fully_masked_context_adds_nothing(xp):
    block = TransformerEncoder(2, 2, 6, norm_first=True, seed=0)
    x, context = _x(2, shape=(N, 3, 4)), _x(3, shape=(N, 2, 4))
    none = backend.asarray(np.zeros((N, 2), dtype=bool))
    y = block.forward([x, context], mask=none)
    # With no key to attend, the block is x + bo + FF(norm2(x + bo)): the context is unused.
    dx, dc = block.backward(xp.ones_like(y))
    assert not backend.to_numpy(dc).any()
    other = block.forward([x, _x(4, shape=(N, 2, 4))], mask=none)
    np.testing.assert_array_equal(backend.to_numpy(other), backend.to_numpy(y))
