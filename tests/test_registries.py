"""One registry of fusions, layers that register themselves, and no import cycle.

Specification
-------------
* ``multimodal.FUSIONS`` lists the registered fusions; ``build_model`` and the CLI's
  ``--fusion`` choices read the same registry, so adding a fusion is one
  ``register_fusion(name, builder)`` line (tested here with a throw-away fusion).
* ``nn.ExpandDims`` (formerly the private ``_AddChannel``) is a public layer:
  ``numpy.expand_dims`` forward, reshape backward, float64 gradient check.
* Checkpoints find their classes without ``nn`` importing the packages above it: the
  file records the class's module; old files (no module, or the old ``_AddChannel``
  name) still load, in a fresh process that imported only ``mmscratch.nn``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mmscratch import backend, multimodal, nn
from mmscratch.__main__ import _parser
from mmscratch.gradcheck import assert_gradcheck, check_layer
from mmscratch.multimodal import (
    FUSIONS,
    ConcatFusion,
    MultimodalClassifier,
    build_model,
    get_fusion,
    register_fusion,
)
from mmscratch.multimodal.registry import FUSION_REGISTRY

SHAPES = {"image": (8, 8, 1), "audio": (6, 4), "text": (10,)}


def inputs(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return {m: rng.normal(size=(n, *s)).astype(np.float32) for m, s in SHAPES.items()}


def cli_fusion_choices():
    train = _parser()._subparsers._group_actions[0].choices["train"]
    return next(a for a in train._actions if a.dest == "fusion").choices


# ---------------------------------------------------------------- fusion registry
def test_fusions_lists_the_registry_and_the_cli_offers_it():
    assert tuple(FUSIONS)[:4] == ("early", "late", "attention", "tensor")
    assert FUSIONS == tuple(FUSION_REGISTRY)
    assert multimodal.models.FUSIONS is FUSIONS
    assert list(cli_fusion_choices()) == list(FUSION_REGISTRY)
    assert "early" in FUSIONS and "nonsense" not in FUSIONS


@pytest.fixture
def throwaway_fusion():
    spec = register_fusion("throwaway", lambda **_: ConcatFusion(name="throwaway"),
                           description="test-only concatenation")
    yield spec
    del FUSION_REGISTRY["throwaway"]


def test_one_register_call_adds_a_fusion_everywhere(throwaway_fusion):
    assert "throwaway" in FUSIONS and "throwaway" in cli_fusion_choices()
    model = build_model(SHAPES, fusion="throwaway", num_classes=3, width=4, seed=0)
    assert model.fusion.name == "throwaway"
    out = model.predict(inputs())
    assert tuple(out.shape) == (4, 3)
    # the same seeds as the built-in it copies: identical outputs to "early"
    ref = build_model(SHAPES, fusion="early", num_classes=3, width=4, seed=0)
    np.testing.assert_array_equal(backend.to_numpy(out),
                                  backend.to_numpy(ref.predict(inputs())))


def test_registry_refuses_clashes_and_bad_names():
    with pytest.raises(ValueError, match="already registered"):
        register_fusion("early", ConcatFusion)
    with pytest.raises(ValueError, match="lower-case word"):
        register_fusion("Has Space", ConcatFusion)
    with pytest.raises(ValueError, match=r"fusion must be one of \('early'"):
        build_model(SHAPES, fusion="nonsense")
    assert get_fusion("late").head is False and get_fusion("tensor").max_width == 16


# ---------------------------------------------------------------- ExpandDims
def test_expand_dims_matches_numpy_and_passes_the_gradient_check(xp):
    x = np.random.default_rng(1).normal(size=(2, 3, 4))
    for axis in (-1, 1, 3, -2):
        y = nn.ExpandDims(axis).forward(backend.asarray(x))
        np.testing.assert_array_equal(backend.to_numpy(y), np.expand_dims(x, axis))
        assert_gradcheck(check_layer(nn.ExpandDims(axis), backend.asarray(x)), 1e-6)
    with pytest.raises(ValueError, match="batch"):
        nn.ExpandDims(0)
    with pytest.raises(ValueError, match="out of range"):
        nn.ExpandDims(5).forward(backend.asarray(x))


# ---------------------------------------------------------------- checkpoints
def audio_model():
    model = nn.Sequential([nn.ExpandDims(), nn.Conv2D(2, 3, padding="same", seed=0),
                           nn.Flatten(), nn.Dense(3, seed=1)])
    model.compile(optimizer="adam", loss=nn.SoftmaxCrossEntropy())
    return model


def rewrite_config(path, edit):
    """Rewrite a checkpoint's JSON configuration as an older mmscratch wrote it."""
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    import io

    arrays = {}
    for name, raw in members.items():
        arrays[name[:-4]] = np.load(io.BytesIO(raw), allow_pickle=False)
    meta = edit(json.loads(str(arrays["__config__"])))
    arrays["__config__"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_old_checkpoints_naming_add_channel_still_load(tmp_path):
    model = audio_model()
    x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype(np.float32)
    before = backend.to_numpy(model.predict(x))
    path = tmp_path / "old.npz"
    model.save(path)

    def as_old(meta):  # what the files looked like before ExpandDims was public
        meta.pop("module")
        first = meta["config"]["layers"][0]
        assert first["class"] == "ExpandDims"
        first["class"], first["config"] = "_AddChannel", {}
        return meta

    rewrite_config(path, as_old)
    loaded = nn.load_model(path)
    assert type(loaded.layers[0]) is nn.ExpandDims
    np.testing.assert_array_equal(backend.to_numpy(loaded.predict(x)), before)


def run_fresh(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_nn_does_not_import_the_packages_above_it():
    assert run_fresh("import sys, mmscratch.nn; "
                     "print(sorted(m for m in sys.modules if m.startswith('mmscratch.') "
                     "and m.split('.')[1] in ('multimodal', 'datasets', "
                     "'unsupervised', 'supervised')))") == "[]"


@pytest.mark.parametrize("old_format", [False, True], ids=["module recorded", "old file"])
def test_a_multimodal_checkpoint_loads_in_a_process_that_imported_only_nn(tmp_path,
                                                                         old_format):
    model = build_model(SHAPES, fusion="attention", num_classes=3, width=4, seed=0)
    x = inputs()
    before = backend.to_numpy(model.predict(x))
    path = tmp_path / "mm.npz"
    model.save(path)
    if old_format:
        rewrite_config(path, lambda meta: {k: v for k, v in meta.items() if k != "module"})
    code = (f"import numpy as np, mmscratch.nn as nn; m = nn.load_model({str(path)!r}); "
            f"print(type(m).__name__, type(m).__module__)")
    assert run_fresh(code) == "MultimodalClassifier mmscratch.multimodal.classifier"
    loaded = MultimodalClassifier.load(path)
    np.testing.assert_array_equal(backend.to_numpy(loaded.predict(x)), before)
