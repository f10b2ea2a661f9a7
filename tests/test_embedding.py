"""Embedding: y[n, t] = E[x[n, t]]; dL/dE[v] sums dy over every position holding index v."""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.gradcheck import assert_gradcheck, check_layer
from mmscratch.nn.embedding import Embedding

VOCAB, DIM = 6, 3
IDX = np.array([[1, 1, 5], [0, 1, 1]])  # index 1 four times, 2..4 never


def test_forward_is_a_row_lookup(xp):
    layer = Embedding(VOCAB, DIM, seed=0)
    y = layer.forward(backend.asarray(IDX))
    assert y.shape == (2, 3, DIM)
    E = backend.to_numpy(layer.params["E"])
    np.testing.assert_array_equal(backend.to_numpy(y), E[IDX])


def test_gradcheck_with_repeated_indices(xp):
    layer = Embedding(VOCAB, DIM, seed=0)
    results = check_layer(layer, backend.asarray(IDX))
    assert set(results) == {"E"}  # integer indices are not differentiable
    assert_gradcheck(results, tol=1e-6)


def test_backward_accumulates_repeated_indices(xp):
    layer = Embedding(VOCAB, DIM, seed=0)
    layer.forward(backend.asarray(IDX))
    dy = np.random.default_rng(0).standard_normal((2, 3, DIM))
    assert layer.backward(backend.asarray(dy)) is None
    expected = np.zeros((VOCAB, DIM))
    for n in range(2):  # the plain loop the vectorized scatter-add replaces
        for t in range(3):
            expected[IDX[n, t]] += dy[n, t]
    dE = backend.to_numpy(layer.grads["E"])
    np.testing.assert_allclose(dE, expected, atol=1e-12)
    assert not dE[2:5].any(), "rows never looked up get zero gradient"


def test_any_integer_rank_and_dtype(xp):
    layer = Embedding(VOCAB, DIM, seed=0)
    assert layer.forward(backend.asarray(np.array([0, 5], dtype=np.uint8))).shape == (2, DIM)
    assert layer.forward(backend.asarray(IDX[None].astype(np.int32))).shape == (1, 2, 3, DIM)


@pytest.mark.parametrize("bad, message", [
    (np.array([[0, 6]]), "index max 6 >= vocab 6"),
    (np.array([[-1, 2]]), "index min -1 < 0"),
])
def test_out_of_range_index_is_a_clear_error(xp, bad, message):
    with pytest.raises(ValueError, match=message):
        Embedding(VOCAB, DIM).forward(backend.asarray(bad))


def test_float_or_empty_input_is_rejected(xp):
    with pytest.raises(ValueError, match="'x' must have a signed integer or unsigned"):
        Embedding(VOCAB, DIM).forward(backend.asarray(IDX.astype(np.float32)))
    with pytest.raises(ValueError, match="empty"):
        Embedding(VOCAB, DIM).forward(backend.asarray(np.zeros((2, 0), dtype=np.int64)))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="vocab must be a positive int"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="dim must be a positive int"):
        Embedding(5, 2.0)


def test_config_round_trip(xp):
    layer = Embedding(VOCAB, DIM, seed=7)
    clone = type(layer)(**layer.get_config())
    x = backend.asarray(IDX)
    np.testing.assert_array_equal(backend.to_numpy(layer.forward(x)),
                                  backend.to_numpy(clone.forward(x)))


@pytest.mark.torch
def test_parity_with_torch(xp):
    torch = pytest.importorskip("torch")
    layer = Embedding(VOCAB, DIM, seed=0)
    layer.forward(backend.asarray(IDX))
    ref = torch.nn.Embedding(VOCAB, DIM)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(backend.to_numpy(layer.params["E"])))
    dy = np.random.default_rng(1).standard_normal((2, 3, DIM)).astype(np.float32)
    y = layer.forward(backend.asarray(IDX))
    layer.backward(backend.asarray(dy))
    yt = ref(torch.tensor(IDX))
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_array_equal(backend.to_numpy(y), yt.detach().numpy())
    np.testing.assert_allclose(backend.to_numpy(layer.grads["E"]), ref.weight.grad.numpy(),
                               rtol=1e-6, atol=1e-6)
