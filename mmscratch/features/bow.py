r"""Bag-of-words and TF-IDF: text documents -> sparse document-term matrices.

The document's text feature (section 3.1.2) is

.. math::  X = \sum_{i=1}^{n} w_i \cdot e_i

where :math:`e_i` is the one-hot vector of word :math:`i` of the vocabulary (a 1 in
column ``vocabulary_[word_i]``, zeros elsewhere) and :math:`w_i` its weight in the
document: the number of times the word occurs (:class:`CountVectorizer`), 1 if it
occurs at all (``binary=True``), or its TF-IDF value (:class:`TfidfVectorizer`).
Stacking the vectors X of N documents gives the ``(N, V)`` document-term matrix.

Names and behaviour follow scikit-learn (``sklearn.feature_extraction.text``), so the
same arguments give the same vocabulary and the same matrices; the tests check this
exactly (counts) and to 1e-12 (TF-IDF). Explained in
chapters/03-1-feature-extraction.md.

Where things live
-----------------
Tokenizing is string work done in Python on the host. Counting is array work: all
token ids of all documents are concatenated once and counted with one ``unique`` (no
Python loop per document or per term). The result is a CSR matrix from
``backend.sparse()``: ``scipy.sparse`` on the ``numpy`` and ``strict`` backends (its
buffers are host NumPy arrays, as SciPy requires), ``cupyx.scipy.sparse`` on ``cupy``.
``dense=True`` returns an array of the active backend instead.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from itertools import chain, repeat

import numpy as np

from .. import backend
from ..base import BaseEstimator, TransformerMixin, check_n_features, check_sparse, check_X
from ..errors import NotFittedError, check_count
from .tokenize import DEFAULT_TOKEN_PATTERN, build_analyzer, check_documents

__all__ = ["CountVectorizer", "TfidfTransformer", "TfidfVectorizer", "NotFittedError"]



# ----------------------------------------------------------------- sparse helpers
def _module_of_sparse(X):
    """Array module owning a sparse matrix's buffers (numpy for SciPy, cupy for cupyx)."""
    return backend.get_array_module(X.data)


def _as_csr(X, argument: str, where: str):
    """A CSR matrix on the active backend's sparse module, from sparse or dense input.

    The same checks as every estimator's data (:func:`mmscratch.base.check_X`): 2-D,
    non-empty, numeric, no NaN or inf (only the stored values of a sparse matrix are
    read, so this costs one pass over ``nnz`` values).
    """
    if backend.is_sparse(X):
        return check_sparse(X, where, argument)
    X = check_X(X, where, argument, host=False)
    if backend.name() == "cupy":
        return backend.sparse().csr_matrix(X)
    return backend.sparse().csr_matrix(backend.to_numpy(X))


def _host_csr_to_backend(indptr, indices, data, shape):
    """Build a CSR matrix of the active backend from host arrays (one transfer on GPU)."""
    sp = backend.sparse()
    if backend.name() == "cupy":
        if data.dtype.kind not in "fc":
            # cupyx sparse matrices hold only float/complex values: counts become float64
            data = data.astype(np.float64)
        indptr, indices, data = (backend.asarray(a) for a in (indptr, indices, data))
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def _row_ids(X, m):
    """Row of every stored entry of a CSR matrix: (nnz,)."""
    ends = X.indptr[1:]
    return m.searchsorted(ends, m.arange(X.nnz, dtype=ends.dtype), side="right")


def _dense_out(X):
    """Dense array of the active backend from a CSR matrix of that backend."""
    A = X.toarray()
    return A if backend.name() == "cupy" else backend.asarray(A)


def _check_df(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an int >= 0 (a number of documents) or a float in "
                         f"[0, 1] (a proportion), got {value!r}")
    if isinstance(value, numbers.Integral):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 as a number of documents, got {value}")
    elif not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} as a float is a proportion of documents and must be in "
                         f"[0, 1], got {value}")


# ----------------------------------------------------------------- CountVectorizer
class CountVectorizer(BaseEstimator):
    r"""Documents -> matrix of token counts, the bag-of-words model ``X = sum_i w_i e_i``.

    Each document becomes one row :math:`X = \sum_i w_i e_i` of a ``(N, V)`` matrix,
    with :math:`e_i` the one-hot vector of vocabulary word :math:`i` and :math:`w_i` the
    number of times it occurs in the document (or 1 when ``binary=True``).

    Parameter names and defaults are scikit-learn's.

    Parameters
    ----------
    lowercase : bool, default True
    token_pattern : str, default ``r"(?u)\b\w\w+\b"``
        Regular expression for one token (2 or more word characters).
    stop_words : None, "english" or list of str
        Words removed before n-grams; "english" is the list in
        ``mmscratch/features/stop_words_english.txt`` (scikit-learn's).
    ngram_range : (int, int), default (1, 1)
        Word n-grams with ``min_n <= n <= max_n``.
    max_df, min_df : float in [0, 1] or int, default 1.0 and 1
        Drop terms found in more than ``max_df`` / fewer than ``min_df`` documents
        (a float is a proportion of the documents). Ignored with a fixed ``vocabulary``.
    max_features : int or None
        Keep only the ``max_features`` terms of highest total count (after the df
        limits). **Ties at the cut are broken alphabetically** (the earlier term wins);
        scikit-learn breaks them with an unstable sort, so the two may differ exactly
        there and nowhere else.
    vocabulary : mapping term -> column, or iterable of terms, optional
        A fixed vocabulary (a set is sorted first); otherwise learnt by ``fit``.
    binary : bool, default False
        Store 1 instead of the count (w_i = 1 if the word occurs).
    dtype : numpy dtype, default int64
        dtype of the returned matrix. On the cupy backend integer dtypes become
        float64, because ``cupyx.scipy.sparse`` stores only floating-point values.
    dense : bool, default False
        Return a dense array of the active backend instead of a sparse CSR matrix.

    Attributes
    ----------
    vocabulary_ : dict str -> int
        Term -> column; columns in alphabetical order of the terms unless ``vocabulary``
        was given.
    fixed_vocabulary_ : bool

    Shapes
    ------
    ``fit_transform(docs)``: N documents -> ``(N, V)`` CSR matrix (or dense array).

    Notes
    -----
    Explained in chapters/03-1-feature-extraction.md (bag-of-words).
    """

    def __init__(self, *, lowercase=True, token_pattern=DEFAULT_TOKEN_PATTERN, stop_words=None,
                 ngram_range=(1, 1), max_df=1.0, min_df=1, max_features=None, vocabulary=None,
                 binary=False, dtype=np.int64, dense=False):
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.stop_words = stop_words
        self.ngram_range = ngram_range
        self.max_df = max_df
        self.min_df = min_df
        self.max_features = max_features
        self.vocabulary = vocabulary
        self.binary = binary
        self.dtype = dtype
        self.dense = dense

    def __sklearn_tags__(self):
        # Input is an iterable of str, not a 2-D array (scikit-learn's own vectorizers).
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    # ------------------------------------------------------------ pieces
    def build_analyzer(self):
        """``analyze(doc) -> list of terms`` with this vectorizer's settings."""
        return build_analyzer(self.lowercase, self.token_pattern, self.stop_words,
                              self.ngram_range)

    def _validate_vocabulary(self):
        vocabulary = self.vocabulary
        if vocabulary is None:
            self.fixed_vocabulary_ = False
            return
        if isinstance(vocabulary, set):
            vocabulary = sorted(vocabulary)
        if isinstance(vocabulary, str):
            raise ValueError("vocabulary must be a mapping or an iterable of terms, got a str")
        if hasattr(vocabulary, "items"):
            vocab = dict(vocabulary)
            indices = set(vocab.values())
            if len(indices) != len(vocab):
                raise ValueError("Vocabulary contains repeated indices.")
            for i in range(len(vocab)):
                if i not in indices:
                    raise ValueError(f"Vocabulary of size {len(vocab)} doesn't contain "
                                     f"index {i}.")
        else:
            vocab = {}
            for i, t in enumerate(vocabulary):
                if vocab.setdefault(t, i) != i:
                    raise ValueError(f"Duplicate term in vocabulary: {t!r}")
        if not vocab:
            raise ValueError("empty vocabulary passed to fit")
        self.fixed_vocabulary_ = True
        self.vocabulary_ = vocab

    def _check_fitted(self):
        if not hasattr(self, "vocabulary_"):
            self._validate_vocabulary()
            if not self.fixed_vocabulary_:
                raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call "
                                     "fit or fit_transform first, or pass a vocabulary.")

    def _tokens_to_ids(self, raw_documents, vocabulary):
        """Tokenize and map terms to ids, all on the host.

        Returns ``(doc_ids, term_ids, n_docs, vocabulary)`` where ``doc_ids`` and
        ``term_ids`` are ``(n_tokens,)`` int64 arrays (one entry per token occurrence)
        and ``vocabulary`` the (possibly grown) term -> id dict in first-seen order.
        """
        docs = check_documents(raw_documents)
        analyze = self.build_analyzer()
        token_lists = [analyze(d) for d in docs]
        n_docs = len(token_lists)
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=n_docs)
        n_tokens = int(lengths.sum())
        flat = chain.from_iterable(token_lists)
        if vocabulary is None:
            # A defaultdict whose factory is its own length numbers new terms 0, 1, 2, ...
            # in first-seen order; map() keeps the lookup loop in C.
            vocabulary = defaultdict()
            vocabulary.default_factory = vocabulary.__len__
            term_ids = np.fromiter(map(vocabulary.__getitem__, flat), dtype=np.int64,
                                   count=n_tokens)
            vocabulary = dict(vocabulary)
        else:
            term_ids = np.fromiter(map(vocabulary.get, flat, repeat(-1)), dtype=np.int64,
                                   count=n_tokens)
        doc_ids = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        if vocabulary is not None and n_tokens and term_ids.min() < 0:
            known = term_ids >= 0  # unseen words are ignored, as in scikit-learn
            doc_ids, term_ids = doc_ids[known], term_ids[known]
        return doc_ids, term_ids, n_docs, vocabulary

    @staticmethod
    def _count(doc_ids, term_ids, n_docs, n_terms):
        """Counts of (document, term) pairs as host CSR buffers (indices sorted per row).

        One ``np.unique`` over the combined key ``doc * V + term`` does all the counting:
        w_i of document d is the multiplicity of key ``d * V + i``.
        """
        key = doc_ids * np.int64(n_terms) + term_ids
        uniq, counts = np.unique(key, return_counts=True)
        rows = uniq // n_terms
        indices = (uniq - rows * n_terms).astype(np.int32 if n_terms < 2**31 else np.int64)
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
        if indptr[-1] < 2**31:
            indptr = indptr.astype(np.int32)
        return indptr, indices, counts

    def _limit(self, indptr, indices, data, n_docs, n_terms):
        """Apply max_df, min_df and max_features to host CSR buffers; returns the kept mask."""
        _check_df(self.max_df, "max_df")
        _check_df(self.min_df, "min_df")
        max_doc = self.max_df if isinstance(self.max_df, numbers.Integral) \
            else self.max_df * n_docs
        min_doc = self.min_df if isinstance(self.min_df, numbers.Integral) \
            else self.min_df * n_docs
        if max_doc < min_doc:
            raise ValueError(f"max_df corresponds to < documents than min_df: max_df={self.max_df} "
                             f"keeps terms in at most {max_doc:g} of {n_docs} documents, "
                             f"min_df={self.min_df} needs at least {min_doc:g}")
        mf = check_count(self.max_features, "max_features", where=type(self).__name__,
                         allow_none=True)
        df = np.bincount(indices, minlength=n_terms)  # document frequency of each term
        keep = (df <= max_doc) & (df >= min_doc)
        if mf is not None and keep.sum() > mf:
            tf = np.bincount(indices, weights=data, minlength=n_terms)  # total counts
            cand = np.flatnonzero(keep)  # alphabetical, so a stable sort breaks ties by term
            best = cand[np.argsort(-tf[cand], kind="stable")[:mf]]
            keep = np.zeros(n_terms, dtype=bool)
            keep[best] = True
        return keep

    @staticmethod
    def _select_columns(indptr, indices, data, keep):
        """Keep the columns flagged in ``keep`` and renumber them (host buffers)."""
        new_col = np.cumsum(keep) - 1
        entry_kept = keep[indices]
        kept_before = np.concatenate([[0], np.cumsum(entry_kept)])
        return (kept_before[indptr].astype(indptr.dtype),
                new_col[indices[entry_kept]].astype(indices.dtype), data[entry_kept])

    def _fit_counts(self, raw_documents):
        """fit on host buffers; returns a CSR matrix of the active backend."""
        self._validate_vocabulary()
        if self.fixed_vocabulary_:
            doc_ids, term_ids, n_docs, vocab = self._tokens_to_ids(raw_documents,
                                                                   self.vocabulary_)
            return self._finish(doc_ids, term_ids, n_docs, len(vocab))
        doc_ids, term_ids, n_docs, vocab = self._tokens_to_ids(raw_documents, None)
        if not vocab:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words "
                             f"(or no token matches token_pattern={self.token_pattern!r})")
        # Alphabetical columns: renumber first-seen ids by the rank of their term.
        terms = list(vocab)
        order = sorted(range(len(terms)), key=terms.__getitem__)
        rank = np.empty(len(terms), dtype=np.int64)
        rank[order] = np.arange(len(terms))
        term_ids = rank[term_ids]
        sorted_terms = [terms[i] for i in order]
        n_terms = len(sorted_terms)
        indptr, indices, data = self._count(doc_ids, term_ids, n_docs, n_terms)
        if self.binary:
            data = np.ones_like(data)
        keep = self._limit(indptr, indices, data, n_docs, n_terms)
        if not keep.all():
            indptr, indices, data = self._select_columns(indptr, indices, data, keep)
            sorted_terms = [t for t, k in zip(sorted_terms, keep.tolist()) if k]
            if not sorted_terms:
                raise ValueError("After pruning, no terms remain. Try a lower min_df or a "
                                 "higher max_df.")
        self.vocabulary_ = {t: i for i, t in enumerate(sorted_terms)}
        return _host_csr_to_backend(indptr, indices, data.astype(self.dtype),
                                    (n_docs, len(sorted_terms)))

    def _finish(self, doc_ids, term_ids, n_docs, n_terms):
        indptr, indices, data = self._count(doc_ids, term_ids, n_docs, n_terms)
        if self.binary:
            data = np.ones_like(data)
        return _host_csr_to_backend(indptr, indices, data.astype(self.dtype), (n_docs, n_terms))

    def _out(self, X):
        return _dense_out(X) if self.dense else X

    # ------------------------------------------------------------ public API
    def fit(self, raw_documents, y=None):
        """Learn the vocabulary of ``raw_documents`` (iterable of str). Returns self."""
        self._fit_counts(raw_documents)
        return self

    def fit_transform(self, raw_documents, y=None):
        """Learn the vocabulary and return the ``(N, V)`` count matrix ``X = sum_i w_i e_i``.

        Parameters
        ----------
        raw_documents : iterable of str, length N

        Returns
        -------
        X : CSR matrix of ``backend.sparse()`` (or dense array with ``dense=True``),
            shape ``(N, V)``, dtype ``self.dtype``.
        """
        return self._out(self._fit_counts(raw_documents))

    def transform(self, raw_documents):
        """Count ``raw_documents`` against the fitted vocabulary; unseen words are ignored.

        Returns the ``(N, V)`` count matrix (CSR, or dense with ``dense=True``).
        """
        self._check_fitted()
        doc_ids, term_ids, n_docs, vocab = self._tokens_to_ids(raw_documents, self.vocabulary_)
        return self._out(self._finish(doc_ids, term_ids, n_docs, len(vocab)))

    def get_feature_names_out(self, input_features=None):
        """Terms in column order, as a host ``ndarray`` of dtype object (as scikit-learn)."""
        self._check_fitted()
        names = np.empty(len(self.vocabulary_), dtype=object)
        for term, i in self.vocabulary_.items():
            names[i] = term
        return names

    def inverse_transform(self, X):
        """Terms with a non-zero entry, per row of ``X``; list of host object arrays."""
        self._check_fitted()
        X = _as_csr(X, "X", type(self).__name__)
        names = self.get_feature_names_out()
        indptr = backend.to_numpy(X.indptr)
        cols = backend.to_numpy(X.indices)
        keep = backend.to_numpy(X.data) != 0
        return [names[cols[a:b][keep[a:b]]] for a, b in zip(indptr[:-1], indptr[1:])]


# ----------------------------------------------------------------- TF-IDF
class TfidfTransformer(TransformerMixin, BaseEstimator):
    r"""Count matrix -> TF-IDF matrix: the weights w_i of ``X = sum_i w_i e_i`` become tf-idf.

    For term i in a document with count :math:`tf_i` among N documents of which
    :math:`df_i` contain the term:

    .. math::  w_i = tf_i \cdot idf_i, \qquad
               idf_i = \ln \frac{1 + N}{1 + df_i} + 1 \quad(\text{smooth\_idf}),
               \quad \ln\frac{N}{df_i} + 1 \text{ otherwise},

    with :math:`tf_i` replaced by :math:`1 + \ln tf_i` when ``sublinear_tf``; then each
    row is scaled to unit L2 (or L1) norm (rows of all zeros stay zero).

    Parameter names and defaults are scikit-learn's.

    Parameters
    ----------
    norm : "l2", "l1" or None
    use_idf, smooth_idf, sublinear_tf : bool
    dense : bool, default False
        Return a dense backend array instead of a CSR matrix.

    Attributes
    ----------
    idf_ : (V,) array of the active backend (only when ``use_idf``)

    Notes
    -----
    Sparse in -> CSR of ``backend.sparse()`` out; a dense backend array is accepted too.
    Explained in chapters/03-1-feature-extraction.md (TF-IDF weights).
    """

    def __init__(self, *, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=False,
                 dense=False):
        self.norm = norm
        self.use_idf = use_idf
        self.smooth_idf = smooth_idf
        self.sublinear_tf = sublinear_tf
        self.dense = dense

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @staticmethod
    def _float_dtype(X):
        return X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)

    def fit(self, X, y=None):
        """Learn ``idf_`` from a ``(N, V)`` count matrix. Returns self."""
        if self.norm not in ("l1", "l2", None):
            raise ValueError(f"TfidfTransformer.fit: norm must be 'l1', 'l2' or None, "
                             f"got {self.norm!r}")
        X = _as_csr(X, "X", "TfidfTransformer.fit")
        self.n_features_in_ = X.shape[1]
        if self.use_idf:
            m = _module_of_sparse(X)
            n, v = X.shape
            dtype = self._float_dtype(X)
            df = m.bincount(X.indices, minlength=v).astype(dtype)
            smooth = 1.0 if self.smooth_idf else 0.0
            # Same operation order as scikit-learn (n/df, log, +1) for bit-level parity.
            idf = m.log(dtype.type(n + smooth) / (df + smooth)) + 1.0
            self._idf_sparse = idf.astype(dtype)
            self.idf_ = self._idf_sparse if backend.name() == "cupy" \
                else backend.asarray(self._idf_sparse)
        return self

    def transform(self, X, copy=True):
        """``(N, V)`` counts -> ``(N, V)`` tf-idf (CSR, or dense with ``dense=True``)."""
        self._check_is_fitted("n_features_in_")
        X = _as_csr(X, "X", "TfidfTransformer.transform")
        check_n_features(self, X, "TfidfTransformer.transform")
        # astype copies, so the caller's X is never modified (``copy`` is accepted for
        # scikit-learn compatibility only).
        X = X.astype(self._float_dtype(X))
        m = _module_of_sparse(X)
        data = X.data
        if self.sublinear_tf:
            data = m.log(data) + 1.0
        if self.use_idf:
            data = data * self._idf_sparse[X.indices].astype(data.dtype)
        if self.norm is not None:
            rows = _row_ids(X, m)
            per_entry = data * data if self.norm == "l2" else m.abs(data)
            norms = m.bincount(rows, weights=per_entry, minlength=X.shape[0])
            if self.norm == "l2":
                norms = m.sqrt(norms)
            norms[norms == 0] = 1.0  # an empty document stays all zeros
            data = data / norms.astype(data.dtype)[rows]
        X = backend.sparse().csr_matrix((data, X.indices, X.indptr), shape=X.shape)
        return _dense_out(X) if self.dense else X

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)


class TfidfVectorizer(CountVectorizer):
    r"""Documents -> TF-IDF matrix: :class:`CountVectorizer` then :class:`TfidfTransformer`.

    Row d of the result is :math:`X_d = \sum_i w_i e_i` with
    :math:`w_i = tf_{di} \cdot idf_i` normalized to unit length (see
    :class:`TfidfTransformer` for the formula). Takes every :class:`CountVectorizer`
    argument plus ``norm``, ``use_idf``, ``smooth_idf``, ``sublinear_tf``; ``dtype``
    defaults to float64.

    Attributes
    ----------
    vocabulary_ : dict str -> int
    idf_ : (V,) array of the active backend

    Notes
    -----
    Explained in chapters/03-1-feature-extraction.md (TF-IDF weights).
    """

    def __init__(self, *, lowercase=True, token_pattern=DEFAULT_TOKEN_PATTERN, stop_words=None,
                 ngram_range=(1, 1), max_df=1.0, min_df=1, max_features=None, vocabulary=None,
                 binary=False, dtype=np.float64, norm="l2", use_idf=True, smooth_idf=True,
                 sublinear_tf=False, dense=False):
        super().__init__(lowercase=lowercase, token_pattern=token_pattern,
                         stop_words=stop_words, ngram_range=ngram_range, max_df=max_df,
                         min_df=min_df, max_features=max_features, vocabulary=vocabulary,
                         binary=binary, dtype=dtype, dense=dense)
        self.norm = norm
        self.use_idf = use_idf
        self.smooth_idf = smooth_idf
        self.sublinear_tf = sublinear_tf

    def _make_transformer(self):
        return TfidfTransformer(norm=self.norm, use_idf=self.use_idf,
                                smooth_idf=self.smooth_idf, sublinear_tf=self.sublinear_tf)

    @property
    def idf_(self):
        """Inverse document frequencies, ``(V,)``, on the active backend."""
        self._check_tfidf_fitted()
        return self._tfidf.idf_

    def _check_tfidf_fitted(self):
        if not hasattr(getattr(self, "_tfidf", None), "n_features_in_"):
            raise NotFittedError("This TfidfVectorizer is not fitted yet: call fit first.")

    def fit(self, raw_documents, y=None):
        """Learn vocabulary and idf. Returns self."""
        self._tfidf = self._make_transformer()
        self._tfidf.fit(self._fit_counts(raw_documents))
        return self

    def fit_transform(self, raw_documents, y=None):
        """Learn vocabulary and idf; return the ``(N, V)`` tf-idf matrix."""
        self._tfidf = self._make_transformer()
        counts = self._fit_counts(raw_documents)
        return self._out(self._tfidf.fit(counts).transform(counts, copy=False))

    def transform(self, raw_documents):
        """``(N, V)`` tf-idf of new documents with the fitted vocabulary and idf."""
        self._check_fitted()
        self._check_tfidf_fitted()
        doc_ids, term_ids, n_docs, vocab = self._tokens_to_ids(raw_documents, self.vocabulary_)
        counts = self._finish(doc_ids, term_ids, n_docs, len(vocab))
        return self._out(self._tfidf.transform(counts, copy=False))
