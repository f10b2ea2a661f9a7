"""Build (and execute) notebooks/08_classical.ipynb.

Run from the repository root: ``python notebooks/_build/build_08_classical.py``
(``QUICK=1`` for the quick mode, ``--no-execute`` to only write the cells). Needs no
downloaded data: 2-D toy sets and the embedded ``digits`` set.
"""

from __future__ import annotations

from _nb import SETUP, build, code, md

cells = [
    md(r"""
    # 08 · Classical learners: naive Bayes, trees, forests, SVMs, and the multimodal SVM

    Section 2 of the document says a multimodal model may contain **support vector
    machines, random forests and naive Bayes** (支持向量机、随机森林、朴素贝叶斯), and
    names the **multimodal SVM** as an example. This notebook builds each from
    `mmscratch.supervised` (written from scratch on the backend, scikit-learn's names),
    draws what each one learns on 2-D data, and then puts them where they stand in a
    multimodal system:

    1. one classifier **per modality** (image, audio, text);
    2. **late fusion** of their class probabilities;
    3. **kernel fusion**: one SVM on a weighted sum of per-modality kernels.

    Chapter: `chapters/03-4-classical.md`.
    """),
    code(SETUP),
    code("""
    from sklearn.datasets import make_blobs, make_moons  # toy data only

    from mmscratch.supervised import (SVC, DecisionTreeClassifier, GaussianNB, LinearSVC,
                                      MultinomialNB, RandomForestClassifier)

    def h(a):
        return backend.to_numpy(a)

    Xm_host, ym_host = make_moons(n_samples=300 if QUICK else 600, noise=0.25, random_state=0)
    Xm, ym = backend.asarray(Xm_host), backend.asarray(ym_host)
    print("moons:", Xm.shape, np.bincount(ym_host))
    """),
    md(r"""
    ## 1. Decision boundaries on 2-D data

    Each learner's predicted class on a grid over the plane, training points on top:

    * **Gaussian naive Bayes**: one axis-aligned normal per class and feature; the
      boundary is where two classes'
      $\log P(y) + \sum_j \log \mathcal N(x_j;\mu_{yj},\sigma^2_{yj})$
      are equal — a quadric, smooth and simple;
    * **decision tree**: axis-parallel cuts at midpoints between training values;
    * **random forest**: the average of many such trees on bootstrap samples, with
      random features per split — still made of axis-parallel pieces, but smoother;
    * **SVM (RBF kernel)**: a smooth boundary from a few support vectors.
    """),
    code("""
    def boundary(ax, model, X, y, title, steps=150 if QUICK else 300):
        x0, x1 = X[:, 0].min() - 0.5, X[:, 0].max() + 0.5
        y0, y1 = X[:, 1].min() - 0.5, X[:, 1].max() + 0.5
        gx, gy = np.meshgrid(np.linspace(x0, x1, steps), np.linspace(y0, y1, steps))
        grid = backend.asarray(np.c_[gx.ravel(), gy.ravel()])
        if hasattr(model, "predict_proba"):
            z = h(model.predict_proba(grid))[:, 1]
        else:
            z = (h(model.decision_function(grid)) > 0).astype(float)
        ax.contourf(gx, gy, z.reshape(gx.shape), levels=20, cmap="RdBu_r", alpha=0.6)
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", s=8, edgecolors="k", linewidths=0.3)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([]); ax.set_yticks([])

    learners = {
        "GaussianNB": GaussianNB(),
        "DecisionTree(max_depth=5)": DecisionTreeClassifier(max_depth=5),
        "RandomForest(50)": RandomForestClassifier(50, random_state=0),
        "SVC(rbf, C=1)": SVC(kernel="rbf", C=1.0),
    }
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    for ax, (name, model) in zip(axes, learners.items()):
        model.fit(Xm, ym)
        boundary(ax, model, Xm_host, ym_host, f"{name}\\ntrain acc {model.score(Xm, ym):.3f}")
    plt.tight_layout(); plt.show()
    """),
    md(r"""
    ## 2. Against scikit-learn

    The tests check every learner against scikit-learn (`tests/test_naive_bayes.py`,
    `tests/test_tree.py`, `tests/test_forest.py`); here is the gist on the moons.
    Naive Bayes agrees to rounding; the tree is the same tree (depth, leaves,
    thresholds) when its best split at every node is unique; the forest is random, so
    only its accuracy is comparable.
    """),
    code("""
    from sklearn.ensemble import RandomForestClassifier as SkForest
    from sklearn.naive_bayes import GaussianNB as SkGNB
    from sklearn.tree import DecisionTreeClassifier as SkTree

    Xt_host, yt_host = make_moons(n_samples=1000, noise=0.25, random_state=1)
    Xt = backend.asarray(Xt_host)
    nb = GaussianNB().fit(Xm, ym)
    p_ref = SkGNB().fit(Xm_host, ym_host).predict_proba(Xt_host)
    print("GaussianNB  max |P - P_sklearn| =", np.abs(h(nb.predict_proba(Xt)) - p_ref).max())
    ours = DecisionTreeClassifier(max_depth=3).fit(Xm, ym)
    ref = SkTree(max_depth=3).fit(Xm_host, ym_host)
    print("tree(max_depth=3): depth", ours.get_depth(), ref.get_depth(), "leaves",
          ours.get_n_leaves(), ref.get_n_leaves(), "same thresholds:",
          np.array_equal(h(ours.tree_.threshold), ref.tree_.threshold))
    f_ours = RandomForestClassifier(50, random_state=0).fit(Xm, ym).score(
        Xt, backend.asarray(yt_host))
    f_ref = SkForest(50, random_state=0).fit(Xm_host, ym_host).score(Xt_host, yt_host)
    print(f"forest test accuracy: mmscratch {f_ours:.3f}, scikit-learn {f_ref:.3f}")
    """),
    md(r"""
    ## 3. A tree, drawn

    A node holding samples $S$ is split on the feature $f$ and threshold $t$ that
    maximise the impurity decrease
    $w_S\,i(S) - w_L\,i(L) - w_R\,i(R)$ (Gini: $i = 1 - \sum_k p_k^2$). Each box shows
    the test, the Gini impurity, the number of samples and the class counts; leaves are
    coloured by their majority class. `feature_importances_` sums each feature's
    impurity decreases, weighted by the samples that reach the node.
    """),
    code("""
    def draw_tree(ax, est, feature_names, class_names):
        t = est.tree_
        left, right = h(t.children_left), h(t.children_right)
        feat, thr, imp = h(t.feature), h(t.threshold), h(t.impurity)
        n, value = h(t.n_node_samples), h(t.value)[:, 0, :]
        pos, next_x = {}, [0]

        def place(i, depth):               # leaves left to right, parents above the middle
            if left[i] < 0:
                pos[i] = (next_x[0], -depth); next_x[0] += 1
            else:
                place(left[i], depth + 1); place(right[i], depth + 1)
                pos[i] = ((pos[left[i]][0] + pos[right[i]][0]) / 2, -depth)
        place(0, 0)
        colors = plt.cm.RdBu_r(np.linspace(0.2, 0.8, len(class_names)))
        for i, (x, y) in pos.items():
            for c in (left[i], right[i]):
                if c >= 0:
                    ax.plot([x, pos[c][0]], [y, pos[c][1]], "k-", lw=0.6, zorder=1)
            counts = np.round(value[i] * n[i]).astype(int).tolist()
            text = (f"{feature_names[feat[i]]} <= {thr[i]:.2f}\\n" if left[i] >= 0 else "") + \\
                   f"gini {imp[i]:.2f}\\nn={n[i]} {counts}"
            face = colors[value[i].argmax()] if left[i] < 0 else "white"
            ax.text(x, y, text, ha="center", va="center", fontsize=7, zorder=2,
                    bbox=dict(boxstyle="round", fc=face, ec="k", lw=0.5))
        ax.set_xlim(-0.7, next_x[0] - 0.3); ax.set_ylim(min(p[1] for p in pos.values()) - 0.5, 0.5)
        ax.axis("off")

    small = DecisionTreeClassifier(max_depth=3).fit(Xm, ym)
    fig, ax = plt.subplots(figsize=(13, 4))
    draw_tree(ax, small, ["x0", "x1"], ["class 0", "class 1"])
    plt.show()
    print("feature_importances_:", h(small.feature_importances_))
    """),
    md(r"""
    ## 4. The SVM's margin and support vectors

    A linear SVM on two separable-ish blobs: the solid line is $f(x) = w^\top x + b = 0$,
    the dashed lines $f(x) = \pm 1$ bound the margin $2/\|w\|$, and the circled points
    are the support vectors (`support_vectors_`), the only training points with
    non-zero dual coefficients $\alpha_i$ — moving any other point (without crossing
    the margin) leaves the classifier unchanged. On the right, an RBF kernel on the
    moons: the same picture in the kernel's feature space.
    """),
    code("""
    Xb_host, yb_host = make_blobs(n_samples=120, centers=[[-1.5, -1], [1.5, 1]], cluster_std=1.0,
                                  random_state=3)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (X_host, y_host, model, title) in zip(axes, [
            (Xb_host, yb_host, SVC(kernel="linear", C=1.0), "SVC(kernel='linear', C=1)"),
            (Xm_host, ym_host, SVC(kernel="rbf", C=1.0), "SVC(kernel='rbf', C=1)")]):
        model.fit(backend.asarray(X_host), backend.asarray(y_host))
        x0, x1 = X_host[:, 0].min() - 0.5, X_host[:, 0].max() + 0.5
        y0, y1 = X_host[:, 1].min() - 0.5, X_host[:, 1].max() + 0.5
        gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        f = h(model.decision_function(backend.asarray(np.c_[gx.ravel(), gy.ravel()])))
        ax.contourf(gx, gy, f.reshape(gx.shape), levels=20, cmap="RdBu_r", alpha=0.4)
        ax.contour(gx, gy, f.reshape(gx.shape), levels=[-1, 0, 1], colors="k",
                   linestyles=["--", "-", "--"], linewidths=1)
        ax.scatter(X_host[:, 0], X_host[:, 1], c=y_host, cmap="RdBu_r", s=10, edgecolors="k",
                   linewidths=0.3)
        sv = h(model.support_vectors_)
        ax.scatter(sv[:, 0], sv[:, 1], s=60, facecolors="none", edgecolors="k", linewidths=1)
        ax.set_title(f"{title}: {len(sv)} support vectors", fontsize=9)
    plt.tight_layout(); plt.show()
    """),
    md(r"""
    ## 5. One classifier per modality

    The embedded `digits` set (no download): real 8×8 handwritten digits, synthetic
    spoken digits (MFCCs) and synthetic captions (some wrong on purpose), paired by
    label; the test split uses voices never heard in training. Each modality gets the
    learner that suits its features:

    * **image** (64 pixels): a random forest;
    * **audio** (mean and standard deviation over frames of 13 MFCCs = 26 numbers):
      Gaussian naive Bayes;
    * **text** (word counts of the caption, a CSR matrix straight from
      `CountVectorizer`): multinomial naive Bayes.
    """),
    code("""
    from mmscratch.datasets.digits import load_digits_multimodal
    from mmscratch.features import CountVectorizer

    d = load_digits_multimodal(seed=0, features=True)
    tr, te = d["train"], d["test"]

    def mfcc_stats(a):                       # (N, T, 13) -> (N, 26)
        return np.hstack([a.mean(axis=1), a.std(axis=1)]).astype(np.float64)

    vec = CountVectorizer(token_pattern=r"(?u)\\b\\w+\\b").fit(tr["meta"]["caption"])
    views = {
        "image": tuple(s["image"].reshape(len(s["label"]), -1) for s in (tr, te)),
        "audio": (mfcc_stats(tr["audio"]), mfcc_stats(te["audio"])),
        "text": (vec.transform(tr["meta"]["caption"]), vec.transform(te["meta"]["caption"])),
    }
    y_tr, y_te = backend.asarray(tr["label"]), te["label"]
    per_modality = {
        "image": RandomForestClassifier(100, random_state=0),
        "audio": GaussianNB(),
        "text": MultinomialNB(alpha=0.5),
    }
    proba = {}
    for m, model in per_modality.items():
        train_x, test_x = views[m]
        if not hasattr(train_x, "tocsr"):
            train_x, test_x = backend.asarray(train_x), backend.asarray(test_x)
        model.fit(train_x, y_tr)
        proba[m] = h(model.predict_proba(test_x))                  # (N_test, 10)
        print(f"{m:>5} ({type(model).__name__}): test accuracy "
              f"{(proba[m].argmax(1) == y_te).mean():.3f}")
    """),
    md(r"""
    ## 6. Late fusion of their probabilities

    Each classifier outputs $P_m(y \mid x_m)$. Two ways to combine them:

    * **average** (a committee): $\frac1M \sum_m P_m(y \mid x_m)$;
    * **product** (naive Bayes across modalities): if the modalities are independent
      given the class, $P(y \mid x_1, \dots, x_M) \propto P(y)^{1-M} \prod_m P_m(y \mid x_m)$,
      i.e. sum the log-probabilities and subtract $(M - 1)\log P(y)$ — computed in log
      space with a log-sum-exp, as naive Bayes does inside.

    Fusion helps when the modalities make different mistakes (a wrong caption, a
    digit that looks like another, an unfamiliar voice).
    """),
    code("""
    prior = np.bincount(tr["label"], minlength=10) / len(tr["label"])
    logp = sum(np.log(np.clip(p, 1e-12, None)) for p in proba.values()) \\
        - (len(proba) - 1) * np.log(prior)
    fused = {
        "average of probabilities": sum(proba.values()) / len(proba),
        "product (sum of log-probabilities)": logp,
    }
    for name, score in fused.items():
        print(f"late fusion, {name}: test accuracy {(score.argmax(1) == y_te).mean():.3f}")
    """),
    md(r"""
    ## 7. Kernel fusion: the multimodal SVM

    `mmscratch.multimodal.MultiKernelSVC` gives each modality its own RBF kernel and
    trains one SVM on $K = \sum_m \mu_m K_m$ (a non-negative sum of kernels is a
    kernel). The weights $\mu_m$ come from *centred kernel-target alignment* (Cortes,
    Mohri & Rostamizadeh 2012): how well each kernel's similarities match "same class".
    The bar chart shows the learnt weights; the table compares the combined kernel with
    one SVM per modality.
    """),
    code("""
    from mmscratch.multimodal import MultiKernelSVC

    dense = {
        "image": views["image"],
        "audio": views["audio"],
        "text": tuple(backend.to_numpy(v.toarray()) if backend.name() == "cupy" else v.toarray()
                      for v in views["text"]),
    }
    # standardise the audio statistics (an RBF kernel compares raw distances)
    mu, sd = dense["audio"][0].mean(0), dense["audio"][0].std(0) + 1e-8
    dense["audio"] = tuple((a - mu) / sd for a in dense["audio"])
    X_tr = {m: backend.asarray(v[0].astype(np.float64)) for m, v in dense.items()}
    X_te = {m: backend.asarray(v[1].astype(np.float64)) for m, v in dense.items()}
    for m in dense:
        acc = SVC(kernel="rbf").fit(X_tr[m], y_tr).score(X_te[m], backend.asarray(y_te))
        print(f"SVC(rbf) on {m:>5} alone: test accuracy {acc:.3f}")
    mk = MultiKernelSVC({m: "rbf" for m in dense}, weights="alignment").fit(X_tr, y_tr)
    print(f"MultiKernelSVC (alignment weights): test accuracy "
          f"{mk.score(X_te, backend.asarray(y_te)):.3f}")
    uni = MultiKernelSVC({m: "rbf" for m in dense}, weights="uniform").fit(X_tr, y_tr)
    print(f"MultiKernelSVC (uniform weights):   test accuracy "
          f"{uni.score(X_te, backend.asarray(y_te)):.3f}")
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.bar(list(mk.kernel_weights_), [float(v) for v in mk.kernel_weights_.values()], color="C0")
    ax.set_ylabel("kernel weight $\\\\mu_m$"); ax.set_title("alignment weights", fontsize=9)
    plt.tight_layout(); plt.show()
    """),
    md("""
    Where each learner stands: naive Bayes is the cheapest per-modality classifier
    (counts for text, Gaussians for summary statistics) and fuses by adding
    log-probabilities; forests take any fixed-length features without scaling; the SVM
    fuses *inside* the model through its kernel. Speed and accuracy on the real data
    (MNIST, FSDD, 20 Newsgroups) are in `benchmarks/RESULTS.md`, section `classical`.
    """),
]

if __name__ == "__main__":
    build("08_classical", cells)
