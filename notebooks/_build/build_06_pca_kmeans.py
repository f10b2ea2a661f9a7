"""Build (and execute) notebooks/06_pca_kmeans.ipynb.

Run from the repository root: ``python notebooks/_build/build_06_pca_kmeans.py``
(``QUICK=1`` for the quick mode, ``--no-execute`` to only write the cells). Without
``MMSCRATCH_DATA`` the notebook falls back to the embedded 8x8 digits.
"""

from __future__ import annotations

from _nb import SETUP, build, code, md

cells = [
    md(r"""
    # 06 · PCA and k-means: unsupervised learning on digits, sounds and text

    Section 3.3.2 of the document names two unsupervised tasks: **dimensionality
    reduction** (principal component analysis) and **clustering**, with the objective

    $$\min \sum_{i=1}^{n} \|x_i - c_i\|^2$$

    where $c_i$ is the centre of the cluster of $x_i$. This notebook runs both from
    scratch (`mmscratch.unsupervised.PCA`, `KMeans`), checks them against
    scikit-learn, and ends with *multimodal* clustering: images, audio and the fused
    features, scored with the adjusted Rand index (ARI) and normalized mutual
    information (NMI) from `mmscratch.metrics`.

    Chapter: `chapters/03-3-tasks.md`.
    """),
    code(SETUP),
    md("""
    ## 1. Data

    MNIST (28×28 handwritten digits) from `$MMSCRATCH_DATA`; without it, the 8×8
    digits embedded in scikit-learn. QUICK mode uses 2,000 images.
    """),
    code("""
    from pathlib import Path

    from mmscratch import metrics
    from mmscratch.unsupervised import PCA, KMeans

    DATA = os.environ.get("MMSCRATCH_DATA")
    HAVE_DATA = bool(DATA) and Path(DATA, "mnist").is_dir()
    if HAVE_DATA:
        from mmscratch.datasets import load_mnist
        images, labels = load_mnist(DATA, kind="test")
        side = 28
    else:
        from sklearn.datasets import load_digits
        digits = load_digits()
        images, labels = digits.images / 16.0, digits.target
        side = 8
    n = min(2000 if QUICK else 10000, len(labels))
    X_host = images[:n].reshape(n, -1).astype(np.float64)   # (n, side*side)
    y_host = labels[:n]
    X, y = backend.asarray(X_host), backend.asarray(y_host)
    print(f"{'MNIST' if HAVE_DATA else 'sklearn digits'}: X {X.shape}, labels {np.bincount(y_host)}")
    """),
    md(r"""
    ## 2. PCA: centre, SVD, keep the largest directions

    $X - \bar x = U S V^\top$; the rows of $V^\top$ are the principal axes and
    $\lambda_j = s_j^2/(n-1)$ the variance along each. The **scree plot** shows how
    fast the variance is used up.
    """),
    code("""
    k_max = min(50, X.shape[1])
    pca = PCA(k_max, svd_solver="full").fit(X)
    ratio = backend.to_numpy(pca.explained_variance_ratio_)
    print("solver:", pca.svd_solver_, "| first 5 ratios:", ratio[:5].round(4))
    print(f"{k_max} components keep {ratio.sum():.1%} of the variance")

    from sklearn.decomposition import PCA as SkPCA
    ref = SkPCA(k_max, svd_solver="full").fit(X_host)
    print("max relative difference to scikit-learn:",
          f"{np.abs(ratio / ref.explained_variance_ratio_ - 1).max():.1e}")

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(np.arange(1, k_max + 1), ratio, color="tab:blue", label="per component")
    ax.plot(np.arange(1, k_max + 1), np.cumsum(ratio), "k.-", ms=3, label="cumulative")
    ax.set_xlabel("component"); ax.set_ylabel("explained variance ratio")
    ax.set_title("scree plot"); ax.legend(); plt.tight_layout(); plt.show()
    """),
    md("### 2-D map: every image projected on the first two components"),
    code("""
    Z2 = backend.to_numpy(PCA(2).fit_transform(X))
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sc = ax.scatter(Z2[:, 0], Z2[:, 1], c=y_host, cmap="tab10", s=4, alpha=0.7)
    fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("PC 1"); ax.set_ylabel("PC 2"); ax.set_title("PCA(2) of the digits")
    plt.tight_layout(); plt.show()
    """),
    md("""
    ### Eigen-digits

    The mean image and the first principal axes, drawn as images (red = positive,
    blue = negative weight).
    """),
    code("""
    comps = backend.to_numpy(pca.components_)
    fig, axes = plt.subplots(1, 9, figsize=(10, 1.6))
    axes[0].imshow(backend.to_numpy(pca.mean_).reshape(side, side), cmap="gray")
    axes[0].set_title("mean", fontsize=8)
    for j, ax in enumerate(axes[1:]):
        lim = np.abs(comps[j]).max()
        ax.imshow(comps[j].reshape(side, side), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"PC {j + 1}", fontsize=8)
    for ax in axes:
        ax.set_xticks([]); ax.set_yticks([])
    plt.show()
    """),
    md("### Reconstructions from k components: $\\hat x = \\bar x + z V_k^\\top$"),
    code("""
    ks = [2, 5, 10, 20, k_max]
    fig, axes = plt.subplots(len(ks) + 1, 6, figsize=(6, 6.5))
    for c in range(6):
        axes[0, c].imshow(X_host[c].reshape(side, side), cmap="gray")
    axes[0, 0].set_ylabel("original", fontsize=8)
    for r, k in enumerate(ks, start=1):
        p = PCA(k).fit(X)
        rec = backend.to_numpy(p.inverse_transform(p.transform(X[:6])))
        err = float(backend.to_numpy(((p.inverse_transform(p.transform(X)) - X) ** 2).sum(1).mean()))
        for c in range(6):
            axes[r, c].imshow(rec[c].reshape(side, side), cmap="gray")
        axes[r, 0].set_ylabel(f"k={k}\\nmse {err:.1f}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]); ax.set_yticks([])
    plt.tight_layout(); plt.show()
    """),
    md(r"""
    ## 3. k-means

    Lloyd's algorithm alternates the two exact minimisations of
    $\sum_i \|x_i - c_i\|^2$: assign each point to its nearest centre (one matrix
    product gives all $\|c_j\|^2 - 2 x_i\cdot c_j$), then move each centre to the mean
    of its points (a one-hot matrix product). k-means++ picks the starting centres
    far apart. With the same start, every step equals scikit-learn's.
    """),
    code("""
    from sklearn.cluster import KMeans as SkKMeans

    n_init = 3 if QUICK else 10
    km = KMeans(10, n_init=n_init, random_state=0).fit(X)
    sk = SkKMeans(10, n_init=n_init, random_state=0).fit(X_host)
    print(f"inertia: mmscratch {km.inertia_:.6g}, scikit-learn {sk.inertia_:.6g} "
          f"(ratio {km.inertia_ / sk.inertia_:.4f}); iterations {km.n_iter_}")

    init = X_host[:10]
    a = KMeans(10, init=backend.asarray(init), n_init=1).fit(X)
    b = SkKMeans(10, init=init, n_init=1, algorithm="lloyd").fit(X_host)
    print("same start -> same labels as scikit-learn:",
          bool((backend.to_numpy(a.labels_) == b.labels_).all()),
          f"| inertia difference {abs(a.inertia_ - b.inertia_):.2e}")

    pred = km.labels_
    print(f"ARI {metrics.adjusted_rand_score(y, pred):.3f}  "
          f"NMI {metrics.normalized_mutual_info_score(y, pred):.3f}  "
          f"V-measure {metrics.v_measure_score(y, pred):.3f}")
    m = min(n, 3000)
    print(f"silhouette (first {m} points): {metrics.silhouette_score(X[:m], pred[:m]):.3f}")
    """),
    md("""
    ### The cluster centres are images

    Each centre is the mean of its images. The bar below each one is the share of
    the true digits inside the cluster (clusters have no names: k-means does not
    know the labels).
    """),
    code("""
    centres = backend.to_numpy(km.cluster_centers_)
    table = metrics.contingency_matrix(y, pred)      # (true digit, cluster)
    order = np.argsort(table.argmax(axis=0))        # sort clusters by majority digit
    fig, axes = plt.subplots(2, 10, figsize=(10, 2.4), gridspec_kw={"height_ratios": [3, 1]})
    for col, j in enumerate(order):
        axes[0, col].imshow(centres[j].reshape(side, side), cmap="gray")
        axes[0, col].set_title(f"c{j}: {table[:, j].argmax()}", fontsize=8)
        axes[1, col].bar(range(10), table[:, j] / table[:, j].sum(), color="tab:blue")
        axes[1, col].set_ylim(0, 1)
    for ax in axes.flat:
        ax.set_xticks([]); ax.set_yticks([])
    plt.show()
    """),
    md("""
    ## 4. Multimodal clustering

    `multimodal_clustering` standardizes each modality, reduces it with PCA, clusters
    it alone, then clusters the **early fusion** (concatenation of the PCA blocks,
    each scaled to unit total variance so that no modality dominates by its size).

    * With `$MMSCRATCH_DATA`: every FSDD recording (spoken digit) is paired with an
      MNIST image of the same digit (seeded; the pairing is synthetic — only the class
      is shared). Audio = mean and std over frames of 13 MFCCs. Text is a separate
      corpus (20 Newsgroups, 4 groups) and is clustered alone.
    * Without it: the embedded `digits` set (real 8×8 images, synthetic speech and
      template captions, all paired by digit).
    """),
    code("""
    from mmscratch.unsupervised import format_clustering_table, multimodal_clustering

    if HAVE_DATA:
        from benchmarks.multimodal_clustering import paired_image_audio, text_tfidf
        pixels, audio, digits_av = paired_image_audio(DATA, 500 if QUICK else None)
        rows = multimodal_clustering(
            {"image": backend.asarray(pixels), "audio": backend.asarray(audio)},
            backend.asarray(digits_av), n_clusters=10, n_components=20,
            random_state=0, n_init=n_init)
        print(format_clustering_table(rows, f"image + audio, {len(digits_av)} pairs"))
        X_text, text_labels, names = text_tfidf(DATA, 800 if QUICK else None)
        rows_text = multimodal_clustering(
            {"text": backend.asarray(X_text)}, backend.asarray(text_labels),
            n_clusters=4, n_components=20, random_state=0, n_init=n_init)
        print()
        print(format_clustering_table(rows_text, f"text alone, {len(text_labels)} messages"))
    else:
        from mmscratch.datasets.digits import load_digits_multimodal
        part = load_digits_multimodal(seed=0)["train"]
        audio = backend.to_numpy(part["audio"])             # (N, T, 13) MFCCs
        audio_stats = np.hstack([audio.mean(1), audio.std(1)])
        text = part["text"]
        text = text.toarray() if hasattr(text, "toarray") else text
        feats = {"image": backend.asarray(np.asarray(part["image"]).reshape(len(audio), -1)),
                 "audio": backend.asarray(audio_stats),
                 "text": backend.asarray(backend.to_numpy(text))}
        # TF-IDF of short captions: z-scoring would blow up the rarest tokens.
        rows = multimodal_clustering(feats, backend.asarray(part["label"]), n_clusters=10,
                                     n_components=20, random_state=0, n_init=n_init,
                                     standardize_features={"text": False})
        print(format_clustering_table(rows, "embedded digits (image, audio, text)"))
    """),
    md("""
    Reading the table: ARI is 0 for a random clustering and 1 for the true classes;
    NMI is the mutual information of clusters and classes over their mean entropy.
    Fusion helps when the modalities make *different* mistakes; when one modality is
    much weaker, giving it equal weight can also pull the fused clustering down —
    the numbers above say which happened here (see also
    `benchmarks/RESULTS.md`, section `multimodal_clustering`).
    """),
]

if __name__ == "__main__":
    build("06_pca_kmeans", cells)
