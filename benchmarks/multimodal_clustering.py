"""Multimodal clustering on the real data: per-modality vs early-fused ARI/NMI.

Run: ``MMSCRATCH_DATA=/path/to/data python benchmarks/multimodal_clustering.py``
(``--quick`` uses fewer examples and k-means restarts; ``--no-write`` skips RESULTS.md).

Two experiments, each scored against the true classes with
:func:`mmscratch.unsupervised.multimodal_clustering` (standardize -> PCA -> k-means,
fused = concatenation of the equally weighted PCA blocks):

1. **image + audio, paired by digit.** Every FSDD recording (3,000 spoken digits, 6
   speakers) is paired with an MNIST test image of the same digit, drawn without
   replacement with a fixed seed. The pairing is synthetic: the two modalities
   share only the class, not a common source. Image features: the 784 pixels / 255.
   Audio features: MFCC statistics, the mean and standard deviation over each clip's
   frames of 13 MFCCs (26 numbers), from :func:`mmscratch.features.mfcc.mfcc`.
2. **text, alone.** The 4-group 20 Newsgroups corpus (train + test, 3,387 messages,
   headers stripped) as TF-IDF (1,000 words, English stop words) from
   :class:`mmscratch.features.TfidfVectorizer`. It has its own classes (4 groups, not
   digits), so it is not fused with the other two.

Writes the section "multimodal_clustering" of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _report  # noqa: E402
from mmscratch import backend  # noqa: E402
from mmscratch.datasets import load_mnist, load_text  # noqa: E402
from mmscratch.datasets.fsdd import load_fsdd  # noqa: E402
from mmscratch.unsupervised import format_clustering_table, multimodal_clustering  # noqa: E402

SEED = 0
MFCC_SETTINGS = dict(n_mfcc=13, n_fft=256, hop_length=80, n_mels=40, fmin=0.0, fmax=4000.0)


def mfcc_statistics(waveforms, lengths, sample_rate):
    """(N, 26): mean and std over each clip's own frames of 13 MFCCs (host arrays in/out)."""
    from mmscratch.features import mfcc_ragged

    x = backend.asarray(np.ascontiguousarray(waveforms, dtype=np.float64))
    feats, n_frames = mfcc_ragged(x, sample_rate, lengths=np.asarray(lengths), **MFCC_SETTINGS)
    feats = backend.to_numpy(feats)  # (N, 13, T_max), zero after each clip's frames
    n_frames = backend.to_numpy(n_frames).astype(np.int64)
    mask = np.arange(feats.shape[2])[None, None, :] < n_frames[:, None, None]  # (N, 1, T)
    count = n_frames[:, None].astype(np.float64)
    mean = (feats * mask).sum(-1) / count
    var = (((feats - mean[..., None]) ** 2) * mask).sum(-1) / count
    return np.hstack([mean, np.sqrt(var)])


def paired_image_audio(data_dir, n_clips=None):
    """FSDD clips (all 3,000, or a stratified subset) with same-digit MNIST images."""
    rng = np.random.default_rng(SEED)
    fsdd = load_fsdd(data_dir, split="official", normalize="peak")
    parts = (fsdd.train, fsdd.test)
    width = max(p.waveforms.shape[1] for p in parts)
    waves = np.vstack([np.pad(p.waveforms, ((0, 0), (0, width - p.waveforms.shape[1])))
                       for p in parts])
    lengths = np.concatenate([p.lengths for p in parts])
    digits = np.concatenate([p.labels for p in parts])
    if n_clips is not None and n_clips < len(digits):
        keep = np.sort(np.concatenate([
            rng.choice(np.flatnonzero(digits == d), n_clips // 10, replace=False)
            for d in range(10)]))
        waves, lengths, digits = waves[keep], lengths[keep], digits[keep]
    images, image_labels = load_mnist(data_dir, kind="test")
    # For every clip an image of the same digit, each image used at most once.
    chosen = np.empty(len(digits), dtype=np.int64)
    for d in range(10):
        slots = np.flatnonzero(digits == d)
        chosen[slots] = rng.choice(np.flatnonzero(image_labels == d), len(slots), replace=False)
    pixels = images[chosen].reshape(len(chosen), -1).astype(np.float64)
    audio = mfcc_statistics(waves, lengths, fsdd.sample_rate)
    return pixels, audio, digits


def text_tfidf(data_dir, n_docs=None):
    from mmscratch.features import TfidfVectorizer

    corpus = load_text(data_dir, strip_headers=True)
    texts = list(corpus.train_texts) + list(corpus.test_texts)
    labels = np.concatenate([corpus.train_labels, corpus.test_labels])
    if n_docs is not None and n_docs < len(texts):
        keep = np.sort(np.random.default_rng(SEED).choice(len(texts), n_docs, replace=False))
        texts, labels = [texts[i] for i in keep], labels[keep]
    tfidf = TfidfVectorizer(max_features=1000, stop_words="english", min_df=2)
    X = tfidf.fit_transform(texts)
    X = X.toarray() if hasattr(X, "toarray") else X
    return backend.to_numpy(X) if backend.is_array(X) else np.asarray(X), labels, \
        corpus.label_names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--components", type=int, default=20)
    args = parser.parse_args(argv)
    n_init = 3 if args.quick else 10
    t0 = time.perf_counter()

    pixels, audio, digits = paired_image_audio(args.data_dir, 500 if args.quick else None)
    av = multimodal_clustering(
        {"image": backend.asarray(pixels),
         "audio": backend.asarray(audio)},
        backend.asarray(digits), n_clusters=10, n_components=args.components,
        random_state=SEED, n_init=n_init)
    print(format_clustering_table(av), flush=True)

    X_text, text_labels, names = text_tfidf(args.data_dir, 800 if args.quick else None)
    Xt = backend.asarray(X_text)
    text_rows = multimodal_clustering({"text (standardized)": Xt},
                                      backend.asarray(text_labels), n_clusters=4,
                                      n_components=args.components, random_state=SEED,
                                      n_init=n_init)
    text_rows += multimodal_clustering({"text (not standardized)": Xt},
                                       backend.asarray(text_labels), n_clusters=4,
                                       n_components=args.components, random_state=SEED,
                                       n_init=n_init, standardize_features=False)
    print(format_clustering_table(text_rows), flush=True)
    seconds = time.perf_counter() - t0

    lines = [
        "## multimodal_clustering",
        "",
        f"Written by `benchmarks/multimodal_clustering.py`{' --quick' if args.quick else ''} "
        f"({seconds:.0f} s, backend {backend.name()}, {_report.machine()}). Pipeline per "
        f"modality: standardize columns -> PCA({args.components}) -> KMeans(k, "
        f"n_init={n_init}); fused = the PCA blocks, each divided by the square root of its "
        "total variance, concatenated (early fusion). Scores against the true classes "
        "(ARI: adjusted Rand index, NMI: normalized mutual information, arithmetic mean).",
        "",
        f"**Image + audio, {len(digits):,} pairs, 10 digit classes.** Each FSDD recording "
        "is paired with a different MNIST test image of the same digit (seeded); the "
        "pairing is synthetic (shared class only). Audio: mean and std over frames of 13 "
        "MFCCs from `mmscratch.features.mfcc` (n_fft 256, hop 80, 40 mel bands, 8 kHz).",
        "",
        format_clustering_table(av),
        "",
        f"**Text, {len(text_labels):,} messages, {len(names)} newsgroups** "
        f"({', '.join(names)}); headers stripped; TF-IDF of the 1,000 most frequent "
        "words (English stop words removed, min_df 2) from `mmscratch.features."
        "TfidfVectorizer`. A separate corpus with its own classes, so not fused with the "
        "digits.",
        "",
        format_clustering_table(text_rows),
    ]
    text = "\n".join(lines)
    print(f"{seconds:.1f} s")
    if not args.no_write:
        _report.write_section("multimodal_clustering", text)


if __name__ == "__main__":
    main()
