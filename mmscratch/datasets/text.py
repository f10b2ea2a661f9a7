"""The labelled text corpus: 20 Newsgroups ("bydate"), 4 groups, train/test by date.

Files (see the data README): ``<data>/text/20news-bydate-4cat/train.csv`` and
``test.csv``, UTF-8 CSV with header ``id,label,text``; 2,034 + 1,353 messages from
alt.atheism, comp.graphics, sci.space and talk.religion.misc.

Used by the bag-of-words, TF-IDF and LSA examples (chapters/03-1-feature-extraction.md,
chapters/03-3-tasks.md) and the text branch of the multimodal model.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataError
from ._paths import data_dir as _data_dir

__all__ = ["TextDataset", "load_text", "strip_header", "TEXT_SUBDIR"]

#: Folder of the corpus under the data folder.
TEXT_SUBDIR = Path("text") / "20news-bydate-4cat"
_HEADER = ["id", "label", "text"]
_SPLITS = ("train", "test")


class TextDataset(NamedTuple):
    """The corpus split by date; unpacks as a tuple in this field order.

    Attributes
    ----------
    train_texts, test_texts : list of str
    train_labels, test_labels : (N,) int64 host arrays, indices into ``label_names``
    label_names : list of str, sorted (the newsgroup names)
    """

    train_texts: list
    train_labels: np.ndarray
    test_texts: list
    test_labels: np.ndarray
    label_names: list


def strip_header(text: str) -> str:
    """Drop the e-mail header of a message: everything before the first blank line.

    Names, addresses and organisations in the header give the class away too easily.
    A message without a blank line becomes "" (as scikit-learn's
    ``strip_newsgroup_header``).
    """
    return text.partition("\n\n")[2]


def _read_split(path: Path):
    """Rows (label, text) of one CSV file, with a DataError naming the file on any problem."""
    if not path.is_file():
        raise DataError(
            f"text corpus file not found: {path}. Put train.csv and test.csv of "
            f"'20news-bydate-4cat' in {path.parent} (see the data README), or point "
            "MMSCRATCH_DATA / data_dir at the folder that contains text/.")
    labels, texts = [], []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, strict=True)
            header = next(reader, None)
            if header != _HEADER:
                raise DataError(f"{path}: bad header {header!r}; expected {_HEADER!r}")
            for row in reader:
                if len(row) != 3:
                    raise DataError(f"{path}: line {reader.line_num}: expected 3 fields "
                                    f"(id,label,text), got {len(row)}")
                rid, label, text = row
                if not rid.strip().isdigit() or not label:
                    raise DataError(f"{path}: line {reader.line_num}: bad id {rid!r} or "
                                    f"empty label")
                labels.append(label)
                texts.append(text)
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc})") from exc
    if not texts:
        raise DataError(f"{path}: no messages after the header")
    return labels, texts


def load_text(path=None, *, strip_headers: bool = False) -> TextDataset:
    """Load the 4-group 20 Newsgroups corpus with its date-based train/test split.

    Parameters
    ----------
    path : str or Path, optional
        The data folder (containing ``text/20news-bydate-4cat``); default
        ``$MMSCRATCH_DATA``, else ``~/.cache/mmscratch``.
    strip_headers : bool, default False
        Remove each message's header (see :func:`strip_header`).

    Returns
    -------
    TextDataset
        ``(train_texts, train_labels, test_texts, test_labels, label_names)``; labels
        are int64 host arrays (move them with ``backend.asarray`` for training).

    Raises
    ------
    DataError
        A file is missing or malformed (bad header, wrong number of fields, bad
        encoding, a test label never seen in training); the message names the file.
    """
    folder = _data_dir(path) / TEXT_SUBDIR
    (tr_labels, tr_texts), (te_labels, te_texts) = (_read_split(folder / f"{s}.csv")
                                                    for s in _SPLITS)
    names = sorted(set(tr_labels))
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(te_labels) - set(names))
    if unknown:
        raise DataError(f"{folder / 'test.csv'}: labels {unknown} do not occur in train.csv")
    if strip_headers:
        tr_texts = [strip_header(t) for t in tr_texts]
        te_texts = [strip_header(t) for t in te_texts]
    return TextDataset(tr_texts, np.array([index[x] for x in tr_labels], dtype=np.int64),
                       te_texts, np.array([index[x] for x in te_labels], dtype=np.int64),
                       names)
