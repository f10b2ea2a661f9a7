"""Conv2D: the CNN's convolution layer y = f(W * x + b), channels-last (chapters/03-2-models.md).

Specification:
* forward and backward equal the naive loop definition (mmscratch.nn.reference) and
  PyTorch's conv2d (NHWC <-> NCHW, W (kh, kw, C, F) <-> (F, C, kh, kw));
* float64 gradient checks for x, W and b pass at 1e-6 for strides 1 and 2, valid and
  same padding, odd and even sizes, 1x1, 3x3, 5x5 and rectangular kernels;
* "same" padding is TensorFlow's: output ceil(H / s), odd pixel padded at bottom/right;
* bad input raises a ValueError naming the layer.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.gradcheck import assert_gradcheck, check_layer
from mmscratch.nn import Conv2D, Flatten, MaxPooling2D, ReLU, Sequential
from mmscratch.nn.conv import col2im, conv2d, conv_output_size, im2col, same_padding
from mmscratch.nn.reference import conv2d_backward_naive, conv2d_naive

# (N, H, W, C_in, filters, kernel_size, strides, padding): tiny on purpose.
CASES = [
    (2, 5, 5, 2, 3, 3, 1, "valid"),            # odd size, 3x3 (transposed-conv dx path)
    (1, 6, 6, 2, 5, 3, 1, "same"),             # even size, F > 2C (col2im dx path)
    (2, 6, 6, 2, 3, 3, 2, "same"),             # stride 2, even, same
    (1, 7, 7, 1, 2, 3, 2, "valid"),            # stride 2, odd, valid (last column dropped)
    (3, 4, 5, 3, 2, 1, 1, "valid"),            # 1x1 kernel
    (1, 7, 6, 2, 2, 5, 1, "same"),             # 5x5 kernel
    (2, 6, 7, 2, 3, (2, 3), (2, 1), "same"),   # rectangular kernel and strides
    (1, 5, 4, 2, 2, (3, 1), 1, "valid"),       # rectangular kernel, stride 1
    (1, 4, 4, 2, 2, 2, 1, "same"),             # even kernel: extra pad bottom/right
    (2, 3, 3, 2, 2, 3, 1, "valid"),            # kernel as large as the input
]


def _ids(case):
    N, H, W, C, F, k, s, p = case
    return f"N{N}-{H}x{W}x{C}-F{F}-k{k}-s{s}-{p}"


def _x(case, seed=0):
    N, H, W, C = case[:4]
    return np.random.default_rng(seed).standard_normal((N, H, W, C))


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_gradcheck_input_weights_bias(xp, case):
    _, _, _, _, F, k, s, p = case
    layer = Conv2D(F, k, strides=s, padding=p, seed=1)
    # The layer is linear in x, W and b, so central differences are exact up to
    # round-off; eps=1e-4 keeps round-off far below the tolerance.
    results = check_layer(layer, backend.asarray(_x(case)), eps=1e-4)
    assert set(results) == {"x", "W", "b"}
    assert_gradcheck(results, tol=1e-6)


def test_gradcheck_with_relu_activation_and_no_bias(xp):
    layer = Conv2D(3, 3, padding="same", activation="relu", use_bias=False, seed=2)
    results = check_layer(layer, backend.asarray(_x((2, 5, 4, 2))), eps=1e-6)
    assert set(results) == {"x", "W"}
    assert_gradcheck(results, tol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_naive_reference_forward_and_backward(xp, case):
    _, _, _, _, F, k, s, p = case
    x = _x(case, seed=3)
    layer = Conv2D(F, k, strides=s, padding=p, seed=4)
    y = layer(backend.asarray(x))
    W, b = (backend.to_numpy(layer.params[n]).astype(np.float64) for n in ("W", "b"))
    y_ref = conv2d_naive(x, W, b, s, p)
    np.testing.assert_allclose(backend.to_numpy(y), y_ref, rtol=1e-5, atol=1e-5)

    layer.params["W"], layer.params["b"] = backend.asarray(W), backend.asarray(b)
    y = layer(backend.asarray(x))
    dy = np.random.default_rng(5).standard_normal(y_ref.shape)
    dx = layer.backward(backend.asarray(dy))
    dx_ref, dW_ref, db_ref = conv2d_backward_naive(x, W, dy, s, p)
    np.testing.assert_allclose(backend.to_numpy(y), y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(dx), dx_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(layer.grads["W"]), dW_ref, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(layer.grads["b"]), db_ref, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES + [(4, 12, 12, 8, 16, 3, 1, "valid")], ids=_ids)
def test_matches_torch_forward_and_backward(xp, case):
    torch = pytest.importorskip("torch")
    F_ = torch.nn.functional
    _, H, Wd, _, F, k, s, p = case
    x = _x(case, seed=6)
    layer = Conv2D(F, k, strides=s, padding=p, seed=7)
    layer(backend.asarray(x))
    W = backend.to_numpy(layer.params["W"]).astype(np.float64)
    b = np.random.default_rng(8).standard_normal(F)
    layer.params["W"], layer.params["b"] = backend.asarray(W), backend.asarray(b)
    y = layer(backend.asarray(x))
    dy = np.random.default_rng(9).standard_normal(tuple(y.shape))
    dx = layer.backward(backend.asarray(dy))

    kh, kw = W.shape[:2]
    sh, sw = (s, s) if isinstance(s, int) else s
    if p == "same":  # TensorFlow's split: the odd pixel goes to the bottom/right
        (pt, pb), (pl, pr) = same_padding(H, kh, sh), same_padding(Wd, kw, sw)
    else:
        pt = pb = pl = pr = 0
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    Wt = torch.tensor(W.transpose(3, 2, 0, 1), requires_grad=True)  # (F, C, kh, kw)
    bt = torch.tensor(b, requires_grad=True)
    yt = F_.conv2d(F_.pad(xt, (pl, pr, pt, pb)), Wt, bt, stride=(sh, sw))
    yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(backend.to_numpy(y), yt.detach().numpy().transpose(0, 2, 3, 1),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(dx), xt.grad.numpy().transpose(0, 2, 3, 1),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(layer.grads["W"]),
                               Wt.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(layer.grads["b"]), bt.grad.numpy(),
                               rtol=1e-10, atol=1e-10)


def test_golden_values_without_any_reference_library(xp):
    # 1 image 3x3x1, one 2x2 kernel of ones: each output is the sum of a 2x2 block.
    x = backend.asarray(np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1))
    layer = Conv2D(1, 2)
    layer(x)
    layer.params["W"] = backend.asarray(np.ones((2, 2, 1, 1)))
    layer.params["b"] = backend.asarray(np.array([0.5]))
    y = backend.to_numpy(layer(x))[0, :, :, 0]
    np.testing.assert_array_equal(y, [[8.5, 12.5], [20.5, 24.5]])
    dx = backend.to_numpy(layer.backward(backend.asarray(np.ones((1, 2, 2, 1)))))[0, :, :, 0]
    # how many 2x2 windows cover each pixel
    np.testing.assert_array_equal(dx, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


@pytest.mark.parametrize("size,k,s,expected", [
    (28, 3, 1, (1, 1)), (28, 2, 1, (0, 1)), (5, 3, 2, (1, 1)), (6, 3, 2, (0, 1)),
    (7, 5, 1, (2, 2)), (4, 1, 3, (0, 0)),
])
def test_same_padding_follows_tensorflow(size, k, s, expected):
    assert same_padding(size, k, s) == expected
    assert conv_output_size(size, k, s, "same") == -(-size // s)


def test_output_shapes_and_dtype(xp):
    x = backend.asarray(np.zeros((2, 28, 28, 1), dtype=np.float32))
    y = Conv2D(32, 3)(x)
    assert tuple(y.shape) == (2, 26, 26, 32) and y.dtype == np.float32
    assert tuple(Conv2D(8, 3, strides=2, padding="same")(x).shape) == (2, 14, 14, 8)
    assert tuple(Conv2D(8, (5, 3), strides=(1, 2))(x).shape) == (2, 24, 13, 8)
    assert Conv2D(8, 3).output_shape((2, 28, 28, 1)) == (2, 26, 26, 8)


def test_params_shapes_and_config_round_trip(xp):
    layer = Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu",
                   use_bias=True, seed=3)
    layer(backend.asarray(np.zeros((1, 6, 6, 3), dtype=np.float32)))
    assert {k: tuple(v.shape) for k, v in layer.params.items()} == {"W": (3, 2, 3, 4),
                                                                    "b": (4,)}
    clone = type(layer)(**layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone(backend.asarray(np.zeros((1, 6, 6, 3), dtype=np.float32)))
    np.testing.assert_array_equal(backend.to_numpy(clone.params["W"]),
                                  backend.to_numpy(layer.params["W"]))  # same seed


def test_backward_overwrites_grads_and_leaves_dy_alone(xp):
    layer = Conv2D(3, 3, padding="same", seed=0)
    x = backend.asarray(_x((2, 5, 5, 2)))
    y = layer(x)
    dy = backend.asarray(np.random.default_rng(1).standard_normal(tuple(y.shape)))
    dy_before = backend.to_numpy(dy).copy()
    dx1 = backend.to_numpy(layer.backward(dy)).copy()
    gW1 = backend.to_numpy(layer.grads["W"]).copy()
    dx2 = backend.to_numpy(layer.backward(dy))
    np.testing.assert_array_equal(backend.to_numpy(dy), dy_before)
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(backend.to_numpy(layer.grads["W"]), gW1)


def test_im2col_and_col2im_are_adjoint(xp):
    # <im2col(x), c> == <x, col2im(c)> for any x, c: col2im is im2col's transpose.
    rng = np.random.default_rng(0)
    for k, s, p in [(3, 1, "valid"), (3, 2, "same"), ((2, 3), (1, 2), "same")]:
        x = rng.standard_normal((2, 6, 5, 3))
        cols, _ = im2col(backend.asarray(x), k, s, p)
        c = rng.standard_normal(tuple(cols.shape))
        back = col2im(backend.asarray(c), x.shape, k, s, p)
        lhs = float(np.sum(backend.to_numpy(cols) * c))
        rhs = float(np.sum(x * backend.to_numpy(back)))
        assert lhs == pytest.approx(rhs, rel=1e-12)


def test_functional_conv2d_equals_layer(xp):
    x = backend.asarray(_x((2, 6, 6, 2)))
    layer = Conv2D(3, 3, strides=2, padding="same", seed=0)
    y = layer(x)
    y2 = conv2d(x, layer.params["W"], layer.params["b"], strides=2, padding="same")
    np.testing.assert_allclose(backend.to_numpy(y2), backend.to_numpy(y), rtol=1e-6)


def test_in_a_sequential_cnn(xp):
    model = Sequential([Conv2D(4, 3, seed=0), ReLU(), MaxPooling2D(2), Flatten()])
    x = backend.asarray(np.random.default_rng(0).random((3, 8, 8, 1)).astype(np.float32))
    y = model.forward(x)
    assert tuple(y.shape) == (3, 3 * 3 * 4)
    dx = model.backward(backend.xp().ones_like(y))
    assert tuple(dx.shape) == (3, 8, 8, 1)


# ------------------------------------------------------------------ bad input
def test_wrong_rank_is_a_value_error(xp):
    with pytest.raises(ValueError, match=r"Conv2D.*'x' must have 4 dimensions"):
        Conv2D(2, 3)(backend.asarray(np.zeros((28, 28, 1), dtype=np.float32)))


def test_channel_mismatch_with_built_weights(xp):
    layer = Conv2D(2, 3)
    layer(backend.asarray(np.zeros((1, 5, 5, 3), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"must have 3 channels.*\(1, 5, 5, 1\)"):
        layer(backend.asarray(np.zeros((1, 5, 5, 1), dtype=np.float32)))


def test_kernel_larger_than_padded_input(xp):
    with pytest.raises(ValueError, match=r"5x5 window is larger than the padded input 3x3"):
        Conv2D(2, 5)(backend.asarray(np.zeros((1, 3, 3, 1), dtype=np.float32)))
    # "same" pads enough for the kernel to fit
    y = Conv2D(2, 5, padding="same")(backend.asarray(np.zeros((1, 3, 3, 1), np.float32)))
    assert tuple(y.shape) == (1, 3, 3, 2)


@pytest.mark.parametrize("kwargs", [
    {"filters": 0, "kernel_size": 3}, {"filters": 2, "kernel_size": 0},
    {"filters": 2, "kernel_size": (3, 3, 3)}, {"filters": 2, "kernel_size": 3, "strides": 0},
    {"filters": 2, "kernel_size": 3, "padding": "full"},
    {"filters": 2, "kernel_size": 3, "activation": "swish"},
])
def test_bad_constructor_arguments(kwargs):
    with pytest.raises(ValueError):
        Conv2D(**kwargs)


def test_backward_checks(xp):
    layer = Conv2D(2, 3)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(backend.asarray(np.zeros((1, 3, 3, 2), dtype=np.float32)))
    layer(backend.asarray(np.zeros((1, 5, 5, 1), dtype=np.float32)))
    with pytest.raises(ValueError, match="dy"):
        layer.backward(backend.asarray(np.zeros((1, 4, 4, 2), dtype=np.float32)))


def test_integer_images_are_refused(xp):
    with pytest.raises(ValueError, match="floating"):
        Conv2D(2, 3)(backend.asarray(np.zeros((1, 5, 5, 1), dtype=np.uint8)))


def test_array_of_another_backend_is_refused(backend_name):
    if backend_name == "numpy":
        pytest.skip("a NumPy array is native to the numpy backend")
    with pytest.raises(backend.BackendError):
        Conv2D(2, 3)(np.zeros((1, 5, 5, 1), dtype=np.float32))


def test_cnn_checkpoint_round_trip(xp, tmp_path):
    model = Sequential([Conv2D(3, (3, 2), strides=(1, 2), padding="same", seed=0), ReLU(),
                        MaxPooling2D(2, padding="same"), Flatten()])
    x = backend.asarray(np.random.default_rng(0).random((2, 7, 6, 2)).astype(np.float32))
    y = backend.to_numpy(model.predict(x))
    model.save(tmp_path / "cnn.npz")
    again = Sequential.load(tmp_path / "cnn.npz")
    assert again.layers[0].get_config() == model.layers[0].get_config()
    np.testing.assert_array_equal(backend.to_numpy(again.predict(x)), y)
