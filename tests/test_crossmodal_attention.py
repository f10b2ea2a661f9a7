"""Cross-modal attention fusion: gradients (all present, one missing), masks, a whole model."""

import numpy as np
import pytest

from mmscratch import backend, gradcheck, nn
from mmscratch.multimodal import (
    CrossModalAttentionFusion,
    MultimodalClassifier,
    Tokens,
    token_branch,
)

TOL = 1e-6


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def without_key_bias(results):
    """Softmax is shift invariant per row and q_i . bk is the same for every key j, so
    dL/dbk is exactly zero; its relative error would compare round-off with round-off."""
    for name in [k for k in results if k.endswith(".bk")]:
        r = results.pop(name)
        assert abs(r.analytic) < 1e-12 and abs(r.numeric) < 1e-8, r
    return results


def tokens(n=3):
    return [rand(n, 4, 3, seed=1), rand(n, 5, 2, seed=2)]  # image 4 tokens, audio 5 frames


@pytest.mark.parametrize("pooling", ["flatten", "mean"])
def test_gradients_with_both_modalities(xp, pooling):
    results = gradcheck.check_layer(CrossModalAttentionFusion(2, 3, pooling, seed=0), tokens())
    gradcheck.assert_gradcheck(without_key_bias(results), TOL)
    assert "attention_ab.Wq" in results and "attention_ba.Wo" in results


@pytest.mark.parametrize("pooling", ["flatten", "mean"])
def test_gradients_with_one_modality_missing(xp, pooling):
    present = backend.asarray(np.array([[True, True], [True, False], [False, True]]))
    # eps 1e-5: a few dL/dWo entries are ~1e-5 and the float64 round-off of the summed
    # output (~1e-16 |f| / eps) would otherwise reach 1e-6 of them
    results = gradcheck.check_layer(CrossModalAttentionFusion(2, 3, pooling, seed=0), tokens(),
                                    forward_kwargs={"present": present}, eps=1e-5)
    gradcheck.assert_gradcheck(without_key_bias(results), TOL)


def test_attention_maps_are_distributions_and_skip_a_missing_modality(xp):
    fusion = CrossModalAttentionFusion(2, 3, pooling="mean", seed=0)
    present = backend.asarray(np.array([[True, True], [True, False], [True, True]]))
    z = backend.to_numpy(fusion.forward([backend.asarray(t) for t in tokens()],
                                        present=present))
    ab = backend.to_numpy(fusion.last_attention["ab"])  # (N, T_image, T_audio)
    assert ab.shape == (3, 4, 5)
    np.testing.assert_allclose(ab[[0, 2]].sum(axis=2), 1.0, rtol=1e-6)
    assert (ab[1] == 0).all()  # audio missing: nothing to attend to
    assert (z[1, 3:] == 0).all()  # and its half of z is zero
    # the image half of a sample without audio: mean of (A + output bias) only
    a = tokens()[0][1]
    bo = backend.to_numpy(fusion.attention_ab.params["bo"])
    np.testing.assert_allclose(z[1, :3], (a + bo).mean(axis=0), rtol=1e-5, atol=1e-6)


def test_tokens_layer_shapes_and_backward(xp):
    x = backend.asarray(rand(2, 3, 4, 5))
    for axis, shape in (("space", (2, 12, 5)), ("time", (2, 3, 20))):
        layer = Tokens(axis)
        y = layer.forward(x)
        assert y.shape == shape
        np.testing.assert_array_equal(backend.to_numpy(layer.backward(y)), backend.to_numpy(x))


def test_whole_model_gradients_through_the_branches(xp):
    # smooth token branches (tanh Dense per token) keep the check fast and kink-free;
    # the conv/pool pieces of token_branch are gradient-checked in their own tests
    model = MultimodalClassifier(
        {"image": [nn.Dense(4, activation="tanh", seed=0)],
         "audio": [nn.Dense(4, activation="tanh", seed=1)]},
        CrossModalAttentionFusion(2, 2, seed=9), [nn.Dense(3, seed=11)])
    x = {"image": 1.5 * rand(2, 4, 3, seed=1), "audio": 1.5 * rand(2, 5, 2, seed=2)}
    y = backend.asarray(np.array([0, 2]))
    # inputs of scale 1 so the attention weights are far from uniform and dL/dWq, dL/dWk
    # are not so small that the loss's round-off (~1e-16 / eps) dominates them; eps 1e-5
    # for the same reason (a few entries are still ~1e-5)
    results = gradcheck.check_model(model, x, y, nn.SoftmaxCrossEntropy(), eps=1e-5)
    gradcheck.assert_gradcheck(without_key_bias(results), TOL)


def test_token_branches_feed_the_fusion_and_a_modality_may_be_missing(xp):
    model = MultimodalClassifier(
        {"image": token_branch("image", (28, 28, 1), 8, seed=0),
         "audio": token_branch("audio", (101, 13), 8, seed=5)},
        CrossModalAttentionFusion(2, 4, pooling="mean", seed=9), [nn.Dense(3, seed=11)])
    x = {"image": rand(2, 28, 28, 1, seed=1).astype(np.float32),
         "audio": rand(2, 101, 13, seed=2).astype(np.float32)}
    assert model.predict(x).shape == (2, 3)
    assert backend.to_numpy(model.fusion.last_attention["ab"]).shape == (2, 25, 23)
    flat = MultimodalClassifier(
        {"image": token_branch("image", (28, 28, 1), 8, seed=0),
         "audio": token_branch("audio", (101, 13), 8, seed=5)},
        CrossModalAttentionFusion(2, 4, seed=9), [nn.Dense(3, seed=11)])
    flat.predict(x)
    assert flat.fusion.forward([backend.asarray(rand(2, 25, 8)), backend.asarray(
        rand(2, 23, 8))]).shape == (2, 25 * 8 + 23 * 8)  # flatten keeps every token
    # a missing modality at test time: its branch is skipped, zeros of its token shape
    assert model.predict({"image": x["image"]}).shape == (2, 3)


def test_refuses_other_than_two_token_sequences(xp):
    fusion = CrossModalAttentionFusion(2, 3)
    with pytest.raises(ValueError, match="exactly two"):
        fusion.forward([backend.asarray(t) for t in tokens()] + [backend.asarray(rand(3, 2, 2))])
    with pytest.raises(ValueError, match="ndim|3"):
        fusion.forward([backend.asarray(rand(3, 4)), backend.asarray(rand(3, 5, 2))])
