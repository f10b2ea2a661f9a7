"""Build notebooks/10_crossmodal.ipynb: contrastive image-audio embeddings, retrieval you can
look at and listen to, zero-shot classification, gated fusion, cross-modal attention over
MFCC frames, and robustness curves.

Run from the repository root: ``python notebooks/_build/build_10_crossmodal.py``
(``QUICK=1`` for the quick mode, ``--no-execute`` to only write the cells). Uses AV-MNIST
from ``MMSCRATCH_DATA``; without it, the embedded ``digits`` set (image + synthetic speech).
"""

from _nb import SETUP, build, code, md

cells = [
    md(r"""
    # 10 · Cross-modal learning: one space for images and sounds

    Chapter: [5. Where the field went next](../chapters/05-future.md).

    The document's section 5 names cross-modal feature learning, cross-modal attention and
    adaptive models as the directions ahead. Here each one runs, from scratch:

    1. **InfoNCE**, the symmetric contrastive loss of CLIP, on a toy batch.
    2. A **dual encoder** (an image CNN and an audio CNN) trained with it on AV-MNIST
       pairs — without a single digit label.
    3. The **embedding space** in 2-D, coloured by digit and by modality.
    4. **Retrieval** both ways — look at the images a recording finds, listen to the
       recordings an image finds — and **zero-shot classification** of recordings by the
       nearest image-class prototype, beside a CCA baseline.
    5. **Gated fusion** (GMU): per-sample gates, and what they do when a modality is gone.
    6. **Cross-modal attention**: which audio frames the image looks at.
    7. **Robustness**: accuracy as one modality gets noisier.

    `QUICK=1` uses a few hundred pairs and one or two epochs, so its numbers are rough;
    the committed outputs come from the full run, and `benchmarks/RESULTS.md` has the
    measured tables.
    """),
    code(SETUP),
    md("""
    ## 1. Data

    AV-MNIST (MNIST digits degraded to 4 principal components, paired with spoken FSDD
    digits in 10 dB white noise; the test speaker never occurs in training). Pairs share
    only the digit: a recording of "7" is paired with *some* image of a 7. Without
    `MMSCRATCH_DATA` the embedded `digits` set stands in (8x8 scans, synthetic speech).
    """),
    code("""
    from pathlib import Path

    from IPython.display import Audio, display

    from mmscratch import metrics, nn
    from mmscratch.datasets import load

    DATA = os.environ.get("MMSCRATCH_DATA")
    HAVE_DATA = bool(DATA) and Path(DATA, "mnist").is_dir() and Path(DATA, "fsdd").is_dir()
    if HAVE_DATA:
        kw = dict(n_train=400, n_test=150) if QUICK else {}
        data = load("avmnist", seed=0, **kw)
    else:
        data = load("digits", seed=0)
    tr, te, info = data["train"], data["test"], data["info"]
    if QUICK:  # a few hundred pairs keep the quick mode under a minute
        tr = {k: (v[:400] if k != "meta" else {m: a[:400] for m, a in v.items()}) for k, v in tr.items()}
        te = {k: (v[:150] if k != "meta" else {m: a[:150] for m, a in v.items()}) for k, v in te.items()}
    SR = info["sample_rate"]
    # the full run also saves the chapter's figures (chapters/05-future.md)
    FIGURES = Path("..") / "chapters" / "figures"
    SAVE = not QUICK and HAVE_DATA and FIGURES.is_dir()
    print(info["name"], {k: v.shape for k, v in tr.items() if k in ("image", "audio", "label")},
          "test", len(te["label"]))
    """),
    md(r"""
    ## 2. InfoNCE, the contrastive loss

    For embeddings $z_a, z_b$ `(N, D)` of N pairs: normalise the rows
    ($u_i = z_{a,i}/\|z_{a,i}\|$, $v_j$ likewise), score every pair
    $S_{ij} = u_i\cdot v_j / \tau$, and ask each row and each column to pick its diagonal:

    $$L = \tfrac12\Big[-\tfrac1N\sum_i \log\operatorname{softmax}_j(S_{ij})_{j=i}
          -\tfrac1N\sum_j \log\operatorname{softmax}_i(S_{ij})_{i=j}\Big],\qquad
    \frac{\partial L}{\partial S} = \frac{P^{row} + P^{col} - 2I}{2N}.$$

    Matched pairs give a loss near 0, shuffled ones about $\log N$ or more:
    """),
    code("""
    rng = np.random.default_rng(0)
    z = backend.asarray(rng.standard_normal((8, 16)))
    loss = nn.InfoNCELoss(temperature=0.07)
    shuffled = backend.asarray(np.roll(np.arange(8), 1))
    print(f"aligned pairs: {loss.forward(z, 2 * z):.4f}   shuffled: {loss.forward(z, z[shuffled]):.2f}"
          f"   log N = {np.log(8):.2f}")
    dz_a, dz_b = loss.backward()
    print("gradient shapes", dz_a.shape, dz_b.shape)
    """),
    md("""
    ## 3. A dual encoder trained on the pairs

    `build_dual_encoder` takes the classifier's image CNN and audio CNN and adds a linear
    projection to 64 dimensions to each (CLIP's projection head). The temperature is
    learned as CLIP does ($t = \\log(1/\\tau)$, a parameter the optimizer steps).
    """),
    code("""
    from mmscratch.multimodal import build_dual_encoder

    enc = build_dual_encoder({"image": tr["image"].shape[1:], "audio": tr["audio"].shape[1:]},
                             seed=0)
    history = enc.fit({"image": tr["image"], "audio": tr["audio"]}, epochs=2 if QUICK else 15,
                      batch_size=128, optimizer=nn.Adam(1e-3), seed=0)
    print("loss per epoch:", np.round(history["loss"], 3))
    print(f"learned temperature: {history['temperature'][-1]:.4f}")
    """),
    md("""
    ## 4. The embedding space in 2-D

    Test images and test recordings embedded, then both projected together on their first
    two principal components (`mmscratch.unsupervised.PCA`). Colour = digit, marker =
    modality. If training worked, each digit forms one cloud holding both its images
    (circles) and its recordings (crosses).
    """),
    code("""
    from mmscratch.unsupervised import PCA

    u_img = enc.encode("image", te["image"])
    u_aud = enc.encode("audio", te["audio"])
    both = backend.to_numpy(backend.xp().concatenate([u_img, u_aud]))
    xy = backend.to_numpy(PCA(2).fit_transform(backend.asarray(both)))
    n_te = len(te["label"])
    fig, ax = plt.subplots(figsize=(6, 5))
    for part, marker, name in ((slice(0, n_te), "o", "image"), (slice(n_te, None), "x", "audio")):
        sc = ax.scatter(xy[part, 0], xy[part, 1], c=te["label"], cmap="tab10", marker=marker,
                        s=14, vmin=0, vmax=9, label=name, alpha=0.8)
    ax.legend(); fig.colorbar(sc, ax=ax, label="digit")
    ax.set_title("test embeddings, PCA to 2-D (o image, x audio)")
    if SAVE:
        fig.savefig(FIGURES / "crossmodal_embedding.png", dpi=80, bbox_inches="tight")
    plt.show()
    """),
    md("""
    ## 5. Retrieval both ways, and zero-shot classification

    `similarity[i, j]` = cosine of recording i and image j. R@k asks whether the pair's
    own partner is among the top k (pairs share only the digit, so R@k cannot beat about
    k / (pairs per digit)); P@k is the share of the top k showing the query's digit.
    """),
    code("""
    S = enc.similarity("audio", te["audio"], "image", te["image"])   # (N recordings, N images)
    y = te["label"]
    for k in (1, 5):
        print(f"R@{k}: audio->image {metrics.recall_at_k(S, k):.3f}, "
              f"image->audio {metrics.recall_at_k(S.T, k):.3f}")
    for k in (1, 10):
        print(f"P@{k} of the digit: audio->image {metrics.precision_at_k(S, y, y, k):.3f}, "
              f"image->audio {metrics.precision_at_k(S.T, y, y, k):.3f}")
    """),
    md("""
    Three recordings of the held-out speaker and the five images each one retrieves
    (title: the digit spoken; green = same digit). Play each recording:
    """),
    code("""
    S_host = backend.to_numpy(S)
    queries = [int(np.flatnonzero(y == d)[0]) for d in (3, 7, 9)]
    fig, axes = plt.subplots(len(queries), 5, figsize=(7, 4.5))
    for row, q in enumerate(queries):
        top = np.argsort(-S_host[q], kind="stable")[:5]
        for col, j in enumerate(top):
            ax = axes[row, col]
            ax.imshow(te["image"][j, :, :, 0], cmap="gray")
            ax.set_xticks([]); ax.set_yticks([])
            for s in ax.spines.values():
                s.set_color("green" if y[j] == y[q] else "red"); s.set_linewidth(2)
        axes[row, 0].set_ylabel(f"said {y[q]}")
    fig.suptitle("recording -> top-5 images")
    plt.show()
    for q in queries:
        wave = te["meta"]["waveform"][q][: te["meta"]["length"][q]]
        print(f"recording {q} (digit {y[q]})")
        display(Audio(wave, rate=SR))
    """),
    md("""
    The other way: an image, and the three recordings it finds (listen: are they the same
    digit?).
    """),
    code("""
    j = int(np.flatnonzero(y == 5)[0])
    plt.figure(figsize=(1.5, 1.5)); plt.imshow(te["image"][j, :, :, 0], cmap="gray")
    plt.axis("off"); plt.title(f"image of {y[j]}"); plt.show()
    for i in np.argsort(-S_host[:, j], kind="stable")[:3]:
        print(f"recording {i}: digit {y[i]}, cosine {S_host[i, j]:.3f}")
        display(Audio(te["meta"]["waveform"][i][: te["meta"]["length"][i]], rate=SR))
    """),
    md(r"""
    **Zero-shot classification.** The audio tower never saw a digit label. Give each digit
    a prototype, the normalised mean embedding of its *training images*,
    $p_c = \bar u_c/\|\bar u_c\|$, and label each test recording by its nearest prototype.
    Beside it, the classic answer to the same question: CCA (`mmscratch.unsupervised.CCA`)
    on PCA-reduced views, with the same prototype rule in the canonical space.
    """),
    code("""
    from mmscratch.unsupervised import CCA

    enc.class_prototypes("image", tr["image"], tr["label"])
    zs = backend.to_numpy(enc.zero_shot_predict("audio", te["audio"]))
    print(f"dual encoder, zero-shot accuracy of recordings: {(zs == y).mean():.3f}")


    def flat(a):
        return backend.asarray(a.reshape(len(a), -1).astype(np.float64))


    k_pca = 20 if QUICK else 40
    views = {}
    for m in ("image", "audio"):
        pca = PCA(k_pca).fit(flat(tr[m]))
        views[m] = (pca.transform(flat(tr[m])), pca.transform(flat(te[m])))
    cca = CCA(n_components=10).fit(views["image"][0], views["audio"][0])
    u_tr, _ = cca.transform(views["image"][0], views["audio"][0])
    _, v_te = cca.transform(views["image"][1], views["audio"][1])
    u_tr, v_te = backend.to_numpy(u_tr), backend.to_numpy(v_te)
    protos = np.stack([u_tr[tr["label"] == c].mean(0) for c in range(10)])
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    zs_cca = (v_te / np.linalg.norm(v_te, axis=1, keepdims=True) @ protos.T).argmax(1)
    print(f"CCA baseline, zero-shot accuracy of recordings: {(zs_cca == y).mean():.3f}")
    print("canonical correlations:", backend.to_numpy(cca.canonical_correlations_)[:5].round(3))
    """),
    md(r"""
    ## 6. Gated fusion: per-sample gates

    The gated multimodal unit (Arevalo et al. 2017) gives each modality a hidden vector
    $h_m = \tanh(x_m W_m)$ and lets the sample decide how much each counts:
    $z = \operatorname{softmax}_m([x_1, x_2] W_z)$ over the modalities present,
    $y = \sum_m z_m \odot h_m$. With one modality missing, its gate is exactly 0 and the
    other's is 1. Trained here with modality dropout 0.3, like the other fusions.
    """),
    code("""
    from mmscratch.multimodal import GatedFusion, MultimodalClassifier
    from mmscratch.multimodal.models import _audio_branch, _image_branch


    def classifier(fusion, branches, seed=0):
        head = [nn.Dense(128, activation="relu", seed=seed + 100), nn.Dropout(0.5, seed=seed + 101),
                nn.Dense(10, seed=seed + 102)]
        model = MultimodalClassifier(branches, fusion, head, modality_dropout=0.3, seed=seed)
        model.compile(nn.Adam(1e-3), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
        return model


    def accuracy(model, x):
        return float((backend.to_numpy(model.predict(x)).argmax(1) == y).mean())


    EPOCHS = 2 if QUICK else 10
    xtr = {"image": tr["image"], "audio": tr["audio"]}
    xte = {"image": te["image"], "audio": te["audio"]}
    gated = classifier(GatedFusion(64, seed=1),
                       {"image": _image_branch(tr["image"].shape[1:], 64, 0),
                        "audio": _audio_branch(64, 10, "cnn", tr["audio"].shape[1:])})
    gated.fit(xtr, tr["label"], epochs=EPOCHS, batch_size=64, verbose=0)
    print(f"gated fusion: both {accuracy(gated, xte):.3f}, image only {accuracy(gated, {'image': te['image']}):.3f}, "
          f"audio only {accuracy(gated, {'audio': te['audio']}):.3f}")
    gated.predict(xte, batch_size=len(y))   # one batch, so last_gates covers every sample
    z = backend.to_numpy(gated.fusion.last_gates).mean(axis=2)   # (N, 2): mean gate per modality
    fig = plt.figure(figsize=(5, 3))
    plt.hist(z[:, 0], bins=20, range=(0, 1), color="tab:blue")
    plt.xlabel("mean image gate z_image (audio gets 1 - z_image)"); plt.ylabel("test samples")
    plt.title("how much each sample trusts the image")
    if SAVE:
        fig.savefig(FIGURES / "gated_fusion_gates.png", dpi=80, bbox_inches="tight")
    plt.show()
    """),
    md(r"""
    ## 7. Cross-modal attention over the MFCC frames

    `CrossModalAttentionFusion` turns the image's last feature map into 25 position tokens
    and the audio's into one token per ~4 MFCC frames, then lets each attend to the other
    with `nn.MultiHeadAttention`'s cross form,
    $A' = \operatorname{softmax}\big((A W_q)(B W_k)^\top/\sqrt{d_k}\big)(B W_v)$.
    Below: one test recording's MFCC matrix and, on top, how much attention the image's
    positions (averaged) pay to each stretch of it.
    """),
    code("""
    from mmscratch.multimodal import CrossModalAttentionFusion, token_branch

    cross = classifier(CrossModalAttentionFusion(2, 16, seed=2),
                       {"image": token_branch("image", tr["image"].shape[1:], 32, 0),
                        "audio": token_branch("audio", tr["audio"].shape[1:], 32, 10)})
    cross.fit(xtr, tr["label"], epochs=EPOCHS, batch_size=64, verbose=0)
    print(f"cross-modal attention fusion: both {accuracy(cross, xte):.3f}")
    q = queries[0]
    cross.predict({"image": te["image"][q:q + 1], "audio": te["audio"][q:q + 1]})
    att = backend.to_numpy(cross.fusion.last_attention["ab"])[0].mean(axis=0)  # (audio tokens,)
    mf = te["audio"][q]                                                         # (frames, 13)
    frames = np.linspace(0, mf.shape[0], len(att) + 1)
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.imshow(mf.T, aspect="auto", origin="lower", cmap="magma")
    ax.set_xlabel("MFCC frame (10 ms)"); ax.set_ylabel("coefficient")
    ax2 = ax.twinx()
    ax2.stairs(att, frames, color="cyan", linewidth=2)
    ax2.set_ylabel("attention from the image")
    ax.set_title(f"recording of {y[q]}: where the image's tokens look")
    if SAVE:
        fig.savefig(FIGURES / "crossmodal_attention.png", dpi=80, bbox_inches="tight")
    plt.show()
    display(Audio(te["meta"]["waveform"][q][: te["meta"]["length"][q]], rate=SR))
    """),
    md("""
    ## 8. Robustness: one modality gets noisier

    MultiBench's protocol: degrade one modality at 10 increasing levels and follow the
    accuracy. Here, the gated and cross-modal models above under image Gaussian noise and
    under audio white noise at falling SNR (the features recomputed from the noisier
    waveforms with the training statistics). The full comparison of every fusion — with
    occlusion, relative and effective robustness — is `benchmarks/robustness.py`; its
    curves are drawn after this one when its JSON is present.
    """),
    code("""
    import json

    from mmscratch.multimodal.robustness import (NOISE_LEVELS, audio_at_snr, gaussian_noise,
                                                 relative_robustness)

    SNRS = (None, 20, 15, 10, 5, 0, -5, -10, -15, -20)
    levels = range(0, 10, 3) if QUICK else range(10)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for name, model in (("gated", gated), ("cross-modal attention", cross)):
        img = [accuracy(model, {"image": backend.to_numpy(gaussian_noise(te["image"], NOISE_LEVELS[i])),
                                "audio": te["audio"]}) for i in levels]
        aud = [accuracy(model, {"image": te["image"],
                                "audio": audio_at_snr(te, info, SNRS[i], seed=1)}) for i in levels]
        axes[0].plot([NOISE_LEVELS[i] for i in levels], img, marker="o", label=name)
        axes[1].plot([NOISE_LEVELS[i] for i in levels], aud, marker="o", label=name)
        print(f"{name}: relative robustness image {relative_robustness(img, 0.1 * levels.step):.3f}, "
              f"audio {relative_robustness(aud, 0.1 * levels.step):.3f}")
    axes[0].set_xlabel("image noise sigma"); axes[1].set_xlabel("audio noise level (SNR none ... -20 dB)")
    axes[0].set_ylabel("test accuracy"); axes[1].legend(); plt.show()

    bench = Path("..") / "benchmarks" / "robustness.json"
    if bench.exists():
        res = json.loads(bench.read_text())
        fig, axes = plt.subplots(1, len(res["curves"]), figsize=(15, 3.8), sharey=True)
        for ax, (noise, per) in zip(axes, res["curves"].items()):
            for name, curve in per.items():
                ax.plot(res["levels"], curve, "--" if name.endswith("only") else "-", label=name)
            ax.set_title(noise); ax.set_xlabel("noise level")
        axes[0].set_ylabel("test accuracy"); axes[-1].legend(fontsize=7)
        fig.suptitle("benchmarks/robustness.py (AV-MNIST, every model)"); plt.show()
    """),
]

if __name__ == "__main__":
    build("10_crossmodal", cells)
