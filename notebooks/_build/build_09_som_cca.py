"""Build (and execute) notebooks/09_som_cca.ipynb.

Run from the repository root: ``python notebooks/_build/build_09_som_cca.py``
(``QUICK=1`` for the quick mode, ``--no-execute`` to only write the cells). Without
``MMSCRATCH_DATA`` the notebook falls back to the embedded digits (8x8 images paired
with synthetic speech).
"""

from __future__ import annotations

from _nb import SETUP, build, code, md

cells = [
    md(r"""
    # 09 · Self-organizing maps and canonical correlation analysis

    Two classic unsupervised tools for multimodal data, both from scratch in
    `mmscratch.unsupervised`:

    * **SOM** (`SOM`, section 3.3.2 of the document lists it with clustering): a grid of
      units that learns a 2-D picture of the data. For each sample $x$,
      $c = \arg\min_u \|x - w_u\|$ and every unit moves towards $x$,
      $w_u \leftarrow w_u + \eta(t)\, h_{c,u}(\sigma(t))\,(x - w_u)$, pulled harder the
      closer it sits to the winner $c$ on the grid. It is k-means with a neighbourhood.
    * **CCA** (`CCA`, the first concrete form of section 5's *cross-modal feature
      learning*): directions $a, b$ in which two views agree most,
      $\max \operatorname{corr}(Xa, Yb)$, solved by whitening both views and one SVD.

    Chapters: `chapters/03-3-tasks.md` (SOM) and `chapters/05-future.md` (CCA).
    """),
    code(SETUP),
    md(r"""
    ## 1. A SOM orders colours

    400 random RGB colours, a 12×12 map. Before training the units are random; after,
    neighbouring units hold similar colours: the map has *unfolded* over the data.
    The same seed and sample order give the same map as MiniSom (checked below).
    """),
    code("""
    from mmscratch.unsupervised import SOM, CCA, KMeans

    rng = np.random.default_rng(0)
    colours = rng.random((400, 3))
    som = SOM(12, 12, sigma=3.0, learning_rate=0.5, random_state=0)
    som.random_weights_init(colours)
    before = backend.to_numpy(som.weights_).copy()
    som.fit(backend.asarray(colours), 500 if QUICK else 4000)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    axes[0].imshow(before); axes[0].set_title("start: random samples")
    axes[1].imshow(np.clip(backend.to_numpy(som.weights_), 0, 1)); axes[1].set_title("trained map")
    axes[2].imshow(backend.to_numpy(som.distance_map()), cmap="Greys")
    axes[2].set_title("U-matrix (dark = border)")
    for ax in axes:
        ax.set_xticks([]); ax.set_yticks([])
    plt.tight_layout(); plt.show()
    print(f"quantization error {som.quantization_error(colours):.4f}, "
          f"topographic error {som.topographic_error(colours):.3f}")
    """),
    md("""
    ### Same arithmetic as MiniSom

    MiniSom draws its initial weights and the sample order from one seeded
    `RandomState`; `SOM(random_state=seed)` draws them the same way, so the two maps
    agree to round-off.
    """),
    code("""
    try:
        from minisom import MiniSom   # the reference (pip install minisom); optional here
    except ImportError:
        MiniSom = None
        print("MiniSom is not installed: skipping the comparison (pip install minisom)")
    if MiniSom is not None:
        ref = MiniSom(12, 12, 3, sigma=3.0, learning_rate=0.5, random_seed=0)
        ref.random_weights_init(colours)
        ref.train(colours, 500 if QUICK else 4000, random_order=True)
        print("max |weights difference|:",
              np.abs(backend.to_numpy(som.weights_) - ref.get_weights()).max())
        print("U-matrix difference:",
              np.abs(backend.to_numpy(som.distance_map()) - ref.distance_map()).max())
    """),
    md(r"""
    ### The four neighbourhoods $h_{c,u}(\sigma)$

    Gaussian $e^{-p/2\sigma^2}$ and Mexican hat $e^{-p/2\sigma^2}(1 - p/\sigma^2)$ of
    the squared grid distance $p$; bubble (1 inside a square of half-width $\sigma$)
    and triangle (linear fall-off along each grid axis). On a hexagonal grid the
    first two use the hexagon centres.
    """),
    code("""
    xp = backend.xp()
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
    for ax, f in zip(axes, ["gaussian", "mexican_hat", "bubble", "triangle"]):
        h = SOM(15, 15, neighborhood_function=f).neighborhood((7, 7), 3.0)   # (15, 15)
        ax.imshow(backend.to_numpy(h), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f, fontsize=9); ax.set_xticks([]); ax.set_yticks([])
    plt.tight_layout(); plt.show()
    """),
    md("""
    ## 2. Data: images paired with spoken digits

    With `$MMSCRATCH_DATA`: every FSDD recording paired with a different MNIST test
    image of the same digit (as `benchmarks/multimodal_clustering.py`); image view:
    standardized pixels → PCA(50), audio view: mean and std of 13 MFCCs. Without data:
    the embedded 8×8 digits and their synthetic speech. QUICK mode uses fewer pairs.
    """),
    code("""
    from pathlib import Path

    from mmscratch.unsupervised import PCA, standardize

    DATA = os.environ.get("MMSCRATCH_DATA")
    HAVE_DATA = bool(DATA) and Path(DATA, "mnist").is_dir() and Path(DATA, "fsdd").is_dir()
    if HAVE_DATA:
        from benchmarks.multimodal_clustering import paired_image_audio
        pixels, audio, digits = paired_image_audio(DATA, 600 if QUICK else None)
        side = 28
    else:
        from mmscratch.datasets.digits import load_digits_multimodal
        part = load_digits_multimodal(seed=0)["train"]
        a = backend.to_numpy(part["audio"])                 # (N, T, 13) MFCCs
        audio = np.hstack([a.mean(1), a.std(1)])
        pixels = np.asarray(backend.to_numpy(part["image"])).reshape(len(a), -1)
        digits = np.asarray(backend.to_numpy(part["label"]))
        side = 8
    keep = pixels.std(axis=0) > 0                           # constant pixels carry nothing
    img = PCA(min(50, int(keep.sum())), random_state=0).fit_transform(
        standardize(backend.asarray(pixels[:, keep].astype(np.float64))))
    aud = standardize(backend.asarray(audio.astype(np.float64)))
    y = backend.asarray(digits)
    print(f"{len(digits)} pairs; image view {img.shape}, audio view {aud.shape}")
    """),
    md(r"""
    ## 3. CCA: the directions where image and audio agree

    $C_{xx}^{-1/2} C_{xy} C_{yy}^{-1/2} = U S V^\top$; the singular values are the
    canonical correlations, $a_k = C_{xx}^{-1/2} u_k$, $b_k = C_{yy}^{-1/2} v_k$. Fit on
    two thirds of the pairs, look at the correlations on the held-out third. The
    pairs share only the digit, so at most 9 directions can carry it (10 classes).
    """),
    code("""
    n = len(digits)
    perm = np.random.default_rng(0).permutation(n)
    tr, te = backend.asarray(perm[: 2 * n // 3]), backend.asarray(perm[2 * n // 3:])
    cca = CCA(n_components=9).fit(img[tr], aud[tr])
    u_te, v_te = cca.transform(img[te], aud[te])
    u_h, v_h = backend.to_numpy(u_te), backend.to_numpy(v_te)
    rho_test = [np.corrcoef(u_h[:, j], v_h[:, j])[0, 1] for j in range(9)]
    print("training  :", backend.to_numpy(cca.canonical_correlations_).round(3))
    print("held out  :", np.round(rho_test, 3))
    fig, ax = plt.subplots(figsize=(4.5, 4))
    sc = ax.scatter(u_h[:, 0], v_h[:, 0], c=digits[perm[2 * n // 3:]], cmap="tab10", s=8)
    fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("image score u_1"); ax.set_ylabel("audio score v_1")
    ax.set_title("first canonical pair, held-out pairs"); plt.tight_layout(); plt.show()
    """),
    md("""
    ### Same numbers as scikit-learn

    scikit-learn's `CCA` finds the same directions by power iterations (NIPALS); run to
    convergence, its canonical correlations equal ours.
    """),
    code("""
    from sklearn.cross_decomposition import CCA as SkCCA

    Xh, Yh = backend.to_numpy(img[tr]), backend.to_numpy(aud[tr])
    ref = SkCCA(n_components=3, max_iter=5000, tol=1e-12).fit(Xh, Yh)
    ru, rv = ref.transform(Xh, Yh)
    ref_rho = [np.corrcoef(ru[:, j], rv[:, j])[0, 1] for j in range(3)]
    print("max |difference| of the first 3 correlations:",
          np.abs(backend.to_numpy(cca.canonical_correlations_)[:3] - ref_rho).max())
    """),
    md("""
    ## 4. Cross-modal retrieval in the CCA space

    For each held-out spoken digit, the held-out images with the most similar CCA
    scores (cosine). Precision@1: how often the nearest image shows the spoken digit
    (chance: 0.1).
    """),
    code("""
    def unit(Z):
        return Z / xp.sqrt((Z * Z).sum(axis=1, keepdims=True))

    sim = backend.to_numpy(unit(v_te) @ unit(u_te).T)       # (clips, images)
    y_te = digits[perm[2 * n // 3:]]
    top = np.argsort(-sim, axis=1)[:, :10]
    print(f"audio -> image  P@1 {np.mean(y_te[top[:, 0]] == y_te):.3f}, "
          f"P@10 {np.mean(y_te[top] == y_te[:, None]):.3f}")
    sim_t = sim.T
    top_t = np.argsort(-sim_t, axis=1)[:, :1]
    print(f"image -> audio  P@1 {np.mean(y_te[top_t[:, 0]] == y_te):.3f}")

    images_te = pixels[perm[2 * n // 3:]]
    fig, axes = plt.subplots(4, 6, figsize=(6, 4.4))
    for r, q in enumerate(range(4)):
        axes[r, 0].text(0.5, 0.5, f"spoken\\n'{y_te[q]}'", ha="center", va="center")
        axes[r, 0].axis("off")
        for c in range(5):
            axes[r, c + 1].imshow(images_te[top[q, c]].reshape(side, side), cmap="gray")
            axes[r, c + 1].axis("off")
    fig.suptitle("nearest images to four spoken digits (CCA space)"); plt.show()
    """),
    md("""
    ## 5. Clustering in the CCA space

    k-means (10 clusters) on the image view alone, the audio view alone, both
    concatenated (early fusion), and on the CCA scores of all pairs. CCA's fit used the
    pairing — weak supervision the other rows did not get.
    """),
    code("""
    from mmscratch import metrics

    cca_all = CCA(n_components=9).fit(img, aud)
    u, v = cca_all.transform(img, aud)
    spaces = {"image (PCA 50)": img, "audio (26)": aud,
              "early fusion [image, audio]": xp.concatenate([img / float(xp.sqrt(img.var(0).sum())),
                                                            aud / float(xp.sqrt(aud.var(0).sum()))], axis=1),
              "CCA image scores u": u, "CCA [u, v]": xp.concatenate([u, v], axis=1)}
    for name, Z in spaces.items():
        pred = KMeans(10, n_init=3 if QUICK else 10, random_state=0).fit_predict(Z)
        print(f"{name:30s} ARI {metrics.adjusted_rand_score(y, pred):.3f}  "
              f"NMI {metrics.normalized_mutual_info_score(y, pred):.3f}")
    """),
    md("""
    ## 6. A SOM of the fused features

    A 15×15 map (batch rule: every sample per epoch, one matrix product) of the
    early-fused image + audio features. The U-matrix shows the borders between regions;
    the number in each cell is the most frequent digit among the samples it wins.
    """),
    code("""
    from mmscratch.plots import plot_som, som_cell_labels

    fused = spaces["early fusion [image, audio]"]
    som = SOM(15, 15, sigma=3.0, learning_rate=1.0, random_state=0)
    som.pca_weights_init(fused).fit(fused, 5 if QUICK else 30, method="batch")
    pos = som.predict(fused)
    majority, _ = som_cell_labels(pos, digits, (15, 15))
    p = backend.to_numpy(pos)
    print(f"QE {som.quantization_error(fused):.3f}, TE {som.topographic_error(fused):.3f}, "
          f"purity {np.mean(majority[p[:, 0], p[:, 1]] == digits):.3f}")
    plot_som(som.distance_map("mean"), pos, digits,
             title="fused image + audio: U-matrix (mean distance) and digits")
    plt.show()
    """),
    md("""
    Online vs batch: the online rule is a sequence of single-sample steps (it cannot be
    parallelised over samples); the batch rule moves every unit to the
    neighbourhood-weighted mean of all samples at once. Their quantization errors are
    close. Which one is faster depends on the sizes: an online step costs one pass over
    the map, a batch epoch one (samples × units × features) matrix product. With few
    features, as here, online steps are cheap; on 10,000 MNIST images and a 20×20 map
    the batch rule wins by far (`benchmarks/RESULTS.md`, section `som_cca_speed`).
    """),
    code("""
    import time

    t = time.perf_counter()
    on = SOM(15, 15, sigma=3.0, random_state=0).fit(fused, 2 * len(digits))
    t_on = time.perf_counter() - t
    t = time.perf_counter()
    ba = SOM(15, 15, sigma=3.0, learning_rate=1.0, random_state=0).fit(fused, 10, method="batch")
    t_ba = time.perf_counter() - t
    print(f"online ({2 * len(digits)} steps): QE {on.quantization_error(fused):.3f} in {t_on:.2f} s")
    print(f"batch  (10 epochs)   : QE {ba.quantization_error(fused):.3f} in {t_ba:.2f} s")
    """),
]

if __name__ == "__main__":
    build("09_som_cca", cells)
