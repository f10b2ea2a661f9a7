"""Build notebooks/01_basics.ipynb: backend switch, Dense, losses, gradient checker,
a training loop on scikit-learn's digits, and regression with the mean squared error.

Run from the repository root: ``python notebooks/_build/build_01_basics.py``
(``QUICK=1`` for the quick mode, ``--no-execute`` to only write the cells).
"""

from _nb import SETUP, build, code, md

cells = [
    md("""
    # 01 · Basics: backend, dense layer, losses, gradient checker, training loop

    The building blocks every later notebook uses, each next to its formula.
    Chapters: [3.2 Models](../chapters/03-2-models.md) (dense layer, activations,
    optimizers) and [3.3 Tasks](../chapters/03-3-tasks.md) (cross-entropy, MSE).

    The first cell reads two environment variables: `MMSCRATCH_BACKEND` (`numpy`,
    `cupy` or `strict`) and `QUICK` (`QUICK=1` shrinks the data and the epochs so the
    notebook runs in well under two minutes on two CPU cores).
    """),
    code(SETUP),

    md("""
    ## 1. Backend switch

    Library code never imports NumPy for array math: it asks `backend.xp()` for the
    active array module, so the same line runs on NumPy and on CuPy (GPU).
    `backend.use(name)` switches for the rest of the program, or only inside a
    `with` block. Data crosses between host and device only explicitly:
    `backend.asarray` (to the active backend) and `backend.to_numpy` (to the host).
    """),
    code("""
    xp = backend.xp()
    a = backend.asarray(np.arange(6.0).reshape(2, 3))
    print("active:", backend.name(), "| module:", xp.__name__, "| array type:", type(a).__name__)
    print("cupy usable here:", backend.cupy_available())

    with backend.use("strict"):  # NumPy underneath, but refuses implicit host copies like CuPy
        s = backend.asarray(np.arange(3.0))
        print("inside the block:", backend.name(), "| sum on the 'device':", backend.to_numpy(s.sum()))
        try:
            float(s.sum())  # an implicit device->host copy
        except TypeError as exc:
            print("float(strict array) ->", type(exc).__name__ + ":", str(exc)[:70], "...")
    print("after the block:", backend.name())
    """),

    md("""
    ## 2. Dense layer

    The document's `y = f(Wx + b)`, with samples as rows: `z = x @ W + b`, `y = f(z)`.
    Shapes: `x (N, D_in)`, `W (D_in, H)`, `b (H,)`, `y (N, H)`.
    Backward, with `g = dy * f'(z)`:

    * `dW = x^T @ g`  (each weight's gradient summed over the batch)
    * `db = sum_n g_n`
    * `dx = g @ W^T`

    Code: `mmscratch/nn/dense.py:Dense`. Below, the layer's backward against the three
    formulas written out by hand.
    """),
    code("""
    from mmscratch import nn

    rng = np.random.default_rng(0)
    layer = nn.Dense(3, activation="relu", seed=0)
    x = backend.asarray(rng.standard_normal((4, 5)).astype(np.float32))
    y = layer(x)  # builds W (5, 3) and b (3,) on the first call
    print("x", x.shape, "-> y", y.shape, "| params:", {k: v.shape for k, v in layer.params.items()})

    dy = backend.asarray(rng.standard_normal(y.shape).astype(np.float32))
    dx = layer.backward(dy)

    X, W, b, DY = (backend.to_numpy(v) for v in (x, layer.params["W"], layer.params["b"], dy))
    g = DY * (X @ W + b > 0)  # relu'(z) = [z > 0]
    for name, mine, by_hand in (("dW", layer.grads["W"], X.T @ g), ("db", layer.grads["b"], g.sum(0)),
                                ("dx", dx, g @ W.T)):
        print(f"{name}: max |layer - formula| = {np.abs(backend.to_numpy(mine) - by_hand).max():.1e}")
    """),

    md("""
    ## 3. Activations

    The element-wise `f` and its derivative, which the backward pass multiplies in.
    Each derivative below comes from the layer's own `backward` with `dy = 1`.
    Sigmoid is computed from `exp(-|x|)` so it never overflows; softmax subtracts
    the row maximum first.
    """),
    code("""
    z = backend.asarray(np.linspace(-4, 4, 161))
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8))
    for act in (nn.ReLU(), nn.Tanh(), nn.Sigmoid()):
        y = act(z)
        dz = act.backward(backend.xp().ones_like(z))
        label = type(act).__name__
        axes[0].plot(backend.to_numpy(z), backend.to_numpy(y), label=label)
        axes[1].plot(backend.to_numpy(z), backend.to_numpy(dz), label=label)
    axes[0].set_title("f(z)"); axes[1].set_title("f'(z) from backward(1)")
    for ax in axes:
        ax.legend(); ax.grid(alpha=0.3)
    plt.show()
    print("softmax of huge logits stays finite:",
          backend.to_numpy(nn.Softmax()(backend.asarray(np.array([[1000.0, 1001.0, 1002.0]])))))
    """),

    md("""
    ## 4. Losses

    **Softmax cross-entropy** (classification): `p = softmax(z)`,
    `L = -(1/N) sum_n sum_j y_nj log p_nj`, and the backward pass is simply
    `dL/dz = (p - y) / N` (derivation in [chapter 3.3](../chapters/03-3-tasks.md)).
    `log p` is computed by log-sum-exp, so logits of ±10⁴ stay finite.

    **Mean squared error** (regression, the objective the document leaves out):
    `L = (1/M) sum (ŷ - y)^2`, `dL/dŷ = 2 (ŷ - y) / M`.
    """),
    code("""
    logits = backend.asarray(np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]))
    labels = backend.asarray(np.array([0, 2]))
    ce = nn.SoftmaxCrossEntropy()
    print("cross-entropy:", round(ce(logits, labels), 6))
    p = backend.to_numpy(nn.Softmax()(logits))
    onehot = np.eye(3)[[0, 2]]
    print("backward == (p - y) / N:", np.allclose(backend.to_numpy(ce.backward()), (p - onehot) / 2))
    print("huge logits:", ce(backend.asarray(np.array([[1e4, -1e4, 0.0]])), backend.asarray(np.array([1]))))

    mse = nn.MeanSquaredError()
    pred, target = backend.asarray(np.array([[1.0], [2.0], [4.0]])), backend.asarray(np.array([[1.5], [2.0], [3.0]]))
    print("MSE:", mse(pred, target), "| dL/dpred:", backend.to_numpy(mse.backward()).ravel())
    """),

    md("""
    ## 5. Gradient checker

    How do we know a backward pass is right? Compare it with **central differences**,
    `n_k = (f(x + eps e_k) - f(x - eps e_k)) / (2 eps)`, in float64, using CS231n's
    relative error `max |a - n| / max(1e-8, |a| + |n|)`. A layer's output is reduced
    to a scalar with a *random* upstream gradient (`f = sum(y * g)`), so errors that
    would cancel in a plain sum are exposed. `mmscratch/gradcheck.py:check_layer`
    does this for the input and every parameter; a correct layer gives errors
    around 1e-9 or below, a bug gives errors of order 1e-2 to 1.
    """),
    code("""
    from mmscratch import gradcheck

    x0 = backend.asarray(np.array([1.0, -2.0, 3.0]))
    print("d/dx sum(x^2) numerically:", gradcheck.numerical_gradient(lambda: (x0 * x0).sum(), x0))

    results = gradcheck.check_layer(nn.Dense(4, activation="tanh", seed=0), rng.standard_normal((3, 5)))
    for r in results.values():
        print(" ", r)
    gradcheck.assert_gradcheck(results, tol=1e-6)


    class BuggyDense(nn.Dense):
        \"\"\"Forgets the activation's derivative in the weight gradient (a classic bug).\"\"\"

        def backward(self, dy):
            dx = super().backward(dy)
            self.grads["W"] = self._cache.T @ dy
            return dx


    try:
        gradcheck.assert_gradcheck(gradcheck.check_layer(BuggyDense(4, activation="tanh", seed=0),
                                                         rng.standard_normal((3, 5))), tol=1e-6)
    except AssertionError as exc:
        print("caught:", str(exc).splitlines()[1].strip())
    """),

    md("""
    ## 6. Training loop on digits

    scikit-learn's 8x8 handwritten digits (1,797 images, pixels 0-16, flattened to 64
    features). First the loop written out — forward, loss, backward, optimizer step —
    then the same network trained with the Keras-style `compile` / `fit`.
    """),
    code("""
    from sklearn.datasets import load_digits

    from mmscratch import metrics, plots

    digits = load_digits()
    X_all = (digits.data / 16.0).astype(np.float32)
    y_all = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y_all))
    n_train = 400 if QUICK else 1400
    tr, te = order[:n_train], order[1400:]
    X_tr, y_tr = backend.asarray(X_all[tr]), backend.asarray(y_all[tr])
    X_te, y_te = backend.asarray(X_all[te]), backend.asarray(y_all[te])
    print("train", X_tr.shape, "test", X_te.shape)

    # The loop by hand
    layers = [nn.Dense(64, activation="relu", seed=1), nn.Dense(10, seed=2)]
    loss_fn, opt = nn.SoftmaxCrossEntropy(), nn.SGD(lr=0.5)
    model = nn.Sequential(layers)  # only used as a container of parameters for the optimizer
    batch = 64
    for epoch in range(3 if QUICK else 10):
        perm = np.random.default_rng(epoch).permutation(n_train)
        losses = []
        for s in range(0, n_train, batch):
            idx = backend.asarray(perm[s:s + batch])
            h = X_tr[idx]
            for layer in layers:                 # forward
                h = layer(h, training=True)
            losses.append(loss_fn(h, y_tr[idx]))  # loss
            g = loss_fn.backward()
            for layer in reversed(layers):       # backward (chain rule)
                g = layer.backward(g)
            opt.step(model)                      # p <- p - lr * dp
        h = X_te
        for layer in layers:
            h = layer(h)
        print(f"epoch {epoch + 1}: mean loss {np.mean(losses):.4f}, "
              f"test accuracy {metrics.accuracy(y_te, h):.3f}")
    """),
    code("""
    # The same, with compile / fit (Adam, a validation split, history)
    mlp = nn.Sequential([nn.Dense(64, activation="relu", seed=1), nn.Dropout(0.1, seed=3),
                         nn.Dense(10, seed=2)])
    mlp.compile(nn.Adam(lr=3e-3), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
    # Validation = the last 10% of the (already shuffled) training rows, as Keras'
    # validation_split; the test set is touched once, after training.
    history = mlp.fit(X_tr, y_tr, epochs=4 if QUICK else 25, batch_size=32,
                      validation_split=0.1, verbose=0)
    print("final:", mlp.evaluate(X_te, y_te))
    plots.plot_history(history, title="MLP on digits")
    plt.show()
    pred = mlp.predict(X_te).argmax(axis=1)
    plots.plot_confusion_matrix(metrics.confusion_matrix(y_te, pred), title="test confusion matrix")
    plt.show()
    """),

    md("""
    ## 7. Regression with the mean squared error

    The document lists regression (预测房价, house prices) but gives no objective.
    The standard one is the MSE; with a single `Dense(1)` and no activation its
    minimum is the least-squares solution, so we can check the trained weights
    against `numpy.linalg.lstsq`.
    """),
    code("""
    rng = np.random.default_rng(42)
    n, d = 200, 3
    w_true, b_true = np.array([[2.0], [-1.0], [0.5]]), 0.7
    Xr = rng.standard_normal((n, d))
    yr = Xr @ w_true + b_true + 0.1 * rng.standard_normal((n, 1))

    reg = nn.Sequential([nn.Dense(1, seed=0)])
    reg.compile(nn.SGD(lr=0.1), nn.MeanSquaredError())
    hist = reg.fit(backend.asarray(Xr.astype(np.float32)), backend.asarray(yr.astype(np.float32)),
                   epochs=10 if QUICK else 40, batch_size=20, verbose=0)

    lstsq = np.linalg.lstsq(np.hstack([Xr, np.ones((n, 1))]), yr, rcond=None)[0].ravel()
    dense = reg.layers[0]
    learned = np.concatenate([backend.to_numpy(dense.params["W"]).ravel(), backend.to_numpy(dense.params["b"])])
    print("true        ", np.r_[w_true.ravel(), b_true])
    print("least squares", lstsq.round(4))
    print("trained Dense", learned.round(4))
    plt.figure(figsize=(4, 2.5))
    plt.semilogy(hist["loss"], marker="o")
    plt.xlabel("epoch"); plt.ylabel("MSE"); plt.title("regression loss")
    plt.show()
    """),
]

if __name__ == "__main__":
    build("01_basics", cells)
