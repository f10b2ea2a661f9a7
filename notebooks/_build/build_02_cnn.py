"""Build notebooks/02_cnn.ipynb: convolution by hand, im2col as a picture, gradient
checks, and a CNN trained on MNIST (filters, feature maps, confusion matrix).

Run from the repository root: ``python notebooks/_build/build_02_cnn.py``
(``QUICK=1`` for the quick mode, ``--no-execute`` to only write the cells).
"""

from _nb import SETUP, build, code, md

cells = [
    md("""
    # 02 · CNN: convolution, pooling and a network that reads MNIST

    The document's CNN (sections 3.1.1 and 3.2.1): a convolution layer extracts
    *local* features with a small kernel slid over the image, pooling keeps the
    strongest response of each neighbourhood, and fully connected layers on top
    extract *global* features; each layer is the document's `y = f(Wx + b)`.
    Chapter: [3.2 Models](../chapters/03-2-models.md); the image branch of the code
    example is in [4 Code example](../chapters/04-code-example.md).

    Layout is Keras' channels-last: images `(N, H, W, C)`, kernels
    `W (kh, kw, C_in, filters)`. The first cell reads `MMSCRATCH_BACKEND` (`numpy`,
    `cupy` or `strict`) and `QUICK` (`QUICK=1` trains on a small subset so that the
    notebook runs in under two minutes on a CPU).
    """),
    code(SETUP),

    md("""
    ## 1. Convolution by hand

    For one output pixel, the convolution layer multiplies a `kh x kw` patch of the
    input element by element with the kernel and sums (deep-learning libraries all
    compute this *cross-correlation*; the kernel is not flipped):

    `y[i, j] = sum_{u, v, c} x[i*s + u, j*s + v, c] W[u, v, c] + b`

    A 6x6 image with a vertical edge and a 3x3 vertical-edge kernel: the response is
    large only where the window straddles the edge.
    """),
    code("""
    from mmscratch.nn import Conv2D
    from mmscratch.nn.reference import conv2d_naive

    image = np.zeros((6, 6))
    image[:, 3:] = 1.0                                   # dark left, bright right
    kernel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)  # Sobel x

    i, j = 1, 1                                          # one output pixel, by hand
    patch = image[i:i + 3, j:j + 3]
    print("patch at (1, 1):\\n", patch)
    print("sum(patch * kernel) =", (patch * kernel).sum())

    x = image.reshape(1, 6, 6, 1)                        # (N, H, W, C)
    W = kernel.reshape(3, 3, 1, 1)                       # (kh, kw, C_in, filters)
    y_loops = conv2d_naive(x, W)                         # the definition, as loops
    layer = Conv2D(1, 3, use_bias=False)
    layer(backend.asarray(x))                            # builds W
    layer.params["W"] = backend.asarray(W)
    y_fast = backend.to_numpy(layer(backend.asarray(x)))
    print("valid output (4x4):\\n", y_fast[0, :, :, 0])
    print("max |fast - loops| =", np.abs(y_fast - y_loops).max())
    """),

    md("""
    ## 2. im2col as a picture

    The fast layer never loops over pixels. A *strided view*
    (`xp.lib.stride_tricks.as_strided`) shows every `kh x kw x C` window of the input
    as a `(N, H_o, W_o, kh, kw, C)` array without copying; one copy lays the windows
    out as rows of the patch matrix `cols (N*H_o*W_o, kh*kw*C)`, and the whole layer
    becomes one matrix product `cols @ W.reshape(kh*kw*C, filters)`.

    Below, a 4x4 image whose pixels are numbered 0..15 and a 2x2 kernel: each row of
    `cols` lists the pixels of one window. Pixel 5 appears in four rows, because four
    windows cover it; in the backward pass (`col2im`) those four gradient entries are
    added back onto pixel 5, with one strided add per kernel offset.
    """),
    code("""
    from mmscratch.nn.conv import im2col

    img = np.arange(16.0).reshape(1, 4, 4, 1)
    cols, (Ho, Wo) = im2col(backend.asarray(img), kernel_size=2)
    cols = backend.to_numpy(cols)
    print("cols shape:", cols.shape, "= (N*H_o*W_o, kh*kw*C) =", (Ho * Wo, 4))

    fig, (a0, a1) = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [1, 0.8]})
    a0.imshow(img[0, :, :, 0], cmap="Pastel1")
    for (r, c), v in np.ndenumerate(img[0, :, :, 0]):
        a0.text(c, r, int(v), ha="center", va="center")
    a0.add_patch(plt.Rectangle((0.5, 0.5), 2, 2, fill=False, lw=3, ec="red"))
    a0.set_title("image (window of row 4 in red)"); a0.axis("off")
    a1.imshow(cols, cmap="Pastel1", aspect="auto")
    for (r, c), v in np.ndenumerate(cols):
        a1.text(c, r, int(v), ha="center", va="center", fontsize=8)
    a1.add_patch(plt.Rectangle((-0.5, 3.5), 4, 1, fill=False, lw=3, ec="red"))
    a1.set_xticks(range(4), ["(0,0)", "(0,1)", "(1,0)", "(1,1)"])
    a1.set_xlabel("kernel offset (u, v)"); a1.set_ylabel("output pixel (i, j) row-major")
    a1.set_title("cols = im2col(image)")
    plt.tight_layout(); plt.show()

    v = np.lib.stride_tricks.as_strided(img, shape=(1, 3, 3, 2, 2, 1),
                                        strides=img.strides[:3] + img.strides[1:])
    print("the strided view shares memory with the image:", np.shares_memory(v, img))
    """),

    md("""
    ### "same" padding and strides

    `padding="valid"` keeps windows fully inside (`H_o = floor((H - kh) / s) + 1`);
    `padding="same"` is TensorFlow's rule: `H_o = ceil(H / s)`, zero padding split with
    the odd pixel at the bottom/right.
    """),
    code("""
    from mmscratch.nn.conv import same_padding

    x28 = backend.asarray(np.zeros((1, 28, 28, 1), dtype=np.float32))
    for k, s, p in [(3, 1, "valid"), (3, 1, "same"), (3, 2, "same"), (2, 1, "same"), (5, 2, "valid")]:
        y = Conv2D(4, k, strides=s, padding=p)(x28)
        pads = same_padding(28, k, s) if p == "same" else (0, 0)
        print(f"k={k} s={s} {p:5s}: (1, 28, 28, 1) -> {tuple(y.shape)}   pad (top, bottom) = {pads}")
    """),

    md("""
    ## 3. Max pooling, and where its gradient goes

    `y[i, j] = max` over a `2x2` window. The backward pass sends each window's `dy`
    to **one** pixel, the arg-max; ties go to the first pixel in row-major window
    order, so the result is deterministic.
    """),
    code("""
    from mmscratch.nn import MaxPooling2D

    x = np.array([[1, 3, 2, 2],
                  [0, 3, 2, 2],
                  [5, 1, 0, 7],
                  [1, 2, 7, 7]], dtype=float).reshape(1, 4, 4, 1)
    pool = MaxPooling2D(2)
    y = pool(backend.asarray(x))
    dx = pool.backward(backend.xp().ones_like(y))
    print("y =\\n", backend.to_numpy(y)[0, :, :, 0])
    print("dx (ones routed to the arg-max; ties -> first in row-major order) =\\n",
          backend.to_numpy(dx)[0, :, :, 0])
    """),

    md("""
    ## 4. Gradient check

    Backward, with `cols` the patch matrix and `g = f'(z) * dy`:
    `dW = cols^T g`, `db = sum g`, `dx = col2im(g W^T)`. The checker compares these
    with central differences in float64 (`mmscratch/gradcheck.py`); relative errors
    below `1e-6` pass.
    """),
    code("""
    from mmscratch.gradcheck import check_layer

    rng = np.random.default_rng(0)
    cases = [("Conv2D 3x3 valid", Conv2D(3, 3, seed=0), (2, 6, 5, 2)),
             ("Conv2D 3x3 s2 same", Conv2D(3, 3, strides=2, padding="same", seed=0), (2, 6, 6, 2)),
             ("Conv2D (2,3) s(2,1) same", Conv2D(2, (2, 3), strides=(2, 1), padding="same", seed=0), (1, 5, 6, 2)),
             ("Conv2D 1x1", Conv2D(2, 1, seed=0), (2, 4, 4, 3)),
             ("MaxPooling2D 2", MaxPooling2D(2), (2, 4, 6, 2))]
    for name, layer, shape in cases:
        x = backend.asarray(rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0)
        res = check_layer(layer, x, eps=1e-5)
        print(f"{name:26s}", "  ".join(f"{k}: {r.rel_error:.1e}" for k, r in res.items()))
    """),

    md("""
    ## 5. A CNN that reads MNIST

    The Keras `mnist_cnn` network (reported there at 99.25% after 12 epochs):
    `Conv2D(32, 3) -> ReLU -> Conv2D(64, 3) -> ReLU -> MaxPooling2D -> Dropout(0.25)
    -> Flatten -> Dense(128) -> ReLU -> Dropout(0.5) -> Dense(10)`, trained with
    `Sequential.fit` and Adam. Here it trains briefly on a subset (a CPU does a full
    epoch in minutes); `benchmarks/train_mnist_cnn.py` runs the full 12 epochs
    (99.18% on the 10,000 test images, see `benchmarks/RESULTS.md`). Without the MNIST
    files (`MMSCRATCH_DATA`), scikit-learn's 8x8 digits stand in.
    """),
    code("""
    import time

    from mmscratch import DataError
    from mmscratch.datasets import load_mnist
    from mmscratch.nn import Dense, Dropout, Flatten, ReLU, Sequential, SoftmaxCrossEntropy, Adam

    try:
        x_train, y_train = load_mnist(kind="train")
        x_test, y_test = load_mnist(kind="test")
        source = "MNIST"
    except DataError as exc:
        from sklearn.datasets import load_digits
        print("MNIST not found, using scikit-learn's digits instead:", str(exc)[:80])
        d = load_digits()
        xs = (d.images / 16.0).astype(np.float32)[..., None]
        x_train, y_train, x_test, y_test = xs[:1500], d.target[:1500], xs[1500:], d.target[1500:]
        source = "sklearn digits"

    n_train = 1536 if QUICK else 20000
    n_test = 1000 if QUICK else 10000
    epochs = 1 if QUICK else 2
    x_train, y_train = x_train[:n_train], y_train[:n_train]
    x_test, y_test = x_test[:n_test], y_test[:n_test]
    print(source, "train", x_train.shape, "test", x_test.shape)

    model = Sequential([
        Conv2D(32, 3, seed=0), ReLU(),
        Conv2D(64, 3, seed=1), ReLU(),
        MaxPooling2D(2), Dropout(0.25, seed=2),
        Flatten(), Dense(128, seed=3), ReLU(), Dropout(0.5, seed=4),
        Dense(10, seed=5),
    ])
    model.compile(optimizer=Adam(lr=1e-3), loss=SoftmaxCrossEntropy(), metrics=["accuracy"])
    t0 = time.time()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    print(f"trained {epochs} epoch(s) on {len(x_train)} images in {time.time() - t0:.0f} s;",
          "train accuracy", [round(a, 3) for a in history["accuracy"]])
    print(model.evaluate(x_test, y_test))
    """),

    md("""
    ### Learned filters and feature maps

    The 32 kernels of the first layer (3x3, one input channel) and what they make of a
    test digit: each feature map is one filter's response `ReLU(W_f * x + b_f)`, a
    detector of one local pattern (edges of some orientation, blobs).
    """),
    code("""
    W1 = backend.to_numpy(model.layers[0].params["W"])[:, :, 0, :]   # (3, 3, 32)
    fig, axes = plt.subplots(4, 8, figsize=(8, 4))
    for f, ax in enumerate(axes.flat):
        ax.imshow(W1[:, :, f], cmap="bwr", vmin=-np.abs(W1).max(), vmax=np.abs(W1).max())
        ax.axis("off")
    fig.suptitle("first-layer filters W[:, :, 0, f]"); plt.show()

    x0 = backend.asarray(x_test[:1])
    h1 = model.layers[1](model.layers[0](x0))                 # conv1 + ReLU: (1, H-2, W-2, 32)
    h2 = model.layers[3](model.layers[2](h1))                 # conv2 + ReLU: (1, H-4, W-4, 64)
    h1, h2 = backend.to_numpy(h1)[0], backend.to_numpy(h2)[0]
    fig, axes = plt.subplots(2, 9, figsize=(10, 2.6))
    axes[0, 0].imshow(x_test[0, :, :, 0], cmap="gray"); axes[0, 0].set_title(f"label {y_test[0]}")
    axes[1, 0].axis("off")
    for k in range(8):
        axes[0, k + 1].imshow(h1[:, :, k], cmap="viridis"); axes[0, k + 1].set_title(f"c1 f{k}", fontsize=8)
        axes[1, k + 1].imshow(h2[:, :, k], cmap="viridis"); axes[1, k + 1].set_title(f"c2 f{k}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]); ax.set_yticks([])
    plt.tight_layout(); plt.show()
    """),

    md("""
    ### Confusion matrix

    Row = true digit, column = predicted digit; the diagonal holds the correct answers.
    """),
    code("""
    pred = backend.to_numpy(model.predict(x_test).argmax(axis=-1))
    cm = np.zeros((10, 10), dtype=int)
    np.add.at(cm, (y_test, pred), 1)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(cm, cmap="Blues")
    for (r, c), v in np.ndenumerate(cm):
        if v:
            ax.text(c, r, v, ha="center", va="center", fontsize=7,
                    color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks(range(10)); ax.set_yticks(range(10))
    ax.set_xlabel("predicted"); ax.set_ylabel("true")
    ax.set_title(f"test accuracy {np.trace(cm) / cm.sum():.3f} on {cm.sum()} images")
    plt.show()
    """),
]

if __name__ == "__main__":
    build("02_cnn", cells)
