"""Saving and loading the contrastive dual encoder (``DualEncoder.save`` / ``load``).

Specification
-------------
* ``ContrastiveDualEncoder.save(path)`` writes the checkpoint format of ``Model.save``
  (format tag, version, JSON configuration, plain host arrays, atomic write): each
  tower under its own prefix with its configuration and input spec, the InfoNCE loss's
  configuration and learnable temperature, the encoder's name, the optimizer of the
  last ``fit`` with its state, and the zero-shot state when set.
* After ``ContrastiveDualEncoder.load(path)`` (or ``nn.load_model``), ``encode``,
  ``similarity`` and ``zero_shot_predict`` give bit-identical numbers, in float32 and
  float64, and parameters keep their dtype.
* Training resumes: ``fit(epochs=2)``, save, load, ``fit(epochs=4, initial_epoch=2)``
  gives bit for bit the weights of ``fit(epochs=4)`` (the saved optimizer state is
  what makes it so: a fresh optimizer does not).
* Refused with a ``DataError`` naming the file: a Sequential's checkpoint loaded as an
  encoder and the reverse, damaged bytes, members that do not fit. Saving before the
  towers saw an input is a ``RuntimeError``.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from test_dual_encoder import paired_set, small_encoder

from mmscratch import DataError, backend, gradcheck, nn
from mmscratch.errors import NotFittedError
from mmscratch.multimodal import ContrastiveDualEncoder, DualEncoder, MultimodalClassifier
from mmscratch.nn import model as model_mod


def host(a):
    return backend.to_numpy(a)


def params_of(enc):
    return [(f"{o.name}.{k}", host(o.params[k])) for o, k in enc.parameters()]


def assert_same_params(a, b):
    pa, pb = params_of(a), params_of(b)
    assert [k for k, _ in pa] == [k for k, _ in pb]
    for (k, va), (_, vb) in zip(pa, pb):
        assert va.dtype == vb.dtype, k
        np.testing.assert_array_equal(va, vb, err_msg=k)


def encoder(dtype=np.float32, learnable=True, name=None):
    """The small two-tower encoder, built (one forward) in ``dtype``."""
    x, y = paired_set(n=24)
    x = {k: v.astype(dtype) for k, v in x.items()}
    enc = small_encoder(learnable=learnable)
    enc.name = name or enc.name
    enc.forward({k: backend.asarray(v[:2]) for k, v in x.items()})
    if dtype == np.float64:
        for tower in enc.towers.values():
            gradcheck.to_float64(tower)
        for owner, key in enc.loss.parameters():
            owner.params[key] = owner.params[key].astype(np.float64)
            owner.grads[key] = owner.grads[key].astype(np.float64)
    return enc, x, y


def trained(dtype=np.float32, learnable=True, epochs=3, **kw):
    enc, x, y = encoder(dtype, learnable, **kw)
    enc.fit(x, epochs=epochs, batch_size=8, optimizer=nn.Adam(1e-2), seed=0)
    return enc, x, y


# ------------------------------------------------------------------------ lossless
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_encode_similarity_and_zero_shot_are_bit_identical_after_load(xp, tmp_path, dtype):
    enc, x, y = trained(dtype, name="avmnist-clip")
    enc.class_prototypes("a", x["a"], y)
    before = {"u": host(enc.encode("b", x["b"])),
              "s": host(enc.similarity("b", x["b"], "a", x["a"])),
              "zs": host(enc.zero_shot_predict("b", x["b"]))}
    enc.save(tmp_path / "enc.npz")
    loaded = DualEncoder.load(tmp_path / "enc.npz")
    assert isinstance(loaded, ContrastiveDualEncoder)
    assert loaded.name == "avmnist-clip" and loaded.modalities == ["a", "b"]
    assert_same_params(enc, loaded)
    assert {str(host(p).dtype) for _, p in params_of(loaded)} == {np.dtype(dtype).name}
    np.testing.assert_array_equal(host(loaded.encode("b", x["b"])), before["u"])
    np.testing.assert_array_equal(host(loaded.similarity("b", x["b"], "a", x["a"])),
                                  before["s"])
    assert loaded.prototype_modality_ == "a"
    np.testing.assert_array_equal(host(loaded.classes_), host(enc.classes_))
    assert host(loaded.classes_).dtype == host(enc.classes_).dtype
    np.testing.assert_array_equal(host(loaded.prototypes_), host(enc.prototypes_))
    np.testing.assert_array_equal(host(loaded.zero_shot_predict("b", x["b"])), before["zs"])
    assert loaded.loss.scale == enc.loss.scale and loaded.loss.learnable
    # a second round trip changes nothing
    loaded.save(tmp_path / "again.npz")
    assert_same_params(loaded, model_mod.load_model(tmp_path / "again.npz"))


def test_a_fixed_temperature_and_no_zero_shot_state_round_trip(xp, tmp_path):
    enc, x, _ = encoder(learnable=False)
    enc.loss = nn.InfoNCELoss(0.25, learnable=False, max_scale=50.0)
    enc.encode("a", x["a"])  # never trained: no optimizer to save
    enc.save(tmp_path / "enc.npz")
    loaded = DualEncoder.load(tmp_path / "enc.npz")
    assert loaded.loss.get_config() == {"temperature": 0.25, "learnable": False,
                                        "max_scale": 50.0}
    assert list(loaded.loss.parameters()) == []
    assert loaded.optimizer is None and loaded.completed_epochs == 0
    assert loaded.prototypes_ is None
    with pytest.raises(NotFittedError, match="class_prototypes"):
        loaded.zero_shot_predict("b", x["b"])
    np.testing.assert_array_equal(host(loaded.encode("a", x["a"])), host(enc.encode("a", x["a"])))


def test_the_checkpoint_is_the_model_format_with_one_prefix_per_tower(tmp_path):
    enc, x, y = trained()
    enc.class_prototypes("b", x["b"], y)
    enc.save(tmp_path / "enc.npz")
    with np.load(tmp_path / "enc.npz", allow_pickle=False) as f:  # no pickles anywhere
        members = {k: f[k] for k in f.files}
    assert str(members["__format__"]) == "mmscratch-checkpoint"
    assert int(members["__version__"]) == model_mod.CHECKPOINT_VERSION
    meta = json.loads(str(members["__config__"]))
    assert meta["class"] == "ContrastiveDualEncoder"
    assert meta["config"]["modalities"] == ["a", "b"]
    assert meta["config"]["loss"] == {"class": "InfoNCELoss", "config": enc.loss.get_config()}
    assert meta["config"]["prototype_modality"] == "b"
    for i, key in enumerate(["a", "b"]):
        tower = json.loads(str(members[f"tower{i}:__config__"]))
        assert tower["class"] == "Sequential" and tower["config"]["name"] == key
        assert tower["input_spec"] == {"shape": [x[key].shape[1]], "dtype": "float32"}
        assert sum(k.startswith(f"tower{i}:param:") for k in members) == 4  # 2 Dense
    assert members["loss:param:0:InfoNCELoss.logit_scale"].shape == ()
    training = json.loads(str(members["__training__"]))
    assert training["completed_epochs"] == 3 and training["optimizer"]["class"] == "Adam"
    assert training["optimizer"]["iterations"] == 9  # 3 epochs of 24 pairs in batches of 8
    assert sum(k.startswith("optim:") for k in members) == 2 * 9  # m, v of 9 parameters
    # the one loader of the package knows the class
    assert isinstance(nn.load_model(tmp_path / "enc.npz"), ContrastiveDualEncoder)


# ------------------------------------------------------------------------ resuming
@pytest.mark.parametrize("learnable,optimizer", [(True, lambda: nn.Adam(1e-2)),
                                                 (False, lambda: nn.SGD(0.1, momentum=0.9))],
                         ids=["adam-learnable-temperature", "sgd-momentum-fixed-temperature"])
def test_training_resumes_from_a_checkpoint_as_if_never_interrupted(xp, tmp_path, learnable,
                                                                    optimizer):
    straight, x, _ = encoder(learnable=learnable)
    full = straight.fit(x, epochs=4, batch_size=8, optimizer=optimizer(), seed=3)

    first, _, _ = encoder(learnable=learnable)
    first.fit(x, epochs=2, batch_size=8, optimizer=optimizer(), seed=3)
    first.save(tmp_path / "epoch2.npz")
    resumed = DualEncoder.load(tmp_path / "epoch2.npz")
    assert resumed.completed_epochs == 2
    rest = resumed.fit(x, epochs=4, batch_size=8, seed=3, initial_epoch=2)
    assert resumed.completed_epochs == 4
    assert_same_params(straight, resumed)
    assert rest["loss"] == full["loss"][2:] and rest["temperature"] == full["temperature"][2:]

    # the optimizer state is what makes it exact: a fresh optimizer lands elsewhere
    fresh = DualEncoder.load(tmp_path / "epoch2.npz")
    fresh.fit(x, epochs=4, batch_size=8, optimizer=optimizer(), seed=3, initial_epoch=2)
    assert not np.array_equal(host(fresh.towers["a"].layers[0].params["W"]),
                              host(straight.towers["a"].layers[0].params["W"]))


def test_fit_again_without_an_optimizer_continues_the_previous_one(xp):
    straight, x, _ = encoder()
    straight.fit(x, epochs=3, batch_size=8, optimizer=nn.Adam(1e-2), seed=1)
    twice, _, _ = encoder()
    twice.fit(x, epochs=1, batch_size=8, optimizer=nn.Adam(1e-2), seed=1)
    twice.fit(x, epochs=3, batch_size=8, seed=1, initial_epoch=1)
    assert_same_params(straight, twice)
    with pytest.raises(ValueError, match="initial_epoch=3 must be below epochs=3"):
        twice.fit(x, epochs=3, initial_epoch=3)


@pytest.mark.parametrize("saver,loader", [("numpy", "strict"), ("strict", "numpy")])
def test_a_checkpoint_moves_between_backends(tmp_path, saver, loader):
    with backend.use(saver):
        enc, x, y = trained()
        enc.class_prototypes("a", x["a"], y)
        before = host(enc.similarity("a", x["a"], "b", x["b"]))
        enc.save(tmp_path / "enc.npz")
    with backend.use(loader):
        loaded = DualEncoder.load(tmp_path / "enc.npz")
        assert all(backend.get_array_module(o.params[k]) is backend.xp()
                   for o, k in loaded.parameters())
        np.testing.assert_array_equal(host(loaded.similarity("a", x["a"], "b", x["b"])), before)


# ------------------------------------------------------------------------ refusals
def test_saving_before_the_towers_saw_an_input_is_refused(tmp_path):
    enc = small_encoder()
    with pytest.raises(RuntimeError, match=r"tower\(s\) \['a', 'b'\] have never seen an input"):
        enc.save(tmp_path / "enc.npz")
    x, _ = paired_set(n=4)
    enc.encode("a", x["a"])
    with pytest.raises(RuntimeError, match=r"\['b'\] have never seen an input"):
        enc.save(tmp_path / "enc.npz")
    assert os.listdir(tmp_path) == []


def test_a_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    enc, _, _ = trained(epochs=1)

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(model_mod.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        enc.save(tmp_path / "enc.npz")
    assert os.listdir(tmp_path) == []


def test_a_sequential_checkpoint_is_not_an_encoder_and_the_reverse(tmp_path):
    seq = nn.Sequential([nn.Dense(3, seed=0)])
    seq.predict(np.ones((1, 4), np.float32))
    seq.save(tmp_path / "seq.npz")
    with pytest.raises(DataError, match="holds a Sequential, not a ContrastiveDualEncoder") \
            as info:
        DualEncoder.load(tmp_path / "seq.npz")
    assert str(tmp_path / "seq.npz") in str(info.value)
    enc, _, _ = trained(epochs=1)
    enc.save(tmp_path / "enc.npz")
    for cls in (nn.Sequential, MultimodalClassifier):
        with pytest.raises(DataError, match=f"holds a ContrastiveDualEncoder, not a "
                                            f"{cls.__name__}") as info:
            cls.load(tmp_path / "enc.npz")
        assert str(tmp_path / "enc.npz") in str(info.value)


def _members(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _write(path, members):
    with open(path, "wb") as f:
        np.savez(f, **members)


def _tampered_config(members, **changes):
    meta = json.loads(str(members["__config__"]))
    meta["config"].update(changes)
    return np.array(json.dumps(meta))


TAMPER = {
    "truncated bytes": (None, "not a readable mmscratch checkpoint"),
    "a tower's weight of another shape": (
        lambda m: {**m, "tower1:param:0:Dense.W": np.zeros((3, 16), np.float32)},
        r"tower 'b': parameter param:0:Dense.W \(3, 16\) does not match Dense.W \(8, 16\)"),
    "a tower missing": (
        lambda m: {k: v for k, v in m.items() if not k.startswith("tower0:")},
        "tower 'a': checkpoint configuration is invalid"),
    "three modalities": (
        lambda m: {**m, "__config__": _tampered_config(m, modalities=["a", "b", "c"])},
        r"configuration is invalid .*modalities \['a', 'b', 'c'\] are not two distinct"),
    "another loss": (
        lambda m: {**m, "__config__": _tampered_config(
            m, loss={"class": "MeanSquaredError", "config": {}})},
        "is not InfoNCELoss"),
    "prototypes of another width": (
        lambda m: {**m, "zero_shot:prototypes": np.zeros((2, 5), np.float32)},
        r"prototypes \(2, 5\) float32 do not fit"),
    "temperature as integers": (
        lambda m: {**m, "loss:param:0:InfoNCELoss.logit_scale": np.array(2)},
        r"state is invalid .*logit_scale has shape \(\) and dtype int64"),
    "optimizer state of another shape": (
        lambda m: {**m, "optim:0:m": np.zeros((2, 2), np.float32)},
        "optimizer slot 'm'"),
}


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_a_damaged_or_foreign_file_is_refused_naming_it(tmp_path, case):
    path = tmp_path / "enc.npz"
    enc, x, y = trained(epochs=1)
    enc.class_prototypes("a", x["a"], y)
    enc.save(path)
    change, message = TAMPER[case]
    if change is None:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        _write(path, change(_members(path)))
    with pytest.raises(DataError, match=message) as info:
        DualEncoder.load(path)
    assert str(path) in str(info.value)
