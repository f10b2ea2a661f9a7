"""Fusion blocks and the multimodal classifier: gradients, missing modalities, checkpoints."""

import numpy as np
import pytest

from mmscratch import backend, gradcheck, nn
from mmscratch.multimodal import (
    AttentionFusion,
    ConcatFusion,
    LateFusion,
    MultimodalClassifier,
    TensorFusion,
    document_model,
)

TOL = 1e-6  # float64 central differences


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


FUSIONS = [ConcatFusion, lambda: LateFusion("logits"), lambda: LateFusion("probabilities"),
           lambda: AttentionFusion(4, seed=0), TensorFusion]
IDS = ["concat", "late-logits", "late-probs", "attention", "tensor"]


def _features(late):
    widths = (2, 2, 2) if late else (2, 3, 2)
    return [rand(3, w, seed=i) for i, w in enumerate(widths)]


@pytest.mark.parametrize("make", FUSIONS, ids=IDS)
def test_fusion_gradients(xp, make):
    fusion = make()
    gradcheck.assert_gradcheck(gradcheck.check_layer(fusion, _features(
        isinstance(fusion, LateFusion))), TOL)


@pytest.mark.parametrize("make", FUSIONS, ids=IDS)
def test_fusion_gradients_with_missing_modalities(xp, make):
    fusion = make()
    present = backend.asarray(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0]], dtype=bool))
    results = gradcheck.check_layer(fusion, _features(isinstance(fusion, LateFusion)),
                                    forward_kwargs={"present": present})
    gradcheck.assert_gradcheck(results, TOL)


def test_dict_input_gives_dict_gradients(xp):
    fusion = ConcatFusion()
    y = fusion.forward({"image": backend.asarray(rand(2, 3)), "text": backend.asarray(rand(2, 1))})
    assert y.shape == (2, 4)
    grads = fusion.backward(backend.asarray(rand(2, 4)))
    assert list(grads) == ["image", "text"] and grads["text"].shape == (2, 1)


def test_attention_weights_rows_sum_to_one_and_ignore_missing(xp):
    fusion = AttentionFusion(4, seed=0)
    present = backend.asarray(np.array([[True, False, True]] * 3))
    fusion.forward([backend.asarray(f) for f in _features(False)], present=present)
    e = backend.to_numpy(fusion.last_attention)
    np.testing.assert_allclose(e.sum(axis=2), 1.0, rtol=1e-6)
    assert (e[:, :, 1] == 0).all()


def test_tensor_fusion_contains_unimodal_terms(xp):
    h1, h2 = backend.asarray(np.array([[2.0, 3.0]])), backend.asarray(np.array([[5.0]]))
    z = backend.to_numpy(TensorFusion().forward([h1, h2]))
    # [2, 3, 1] (x) [5, 1] = [10, 2, 15, 3, 5, 1]
    np.testing.assert_array_equal(z, [[10.0, 2.0, 15.0, 3.0, 5.0, 1.0]])


def small_model(fusion=None, dropout=0.0):
    return MultimodalClassifier(
        {"a": [nn.Dense(3, activation="tanh", seed=0)], "b": [nn.Dense(3, seed=1)]},
        fusion or AttentionFusion(3, seed=2), [nn.Dense(4, seed=3)],
        modality_dropout=dropout, seed=0)


def small_inputs(n=5):
    # scaled by 0.5 so the tanh branch is not saturated: a saturated unit has gradients
    # near 1e-7 whose relative error is all round-off.
    return {"a": (0.5 * rand(n, 4, seed=1)).astype(np.float32),
            "b": (0.5 * rand(n, 2, seed=2)).astype(np.float32)}


@pytest.mark.parametrize("fusion", [ConcatFusion, lambda: AttentionFusion(3, seed=2),
                                    TensorFusion], ids=["concat", "attention", "tensor"])
def test_whole_multimodal_model_gradients(xp, fusion):
    y = backend.asarray(np.array([0, 1, 2, 3, 0]))
    results = gradcheck.check_model(small_model(fusion()), small_inputs(), y,
                                    nn.SoftmaxCrossEntropy())
    gradcheck.assert_gradcheck(results, TOL)
    assert "input:a" in results and "input:b" in results


def test_multimodal_model_with_conv_and_lstm_branches_gradients(xp):
    conv = pytest.importorskip("mmscratch.nn.conv")
    recurrent = pytest.importorskip("mmscratch.nn.recurrent")
    model = MultimodalClassifier(
        {"image": [conv.Conv2D(2, 3, padding="same", seed=0), nn.Flatten(), nn.Dense(3, seed=1)],
         "audio": [recurrent.LSTM(3, seed=2)],
         "text": [nn.Dense(3, activation="relu", seed=3)]},
        AttentionFusion(3, seed=4), [nn.Dense(3, seed=5)])
    x = {"image": rand(2, 4, 4, 1), "audio": 2 * rand(2, 4, 2, seed=1),
         "text": rand(2, 5, seed=2)}
    y = backend.asarray(np.array([0, 2]))
    # eps 1e-5: through three branches some gradients are ~1e-6, where the round-off of
    # eps=1e-6 differences (~1e-11 absolute) alone would exceed the relative tolerance.
    results = gradcheck.check_model(model, x, y, nn.SoftmaxCrossEntropy(), eps=1e-5)
    gradcheck.assert_gradcheck(results, TOL)


def test_inputs_are_validated(xp):
    model = small_model()
    x = small_inputs()
    with pytest.raises(ValueError, match="different batch sizes"):
        model.forward({"a": backend.asarray(x["a"]), "b": backend.asarray(x["b"][:3])})
    with pytest.raises(ValueError, match="unknown modalities"):
        model.forward({"a": backend.asarray(x["a"]), "video": backend.asarray(x["b"])})
    with pytest.raises(ValueError, match="first forward needs every modality"):
        model.forward({"a": backend.asarray(x["a"])})
    with pytest.raises(ValueError, match="dict"):
        model.forward(backend.asarray(x["a"]))


def test_missing_modality_at_test_time_skips_its_branch(xp):
    model = small_model()
    model.compile("adam", nn.SoftmaxCrossEntropy())
    x = small_inputs()
    model.predict(x)
    only_a = backend.to_numpy(model.predict({"a": x["a"]}))
    assert only_a.shape == (5, 4) and np.isfinite(only_a).all()
    assert not model.last_presence[:, 1].any()


def test_modality_dropout_keeps_at_least_one_modality(xp):
    model = small_model(dropout=0.9)
    model.forward({k: backend.asarray(v) for k, v in small_inputs(200).items()}, training=True)
    kept = model.last_presence
    assert kept.any(axis=1).all()
    assert 0.0 < kept.mean() < 0.8


def test_training_reduces_loss_and_checkpoint_round_trips(xp, tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 120)
    x = {"a": (np.eye(4)[y] + 0.3 * rng.standard_normal((120, 4))).astype(np.float32),
         "b": rng.standard_normal((120, 2)).astype(np.float32)}
    model = small_model(dropout=0.2)
    model.compile(nn.Adam(1e-2), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    model.save(tmp_path / "mm.npz")
    restored = MultimodalClassifier.load(tmp_path / "mm.npz")
    np.testing.assert_array_equal(backend.to_numpy(model.predict(x)),
                                  backend.to_numpy(restored.predict(x)))


@pytest.mark.slow
def test_document_model_trains_one_step_on_its_original_shapes():
    pytest.importorskip("mmscratch.nn.conv")
    model = document_model()
    rng = np.random.default_rng(0)
    x = {"image": rng.random((2, 224, 224, 3), dtype=np.float32),
         "text": rng.random((2, 1000), dtype=np.float32)}
    y = np.eye(10)[[3, 7]]
    before = model.evaluate(x, y)["loss"]
    history = model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history["loss"][0])
    # the flattened image (53*53*128 = 359,552) is projected to the 64-wide token
    assert model.fusion.params["W0"].shape == (359552, 64)
    assert model.evaluate(x, y)["loss"] != before
