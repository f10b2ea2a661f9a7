"""Every registered fusion either fuses the modalities it is given or says, up front and
in one ValueError, what it needs (the number and kind of modalities, the sample shapes).

Specification:
* for every fusion in ``multimodal.FUSIONS`` and every non-empty subset of image, audio
  and text, ``build_model`` + ``predict`` works or raises ``ValueError`` before anything
  is built: never an ``IndexError`` from deep inside a layer;
* ``crossmodal`` fuses exactly image ``(H, W, C)`` and audio ``(T, F)``; its message
  names ``modalities``, what it needs, what it got (text's vector shape) and the fix;
* ``mult`` needs two or more modalities; an ``input_shapes`` entry of the wrong rank is
  named with the shape it must have.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mmscratch.multimodal import FUSIONS, CrossModalAttentionFusion, build_model, token_branch
from mmscratch.multimodal.registry import FUSION_REGISTRY

SHAPES = {"image": (8, 8, 1), "audio": (12, 5), "text": (10,)}
SUBSETS = [list(c) for r in (1, 2, 3) for c in itertools.combinations(SHAPES, r)]


def _inputs(modalities, n=2):
    rng = np.random.default_rng(0)
    return {m: rng.normal(size=(n, *SHAPES[m])) for m in modalities}


@pytest.mark.parametrize("fusion", list(FUSIONS))
def test_every_fusion_builds_or_refuses_up_front(fusion):
    for modalities in SUBSETS:
        try:
            model = build_model(SHAPES, modalities, fusion, num_classes=3, width=8, seed=0)
        except ValueError as exc:
            assert "modalities" in str(exc), (fusion, modalities, str(exc))
            continue
        out = model.predict(_inputs(modalities))  # what it built must run
        assert out.shape == (2, 3), (fusion, modalities)


@pytest.mark.parametrize("fusion", list(FUSIONS))
def test_every_fusion_names_a_wrong_sample_shape(fusion):
    for modality, bad in (("image", (8, 8)), ("audio", (12,)), ("text", (2, 5))):
        modalities = ["image", "audio"] if modality != "text" else ["image", "text"]
        if fusion == "crossmodal" and modality == "text":
            modalities = ["image", "audio", "text"]
        with pytest.raises(ValueError, match=rf"input_shapes\['{modality}'\].*must be"):
            build_model(SHAPES | {modality: bad}, modalities, fusion, num_classes=3, width=8)


def test_crossmodal_with_text_says_what_it_needs_and_got():
    with pytest.raises(ValueError) as info:
        build_model(SHAPES, ["image", "audio", "text"], "crossmodal")
    msg = str(info.value)
    assert msg.startswith("modalities:")
    assert "exactly two" in msg and "image" in msg and "audio" in msg  # what it needs
    assert "got image, audio, text" in msg  # what it got
    assert "text is a vector of shape (10,)" in msg  # why text cannot be one
    assert "--modalities image,audio" in msg  # the fix, as the CLI spells it


@pytest.mark.parametrize("modalities", [["image"], ["image", "text"], ["audio", "text"]])
def test_crossmodal_refuses_any_other_pair(modalities):
    with pytest.raises(ValueError, match="exactly two sequence/image modalities"):
        CrossModalAttentionFusion.check_modalities(modalities, SHAPES)


def test_crossmodal_accepts_image_and_audio_in_either_order():
    for pair in (["image", "audio"], ["audio", "image"]):
        assert CrossModalAttentionFusion.check_modalities(pair, SHAPES) == tuple(pair)
        model = build_model(SHAPES, pair, "crossmodal", num_classes=3, width=8)
        assert model.predict(_inputs(pair)).shape == (2, 3)


def test_mult_needs_two_or_more_modalities():
    with pytest.raises(ValueError, match="'mult'.*two or more modalities; got text"):
        build_model(SHAPES, ["text"], "mult")


def test_token_branch_names_the_shape_it_needs():
    with pytest.raises(ValueError, match=r"'image' must be \(H, W, C\), got \(64,\)"):
        token_branch("image", (64,), 8, seed=0)
    with pytest.raises(ValueError, match="modality must be 'image' or 'audio', got 'text'"):
        token_branch("text", (10,), 8, seed=0)


def test_restricted_fusions_say_so_in_their_description():
    # the CLI's --help is built from these descriptions
    assert "image and audio" in FUSION_REGISTRY["crossmodal"].description
    assert "two or more" in FUSION_REGISTRY["mult"].description
    assert FUSION_REGISTRY["crossmodal"].check is not None
    assert FUSION_REGISTRY["mult"].check is not None
