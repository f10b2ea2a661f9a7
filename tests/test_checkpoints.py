"""Checkpoints: atomic, versioned, pickle-free and lossless (``Model.save`` / ``load_model``).

Specification
-------------
* ``save`` writes a temporary file in the target folder and renames it into place: a
  failure in the middle of writing leaves neither a partial file at the target (an
  older checkpoint there survives intact) nor a temporary file behind.
* The file records a format tag, ``CHECKPOINT_VERSION``, the JSON configuration
  (model class, every layer's constructor arguments, the input spec) and the
  parameters as plain host arrays; it loads with ``allow_pickle=False`` and a member
  holding Python objects is refused.
* A file of another architecture or format version is refused with a
  :class:`mmscratch.DataError` naming the file and what differs.
* After ``load`` a model predicts bit-identically on the same backend: Sequential
  with Conv2D, pooling, LSTM, SimpleRNN, Embedding, Attention, MultiHeadAttention and
  MFCCLayer (trainable mel filterbank) layers, and the MultimodalClassifier with each fusion.
* A checkpoint written on one backend loads on another (numpy <-> strict always;
  cupy <-> numpy where a GPU exists): parameters arrive bit for bit.

Hostile bytes (truncation, bit flips, gigabyte headers) are in tests/test_fuzz_files.py.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mmscratch import DataError, backend, nn
from mmscratch.multimodal import MultimodalClassifier
from mmscratch.multimodal.models import build_model
from mmscratch.nn import model as model_mod

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------------ models
def cnn():
    return nn.Sequential([nn.Conv2D(4, 3, padding="same", activation="relu", seed=0),
                          nn.MaxPooling2D(2), nn.Conv2D(3, 2, seed=1),
                          nn.AveragePooling2D(1), nn.GlobalAveragePooling2D(),
                          nn.Dense(3, seed=2)])


def recurrent():
    # The last activation is saved in the config too; tanh, not softmax, because a softmax
    # would feed probabilities to SoftmaxCrossEntropy (which warns about exactly that).
    return nn.Sequential([nn.LSTM(5, return_sequences=True, seed=0), nn.SimpleRNN(4, seed=1),
                          nn.Dense(3, activation="tanh", seed=2)])


def embedding_attention():
    return nn.Sequential([nn.Embedding(20, 6, seed=0), nn.Attention(),
                          nn.MultiHeadAttention(2, 3, seed=1), nn.Flatten(),
                          nn.Dropout(0.5, seed=2), nn.Dense(3, seed=3)])


def audio():
    from mmscratch.nn.mfcc_layer import MFCCLayer

    return nn.Sequential([MFCCLayer(8000, n_mfcc=5, n_fft=64, hop_length=32, n_mels=8,
                                    trainable_mel=True),
                          nn.LSTM(4, seed=0), nn.Dense(3, seed=1)])


SEQUENTIAL = {
    "audio": (audio, lambda n: RNG.standard_normal((n, 400)).astype(np.float32)),
    "conv": (cnn, lambda n: RNG.standard_normal((n, 8, 8, 1)).astype(np.float32)),
    "recurrent": (recurrent, lambda n: RNG.standard_normal((n, 7, 3)).astype(np.float32)),
    "embedding_attention": (embedding_attention, lambda n: RNG.integers(0, 20, (n, 5))),
}

MM_SHAPES = {"image": (8, 8, 1), "audio": (6, 4), "text": (12,)}


def mm_inputs(n):
    return {"image": RNG.random((n, 8, 8, 1), dtype=np.float32),
            "audio": RNG.standard_normal((n, 6, 4)).astype(np.float32),
            "text": RNG.random((n, 12), dtype=np.float32)}


def trained(model, x, n_classes=3):
    """One epoch of training so that parameters differ from their seeded start."""
    y = np.arange(len(next(iter(x.values()))) if isinstance(x, dict) else len(x)) % n_classes
    model.compile(optimizer=nn.Adam(lr=0.05), loss=nn.SoftmaxCrossEntropy())
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    return model


def host(a):
    return backend.to_numpy(a)


def params_of(model):
    return [(f"{owner.name}.{key}", host(owner.params[key])) for owner, key in model.parameters()]


def assert_same_params(a, b):
    pa, pb = params_of(a), params_of(b)
    assert [k for k, _ in pa] == [k for k, _ in pb]
    for (k, va), (_, vb) in zip(pa, pb):
        assert va.dtype == vb.dtype, k
        np.testing.assert_array_equal(va, vb, err_msg=k)


# ------------------------------------------------------------------------ atomic save
def _saved_dense(path):
    model = nn.Sequential([nn.Dense(3, seed=0)])
    model.predict(np.ones((1, 4), np.float32))
    model.save(path)
    return model


def test_a_failed_save_leaves_no_partial_file_and_no_temporary(tmp_path, monkeypatch):
    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    model = nn.Sequential([nn.Dense(3, seed=0)])
    model.predict(np.ones((1, 4), np.float32))
    monkeypatch.setattr(model_mod.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_a_failed_save_keeps_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    model = _saved_dense(path)
    before = path.read_bytes()
    real_savez = np.savez

    def interrupted(f, **arrays):
        real_savez(f, **arrays)
        raise KeyboardInterrupt  # Ctrl-C after the bytes are written, before the rename

    monkeypatch.setattr(model_mod.np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_creates_missing_folders_and_refuses_an_unbuilt_model(tmp_path):
    _saved_dense(tmp_path / "a" / "b" / "model.npz")
    assert (tmp_path / "a" / "b" / "model.npz").is_file()
    with pytest.raises(RuntimeError, match="never seen an input"):
        nn.Sequential([nn.Dense(3)]).save(tmp_path / "unbuilt.npz")


# ------------------------------------------------------------------------ format
def test_checkpoint_records_format_version_config_and_plain_arrays(tmp_path):
    path = tmp_path / "model.npz"
    model = embedding_attention()
    model.predict(SEQUENTIAL["embedding_attention"][1](2))
    model.save(path)
    with np.load(path, allow_pickle=False) as f:  # no pickles anywhere in the file
        members = {k: f[k] for k in f.files}
    assert str(members["__format__"]) == "mmscratch-checkpoint"
    assert int(members["__version__"]) == model_mod.CHECKPOINT_VERSION
    meta = json.loads(str(members["__config__"]))
    assert meta["class"] == "Sequential"
    assert [layer["class"] for layer in meta["config"]["layers"]] == [
        "Embedding", "Attention", "MultiHeadAttention", "Flatten", "Dropout", "Dense"]
    assert meta["config"]["layers"][2]["config"]["num_heads"] == 2
    assert meta["input_spec"] == {"shape": [5], "dtype": "int64"}
    params = {k: v for k, v in members.items() if k.startswith("param:")}
    assert len(params) == len(list(model.parameters()))
    assert all(v.dtype.kind == "f" for v in params.values())


def test_a_member_holding_python_objects_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    _saved_dense(path)
    with np.load(path) as f:
        members = {k: f[k] for k in f.files}
    members["param:1:Dense.b"] = np.array([0.0, None, 0.0], dtype=object)
    with open(path, "wb") as f:
        np.savez(f, **members)  # pickles the object array
    with pytest.raises(DataError, match="allow_pickle=False") as info:
        nn.load_model(path)
    assert str(path) in str(info.value)


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as f:
        members = {k: f[k] for k in f.files}
    members.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **members)


@pytest.mark.parametrize("version", [0, 2, 99])
def test_another_format_version_is_refused_by_number(tmp_path, version):
    path = tmp_path / "model.npz"
    _saved_dense(path)
    _rewrite(path, __version__=np.array(version))
    with pytest.raises(DataError, match=f"version {version}, this mmscratch reads version 1"):
        nn.load_model(path)


def test_another_architecture_is_refused_naming_the_mismatch(tmp_path):
    small, wide = tmp_path / "small.npz", tmp_path / "wide.npz"
    _saved_dense(small)
    other = nn.Sequential([nn.Dense(5, seed=0)])
    other.predict(np.ones((1, 4), np.float32))
    other.save(wide)
    with np.load(wide, allow_pickle=False) as f:
        wide_config = f["__config__"]
    _rewrite(small, __config__=wide_config)  # Dense(5)'s config, Dense(3)'s weights
    with pytest.raises(DataError, match=r"\(4, 3\) does not match Dense.W \(4, 5\)") as info:
        nn.load_model(small)
    assert str(small) in str(info.value)


def test_one_layer_more_or_less_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    _saved_dense(path)
    two = nn.Sequential([nn.Dense(3, seed=0), nn.Dense(2, seed=1)])
    two.predict(np.ones((1, 4), np.float32))
    two.save(tmp_path / "two.npz")
    with np.load(tmp_path / "two.npz", allow_pickle=False) as f:
        _rewrite(path, __config__=f["__config__"])
    with pytest.raises(DataError, match="has 2 parameters, the rebuilt Sequential has 4"):
        nn.load_model(path)


def test_loading_as_the_wrong_model_class_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    _saved_dense(path)
    with pytest.raises(DataError, match="holds a Sequential, not a MultimodalClassifier"):
        MultimodalClassifier.load(path)


def test_an_unknown_layer_class_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    _saved_dense(path)
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["__config__"]))
    meta["config"]["layers"][0]["class"] = "Dense2"
    _rewrite(path, __config__=np.array(json.dumps(meta)))
    with pytest.raises(DataError, match="unknown layer class 'Dense2'"):
        nn.load_model(path)


# ------------------------------------------------------------------------ lossless
@pytest.mark.parametrize("kind", sorted(SEQUENTIAL))
def test_sequential_predicts_bit_identically_after_load(xp, tmp_path, kind):
    build, inputs = SEQUENTIAL[kind]
    x = inputs(8)
    model = trained(build(), x)
    before = host(model.predict(x))
    model.save(tmp_path / "m.npz")
    loaded = nn.Sequential.load(tmp_path / "m.npz")
    assert_same_params(model, loaded)
    np.testing.assert_array_equal(host(loaded.predict(x)), before)
    assert loaded.get_config() == model.get_config()
    # and a second round trip changes nothing
    loaded.save(tmp_path / "m2.npz")
    assert_same_params(loaded, nn.load_model(tmp_path / "m2.npz"))


@pytest.mark.parametrize("fusion", ["early", "late", "attention", "tensor"])
def test_multimodal_classifier_predicts_bit_identically_after_load(xp, tmp_path, fusion):
    x = mm_inputs(8)
    model = trained(build_model(MM_SHAPES, fusion=fusion, num_classes=3, width=8,
                                modality_dropout=0.3, seed=0), x)
    before = host(model.predict(x))
    without_audio = host(model.predict({"image": x["image"], "text": x["text"]}))
    model.save(tmp_path / "mm.npz")
    loaded = MultimodalClassifier.load(tmp_path / "mm.npz")
    assert_same_params(model, loaded)
    np.testing.assert_array_equal(host(loaded.predict(x)), before)
    np.testing.assert_array_equal(
        host(loaded.predict({"image": x["image"], "text": x["text"]})), without_audio)


# ------------------------------------------------------------------------ across backends
CROSS = [("numpy", "strict"), ("strict", "numpy"),
         pytest.param("cupy", "numpy", marks=pytest.mark.gpu),
         pytest.param("numpy", "cupy", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("saver,loader", CROSS)
def test_a_checkpoint_moves_between_backends(tmp_path, saver, loader):
    if "cupy" in (saver, loader) and not backend.cupy_available():
        pytest.skip("cupy backend: CuPy is not installed or no GPU is visible")
    x = mm_inputs(6)
    with backend.use(saver):
        model = trained(build_model(MM_SHAPES, fusion="attention", num_classes=3, width=8,
                                    seed=1), x)
        before = host(model.predict(x))
        model.save(tmp_path / "mm.npz")
        saved = params_of(model)
    with backend.use(loader):
        loaded = nn.load_model(tmp_path / "mm.npz")
        for (k, v), (owner, key) in zip(saved, loaded.parameters()):
            assert backend.is_array(owner.params[key])
            assert backend.get_array_module(owner.params[key]) is backend.xp(), k
            np.testing.assert_array_equal(host(owner.params[key]), v, err_msg=k)
        after = host(loaded.predict(x))
    if "cupy" in (saver, loader):  # another BLAS: same parameters, rounding may differ
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(after, before)
