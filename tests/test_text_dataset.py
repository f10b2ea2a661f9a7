"""The 20 Newsgroups (4 groups) loader: counts as in the data README, clear DataErrors."""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import DataError
from mmscratch.datasets.text import TEXT_SUBDIR, load_text, strip_header

LABELS = ["alt.atheism", "comp.graphics", "sci.space", "talk.religion.misc"]


def write_corpus(root, train, test=None):
    folder = root / TEXT_SUBDIR
    folder.mkdir(parents=True)
    (folder / "train.csv").write_text(train, encoding="utf-8")
    (folder / "test.csv").write_text(test if test is not None else train, encoding="utf-8")
    return folder


GOOD = ('id,label,text\n'
        '1,sci.space,"Subject: orbit\nLines: 2\n\nThe moon, ""quoted"", orbits."\n'
        '2,alt.atheism,"Subject: hi\n\nBody text"\n'
        '3,sci.space,no header here\n')


def test_real_corpus_has_the_readme_counts(data_dir):
    d = load_text(data_dir)
    assert d.label_names == LABELS
    assert len(d.train_texts) == 2034 and len(d.test_texts) == 1353
    np.testing.assert_array_equal(np.bincount(d.train_labels), [480, 584, 593, 377])
    np.testing.assert_array_equal(np.bincount(d.test_labels), [319, 389, 394, 251])
    assert d.train_labels.dtype == np.int64
    assert all(t.startswith("From:") or "Subject:" in t for t in d.train_texts[:50])


def test_real_corpus_headers_can_be_stripped(data_dir):
    raw = load_text(data_dir)
    stripped = load_text(data_dir, strip_headers=True)
    def starts_with_from(texts):
        return np.mean([t.startswith("From:") for t in texts])

    assert starts_with_from(raw.train_texts) > 0.9
    assert starts_with_from(stripped.train_texts) < 0.05  # a few bodies quote a header
    assert stripped.train_texts[0] == raw.train_texts[0].partition("\n\n")[2]
    np.testing.assert_array_equal(stripped.test_labels, raw.test_labels)


def test_small_file_round_trip_and_unpacking(tmp_path):
    write_corpus(tmp_path, GOOD)
    x_train, y_train, x_test, y_test, names = load_text(tmp_path)
    assert names == ["alt.atheism", "sci.space"]
    np.testing.assert_array_equal(y_train, [1, 0, 1])
    assert x_train[0] == 'Subject: orbit\nLines: 2\n\nThe moon, "quoted", orbits.'
    stripped = load_text(tmp_path, strip_headers=True)
    assert stripped.train_texts == ['The moon, "quoted", orbits.', "Body text", ""]


def test_strip_header_is_everything_before_the_first_blank_line():
    assert strip_header("From: a\nSubject: b\n\nbody\n\nmore") == "body\n\nmore"
    assert strip_header("no blank line") == ""


def test_environment_variable_picks_the_folder(tmp_path, monkeypatch):
    write_corpus(tmp_path, GOOD)
    monkeypatch.setenv("MMSCRATCH_DATA", str(tmp_path))
    assert len(load_text().train_texts) == 3


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"train\.csv"):
        load_text(tmp_path)
    folder = write_corpus(tmp_path, GOOD)
    (folder / "test.csv").unlink()
    with pytest.raises(DataError, match=r"not found: .*test\.csv"):
        load_text(tmp_path)


@pytest.mark.parametrize("content,message", [
    ("identifier,label,text\n1,a,b\n", "bad header"),
    ("id,label,text\n1,sci.space\n", "expected 3 fields"),
    ("id,label,text\n1,sci.space,a,b\n", "expected 3 fields"),
    ("id,label,text\nx7,sci.space,a\n", "bad id"),
    ('id,label,text\n1,sci.space,"unterminated\n', "malformed CSV"),
    ("id,label,text\n", "no messages"),
    ("", "bad header"),
])
def test_malformed_file_names_the_file_and_the_problem(tmp_path, content, message):
    write_corpus(tmp_path, content, GOOD)
    with pytest.raises(DataError, match=message) as info:
        load_text(tmp_path)
    assert "train.csv" in str(info.value)


def test_test_label_unknown_to_training_is_an_error(tmp_path):
    write_corpus(tmp_path, GOOD, "id,label,text\n9,rec.autos,cars\n")
    with pytest.raises(DataError, match="rec.autos"):
        load_text(tmp_path)


def test_invalid_utf8_is_an_error(tmp_path):
    folder = write_corpus(tmp_path, GOOD)
    (folder / "train.csv").write_bytes(b"id,label,text\n1,sci.space,caf\xe9\n")
    with pytest.raises(DataError, match="UTF-8"):
        load_text(tmp_path)
