"""Text classification and clustering on 20 Newsgroups (4 groups), mmscratch vs scikit-learn.

Run: ``MMSCRATCH_DATA=/path/to/data python benchmarks/text_tasks.py [--quick]``.
Writes the section "text_tasks" of benchmarks/RESULTS.md.

Classification (headers stripped, train/test split by date):
* TF-IDF with ``max_features=1000`` (the document's 1000-dimensional text input) into
  ``Sequential([Dense(4, activation="softmax")])`` trained with Adam; reference:
  scikit-learn ``LogisticRegression`` on the very same features;
* token ids into ``Embedding`` + mean over the document's tokens + ``Dense`` softmax.

Clustering (scikit-learn's "clustering text documents" recipe, all 3,387 messages):
TF-IDF(max_df=0.5, min_df=5, stop_words="english") -> LSA(100) -> unit-length rows ->
KMeans(4, n_init=1, max_iter=100); homogeneity, completeness, V-measure and ARI over
5 seeds, mmscratch's pipeline next to scikit-learn's on the same texts in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import machine, write_section  # noqa: E402
from mmscratch import backend, metrics  # noqa: E402
from mmscratch.datasets.text import load_text  # noqa: E402
from mmscratch.features import CountVectorizer, TfidfVectorizer  # noqa: E402
from mmscratch.nn import (  # noqa: E402
    Adam,
    Dense,
    Embedding,
    Layer,
    PositionalEncoding,
    Sequential,
    SoftmaxCrossEntropy,
    TransformerEncoder,
)
from mmscratch.unsupervised import KMeans, TruncatedSVD  # noqa: E402


class MeanEmbedding(Layer):
    """Average of the embeddings of a document's tokens, ignoring padding (id 0).

    h_n = (1 / L_n) sum_{t < L_n} E[x_{n,t}], with L_n the number of non-padding tokens.
    Shapes: ids ``(N, T)`` int -> ``(N, dim)``. Wraps an :class:`Embedding`, whose
    ``grads["E"]`` the backward pass fills.
    """

    def __init__(self, vocab, dim, seed=None, name=None):
        super().__init__(name)
        self.vocab, self.dim, self.seed = vocab, dim, seed
        self.embedding = Embedding(vocab, dim, seed=seed)

    def parameters(self):
        yield from self.embedding.parameters()

    def forward(self, x, training=False):
        emb = self.embedding.forward(x, training)  # (N, T, D)
        mask = (x != 0).astype(emb.dtype)[..., None]  # (N, T, 1)
        length = backend.xp().maximum(mask.sum(axis=1), 1.0)  # (N, 1)
        self._cache = (mask, length)
        return (emb * mask).sum(axis=1) / length

    def backward(self, dy):
        mask, length = self._saved()
        self.embedding.backward(dy[:, None, :] * mask / length[:, None, :])
        return None

    def get_config(self):
        return {"vocab": self.vocab, "dim": self.dim, "seed": self.seed}


class TransformerMean(Layer):
    """Embedding + positional encoding + one TransformerEncoder block + mean over tokens.

    ids ``(N, T)`` (0 = padding) -> E[ids] * sqrt(d) + PE -> TransformerEncoder with the
    key padding mask ``ids != 0`` -> mean over the non-padding tokens -> ``(N, d)``.
    Every step has its explicit backward; the mask keeps padding out of the attention
    and out of the mean. (The sqrt(d) scale is Vaswani et al.'s, so the embedding is not
    drowned by the positional encoding.)
    """

    def __init__(self, vocab, dim, num_heads=2, ff_dim=128, dropout=0.1, seed=None,
                 name=None):
        super().__init__(name)
        self.vocab, self.dim, self.num_heads, self.ff_dim = vocab, dim, num_heads, ff_dim
        self.dropout, self.seed = dropout, seed
        self.embedding = Embedding(vocab, dim, seed=seed)
        self.position = PositionalEncoding()
        self.encoder = TransformerEncoder(num_heads, dim // num_heads, ff_dim,
                                          dropout=dropout, seed=seed)

    def parameters(self):
        yield from self.embedding.parameters()
        yield from self.encoder.parameters()

    def forward(self, x, training=False):
        keep = x != 0  # (N, T)
        h = self.embedding.forward(x, training) * self.dim ** 0.5  # (N, T, d)
        h = self.encoder.forward(self.position.forward(h), mask=keep, training=training)
        w = keep.astype(h.dtype)
        w = w / backend.xp().maximum(w.sum(axis=1, keepdims=True), 1.0)  # (N, T)
        self._cache = w
        return (h * w[:, :, None]).sum(axis=1)

    def backward(self, dy):
        w = self._saved()
        dh = self.encoder.backward(dy[:, None, :] * w[:, :, None])
        self.embedding.backward(self.position.backward(dh) * self.dim ** 0.5)
        return None

    def get_config(self):
        return {"vocab": self.vocab, "dim": self.dim, "num_heads": self.num_heads,
                "ff_dim": self.ff_dim, "dropout": self.dropout, "seed": self.seed}


def token_ids(vectorizer, texts, max_len):
    """Documents -> ``(N, max_len)`` int32 ids into the vectorizer's vocabulary (+1; 0 pads)."""
    analyze, vocab = vectorizer.build_analyzer(), vectorizer.vocabulary_
    out = np.zeros((len(texts), max_len), dtype=np.int32)
    for n, doc in enumerate(texts):  # host-side string work, once per document
        ids = [vocab[t] + 1 for t in analyze(doc) if t in vocab][:max_len]
        out[n, :len(ids)] = ids
    return out


def classification(d, epochs, seed=0, transformer_epochs=0):
    from sklearn.linear_model import LogisticRegression

    rows = []
    vec = TfidfVectorizer(max_features=1000)
    X_train = backend.to_numpy(vec.fit_transform(d.train_texts).toarray()) \
        if backend.name() == "cupy" else vec.fit_transform(d.train_texts).toarray()
    X_test = backend.to_numpy(vec.transform(d.test_texts).toarray()) \
        if backend.name() == "cupy" else vec.transform(d.test_texts).toarray()
    y_train, y_test = d.train_labels, d.test_labels

    t0 = time.perf_counter()
    ref = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    acc_ref = float((ref.predict(X_test) == y_test).mean())
    rows.append(("scikit-learn LogisticRegression (C=1) on TF-IDF(1000)", acc_ref,
                 time.perf_counter() - t0))

    t0 = time.perf_counter()
    model = Sequential([Dense(4, activation="softmax", seed=seed)])
    model.compile(optimizer=Adam(lr=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X_train.astype(np.float32), y_train, epochs=epochs, batch_size=32, seed=seed,
              verbose=0)
    acc = model.evaluate(X_test.astype(np.float32), y_test)["accuracy"]
    rows.append(("mmscratch TF-IDF(1000) -> Dense(4, softmax), Adam 0.01, "
                 f"{epochs} epochs", acc, time.perf_counter() - t0))

    t0 = time.perf_counter()
    counts = CountVectorizer(min_df=2, stop_words="english").fit(d.train_texts)
    ids_train = token_ids(counts, d.train_texts, 400)
    ids_test = token_ids(counts, d.test_texts, 400)
    vocab = len(counts.vocabulary_) + 1
    model = Sequential([MeanEmbedding(vocab, 64, seed=seed),
                        Dense(4, activation="softmax", seed=seed)])
    model.compile(optimizer=Adam(lr=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(ids_train, y_train, epochs=epochs, batch_size=32, seed=seed, verbose=0)
    acc = model.evaluate(ids_test, y_test)["accuracy"]
    rows.append((f"mmscratch Embedding({vocab}, 64) + mean + Dense(4, softmax), "
                 f"{epochs} epochs", acc, time.perf_counter() - t0))
    if transformer_epochs:
        t0 = time.perf_counter()
        max_len = 256  # attention costs T^2: the first 256 kept words of each message
        ids_train, ids_test = ids_train[:, :max_len], ids_test[:, :max_len]
        model = Sequential([TransformerMean(vocab, 64, num_heads=2, ff_dim=128, seed=seed),
                            Dense(4, seed=seed)])
        model.compile(optimizer=Adam(lr=1e-3), loss=SoftmaxCrossEntropy(),
                      metrics=["accuracy"])
        model.fit(ids_train, y_train, epochs=transformer_epochs, batch_size=32, seed=seed,
                  verbose=0)
        acc = model.evaluate(ids_test, y_test)["accuracy"]
        rows.append((f"mmscratch Embedding({vocab}, 64) + PositionalEncoding + "
                     f"TransformerEncoder(2 heads, ff 128, dropout 0.1, padding mask) + mean + "
                     f"Dense(4); first {max_len} words; Adam 1e-3, {transformer_epochs} epochs",
                     acc, time.perf_counter() - t0))
    return rows


def clustering(d, seeds):
    from sklearn import metrics as skm
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.decomposition import TruncatedSVD as SkSVD
    from sklearn.feature_extraction.text import TfidfVectorizer as SkTfidf
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    texts = d.train_texts + d.test_texts
    labels = np.concatenate([d.train_labels, d.test_labels])
    opts = {"max_df": 0.5, "min_df": 5, "stop_words": "english"}

    def scores(pred, score_fns):
        if score_fns is ours_fns:  # mmscratch metrics take arrays of the active backend
            y, p = backend.asarray(labels), backend.asarray(pred)
        else:
            y, p = labels, pred
        h, c, v = score_fns[0](y, p)
        return np.array([h, c, v, score_fns[1](y, p)])

    ours_fns = (metrics.homogeneity_completeness_v_measure, metrics.adjusted_rand_score)
    ref_fns = (skm.homogeneity_completeness_v_measure, skm.adjusted_rand_score)
    results = {"mmscratch": [], "scikit-learn": []}
    t_ours = t_ref = 0.0
    X_ours = TfidfVectorizer(**opts).fit_transform(texts)
    X_ref = SkTfidf(**opts).fit_transform(texts)
    for seed in seeds:
        t0 = time.perf_counter()
        Z = TruncatedSVD(100, random_state=seed).fit_transform(X_ours)  # (N, 100)
        xp = backend.xp()
        Z = Z / xp.maximum(xp.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
        km = KMeans(4, n_init=1, max_iter=100, random_state=seed).fit(Z)
        pred = backend.to_numpy(km.labels_)
        t_ours += time.perf_counter() - t0
        results["mmscratch"].append(scores(pred, ours_fns))

        t0 = time.perf_counter()
        lsa = make_pipeline(SkSVD(100, random_state=seed), Normalizer(copy=False))
        Zr = lsa.fit_transform(X_ref)
        pred_r = SkKMeans(4, n_init=1, max_iter=100, random_state=seed).fit(Zr).labels_
        t_ref += time.perf_counter() - t0
        results["scikit-learn"].append(scores(pred_r, ref_fns))
    # scoring parity: our metrics on sklearn's labels equal sklearn's
    check = np.abs(scores(pred_r, ours_fns) - scores(pred_r, ref_fns)).max()
    return results, {"mmscratch": t_ours, "scikit-learn": t_ref}, check, X_ours.shape


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 epochs, 2 seeds")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--transformer-epochs", type=int, default=10,
                        help="epochs of the Transformer classifier (0: skip it)")
    parser.add_argument("--only-classification", action="store_true",
                        help="skip the clustering part (prints, writes nothing)")
    args = parser.parse_args()
    epochs = 2 if args.quick else args.epochs
    seeds = [0, 1] if args.quick else [0, 1, 2, 3, 4]
    d = load_text(strip_headers=True)

    cls_rows = classification(d, epochs, transformer_epochs=args.transformer_epochs)
    for r in cls_rows:
        print(f"{r[0]}: test accuracy {r[1]:.4f} ({r[2]:.1f} s)", flush=True)
    if args.only_classification:
        return
    res, times, check, shape = clustering(d, seeds)

    lines = [
        "## text_tasks: text classification and clustering (`benchmarks/text_tasks.py`)",
        "",
        f"20 Newsgroups, 4 groups, headers stripped; backend `{backend.name()}`; {machine()}; "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')} (on this "
        "shared, overloaded 2-core machine 2 BLAS threads made each QR ~20x slower). "
        "Seconds are noisy.",
        "",
        f"Classification, train {len(d.train_texts)} / test {len(d.test_texts)} (split by "
        "date). The Dense-softmax model is multinomial logistic regression without "
        "regularisation; scikit-learn's has L2 (C=1).",
        "",
        "| model | test accuracy | seconds |",
        "|---|---:|---:|",
        *[f"| {name} | {acc:.4f} | {sec:.1f} |" for name, acc, sec in cls_rows],
        "",
        f"Clustering of all {shape[0]} messages: TF-IDF (max_df=0.5, min_df=5, English "
        f"stop words; {shape[1]} terms) -> LSA(100) -> unit rows -> KMeans(4, n_init=1, "
        f"max_iter=100); seeds {seeds} for both LSA and KMeans. Mean ± std over seeds.",
        "",
        "| pipeline | homogeneity | completeness | V-measure | ARI | seconds (all seeds) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, vals in res.items():
        v = np.array(vals)
        cells = " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(v.mean(0), v.std(0)))
        lines.append(f"| {name} | {cells} | {times[name]:.1f} |")
    lines += ["", "Per seed (homogeneity, completeness, V-measure, ARI):", ""]
    for name, vals in res.items():
        per = "; ".join(", ".join(f"{x:.3f}" for x in row) for row in vals)
        lines.append(f"- {name}: {per}")
    lines += ["", f"mmscratch.metrics vs sklearn.metrics on the same labels: max |diff| "
              f"{check:.1e}."]
    md = "\n".join(lines)
    print(md)
    if not args.no_write:
        write_section("text_tasks", md)


if __name__ == "__main__":
    main()
