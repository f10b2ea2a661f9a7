"""Tokenizing text into words and word n-grams, as scikit-learn's ``CountVectorizer`` does.

This is the host-side half of the bag-of-words model (chapters/03-1-feature-extraction.md,
section 3.1.2): a document becomes a list of terms; :mod:`mmscratch.features.bow` then
counts them into the vector X = sum_i w_i e_i.

Tokenizing is string work, so it runs in Python on the host on every backend; only the
counting that follows is array work.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

__all__ = [
    "DEFAULT_TOKEN_PATTERN",
    "ENGLISH_STOP_WORDS",
    "english_stop_words",
    "resolve_stop_words",
    "word_ngrams",
    "build_analyzer",
]

#: scikit-learn's default: runs of 2 or more word characters; single letters are dropped.
DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"

_STOP_WORDS_FILE = Path(__file__).with_name("stop_words_english.txt")


@lru_cache(maxsize=1)
def english_stop_words() -> frozenset:
    """The English stop-word list shipped with mmscratch (scikit-learn's list, 318 words).

    Read from ``mmscratch/features/stop_words_english.txt``; see its header for where
    the list comes from.

    Returns
    -------
    frozenset of str
    """
    lines = _STOP_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


#: The built-in English stop-word list (read once at import; a few kB).
ENGLISH_STOP_WORDS = english_stop_words()


def resolve_stop_words(stop_words) -> frozenset | None:
    """Turn the ``stop_words`` argument into a set (or None).

    Parameters
    ----------
    stop_words : None, "english", or iterable of str
        ``"english"`` is the built-in list; any other iterable is used as given.

    Returns
    -------
    frozenset of str or None
    """
    if stop_words is None:
        return None
    if isinstance(stop_words, str):
        if stop_words == "english":
            return english_stop_words()
        raise ValueError(f"stop_words must be None, 'english' or a list of words, "
                         f"got the string {stop_words!r}")
    return frozenset(stop_words)


def word_ngrams(tokens: list, ngram_range=(1, 1), stop_words=None) -> list:
    """Drop stop words, then form the word n-grams of one token list.

    n-grams are joined by one space, ordered as scikit-learn orders them: all
    ``min_n``-grams in text order, then all ``(min_n+1)``-grams, and so on. Stop words
    are removed *before* forming n-grams, so "the cat" with "the" a stop word has no
    bigram.

    Parameters
    ----------
    tokens : list of str
    ngram_range : (int, int)
        ``(min_n, max_n)``, inclusive.
    stop_words : set of str or None

    Returns
    -------
    list of str
    """
    if stop_words is not None:
        tokens = [w for w in tokens if w not in stop_words]
    min_n, max_n = ngram_range
    if max_n == 1:
        return tokens
    out = list(tokens) if min_n == 1 else []
    start = max(min_n, 2)
    join = " ".join
    n_tok = len(tokens)
    for n in range(start, min(max_n, n_tok) + 1):
        out.extend(join(tokens[i:i + n]) for i in range(n_tok - n + 1))
    return out


def _check_ngram_range(ngram_range):
    try:
        min_n, max_n = ngram_range
        ok = int(min_n) == min_n and int(max_n) == max_n and 1 <= min_n <= max_n
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"ngram_range must be a pair (min_n, max_n) of integers with "
                         f"1 <= min_n <= max_n, got {ngram_range!r}")
    return int(min_n), int(max_n)


def build_analyzer(lowercase: bool = True, token_pattern: str = DEFAULT_TOKEN_PATTERN,
                   stop_words=None, ngram_range=(1, 1)):
    """Return ``analyze(doc) -> list of terms``: lowercase, find tokens, drop stop words, n-grams.

    Steps, in scikit-learn's order: ``doc.lower()`` (if ``lowercase``), then
    ``re.findall(token_pattern, doc)`` (if the pattern has one capturing group its
    content is the token), then stop-word removal, then n-grams.

    Parameters
    ----------
    lowercase : bool
    token_pattern : str
        Regular expression for one token (default ``(?u)\\b\\w\\w+\\b``).
    stop_words : None, "english" or iterable of str
    ngram_range : (int, int)

    Returns
    -------
    callable
        ``analyze(doc: str) -> list[str]``.

    Notes
    -----
    Explained in chapters/03-1-feature-extraction.md (bag-of-words).
    """
    pattern = re.compile(token_pattern)
    if pattern.groups > 1:
        raise ValueError(f"token_pattern {token_pattern!r} has {pattern.groups} capturing "
                         "groups; use at most one (its content becomes the token)")
    findall = pattern.findall
    stops = resolve_stop_words(stop_words)
    ngram_range = _check_ngram_range(ngram_range)

    if ngram_range == (1, 1) and stops is None:
        if lowercase:
            return lambda doc: findall(_check_doc(doc).lower())
        return lambda doc: findall(_check_doc(doc))

    def analyze(doc):
        doc = _check_doc(doc)
        return word_ngrams(findall(doc.lower() if lowercase else doc), ngram_range, stops)

    return analyze


def _check_doc(doc):
    if isinstance(doc, str):
        return doc
    if isinstance(doc, bytes):
        raise TypeError("documents must be str; decode bytes first (e.g. doc.decode('utf-8'))")
    raise TypeError(f"each document must be a str, got {type(doc).__name__}")


def check_documents(raw_documents) -> list:
    """Materialize an iterable of documents as a list, refusing a lone string."""
    if isinstance(raw_documents, (str, bytes)):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    if not isinstance(raw_documents, Iterable):
        raise TypeError(f"raw_documents must be an iterable of str, "
                        f"got {type(raw_documents).__name__}")
    return list(raw_documents)
