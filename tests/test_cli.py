"""The command line: `train` on the embedded data writes what it promises, `evaluate` agrees."""

import json

import pytest

from mmscratch.__main__ import main


@pytest.mark.slow
def test_train_one_epoch_then_evaluate_reproduces_accuracy(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    metrics = main(["train", "--data", "digits", "--epochs", "1", "--out", str(out), "--quiet"])
    written = json.loads((out / "metrics.json").read_text())
    assert written["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert 0.0 <= written["test_accuracy"] <= 1.0
    assert written["epochs"] == 1 and written["seconds"] > 0
    assert set(written["unimodal"]) == {"image", "audio", "text"}
    for name in ("model.npz", "history.png", "confusion_matrix.png", "attention.png"):
        assert (out / name).stat().st_size > 0
    printed = capsys.readouterr().out
    assert "epoch 1: train accuracy" in printed and "test accuracy:" in printed
    accuracy = main(["evaluate", "--model", str(out / "model.npz")])
    assert accuracy == written["test_accuracy"]  # nothing lost in the checkpoint


def test_unknown_modality_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no modality.*video"):
        main(["train", "--data", "digits", "--modalities", "image,video", "--epochs", "1",
              "--out", str(tmp_path)])
