"""Sequential: it trains, it saves and loads losslessly, it validates its input."""

import json

import numpy as np
import pytest

from mmscratch import DataError, backend, gradcheck, nn


def digits_split():
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def mlp(seed=0):
    return nn.Sequential([nn.Dense(64, activation="relu", seed=seed), nn.Dropout(0.1, seed=seed),
                          nn.Dense(10, seed=seed + 1)])


def test_mlp_reaches_95_percent_on_digits(xp):
    (xtr, ytr), (xte, yte) = digits_split()
    model = mlp()
    model.compile(nn.Adam(1e-3), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
    history = model.fit(xtr, ytr, epochs=15, batch_size=32, validation_data=(xte, yte),
                        verbose=0)
    assert history["loss"][-1] < history["loss"][0]
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert model.evaluate(xte, yte)["accuracy"] >= 0.95


def test_document_strings_compile_and_train(xp):
    (xtr, ytr), _ = digits_split()
    model = nn.Sequential([nn.Dense(32, activation="relu", seed=0),
                           nn.Dense(10, activation="softmax", seed=1)])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(xtr, np.eye(10)[ytr], epochs=8, verbose=0)
    assert history["accuracy"][-1] > 0.8


def test_same_seed_gives_bit_identical_training(xp):
    (xtr, ytr), _ = digits_split()
    runs = []
    for _ in range(2):
        model = mlp(seed=3)
        model.compile(nn.SGD(0.1, momentum=0.9), nn.SoftmaxCrossEntropy())
        model.fit(xtr[:300], ytr[:300], epochs=2, seed=5, verbose=0)
        runs.append(backend.to_numpy(model.layers[0].params["W"]))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_save_then_load_predicts_identically(xp, tmp_path):
    (xtr, ytr), (xte, _) = digits_split()
    model = mlp()
    model.compile("adam", nn.SoftmaxCrossEntropy())
    model.fit(xtr[:200], ytr[:200], epochs=1, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    restored = nn.Sequential.load(path)
    np.testing.assert_array_equal(backend.to_numpy(model.predict(xte)),
                                  backend.to_numpy(restored.predict(xte)))
    assert [type(layer) for layer in restored.layers] == [type(layer) for layer in model.layers]
    with np.load(path, allow_pickle=False) as f:
        assert json.loads(str(f["__config__"]))["class"] == "Sequential"


def test_load_refuses_other_architecture_and_garbage(tmp_path):
    (xtr, ytr), _ = digits_split()
    model = mlp()
    model.predict(xtr[:2])
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as f:
        data = dict(f)
    config = json.loads(str(data["__config__"]))
    config["config"]["layers"][0]["config"]["units"] = 65
    data["__config__"] = np.array(json.dumps(config))
    np.savez(tmp_path / "other.npz", **data)
    with pytest.raises(DataError, match="does not match"):
        nn.Sequential.load(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="junk.npz"):
        nn.Sequential.load(tmp_path / "junk.npz")
    data["__version__"] = np.array(99)
    np.savez(tmp_path / "future.npz", **data)
    with pytest.raises(DataError, match="version 99"):
        nn.Sequential.load(tmp_path / "future.npz")


def test_whole_model_gradient_check(xp):
    model = nn.Sequential([nn.Dense(5, activation="tanh", seed=0), nn.Dense(3, seed=1)])
    x = np.random.default_rng(0).standard_normal((4, 6))
    y = backend.asarray(np.array([0, 2, 1, 2]))
    results = gradcheck.check_model(model, x, y, nn.SoftmaxCrossEntropy())
    gradcheck.assert_gradcheck(results, 1e-6)  # float64 central differences
    assert len(results) == 5  # 4 params + the input


def test_fit_rejects_bad_input(xp):
    (xtr, ytr), _ = digits_split()
    model = mlp()
    model.compile("adam", nn.SoftmaxCrossEntropy())
    with pytest.raises(ValueError, match="samples"):
        model.fit(xtr[:10], ytr[:9], verbose=0)
    bad = xtr[:10].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad, ytr[:10], verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        model.fit(xtr[:10], ytr[:10] + 10, verbose=0)
    with pytest.raises(RuntimeError, match="compile"):
        mlp().fit(xtr, ytr)
