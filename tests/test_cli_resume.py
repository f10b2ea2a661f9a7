"""``train`` keeps a resumable checkpoint, a CSV log and early stopping; ``--resume``
continues a run exactly, and Ctrl-C leaves a checkpoint behind."""

import csv

import numpy as np
import pytest

from mmscratch.__main__ import main
from mmscratch.nn.callbacks import CSVLogger

pytestmark = pytest.mark.slow

QUICK = ["--modalities", "image", "--quiet", "--batch-size", "64"]


def params(path):
    with np.load(path) as data:
        return {k: data[k] for k in data if k.startswith("param:")}


def test_two_epochs_then_resume_equals_three_straight_epochs(tmp_path):
    main(["train", *QUICK, "--epochs", "3", "--out", str(tmp_path / "straight")])
    main(["train", *QUICK, "--epochs", "2", "--out", str(tmp_path / "split")])
    metrics = main(["train", "--resume", str(tmp_path / "split"), "--epochs", "3"])
    assert metrics["resumed_from_epoch"] == 2 and metrics["epochs_trained"] == 3
    a, b = params(tmp_path / "straight" / "checkpoint.npz"), params(tmp_path / "split" /
                                                                     "checkpoint.npz")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    rows = list(csv.DictReader((tmp_path / "split" / "history.csv").open()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]  # the log continues the run's


def test_ctrl_c_leaves_a_checkpoint_to_resume_from(tmp_path, monkeypatch, capsys):
    original = CSVLogger.on_epoch_end

    def interrupt_in_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(CSVLogger, "on_epoch_end", interrupt_in_second_epoch)
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        main(["train", *QUICK, "--epochs", "4", "--out", str(run)])
    assert info.value.code == 130
    assert "--resume" in capsys.readouterr().err
    from mmscratch.nn.model import load_model

    assert load_model(run / "checkpoint.npz").completed_epochs == 2
    monkeypatch.setattr(CSVLogger, "on_epoch_end", original)
    assert main(["train", "--resume", str(run)])["epochs_trained"] == 4


def test_resume_of_a_folder_without_a_checkpoint_says_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint.npz and args.json"):
        main(["train", "--resume", str(tmp_path)])


def test_resume_of_a_finished_run_asks_for_more_epochs(tmp_path):
    main(["train", *QUICK, "--epochs", "1", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="give --epochs above 1"):
        main(["train", "--resume", str(tmp_path)])
