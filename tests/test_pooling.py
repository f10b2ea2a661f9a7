"""Pooling layers of the CNN (chapters/03-2-models.md).

Specification:
* MaxPooling2D: y = max over each window; the gradient of a window goes to exactly
  one pixel, its first maximum in row-major window order (ties are deterministic);
  "same" pads with -inf (padding never wins);
* AveragePooling2D: mean over each window's real pixels ("same" padding excluded from
  the count, as TensorFlow); GlobalAveragePooling2D: mean over H and W;
* all equal the naive loops of mmscratch.nn.reference and PyTorch, and pass float64
  gradient checks at 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.gradcheck import assert_gradcheck, check_layer
from mmscratch.nn import AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D
from mmscratch.nn.reference import avgpool2d_naive, maxpool2d_backward_naive, maxpool2d_naive

# (N, H, W, C, pool_size, strides, padding)
POOLS = [
    (2, 4, 4, 3, 2, None, "valid"),         # the CNN's 2x2 pooling
    (1, 5, 5, 2, 2, None, "valid"),         # odd size: last row/column dropped
    (2, 5, 6, 2, 3, 2, "same"),             # overlapping windows, -inf padding
    (1, 5, 7, 2, (2, 3), 1, "valid"),       # rectangular, overlapping
    (2, 7, 7, 1, 2, 2, "same"),             # odd size, same: extra -inf row/column
    (1, 6, 6, 2, 3, (1, 2), "valid"),       # rectangular strides
]


def _ids(case):
    return "N{}-{}x{}x{}-p{}-s{}-{}".format(*case)


def _distinct(shape, seed=0):
    """Random values with no ties (so the max is unique and differentiable)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 + rng.random(shape) * 0.01


@pytest.mark.parametrize("case", POOLS, ids=_ids)
def test_maxpool_matches_naive_forward_and_backward(xp, case):
    N, H, W, C, p, s, pad = case
    x = np.random.default_rng(1).standard_normal((N, H, W, C))
    layer = MaxPooling2D(p, s, pad)
    y = layer(backend.asarray(x))
    np.testing.assert_array_equal(backend.to_numpy(y), maxpool2d_naive(x, p, s, pad))
    dy = np.random.default_rng(2).standard_normal(tuple(y.shape))
    dx = layer.backward(backend.asarray(dy))
    np.testing.assert_allclose(backend.to_numpy(dx), maxpool2d_backward_naive(x, dy, p, s, pad),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", POOLS, ids=_ids)
def test_maxpool_gradcheck(xp, case):
    N, H, W, C, p, s, pad = case
    # Distinct values spaced >= 1/7 apart: eps=1e-6 never changes which pixel is the max.
    assert_gradcheck(check_layer(MaxPooling2D(p, s, pad), backend.asarray(_distinct((N, H, W, C)))),
                     tol=1e-6)


def test_maxpool_ties_go_to_the_first_pixel_in_row_major_order(xp):
    x = np.ones((1, 4, 4, 1))
    x[0, 2:, 2:, 0] = [[0.0, 3.0], [3.0, 3.0]]  # a tie of three 3s in the last window
    layer = MaxPooling2D(2)
    y = layer(backend.asarray(x))
    np.testing.assert_array_equal(backend.to_numpy(y)[0, :, :, 0], [[1, 1], [1, 3]])
    dx = backend.to_numpy(layer.backward(backend.asarray(np.full((1, 2, 2, 1), 5.0))))
    expected = np.zeros((4, 4))
    expected[0, 0] = expected[0, 2] = expected[2, 0] = 5.0  # top-left of each all-ones window
    expected[2, 3] = 5.0  # first of the tied 3s: row 2 before row 3
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)
    np.testing.assert_array_equal(dx, maxpool2d_backward_naive(x, np.full((1, 2, 2, 1), 5.0)))


def test_maxpool_ties_with_overlapping_windows(xp):
    x = np.zeros((1, 3, 3, 2))  # every window is a tie
    layer = MaxPooling2D(2, strides=1)
    layer(backend.asarray(x))
    dy = np.arange(8, dtype=np.float64).reshape(1, 2, 2, 2)
    dx = backend.to_numpy(layer.backward(backend.asarray(dy)))
    # each window sends its dy to its own top-left pixel
    np.testing.assert_array_equal(dx[0, :2, :2], dy[0])
    assert dx[0, 2].sum() == 0 and dx[0, :, 2].sum() == 0
    np.testing.assert_array_equal(dx, maxpool2d_backward_naive(x, dy, 2, 1))


def test_maxpool_gradient_sums_to_dy(xp):
    x = np.random.default_rng(0).integers(0, 3, (2, 6, 6, 3)).astype(np.float64)  # many ties
    layer = MaxPooling2D(2)
    layer(backend.asarray(x))
    dy = np.random.default_rng(1).standard_normal((2, 3, 3, 3))
    dx = backend.to_numpy(layer.backward(backend.asarray(dy)))
    assert np.count_nonzero(dx) == dy.size  # exactly one pixel per window
    np.testing.assert_allclose(dx.sum(), dy.sum())


def test_maxpool_same_padding_never_selects_padding(xp):
    x = -np.ones((1, 3, 3, 1)) * 100  # all negative: zero padding would win, -inf does not
    y = backend.to_numpy(MaxPooling2D(2, padding="same")(backend.asarray(x)))
    assert y.shape == (1, 2, 2, 1) and np.all(y == -100)


@pytest.mark.parametrize("case", POOLS, ids=_ids)
def test_average_pooling_matches_naive_and_gradcheck(xp, case):
    N, H, W, C, p, s, pad = case
    x = np.random.default_rng(3).standard_normal((N, H, W, C))
    y = AveragePooling2D(p, s, pad)(backend.asarray(x))
    np.testing.assert_allclose(backend.to_numpy(y), avgpool2d_naive(x, p, s, pad), rtol=1e-12)
    assert_gradcheck(check_layer(AveragePooling2D(p, s, pad), backend.asarray(x)), tol=1e-6)


def test_global_average_pooling(xp):
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5))
    y = GlobalAveragePooling2D()(backend.asarray(x))
    np.testing.assert_allclose(backend.to_numpy(y), x.mean(axis=(1, 2)), rtol=1e-12)
    assert_gradcheck(check_layer(GlobalAveragePooling2D(), backend.asarray(x)), tol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("case", [c for c in POOLS if c[6] == "valid"], ids=_ids)
def test_max_and_average_pooling_match_torch(xp, case):
    torch = pytest.importorskip("torch")
    N, H, W, C, p, s, pad = case
    x = np.random.default_rng(5).standard_normal((N, H, W, C))
    for layer, fn in [(MaxPooling2D(p, s), torch.nn.functional.max_pool2d),
                      (AveragePooling2D(p, s), torch.nn.functional.avg_pool2d)]:
        y = layer(backend.asarray(x))
        dy = np.random.default_rng(6).standard_normal(tuple(y.shape))
        dx = layer.backward(backend.asarray(dy))
        xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
        yt = fn(xt, layer.pool_size, layer.strides)
        yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
        np.testing.assert_allclose(backend.to_numpy(y),
                                   yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12)
        np.testing.assert_allclose(backend.to_numpy(dx), xt.grad.numpy().transpose(0, 2, 3, 1),
                                   rtol=1e-12, atol=1e-12)


def test_pooling_shapes_and_config(xp):
    x = backend.asarray(np.zeros((2, 24, 24, 64), dtype=np.float32))
    y = MaxPooling2D()(x)
    assert tuple(y.shape) == (2, 12, 12, 64) and y.dtype == np.float32
    assert tuple(MaxPooling2D(3, 2, "same")(x).shape) == (2, 12, 12, 64)
    for layer in (MaxPooling2D((2, 3), 1, "same"), AveragePooling2D(3, 2)):
        clone = type(layer)(**layer.get_config())
        assert clone.get_config() == layer.get_config()
    assert MaxPooling2D(2).get_config()["strides"] == (2, 2)  # strides=None means pool_size


@pytest.mark.parametrize("layer", [MaxPooling2D(2), AveragePooling2D(2), GlobalAveragePooling2D()],
                         ids=lambda layer: type(layer).__name__)
def test_wrong_rank_is_a_value_error(xp, layer):
    with pytest.raises(ValueError, match="4 dimensions"):
        layer(backend.asarray(np.zeros((4, 4, 1), dtype=np.float32)))


def test_pool_larger_than_input(xp):
    with pytest.raises(ValueError, match="3x3 window is larger than the padded input 2x2"):
        MaxPooling2D(3)(backend.asarray(np.zeros((1, 2, 2, 1), dtype=np.float32)))


def test_bad_pool_arguments():
    with pytest.raises(ValueError):
        MaxPooling2D(0)
    with pytest.raises(ValueError):
        MaxPooling2D(2, padding="full")
    with pytest.raises(ValueError):
        AveragePooling2D(2, strides=(1, 0))
