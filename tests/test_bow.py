"""Bag-of-words and TF-IDF: X = sum_i w_i e_i, with scikit-learn's vocabulary and matrices.

Specification:
* the count matrix is the sum of one-hot vectors e_i weighted by counts (a naive loop
  reference written here), on every backend;
* vocabulary_, idf_ and the matrices equal scikit-learn's exactly (counts) or to 1e-12
  (TF-IDF), for default and non-default options, on tiny hand-written corpora and on the
  real 20 Newsgroups corpus;
* max_features keeps the most frequent terms; ties at the cut go to the alphabetically
  first term (scikit-learn's unstable sort may pick others, so parity is checked
  everywhere except at the tie);
* unseen words are ignored by transform; bad df limits and empty vocabularies raise
  ValueError.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.features import (
    ENGLISH_STOP_WORDS,
    CountVectorizer,
    NotFittedError,
    TfidfTransformer,
    TfidfVectorizer,
)
from mmscratch.features.text import build_analyzer

TINY = [
    "The cat sat on the mat. The cat!",
    "",                                   # empty document
    "?!... ,,, ;-) --",                   # punctuation only
    "Café naïve façade ÜBER straße 東京 日本語 café",  # unicode words, case folding
    "dog dog dog dog Dog DOG",            # repeated words
    "the and of it is was",               # only stop words
    "a b c d e",                          # only one-letter tokens (dropped by the pattern)
    "mat mats matting the cat's whiskers, the dog's bone",
]

COUNT_OPTIONS = [
    {},
    {"binary": True},
    {"lowercase": False},
    {"stop_words": "english"},
    {"ngram_range": (1, 2)},
    {"ngram_range": (2, 3), "stop_words": "english"},
    {"min_df": 2},
    {"max_df": 0.3},
    {"min_df": 0.2, "max_df": 4},
    {"token_pattern": r"(?u)\b\w+\b"},
    {"token_pattern": r"(\w+)'s"},   # one capturing group: the group is the token
    {"stop_words": ["cat", "dog"], "binary": True},
]

TFIDF_OPTIONS = [
    {},
    {"norm": "l1"},
    {"norm": None},
    {"use_idf": False},
    {"smooth_idf": False},
    {"sublinear_tf": True},
    {"sublinear_tf": True, "norm": "l1", "smooth_idf": False, "binary": True},
    {"stop_words": "english", "ngram_range": (1, 2), "min_df": 2},
]


def dense(X):
    """Host copy of a sparse matrix (scipy or cupyx) or backend array."""
    if hasattr(X, "toarray"):
        X = X.toarray()
    return backend.to_numpy(X)


def host_sparse(X):
    """A SciPy copy of a CSR matrix of any backend (cupyx matrices have .get())."""
    return X.get() if backend.name() == "cupy" else X


def assert_csr_of_backend(X):
    sp = backend.sparse()
    assert sp.issparse(X) and X.format == "csr"
    on_gpu = backend.get_array_module(X.data) is not np
    assert on_gpu == (backend.name() == "cupy")


# ------------------------------------------------------------------ the formula
def naive_bow(docs, vocabulary, analyze):
    """X = sum_i w_i e_i, literally: add one one-hot row per token occurrence."""
    V = len(vocabulary)
    rows = []
    for doc in docs:
        x = np.zeros(V, dtype=np.int64)
        for term in analyze(doc):
            if term in vocabulary:
                e = np.zeros(V, dtype=np.int64)
                e[vocabulary[term]] = 1
                x = x + e
        rows.append(x)
    return np.array(rows)


def test_counts_are_sums_of_one_hot_vectors(xp):
    vec = CountVectorizer()
    X = vec.fit_transform(TINY)
    assert_csr_of_backend(X)
    expected = naive_bow(TINY, vec.vocabulary_, vec.build_analyzer())
    np.testing.assert_array_equal(dense(X), expected)
    # cupyx sparse matrices hold only floats, so counts are float64 on the GPU
    assert X.dtype == (np.float64 if backend.name() == "cupy" else np.int64)


def test_vocabulary_is_alphabetical_and_feature_names_follow_it(xp):
    vec = CountVectorizer().fit(["zebra apple mango", "apple banana"])
    assert list(vec.get_feature_names_out()) == ["apple", "banana", "mango", "zebra"]
    assert vec.vocabulary_ == {"apple": 0, "banana": 1, "mango": 2, "zebra": 3}


def test_hand_computed_counts_and_tokenizer_rules(xp):
    docs = ["The cat, the CAT and a dog.", "dog dog x"]
    vec = CountVectorizer()
    X = dense(vec.fit_transform(docs))
    # single letters ("a", "x") are not tokens under (?u)\b\w\w+\b; case is folded
    assert list(vec.get_feature_names_out()) == ["and", "cat", "dog", "the"]
    np.testing.assert_array_equal(X, [[1, 2, 1, 2], [0, 0, 2, 0]])


def test_dense_option_returns_an_array_of_the_active_backend(xp):
    X = CountVectorizer(dense=True).fit_transform(TINY)
    assert backend.is_array(X) and backend.get_array_module(X) is xp
    np.testing.assert_array_equal(backend.to_numpy(X), dense(CountVectorizer().fit_transform(TINY)))


def test_transform_ignores_unseen_words(xp):
    vec = CountVectorizer().fit(["red green", "green blue"])
    X = dense(vec.transform(["green purple green", "unseen words only", ""]))
    np.testing.assert_array_equal(X, [[0, 2, 0], [0, 0, 0], [0, 0, 0]])


def test_word_ngrams_order_and_stop_words_removed_first():
    analyze = build_analyzer(stop_words=["the"], ngram_range=(1, 2))
    assert analyze("The cat sat on the mat") == [
        "cat", "sat", "on", "mat", "cat sat", "sat on", "on mat"]
    assert build_analyzer(ngram_range=(2, 2))("one") == []


def test_fixed_vocabulary_keeps_given_columns(xp):
    vec = CountVectorizer(vocabulary=["dog", "cat"])
    X = dense(vec.fit_transform(["cat cat dog bird"]))
    np.testing.assert_array_equal(X, [[1, 2]])
    assert list(vec.get_feature_names_out()) == ["dog", "cat"]
    # no fit needed with a fixed vocabulary; a set is sorted
    np.testing.assert_array_equal(dense(CountVectorizer(vocabulary={"b1", "a1"}).transform(
        ["a1 b1 b1"])), [[1, 2]])
    with pytest.raises(ValueError, match="Duplicate term"):
        CountVectorizer(vocabulary=["a1", "a1"]).fit(["a1"])
    with pytest.raises(ValueError, match="doesn't contain index"):
        CountVectorizer(vocabulary={"a1": 0, "b1": 2}).fit(["a1"])


# ------------------------------------------------------------------ errors
def test_max_df_below_min_df_is_a_value_error(xp):
    with pytest.raises(ValueError, match="max_df corresponds to < documents than min_df"):
        CountVectorizer(min_df=3, max_df=2).fit(TINY)
    with pytest.raises(ValueError, match="max_df"):
        CountVectorizer(max_df=1.5).fit(TINY)


@pytest.mark.parametrize("docs,kwargs", [
    (["", "?!", "a b"], {}),                              # nothing matches the pattern
    (["the and of", "it is"], {"stop_words": "english"}),  # only stop words
    ([], {}),
])
def test_empty_vocabulary_is_a_value_error(xp, docs, kwargs):
    with pytest.raises(ValueError, match="empty vocabulary"):
        CountVectorizer(**kwargs).fit_transform(docs)


def test_pruning_everything_is_a_value_error(xp):
    with pytest.raises(ValueError, match="no terms remain"):
        CountVectorizer(min_df=2).fit(["alpha beta", "gamma"])


def test_other_misuse_gives_clear_errors(xp):
    with pytest.raises(ValueError, match="string object received"):
        CountVectorizer().fit("one document is not an iterable of documents")
    with pytest.raises(NotFittedError):
        CountVectorizer().transform(["x"])
    with pytest.raises(NotFittedError):
        TfidfVectorizer().transform(["x"])
    with pytest.raises(ValueError, match="ngram_range"):
        CountVectorizer(ngram_range=(2, 1)).fit(["aa bb"])
    with pytest.raises(TypeError, match="must be a str"):
        CountVectorizer().fit(["fine", 3])


# ------------------------------------------------------------------ max_features
def test_max_features_keeps_most_frequent_ties_alphabetical(xp):
    docs = ["zz zz zz yy yy bb bb aa cc", "zz dd"]
    # totals: zz 4, yy 2, bb 2, aa 1, cc 1, dd 1 -> top 3 = zz, then the tie bb/yy (both)
    vec = CountVectorizer(max_features=3).fit(docs)
    assert list(vec.get_feature_names_out()) == ["bb", "yy", "zz"]
    # top 4: zz, bb, yy, then a three-way tie aa/cc/dd at the cut -> "aa" (alphabetical)
    vec = CountVectorizer(max_features=4).fit(docs)
    assert list(vec.get_feature_names_out()) == ["aa", "bb", "yy", "zz"]


# ------------------------------------------------------------------ TF-IDF formula
def test_tfidf_matches_the_formula_by_hand(xp):
    docs = ["apple apple banana", "banana cherry", "cherry cherry cherry"]
    X = dense(TfidfVectorizer().fit_transform(docs))
    n = 3
    df = {"apple": 1, "banana": 2, "cherry": 2}
    idf = {t: math.log((1 + n) / (1 + d)) + 1 for t, d in df.items()}
    tf = [{"apple": 2, "banana": 1}, {"banana": 1, "cherry": 1}, {"cherry": 3}]
    for row, counts in zip(X, tf):
        w = np.array([counts.get(t, 0) * idf[t] for t in ("apple", "banana", "cherry")])
        np.testing.assert_allclose(row, w / np.linalg.norm(w), rtol=0, atol=1e-15)


def test_tfidf_transformer_accepts_dense_and_keeps_empty_rows_zero(xp):
    counts = xp.asarray([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.0]])
    tr = TfidfTransformer(dense=True)
    Y = tr.fit_transform(counts)
    assert backend.get_array_module(Y) is xp and backend.get_array_module(tr.idf_) is xp
    Y = backend.to_numpy(Y)
    np.testing.assert_array_equal(Y[1], 0.0)
    np.testing.assert_allclose(np.linalg.norm(Y[[0, 2]], axis=1), 1.0, rtol=1e-15)
    # the input is not modified
    np.testing.assert_array_equal(backend.to_numpy(counts)[0], [1.0, 0.0, 2.0])


def test_stop_word_list_is_scikit_learns():
    text = pytest.importorskip("sklearn.feature_extraction.text")
    assert ENGLISH_STOP_WORDS == text.ENGLISH_STOP_WORDS


# ------------------------------------------------------------------ scikit-learn parity
@pytest.mark.parametrize("options", COUNT_OPTIONS, ids=repr)
def test_counts_equal_sklearn_on_tiny_corpus(xp, options):
    text = pytest.importorskip("sklearn.feature_extraction.text")
    ref = text.CountVectorizer(**options)
    R = ref.fit_transform(TINY)
    vec = CountVectorizer(**options)
    X = vec.fit_transform(TINY)
    assert vec.vocabulary_ == ref.vocabulary_
    assert list(vec.get_feature_names_out()) == list(ref.get_feature_names_out())
    np.testing.assert_array_equal(dense(X), R.toarray())
    new = ["the CAT and the dog", "never seen before", ""]
    np.testing.assert_array_equal(dense(vec.transform(new)), ref.transform(new).toarray())


@pytest.mark.parametrize("options", TFIDF_OPTIONS, ids=repr)
def test_tfidf_equals_sklearn_on_tiny_corpus(xp, options):
    text = pytest.importorskip("sklearn.feature_extraction.text")
    docs = [d for d in TINY if d] + ["cat dog cat dog mat", "straße über Dog"]
    ref = text.TfidfVectorizer(**options)
    R = ref.fit_transform(docs)
    vec = TfidfVectorizer(**options)
    X = vec.fit_transform(docs)
    assert_csr_of_backend(X)
    assert vec.vocabulary_ == ref.vocabulary_
    np.testing.assert_allclose(dense(X), R.toarray(), rtol=0, atol=1e-12)
    if options.get("use_idf", True):
        np.testing.assert_allclose(backend.to_numpy(vec.idf_), ref.idf_, rtol=1e-12)
    new = ["the CAT and the dog", "never seen", ""]
    np.testing.assert_allclose(dense(vec.transform(new)), ref.transform(new).toarray(),
                               rtol=0, atol=1e-12)


def test_tfidf_transformer_equals_sklearn_on_counts(xp):
    text = pytest.importorskip("sklearn.feature_extraction.text")
    C = CountVectorizer().fit_transform(TINY)
    for kw in ({}, {"sublinear_tf": True, "smooth_idf": False, "norm": "l1"}):
        Y = TfidfTransformer(**kw).fit_transform(C)
        R = text.TfidfTransformer(**kw).fit_transform(text.CountVectorizer().fit_transform(TINY))
        np.testing.assert_allclose(dense(Y), R.toarray(), rtol=0, atol=1e-12)


# ------------------------------------------------------------------ the real corpus
REAL_OPTIONS = [
    ("count", {}),
    ("count", {"stop_words": "english", "ngram_range": (1, 2), "min_df": 2, "max_df": 0.5,
               "binary": True}),
    ("tfidf", {}),
    ("tfidf", {"sublinear_tf": True, "min_df": 3, "max_df": 0.9, "stop_words": "english"}),
]


@functools.lru_cache(maxsize=1)
def _corpus(path):
    from mmscratch.datasets.text import load_text

    d = load_text(path, strip_headers=True)
    return tuple(d.train_texts), tuple(d.test_texts)


@functools.cache
def _sklearn_result(kind, key, path):
    text = pytest.importorskip("sklearn.feature_extraction.text")
    train, test = _corpus(path)
    cls = text.CountVectorizer if kind == "count" else text.TfidfVectorizer
    ref = cls(**dict(key))
    return ref, ref.fit_transform(train), ref.transform(test)


@pytest.mark.slow
@pytest.mark.parametrize("kind,options", REAL_OPTIONS, ids=lambda v: repr(v))
def test_real_corpus_equals_sklearn(xp, data_dir, kind, options):
    pytest.importorskip("sklearn")
    train, test = _corpus(str(data_dir))
    key = tuple(sorted(options.items()))
    ref, R_train, R_test = _sklearn_result(kind, key, str(data_dir))
    vec = (CountVectorizer if kind == "count" else TfidfVectorizer)(**options)
    X_train = host_sparse(vec.fit_transform(list(train)))
    X_test = host_sparse(vec.transform(list(test)))
    assert vec.vocabulary_ == ref.vocabulary_
    assert X_train.shape == R_train.shape and X_test.shape == R_test.shape
    if kind == "count":
        assert X_train.dtype == (np.float64 if backend.name() == "cupy" else R_train.dtype)
        assert (X_train != R_train).nnz == 0 and (X_test != R_test).nnz == 0
    else:
        np.testing.assert_allclose(backend.to_numpy(vec.idf_), ref.idf_, rtol=1e-12)
        assert abs(X_train - R_train).max() <= 1e-12
        assert abs(X_test - R_test).max() <= 1e-12


@pytest.mark.slow
def test_real_corpus_max_features_1000_equals_sklearn_except_ties(data_dir):
    """The document's 1000-word vocabulary: same terms as scikit-learn above the cut."""
    text = pytest.importorskip("sklearn.feature_extraction.text")
    train, _ = _corpus(str(data_dir))
    train = list(train)
    ours = CountVectorizer(max_features=1000).fit(train)
    ref = text.CountVectorizer(max_features=1000).fit(train)
    full = CountVectorizer().fit(train)
    totals = np.asarray(full.transform(train).sum(axis=0)).ravel()  # (V,) total counts
    total = {t: totals[i] for t, i in full.vocabulary_.items()}
    cut = min(total[t] for t in ours.vocabulary_)
    assert len(ours.vocabulary_) == 1000
    # every term more frequent than the cut is in both; disagreements only at the cut
    above = {t for t, c in total.items() if c > cut}
    assert above <= set(ours.vocabulary_) and above <= set(ref.vocabulary_)
    assert all(total[t] == cut for t in set(ours.vocabulary_) ^ set(ref.vocabulary_))
    # our pick at the cut is the alphabetically first of the tied terms
    tied = sorted(t for t, c in total.items() if c == cut)
    assert sorted(set(ours.vocabulary_) - above) == tied[:1000 - len(above)]


# ------------------------------------------------------------------ random corpora
def test_random_corpora_equal_sklearn():
    """Property: for any corpus drawn from a small alphabet (letters, digits, accents,
    CJK, punctuation, whitespace), vocabulary and counts equal scikit-learn's."""
    text = pytest.importorskip("sklearn.feature_extraction.text")
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    alphabet = st.sampled_from(list("abcAB1é東 .,'!\n_-"))
    docs = st.lists(st.text(alphabet, max_size=40), min_size=1, max_size=6)
    options = st.sampled_from([{}, {"ngram_range": (1, 2)}, {"binary": True, "min_df": 2},
                               {"lowercase": False, "max_features": 3}])

    @hypothesis.settings(max_examples=60, deadline=None, database=None)
    @hypothesis.given(docs, options)
    def check(corpus, opts):
        try:
            ref = text.CountVectorizer(**opts)
            R = ref.fit_transform(corpus).toarray()
        except ValueError:  # empty vocabulary or nothing left: we must refuse too
            with pytest.raises(ValueError):
                CountVectorizer(**opts).fit_transform(corpus)
            return
        vec = CountVectorizer(**opts)
        X = dense(vec.fit_transform(corpus))
        if "max_features" in opts:  # ties at the cut may differ (see module docstring)
            full = CountVectorizer(lowercase=False)
            totals = dense(full.fit_transform(corpus)).sum(axis=0)
            total = {t: totals[i] for t, i in full.vocabulary_.items()}
            cut = min(total[t] for t in vec.vocabulary_)
            assert len(vec.vocabulary_) == len(ref.vocabulary_)
            assert all(total[t] == cut for t in set(vec.vocabulary_) ^ set(ref.vocabulary_))
            return
        assert vec.vocabulary_ == ref.vocabulary_
        np.testing.assert_array_equal(X, R)

    check()
