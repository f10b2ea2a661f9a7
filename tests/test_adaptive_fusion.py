"""Gated multimodal unit and low-rank tensor fusion: gradients, missing modalities, references."""

import numpy as np
import pytest

from mmscratch import backend, gradcheck, nn
from mmscratch.multimodal import (
    CrossModalAttentionFusion,
    GatedFusion,
    LowRankTensorFusion,
    MultimodalClassifier,
    TensorFusion,
)

TOL = 1e-6  # float64 central differences


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


FUSIONS = [lambda: GatedFusion(4, seed=0), lambda: LowRankTensorFusion(3, 4, seed=0)]
IDS = ["gated", "low-rank"]


def features(widths=(2, 3, 2), n=3):
    # scaled by 0.5 so no tanh unit saturates: a saturated unit's gradient is ~1e-7,
    # and its relative error would be all round-off
    return [0.5 * rand(n, w, seed=i) for i, w in enumerate(widths)]


@pytest.mark.parametrize("make", FUSIONS, ids=IDS)
@pytest.mark.parametrize("widths", [(2, 3), (2, 3, 2)], ids=["two", "three"])
def test_gradients_with_every_modality(xp, make, widths):
    gradcheck.assert_gradcheck(gradcheck.check_layer(make(), features(widths)), TOL)


@pytest.mark.parametrize("make", FUSIONS, ids=IDS)
def test_gradients_with_modalities_missing(xp, make):
    # per sample: one missing, another missing, only one left
    present = backend.asarray(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0]], dtype=bool))
    results = gradcheck.check_layer(make(), features(), forward_kwargs={"present": present})
    gradcheck.assert_gradcheck(results, TOL)


def test_gated_unit_for_two_modalities_is_arevalos_sigmoid_gate(xp):
    """softmax over two modalities per unit = z h_1 + (1 - z) h_2, z = sigmoid(g_1 - g_2)."""
    x1, x2 = rand(5, 3, seed=1), rand(5, 2, seed=2)
    gmu = GatedFusion(4, seed=3)
    y = backend.to_numpy(gmu.forward([backend.asarray(x1), backend.asarray(x2)]))
    p = {k: backend.to_numpy(v).astype(np.float64) for k, v in gmu.params.items()}
    h1, h2 = np.tanh(x1 @ p["W0"] + p["b0"]), np.tanh(x2 @ p["W1"] + p["b1"])
    g = np.concatenate([x1, x2], axis=1) @ p["Wz"] + p["bz"]
    z = 1 / (1 + np.exp(-(g[:, :4] - g[:, 4:])))
    np.testing.assert_allclose(y, z * h1 + (1 - z) * h2, rtol=1e-5, atol=1e-6)


def test_gated_unit_with_one_modality_left_is_that_modality_alone(xp):
    xs = features(n=4)
    gmu = GatedFusion(5, seed=0)
    present = backend.asarray(np.array([[False, True, False]] * 4))
    y = backend.to_numpy(gmu.forward([backend.asarray(x) for x in xs], present=present))
    p = {k: backend.to_numpy(v) for k, v in gmu.params.items()}
    np.testing.assert_allclose(y, np.tanh(xs[1] @ p["W1"] + p["b1"]), rtol=1e-5, atol=1e-6)
    gates = backend.to_numpy(gmu.last_gates)
    assert (gates[:, [0, 2]] == 0).all()
    # and the missing modalities' values cannot leak in: change them, same output
    xs[0] = xs[0] + 100.0
    y2 = backend.to_numpy(gmu.forward([backend.asarray(x) for x in xs], present=present))
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("missing", [None, 1])
def test_low_rank_equals_tensor_fusion_with_the_reconstructed_weight(xp, missing):
    """LMF = full tensor fusion followed by W = sum_i w_i F_1^(i) (x) F_2^(i) (x) F_3^(i)."""
    xs = features((2, 3, 2), n=4)
    lmf = LowRankTensorFusion(3, 5, seed=1)
    present = None
    if missing is not None:
        mask = np.ones((4, 3), dtype=bool)
        mask[:, missing] = False
        present = backend.asarray(mask)
    y = backend.to_numpy(lmf.forward([backend.asarray(x) for x in xs], present=present))
    z = backend.to_numpy(TensorFusion().forward([backend.asarray(x) for x in xs],
                                                present=present))  # (N, 3*4*3)
    p = {k: backend.to_numpy(v).astype(np.float64) for k, v in lmf.params.items()}
    w_full = np.einsum("r,rau,rbu,rcu->abcu", p["w"], p["F0"], p["F1"], p["F2"])
    np.testing.assert_allclose(y, z @ w_full.reshape(-1, 5) + p["b"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", FUSIONS, ids=IDS)
def test_whole_model_gradients(xp, make):
    model = MultimodalClassifier(
        {"a": [nn.Dense(3, activation="tanh", seed=0)], "b": [nn.Dense(3, seed=1)]},
        make(), [nn.Dense(4, seed=3)])
    x = {"a": (0.5 * rand(5, 4, seed=1)), "b": (0.5 * rand(5, 2, seed=2))}
    y = backend.asarray(np.array([0, 1, 2, 3, 0]))
    gradcheck.assert_gradcheck(gradcheck.check_model(model, x, y, nn.SoftmaxCrossEntropy()), TOL)


@pytest.mark.parametrize("make", FUSIONS, ids=IDS)
def test_wrong_number_or_width_of_modalities_is_refused(xp, make):
    fusion = make()
    fusion.forward([backend.asarray(x) for x in features((2, 3))])
    with pytest.raises(ValueError, match="built for 2 modalities"):
        fusion.forward([backend.asarray(x) for x in features((2, 3, 2))])
    with pytest.raises(ValueError, match="modality 1 must have 3 features"):
        fusion.forward([backend.asarray(x) for x in features((2, 4))])


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_bad_sizes_are_refused(bad):
    with pytest.raises((TypeError, ValueError), match="units"):
        GatedFusion(bad)
    with pytest.raises((TypeError, ValueError), match="rank"):
        LowRankTensorFusion(bad, 4)


def test_checkpoint_round_trip(xp, tmp_path):
    model = MultimodalClassifier({"a": [nn.Dense(3, seed=0)], "b": [nn.Dense(3, seed=1)]},
                                 LowRankTensorFusion(2, 4, seed=2), [nn.Dense(4, seed=3)])
    x = {"a": rand(5, 4, seed=1).astype(np.float32), "b": rand(5, 2, seed=2).astype(np.float32)}
    before = backend.to_numpy(model.predict(x))
    model.save(tmp_path / "m.npz")
    after = backend.to_numpy(MultimodalClassifier.load(tmp_path / "m.npz").predict(x))
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name, cls", [("gated", GatedFusion), ("lowrank", LowRankTensorFusion),
                                       ("crossmodal", CrossModalAttentionFusion)])
def test_registered_for_build_model_and_the_cli(name, cls):
    from mmscratch.__main__ import _parser
    from mmscratch.multimodal import FUSIONS, build_model

    train = _parser()._subparsers._group_actions[0].choices["train"]
    choices = next(a for a in train._actions if a.dest == "fusion").choices
    assert name in FUSIONS and name in choices
    shapes = {"image": (8, 8, 1), "audio": (12, 6)}
    model = build_model(shapes, ("image", "audio"), name, num_classes=3, seed=0)
    assert isinstance(model.fusion, cls)
    rng = np.random.default_rng(0)
    x = {m: rng.standard_normal((4, *s)).astype(np.float32) for m, s in shapes.items()}
    assert model.predict(x).shape == (4, 3)
    assert model.predict({"audio": x["audio"]}).shape == (4, 3)  # image missing
