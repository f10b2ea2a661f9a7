"""TransformerFusion: modality tokens + modality embedding through Transformer blocks.

Specification:
* float64 gradient checks w.r.t. every token input, the modality embedding and every
  block parameter, single-stream and cross (MulT) form, with all modalities present
  and with some missing for some samples;
* a missing modality changes nothing: the output equals the output of the model fed
  only the present modalities' tokens (single) and its part of z is zero (cross);
* flat ``(N, T d)`` inputs and ``(N, T, d)`` tokens give the same result;
* the whole classifier trains, round-trips through a checkpoint and predicts with a
  modality left out; bad input is a clear error.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend, nn
from mmscratch.gradcheck import assert_gradcheck, check_layer, to_float64
from mmscratch.multimodal import MultimodalClassifier
from mmscratch.multimodal.transformer_fusion import (
    StackFrames,
    TransformerFusion,
    transformer_branches,
)

D = 4
PRESENT = np.array([[True, True, True], [True, False, True], [False, True, False]])


def _tokens(seed=0, t0=3):
    rng = np.random.default_rng(seed)
    return [backend.asarray(rng.standard_normal((3, t0, D))),  # t0 tokens
            backend.asarray(rng.standard_normal((3, 2 * D))),  # flat: 2 tokens
            backend.asarray(rng.standard_normal((3, 1, D)))]  # 1 token


def _fusion(mode, num_layers=None, t0=3, **kwargs):
    # two stacked blocks in the single stream; one per target in the cross form (which
    # has three, one per modality) keeps the element-by-element check quick
    layers = num_layers or (2 if mode == "single" else 1)
    fusion = TransformerFusion(D, num_heads=2, ff_dim=6, num_layers=layers, mode=mode,
                               dropout=0.0, seed=0, **kwargs)
    fusion.forward(_tokens(t0=t0))
    for i, (owner, _) in enumerate(fusion.parameters()):  # unique labels for the report
        if owner is not fusion and not owner.name[:1].isdigit():
            owner.name = f"{i}.{owner.name}"
    return to_float64(fusion)


# The element-by-element checks run on the default backend only (the blocks' own checks
# run on every backend in tests/test_transformer.py; the other tests here do too).
@pytest.mark.parametrize("mode, pool, masked", [
    ("single", "flatten", True), ("single", "mean", False), ("cross", "flatten", False),
    ("cross", "mean", True)])
def test_gradcheck(mode, pool, masked):
    fusion = _fusion(mode, pool=pool, t0=2)
    fwd = {"present": backend.asarray(PRESENT)} if masked else {}
    labels = [k if o is fusion else f"{o.name}.{k}" for o, k in fusion.parameters()]
    # dL/dbk is exactly zero (softmax shift invariance): relative error of round-off.
    wanted = {"x0", "x1", "x2"} | {k for k in labels if not k.endswith("attention.bk")}
    results = check_layer(fusion, _tokens(t0=2), forward_kwargs=fwd, eps=1e-5, wrt=wanted)
    assert set(results) == wanted
    assert_gradcheck(results, tol=1e-6)


@pytest.mark.parametrize("pool", ["flatten", "mean"])
def test_single_stream_ignores_a_missing_modality(xp, pool):
    fusion = _fusion("single", pool=pool)
    toks = _tokens()
    present = backend.asarray(np.array([[True, False, True]] * 3))
    y = backend.to_numpy(fusion.forward(toks, present=present))
    # the same fusion with the middle modality's tokens replaced by anything at all
    other = [toks[0], backend.asarray(np.full((3, 2 * D), 7.0)), toks[2]]
    np.testing.assert_allclose(backend.to_numpy(fusion.forward(other, present=present)), y,
                               atol=1e-13)


def test_cross_form_zeroes_the_part_of_a_missing_target(xp):
    fusion = _fusion("cross")  # flatten: target j gives T_j * d values (3, 2, 1 tokens)
    y = backend.to_numpy(fusion.forward(_tokens(), present=backend.asarray(PRESENT)))
    assert y.shape == (3, 6 * D)
    for j, (start, stop) in enumerate([(0, 3 * D), (3 * D, 5 * D), (5 * D, 6 * D)]):
        part = y[:, start:stop]
        assert not part[~PRESENT[:, j]].any()
        assert np.abs(part[PRESENT[:, j]]).min() > 0


def test_flat_and_token_inputs_agree(xp):
    fusion = _fusion("single")
    toks = _tokens()
    flat = [t.reshape(3, -1) for t in toks]
    y = fusion.forward(toks)
    np.testing.assert_allclose(backend.to_numpy(fusion.forward(flat)), backend.to_numpy(y),
                               atol=1e-13)
    dflat = fusion.backward(xp.ones_like(y))  # gradients shaped like the last inputs
    assert [tuple(g.shape) for g in dflat] == [(3, 3 * D), (3, 2 * D), (3, D)]


def test_stack_frames_pads_and_round_trips(xp):
    x = backend.asarray(np.arange(2 * 5 * 3, dtype=float).reshape(2, 5, 3))
    layer = StackFrames(2)
    y = layer.forward(x)
    assert y.shape == (2, 3, 6)
    np.testing.assert_array_equal(backend.to_numpy(y[:, 0]),
                                  backend.to_numpy(x[:, :2].reshape(2, 6)))
    assert not backend.to_numpy(y[:, 2, 3:]).any()  # the padding frame
    np.testing.assert_array_equal(backend.to_numpy(layer.backward(y)), backend.to_numpy(x))


@pytest.mark.parametrize("mode", ["single", "cross"])
def test_classifier_trains_saves_and_predicts_without_a_modality(xp, tmp_path, mode):
    rng = np.random.default_rng(0)
    n = 24
    y = np.arange(n) % 3
    x = {"image": (rng.standard_normal((n, 8, 8, 1)) + y[:, None, None, None]).astype("f4"),
         "audio": (rng.standard_normal((n, 12, 5)) + y[:, None, None]).astype("f4"),
         "text": (rng.standard_normal((n, 7)) + y[:, None]).astype("f4")}
    shapes = {k: v.shape[1:] for k, v in x.items()}
    branches = transformer_branches(shapes, list(x), 8, seed=0)
    model = MultimodalClassifier(branches, TransformerFusion(8, 2, 16, mode=mode, seed=1),
                                 [nn.Dense(3, seed=2)], modality_dropout=0.3, seed=0)
    model.compile(nn.Adam(1e-2), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history["loss"][-1] < history["loss"][0]
    before = backend.to_numpy(model.predict(x))
    without = backend.to_numpy(model.predict({"image": x["image"], "text": x["text"]}))
    model.save(tmp_path / "tf.npz")
    loaded = nn.load_model(tmp_path / "tf.npz")
    np.testing.assert_array_equal(backend.to_numpy(loaded.predict(x)), before)
    np.testing.assert_array_equal(
        backend.to_numpy(loaded.predict({"image": x["image"], "text": x["text"]})), without)


def test_bad_input_is_a_clear_error(xp):
    with pytest.raises(ValueError, match="mode must be one of"):
        TransformerFusion(4, mode="late")
    with pytest.raises(ValueError, match="d_model must be a positive int"):
        TransformerFusion(0)
    fusion = TransformerFusion(4, mode="cross")
    with pytest.raises(ValueError, match="at least two modalities"):
        fusion.forward([backend.asarray(np.zeros((2, 3, 4)))])
    with pytest.raises(ValueError, match=r"must be \(N, T, 4\) tokens or \(N, T\*4\)"):
        TransformerFusion(4).forward([backend.asarray(np.zeros((2, 6)))])


def test_transformer_fusion_model_builds_both_forms(xp):
    from mmscratch.multimodal.transformer_fusion import transformer_fusion_model

    rng = np.random.default_rng(1)
    x = {"image": rng.standard_normal((4, 8, 8, 1)).astype("f4"),
         "audio": rng.standard_normal((4, 12, 5)).astype("f4")}
    shapes = {k: v.shape[1:] for k, v in x.items()}
    for fusion, mode in (("transformer", "single"), ("mult", "cross")):
        model = transformer_fusion_model(shapes, list(x), fusion, num_classes=3, d_model=8)
        assert model.fusion.mode == mode and not model.fusion.positional
        assert model.predict(x).shape == (4, 3)
    with pytest.raises(ValueError, match="at least two modalities"):
        transformer_fusion_model({"image": shapes["image"]}, ["image"], "mult",
                                 d_model=8).predict({"image": x["image"]})
    with pytest.raises(ValueError, match="'transformer' or 'mult'"):
        transformer_fusion_model(shapes, list(x), "early")


def test_registered_as_transformer_and_mult_for_build_model_and_the_cli(xp):
    from mmscratch.multimodal import FUSIONS, build_model
    from mmscratch.multimodal.transformer_fusion import transformer_fusion_model

    assert {"transformer", "mult"} <= set(FUSIONS)
    rng = np.random.default_rng(2)
    x = {"image": rng.standard_normal((3, 8, 8, 1)).astype("f4"),
         "text": rng.standard_normal((3, 6)).astype("f4")}
    shapes = {k: v.shape[1:] for k, v in x.items()}
    for fusion in ("transformer", "mult"):
        ours = build_model(shapes, list(x), fusion, num_classes=4, seed=5)
        same = transformer_fusion_model(shapes, list(x), fusion, num_classes=4, seed=5)
        np.testing.assert_array_equal(backend.to_numpy(ours.predict(x)),
                                      backend.to_numpy(same.predict(x)))
