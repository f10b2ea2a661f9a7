"""CCA and SOM on real image + audio pairs: shared space, retrieval, clustering, a map.

Run: ``MMSCRATCH_DATA=/path/to/data python benchmarks/multimodal_cca_som.py``
(``--quick`` uses 500 pairs and fewer restarts; ``--no-write`` skips RESULTS.md;
``--figure PATH`` also saves the SOM picture).

Data: the 3,000 FSDD recordings, each paired with a different MNIST test image of the
same digit (seeded), exactly as ``benchmarks/multimodal_clustering.py`` builds them.
Image view: 784 pixels, standardized, PCA(50). Audio view: mean and std over frames of
13 MFCCs (26 numbers), standardized. The pairing is synthetic: the two views share only
the digit, so the directions CCA finds correlated are digit directions -- the pairing
is weak supervision. That is what it is for in the retrieval experiment; in the
clustering rows it means CCA saw which image goes with which clip, which the
per-modality and early-fusion rows did not.

1. CCA on 2,000 training pairs; canonical correlations on them and on the 1,000
   held-out pairs.
2. Cross-modal retrieval among the held-out pairs, in the CCA space (cosine similarity
   of the 9 leading scores): for each spoken digit the nearest images, and the other way
   round; precision@1 and precision@10 of the digit (chance 0.1).
3. k-means (10 clusters, 10 restarts) on the CCA space of all 3,000 pairs, next to the
   per-modality and early-fusion pipeline of ``multimodal_clustering`` on the same pairs.
4. A 15x15 SOM (batch rule) of the early-fused features, of the image and of the audio
   features: quantization and topographic errors, and cell purity (the share of samples
   whose cell's majority digit is their own digit).

Writes the section "multimodal_cca_som" of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _report  # noqa: E402
from benchmarks.multimodal_clustering import paired_image_audio  # noqa: E402
from mmscratch import backend  # noqa: E402
from mmscratch.metrics import adjusted_rand_score, normalized_mutual_info_score  # noqa: E402
from mmscratch.plots import plot_som, som_cell_labels  # noqa: E402
from mmscratch.unsupervised import (  # noqa: E402
    CCA,
    PCA,
    SOM,
    KMeans,
    format_clustering_table,
    multimodal_clustering,
    standardize,
)

SEED = 0
N_CCA = 9  # 10 digits: at most 9 directions separate them linearly


def views(pixels, audio, image_components=50):
    """Host arrays -> (image view (N, 50), audio view (N, 26)) on the backend."""
    img = PCA(image_components, random_state=SEED).fit_transform(
        standardize(backend.asarray(pixels)))
    return img, standardize(backend.asarray(audio))


def unit_rows(Z):
    xp = backend.xp()
    return Z / xp.sqrt((Z * Z).sum(axis=1, keepdims=True))


def retrieval(query, gallery, q_labels, g_labels, k=10):
    """Precision@1 and @k of the label: for each query row, the share of its k most
    cosine-similar gallery rows with the query's label."""
    xp = backend.xp()
    sim = unit_rows(query) @ unit_rows(gallery).T  # (Nq, Ng)
    top = xp.argsort(-sim, axis=1)[:, :k]  # (Nq, k)
    hit = (g_labels[top] == q_labels[:, None]).astype(xp.float64)
    return float(backend.to_numpy(hit[:, 0].mean())), float(backend.to_numpy(hit.mean()))


def kmeans_row(name, Z, labels, n_init):
    pred = KMeans(10, n_init=n_init, random_state=SEED).fit_predict(Z)
    return {"features": name, "n_features": int(Z.shape[1]), "n_components": int(Z.shape[1]),
            "ari": adjusted_rand_score(labels, pred),
            "nmi": normalized_mutual_info_score(labels, pred)}


def fused_features(pixels, audio, k=20):
    """multimodal_clustering's early fusion: standardize -> PCA(k) per modality, each
    block divided by the square root of its total variance, concatenated."""
    xp = backend.xp()
    blocks = []
    for X in (pixels, audio):
        Z = PCA(min(k, X.shape[1]), random_state=SEED).fit_transform(
            standardize(backend.asarray(X)))
        blocks.append(Z / math.sqrt(float(backend.to_numpy(Z.var(axis=0).sum()))))
    return xp.concatenate(blocks, axis=1)


def som_row(name, Z, labels, epochs, size=15):
    som = SOM(size, size, sigma=3.0, learning_rate=1.0, random_state=SEED)
    som.pca_weights_init(Z).fit(Z, epochs, method="batch")
    pos = som.predict(Z)
    majority, _ = som_cell_labels(pos, labels, (size, size))
    p = backend.to_numpy(pos)
    purity = float((majority[p[:, 0], p[:, 1]] == backend.to_numpy(labels)).mean())
    return som, pos, (name, int(Z.shape[1]), som.quantization_error(Z),
                      som.topographic_error(Z), purity)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--figure", default=None, help="save the fused SOM picture here")
    args = parser.parse_args(argv)
    n_init = 3 if args.quick else 10
    epochs = 5 if args.quick else 30
    t0 = time.perf_counter()
    xp = backend.xp()

    pixels, audio, digits = paired_image_audio(args.data_dir, 500 if args.quick else None)
    y = backend.asarray(digits)
    img, aud = views(pixels, audio)
    n = len(digits)
    perm = np.random.default_rng(SEED).permutation(n)
    n_train = (2 * n) // 3
    tr, te = backend.asarray(perm[:n_train]), backend.asarray(perm[n_train:])

    # 1. canonical correlations, training and held-out pairs
    cca = CCA(n_components=N_CCA).fit(img[tr], aud[tr])
    rho_train = backend.to_numpy(cca.canonical_correlations_)
    u_te, v_te = cca.transform(img[te], aud[te])
    u_h, v_h = backend.to_numpy(u_te), backend.to_numpy(v_te)
    rho_test = np.array([np.corrcoef(u_h[:, j], v_h[:, j])[0, 1] for j in range(N_CCA)])
    print("canonical correlations, train:", np.round(rho_train, 3))
    print("canonical correlations, held out:", np.round(rho_test, 3), flush=True)

    # 2. retrieval among held-out pairs
    a2i = retrieval(v_te, u_te, y[te], y[te])
    i2a = retrieval(u_te, v_te, y[te], y[te])
    print(f"audio->image P@1 {a2i[0]:.3f} P@10 {a2i[1]:.3f}; "
          f"image->audio P@1 {i2a[0]:.3f} P@10 {i2a[1]:.3f}", flush=True)

    # 3. clustering
    rows = multimodal_clustering({"image": backend.asarray(pixels),
                                  "audio": backend.asarray(audio)}, y, n_clusters=10,
                                 n_components=20, random_state=SEED, n_init=n_init)
    cca_all = CCA(n_components=N_CCA).fit(img, aud)
    u, v = cca_all.transform(img, aud)
    rows += [kmeans_row("CCA image scores u (image only at use)", u, y, n_init),
             kmeans_row("CCA audio scores v (audio only at use)", v, y, n_init),
             kmeans_row("CCA both [u, v]", xp.concatenate([u, v], axis=1), y, n_init),
             kmeans_row("CCA mean (u + v) / 2", (u + v) / 2, y, n_init)]
    print(format_clustering_table(rows), flush=True)

    # 4. SOMs
    fused = fused_features(pixels, audio)
    som_rows = []
    maps = {}
    for name, Z in (("image (PCA 20)", fused[:, :20]), ("audio (PCA 20)", fused[:, 20:]),
                    ("fused image + audio", fused), ("CCA [u, v]",
                                                     xp.concatenate([u, v], axis=1))):
        som, pos, r = som_row(name, Z, y, epochs)
        som_rows.append(r)
        maps[name] = (som, pos)
        print(r, flush=True)
    if args.figure:
        som, pos = maps["fused image + audio"]
        plot_som(som.distance_map("mean"), pos, digits, path=args.figure,
                 title=f"SOM of fused image + audio, {n:,} pairs:\n"
                       "U-matrix (mean) and majority digit per cell")
    seconds = time.perf_counter() - t0

    fmt = ", ".join
    lines = [
        "## multimodal_cca_som",
        "",
        f"Written by `benchmarks/multimodal_cca_som.py{' --quick' if args.quick else ''}` "
        f"({seconds:.0f} s, backend {backend.name()}, {_report.machine()}). {n:,} FSDD "
        "clips, each paired with a different MNIST test image of the same digit (seeded, as "
        "`multimodal_clustering.py`). Image view: standardized pixels -> PCA(50); audio "
        "view: 26 MFCC statistics, standardized. The pairs share only the digit, so the "
        "pairing itself is weak supervision: CCA finds the directions in which image and "
        "audio agree, and here those are the digit's.",
        "",
        f"**Canonical correlations** (CCA({N_CCA}) fitted on {n_train:,} pairs):",
        "",
        f"- training pairs: {fmt(f'{r:.3f}' for r in rho_train)}",
        f"- held-out pairs ({n - n_train:,}): {fmt(f'{r:.3f}' for r in rho_test)}",
        "",
        f"**Cross-modal retrieval** among the {n - n_train:,} held-out pairs, cosine "
        f"similarity of the {N_CCA} CCA scores; precision of the digit (chance 0.100):",
        "",
        "| query -> gallery | P@1 | P@10 |",
        "|---|---|---|",
        f"| spoken digit -> images | {a2i[0]:.3f} | {a2i[1]:.3f} |",
        f"| image -> spoken digits | {i2a[0]:.3f} | {i2a[1]:.3f} |",
        "",
        f"**Clustering**, all {n:,} pairs, KMeans(10, n_init={n_init}), ARI/NMI against the "
        "digits. The first three rows are `multimodal_clustering` (standardize -> PCA(20) "
        "-> k-means; fused = early fusion), as in the section multimodal_clustering; the "
        f"CCA rows cluster the {N_CCA} canonical scores of CCA fitted on all pairs (its "
        "fit used the pairing, the other rows did not). 'image only at use': only the "
        "image is needed once CCA is fitted.",
        "",
        format_clustering_table(rows),
        "",
        f"**SOM**, 15x15, batch rule ({epochs} epochs, sigma 3 -> 1, learning_rate 1, "
        "PCA initialisation), on the early-fused features (each block as in the fused "
        "row above). Purity: the share of samples whose cell's majority digit is their "
        "own (a 225-cell map; k-means above has 10 clusters, so the numbers are not "
        "comparable with ARI).",
        "",
        "| features | dim | quantization error | topographic error | purity |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c:.3f} | {d:.3f} | {e:.3f} |" for a, b, c, d, e in som_rows]
    if args.figure:
        lines += ["", f"Figure: `{args.figure}` (U-matrix of the fused map, majority digit "
                  "per cell)."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        _report.write_section("multimodal_cca_som", text)


if __name__ == "__main__":
    main()
