"""What ``train`` reports must describe the run it made (faults a new user reported).

Specification:
* a fusion that cannot fuse the chosen modalities (``--fusion crossmodal`` with the
  three ``digits`` modalities) is one ``error:`` line naming ``--modalities``, what the
  fusion needs and what it got; ``--help`` says what each restricted fusion needs;
* a resumed run's ``metrics.json["history"]`` and ``history.png`` cover every epoch of
  the run with the true epoch numbers, equal to an uninterrupted run's;
* ``validation_accuracy`` in ``metrics.json`` is that of the weights saved in
  ``model.npz``: the best epoch's when early stopping put them back (``best_epoch``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmscratch import backend, plots
from mmscratch.__main__ import _load_data, _split, cli, main, validation_split
from mmscratch.nn.model import load_model

QUICK = ["--modalities", "image", "--quiet", "--batch-size", "64"]


# ------------------------------------------------------------- fusion restrictions
def test_crossmodal_with_three_modalities_is_one_error_line(tmp_path):
    with pytest.raises(SystemExit) as info:
        cli(["train", "--data", "digits", "--fusion", "crossmodal", "--epochs", "1",
             "--quiet", "--out", str(tmp_path / "run")])
    line = str(info.value.code)
    assert line.startswith("error: ") and "\n" not in line  # one line, no traceback
    assert "exactly two" in line and "got image, audio, text" in line
    assert "text is a vector of shape" in line and "--modalities image,audio" in line


def test_help_says_which_fusions_need_which_modalities(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "needs exactly the two modalities image and audio" in text
    assert "two or more modalities" in text


# ------------------------------------------------------------------- resumed history
@pytest.mark.slow
def test_resumed_history_covers_every_epoch_like_an_uninterrupted_run(tmp_path, monkeypatch):
    main(["train", *QUICK, "--epochs", "2", "--out", str(tmp_path / "straight")])
    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())["history"]
    main(["train", *QUICK, "--epochs", "1", "--out", str(tmp_path / "split")])
    drawn = []
    original = plots.plot_history

    def record(history, path=None, **kwargs):
        fig = original(history, path, **kwargs)
        drawn.append([list(line.get_xdata()) for ax in fig.axes for line in ax.lines])
        return fig

    monkeypatch.setattr(plots, "plot_history", record)
    main(["train", "--resume", str(tmp_path / "split"), "--epochs", "2", "--quiet"])
    resumed = json.loads((tmp_path / "split" / "metrics.json").read_text())["history"]
    assert straight["epoch"] == [1, 2] and resumed["epoch"] == [1, 2]
    assert resumed == straight  # --resume is exact (test_cli_resume.py), so are the numbers
    # history.png: four curves (train/validation loss and accuracy), each over epochs 1, 2
    assert drawn == [[[1, 2], [1, 2], [1, 2], [1, 2]]]


# --------------------------------------------------------- early stopping's best epoch
@pytest.mark.slow
def test_validation_accuracy_is_that_of_the_saved_best_epoch(tmp_path):
    # text alone at lr 0.01 overfits by epoch 3 on digits: patience 1 stops there
    run = tmp_path / "run"
    metrics = main(["train", "--modalities", "text", "--lr", "0.01", "--patience", "1",
                    "--epochs", "5", "--quiet", "--batch-size", "64", "--out", str(run)])
    written = json.loads((run / "metrics.json").read_text())
    assert written == json.loads(json.dumps(metrics))
    history = written["history"]
    best = history["epoch"][int(np.argmin(history["val_loss"]))]
    assert written["best_epoch"] == best
    assert best < written["epochs_trained"]  # the case in question: not the last epoch
    assert written["validation_accuracy"] == history["val_accuracy"][best - 1]
    assert written["validation_loss"] == min(history["val_loss"])
    # and it is what model.npz scores on the validation part
    data = _load_data("digits", None, 0)
    x, y = _split(data["train"], ["text"])
    _, va = validation_split(y, 0.1, 0)
    model = load_model(run / "model.npz")
    pred = backend.to_numpy(model.predict({"text": x["text"][va]})).argmax(axis=1)
    assert float((pred == y[va]).mean()) == pytest.approx(written["validation_accuracy"])


# ------------------------------------------------------------------------ the plots
ROOT = Path(__file__).resolve().parents[1]


def test_readme_says_when_each_plot_is_written():
    text = " ".join((ROOT / "README.md").read_text().split())
    for name in ("history.png", "confusion_matrix.png", "attention.png"):
        assert f"`{name}`" in text, name
    assert "attention weights per modality" not in text  # the old, too general claim
    assert "`attention.png` (the mean attention weight between each pair of modalities) " \
           "only with `--fusion attention` and two or more modalities" in text


@pytest.mark.slow
def test_attention_map_only_for_attention_fusion_and_never_a_stale_one(tmp_path):
    out = tmp_path / "run"
    args = ["--modalities", "image,text", "--epochs", "1", "--quiet", "--batch-size", "64",
            "--out", str(out)]
    main(["train", "--fusion", "attention", *args])
    assert (out / "attention.png").stat().st_size > 0
    main(["train", "--fusion", "early", *args])  # same folder, a fusion without attention
    assert not (out / "attention.png").exists()
    assert (out / "history.png").exists() and (out / "confusion_matrix.png").exists()


@pytest.mark.slow
def test_resumed_run_keeps_a_best_epoch_from_before_the_resume(tmp_path):
    # text alone at lr 0.1: validation loss is lowest at epoch 2, higher at 3 and 4
    args = ["--modalities", "text", "--lr", "0.1", "--patience", "10", "--quiet",
            "--batch-size", "64"]
    straight = main(["train", *args, "--epochs", "4", "--out", str(tmp_path / "straight")])
    main(["train", *args, "--epochs", "3", "--out", str(tmp_path / "split")])
    resumed = main(["train", "--resume", str(tmp_path / "split"), "--epochs", "4"])
    losses = straight["history"]["val_loss"]
    assert straight["best_epoch"] == 1 + int(np.argmin(losses)) < 3  # the case in question
    assert resumed["history"] == straight["history"]
    for key in ("best_epoch", "validation_accuracy", "validation_loss", "test_accuracy"):
        assert resumed[key] == straight[key], key
    with np.load(tmp_path / "straight" / "model.npz") as a, \
            np.load(tmp_path / "split" / "model.npz") as b:
        weights = [k for k in a.files if k.startswith("param:")]
        assert weights and all(np.array_equal(a[k], b[k]) for k in weights)
