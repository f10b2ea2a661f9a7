"""Keras-style callbacks, validation_split and resuming a run from a checkpoint."""

import csv

import numpy as np
import pytest

from mmscratch import backend, nn
from mmscratch.nn.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)


def blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 4)) + 2.0 * np.eye(3, 4)[y]).astype(np.float32)
    return x, y


def small_model(optimizer=None, dropout_seed=5):
    model = nn.Sequential([nn.Dense(8, activation="relu", seed=1),
                           nn.Dropout(0.2, seed=dropout_seed), nn.Dense(3, seed=2)])
    model.compile(optimizer or nn.Adam(1e-2), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
    return model


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(f"batch_end {batch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_hooks_are_called_in_keras_order_with_the_epoch_logs():
    x, y = blobs(8)
    rec = Recorder()
    small_model().fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[rec],
                      validation_data=(x, y))
    logs = "['accuracy', 'loss', 'val_accuracy', 'val_loss']"
    assert rec.calls == ["train_begin", "epoch_begin 0", "batch_end 0", "batch_end 1",
                         f"epoch_end 0 {logs}", "epoch_begin 1", "batch_end 0",
                         "batch_end 1", f"epoch_end 1 {logs}", "train_end"]


def test_validation_split_holds_out_the_last_fraction_unshuffled():
    x, y = blobs(10)
    model = small_model()
    seen = []

    class Spy(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    history = model.fit(x, y, epochs=1, batch_size=100, validation_split=0.3, verbose=0,
                        callbacks=[Spy()])
    # floor(10 * 0.7) = 7 training samples, samples 7..9 validate (Keras' rule)
    expected = model.evaluate(x[7:], y[7:])
    assert history["val_loss"][0] == pytest.approx(expected["loss"], rel=1e-6)
    assert seen == [0]


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5])
def test_validation_split_outside_zero_one_is_refused(bad):
    x, y = blobs(10)
    with pytest.raises(ValueError, match="validation_split"):
        small_model().fit(x, y, validation_split=bad, verbose=0)


def test_validation_split_and_validation_data_together_are_refused():
    x, y = blobs(10)
    with pytest.raises(ValueError, match="not both"):
        small_model().fit(x, y, validation_split=0.2, validation_data=(x, y), verbose=0)


class Scripted(Callback):
    """Feeds a chosen val_loss sequence to the callbacks after it (testing the rules)."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    x, y = blobs(8)
    stop = EarlyStopping(patience=2)
    history = small_model().fit(x, y, epochs=10, verbose=0,
                                callbacks=[Scripted([1.0, 0.5, 0.6, 0.7, 0.4, 0.3, 0, 0, 0, 0]),
                                           stop])
    # best at epoch 1; epochs 2 and 3 do not improve -> stop after epoch index 3
    assert len(history["loss"]) == 4 and stop.stopped_epoch == 3 and stop.best == 0.5


def test_early_stopping_restores_the_best_weights():
    x, y = blobs(32)
    model = small_model()
    snapshots = []

    class Snap(Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    stop = EarlyStopping(patience=1, restore_best_weights=True)
    model.fit(x, y, epochs=6, verbose=0,
              callbacks=[Scripted([3.0, 1.0, 2.0, 2.5, 3.0, 3.0]), Snap(), stop])
    assert stop.best_epoch == 1
    for w, best in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(w, best)


def test_early_stopping_needs_the_monitored_metric():
    x, y = blobs(8)
    with pytest.raises(KeyError, match="'val_loss' is not in the logs"):
        small_model().fit(x, y, epochs=2, verbose=0, callbacks=[EarlyStopping()])


def test_reduce_lr_on_plateau_multiplies_the_rate_after_patience():
    x, y = blobs(8)
    model = small_model(nn.SGD(0.1))
    model.fit(x, y, epochs=5, verbose=0,
              callbacks=[Scripted([1.0, 1.0, 1.0, 1.0, 1.0]),
                         ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.02)])
    # stalls at epochs 1, 2 -> 0.05 after epoch 2; epochs 3, 4 -> max(0.025, 0.02)
    assert model.optimizer.lr == pytest.approx(0.025)


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    x, y = blobs(8)
    model = small_model(nn.SGD(1.0))
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    x, y = blobs(8)
    path = tmp_path / "log.csv"
    small_model().fit(x, y, epochs=3, verbose=0, callbacks=[CSVLogger(path)])
    rows = list(csv.DictReader(path.open()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"epoch", "loss", "accuracy"}


def test_model_checkpoint_save_best_only_keeps_the_best_epoch(tmp_path):
    x, y = blobs(8)
    path = tmp_path / "best.npz"
    model = small_model()
    saved = []

    class Snap(Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved.append(self.model.get_weights())

    model.fit(x, y, epochs=4, verbose=0,
              callbacks=[Scripted([2.0, 1.0, 1.5, 3.0]), Snap(),
                         ModelCheckpoint(path, save_best_only=True)])
    reloaded = nn.Sequential.load(path)
    assert reloaded.completed_epochs == 2
    for w, best in zip(reloaded.get_weights(), saved[1]):
        np.testing.assert_array_equal(w, best)


def _resume_matches_straight_run(tmp_path, optimizer_factory):
    x, y = blobs(64)
    straight = small_model(optimizer_factory())
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0, seed=3)

    first = small_model(optimizer_factory())
    first.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=3)
    first.save(tmp_path / "ckpt.npz")
    resumed = nn.Sequential.load(tmp_path / "ckpt.npz")
    assert resumed.completed_epochs == 2
    resumed.fit(x, y, epochs=4, batch_size=16, verbose=0, seed=3,
                initial_epoch=resumed.completed_epochs)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", [lambda: nn.Adam(1e-2),
                                       lambda: nn.SGD(0.05, momentum=0.9, nesterov=True)],
                         ids=["adam", "sgd-momentum"])
def test_two_epochs_save_load_two_more_equal_four_straight_epochs(tmp_path, optimizer, xp):
    _resume_matches_straight_run(tmp_path, optimizer)


def test_optimizer_state_round_trips_through_a_checkpoint(tmp_path):
    x, y = blobs(32)
    model = small_model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = nn.Sequential.load(tmp_path / "m.npz")
    assert isinstance(loaded.optimizer, nn.Adam) and loaded.optimizer.iterations == 4
    pairs_a, pairs_b = list(model.parameters()), list(loaded.parameters())
    for (oa, ka), (ob, kb) in zip(pairs_a, pairs_b):
        sa = model.optimizer._state[(id(oa), ka)]
        sb = loaded.optimizer._state[(id(ob), kb)]
        assert sa["t"] == sb["t"] == 4
        for slot in ("m", "v"):
            np.testing.assert_array_equal(backend.to_numpy(sa[slot]), backend.to_numpy(sb[slot]))


def test_initial_epoch_must_be_below_epochs():
    x, y = blobs(8)
    with pytest.raises(ValueError, match="initial_epoch=3 must be below epochs=3"):
        small_model().fit(x, y, epochs=3, initial_epoch=3, verbose=0)


def test_the_shuffle_of_an_epoch_depends_only_on_seed_and_epoch():
    from mmscratch.nn.model import _epoch_rng

    a = _epoch_rng(7, 3).permutation(50)
    _epoch_rng(7, 2).permutation(50)
    np.testing.assert_array_equal(a, _epoch_rng(7, 3).permutation(50))
    assert not np.array_equal(a, _epoch_rng(7, 4).permutation(50))


def test_optimizer_state_saved_on_one_backend_loads_on_another(tmp_path):
    x, y = blobs(32)
    with backend.use("strict"):  # the CPU stand-in for cupy: arrays that refuse host copies
        model = small_model(nn.SGD(0.05, momentum=0.9))
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        model.save(tmp_path / "m.npz")
        saved = {k: backend.to_numpy(v["v"]) for k, v in model.optimizer._state.items()}
    with backend.use("numpy"):
        loaded = nn.Sequential.load(tmp_path / "m.npz")
    restored = [backend.to_numpy(s["v"]) for s in loaded.optimizer._state.values()]
    assert len(restored) == len(saved) == 4
    for a, b in zip(saved.values(), restored):
        np.testing.assert_array_equal(a, b)


def test_restoring_the_best_weights_restores_batch_norm_statistics_too():
    x, y = blobs(32)
    model = nn.Sequential([nn.Dense(8, seed=1), nn.BatchNormalization(), nn.Dense(3, seed=2)])
    model.compile(nn.Adam(1e-2), nn.SoftmaxCrossEntropy())
    snapshots = []

    class Snap(Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    model.fit(x, y, epochs=4, verbose=0,
              callbacks=[Scripted([3.0, 1.0, 2.0, 2.5]), Snap(),
                         EarlyStopping(patience=5, restore_best_weights=True)])
    bn = model.layers[1]
    assert len(snapshots[1]) == len(list(model.parameters())) + 2  # + moving mean, variance
    np.testing.assert_array_equal(backend.to_numpy(bn.state["moving_variance"]),
                                  snapshots[1][-1])
