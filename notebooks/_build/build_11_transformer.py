"""Build (and execute) notebooks/11_transformer.ipynb: GRU, normalization, the Transformer.

Run from the repository root::

    python notebooks/_build/build_11_transformer.py            # write and execute
    QUICK=1 python notebooks/_build/build_11_transformer.py    # quick mode (< 1 min)
    python notebooks/_build/build_11_transformer.py --no-execute
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _nb import SETUP, build, code, md  # noqa: E402

CELLS = [
    md(r"""
    # 11 · GRU, normalization and the Transformer block, from scratch

    The document's section 3.2 stops at the RNN and one self-attention
    $a_i = \sum_j e_{ij} h_j$. The models people build today stack these pieces:
    a **GRU** instead of the plain RNN, **layer / batch normalization** in every block,
    and the **Transformer encoder block** — the document's self-attention with heads, a
    feed-forward net, residual connections and normalization — which also fuses
    modalities (MulT, single-stream Transformers).

    Every layer here has an explicit backward pass, a float64 gradient check and a
    PyTorch parity test (`tests/test_gru.py`, `tests/test_normalization.py`,
    `tests/test_transformer.py`, `tests/test_transformer_fusion.py`).
    Chapter: `chapters/03-2-models.md`, section 3.2.4.
    """),
    code(SETUP),
    md(r"""
    ## 1. The GRU step, by hand

    Gates in Keras' order z, r, h; `reset_after=True` (PyTorch's form) applies the reset
    gate after the recurrent product:

    $$z_t = \sigma(x_t W_z + h_{t-1} U_z + b), \quad r_t = \sigma(x_t W_r + h_{t-1} U_r + b),$$
    $$\tilde h_t = \tanh\big(x_t W_h + r_t \odot (h_{t-1} U_h + b_{hh})\big), \qquad
      h_t = z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t .$$

    One step written with NumPy next to the layer's output:
    """),
    code(r"""
    from mmscratch.nn import GRU

    H = 3
    x_host = np.random.default_rng(0).standard_normal((2, 4, 2))   # (N, T, D)
    gru = GRU(H, return_sequences=True, seed=0)
    hs = backend.to_numpy(gru.forward(backend.asarray(x_host)))
    W, U, b = (backend.to_numpy(gru.params[k]) for k in ("W", "U", "b"))

    sig = lambda a: 1 / (1 + np.exp(-a))
    h = np.zeros((2, H))
    for t in range(4):
        xz, xr, xh = np.split(x_host[:, t] @ W + b[0], 3, axis=1)
        uz, ur, uh = np.split(h @ U + b[1], 3, axis=1)
        z, r = sig(xz + uz), sig(xr + ur)
        h = z * h + (1 - z) * np.tanh(xh + r * uh)
    print("by hand, last step:", h[0])
    print("GRU layer, last step:", hs[0, -1])
    print("max difference:", np.abs(h - hs[:, -1]).max())
    """),
    md(r"""
    ### Backpropagation through the gates, checked

    The backward pass (see the docstring of `mmscratch.nn.GRU`) computes every factor
    that multiplies $\partial L/\partial h_t$ for all steps at once, then walks back in
    time with one matrix product per step. A central-difference check in float64:
    """),
    code(r"""
    from mmscratch.gradcheck import check_layer, to_float64

    for reset_after in (True, False):
        layer = GRU(4, return_sequences=True, reset_after=reset_after, seed=1)
        xs = backend.asarray(np.random.default_rng(2).standard_normal((2, 3, 3)))
        layer.forward(xs)
        to_float64(layer)
        res = check_layer(layer, xs, eps=1e-5)
        print(f"reset_after={reset_after}: " +
              ", ".join(f"{k} {r.rel_error:.1e}" for k, r in res.items()))
    """),
    md(r"""
    ## 2. Layer normalization and batch normalization

    Both compute $\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$ and $y = \gamma \hat x +
    \beta$; they differ in *which* values share $\mu$ and $\sigma^2$:

    * **LayerNormalization**: each position, over its features (last axis) — the same
      in training and inference;
    * **BatchNormalization**: each channel, over the batch (and H, W for images) while
      training; at inference the *moving* statistics.

    Both backward passes are the "three-term" formula
    $dx = \frac{1}{\sqrt{\sigma^2+\epsilon}}\big(g - \langle g\rangle - \hat x\langle g
    \hat x\rangle\big)$ with $g = \gamma\, dy$ and $\langle\cdot\rangle$ the mean over
    the normalised group.
    """),
    code(r"""
    from mmscratch.nn import BatchNormalization, LayerNormalization

    x = backend.asarray(np.random.default_rng(0).normal(5.0, 3.0, size=(64, 4)))
    ln, bn = LayerNormalization(), BatchNormalization()
    y_ln = backend.to_numpy(ln.forward(x))
    y_bn = backend.to_numpy(bn.forward(x, training=True))
    print("layer norm: per-row mean", y_ln.mean(axis=1)[:3], "std", y_ln.std(axis=1)[:3])
    print("batch norm: per-column mean", y_bn.mean(axis=0), "std", y_bn.std(axis=0))
    """),
    md(r"""
    ### Moving statistics: 0.99 in Keras is 0.01 in PyTorch

    Keras writes $m \leftarrow \text{momentum}\cdot m + (1 - \text{momentum})\cdot
    \mu_B$ with `momentum=0.99` (the weight of the *old* value); PyTorch writes
    $m \leftarrow (1 - \text{momentum})\cdot m + \text{momentum}\cdot\mu_B$ with
    `momentum=0.1` (the weight of the *new* value). The same update, opposite names.
    With 0.99 the moving mean needs hundreds of steps to reach the data's mean — which
    is why a BatchNorm network evaluated after a few steps can look much worse than it
    trained:
    """),
    code(r"""
    steps = 60 if QUICK else 600
    curves = {}
    for momentum in (0.99, 0.9):
        layer = BatchNormalization(momentum=momentum)
        rng = np.random.default_rng(1)
        trace = []
        for _ in range(steps):
            layer.forward(backend.asarray(rng.normal(5.0, 3.0, size=(32, 1))), training=True)
            trace.append(float(backend.to_numpy(layer.moving_mean)[0]))
        curves[momentum] = trace
    fig, ax = plt.subplots(figsize=(6, 3))
    for momentum, trace in curves.items():
        ax.plot(trace, label=f"Keras momentum {momentum} (PyTorch {1 - momentum:.2f})")
    ax.axhline(5.0, color="gray", ls=":", label="data mean")
    ax.set_xlabel("training step"); ax.set_ylabel("moving_mean"); ax.legend()
    plt.show()
    """),
    md(r"""
    ## 3. Positional encoding

    Attention is blind to order: permuting the tokens permutes the outputs. Vaswani et
    al. add $PE[t, 2i] = \sin(t / 10000^{2i/D})$, $PE[t, 2i+1] = \cos(t / 10000^{2i/D})$;
    every column is a sinusoid of its own wavelength (for odd $D$ the last column is a
    sine).
    """),
    code(r"""
    from mmscratch.nn.transformer import positional_encoding

    pe = backend.to_numpy(positional_encoding(50, 33))
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.imshow(pe.T, aspect="auto", cmap="RdBu")
    ax.set_xlabel("position t"); ax.set_ylabel("column (2i, 2i+1)")
    plt.show()
    """),
    md(r"""
    ## 4. The Transformer encoder block

    Post-norm (the paper's and PyTorch's default) and pre-norm:

    $$\text{post: } x_1 = \mathrm{LN}_1(x + \mathrm{MHA}(x)),\quad
      y = \mathrm{LN}_2(x_1 + \mathrm{FF}(x_1))$$
    $$\text{pre: } x_1 = x + \mathrm{MHA}(\mathrm{LN}_1(x)),\quad
      y = x_1 + \mathrm{FF}(\mathrm{LN}_2(x_1))$$

    with $\mathrm{FF}(x) = f(x W_1 + b_1) W_2 + b_2$, $f$ ReLU or the exact GELU
    $x\,\Phi(x)$. The backward pass is the sublayers' backward passes in reverse, the
    residual adding the identity. Same weights in PyTorch give the same numbers:
    """),
    code(r"""
    from mmscratch.nn import TransformerEncoder

    block = TransformerEncoder(num_heads=2, key_dim=4, ff_dim=16, norm_first=True,
                               activation="gelu", seed=0)
    xb = backend.asarray(np.random.default_rng(0).standard_normal((2, 5, 8)))
    mask = backend.asarray(np.array([[True] * 3 + [False] * 2, [True] * 5]))
    y = block.forward(xb, mask=mask)
    try:
        import torch

        ref = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True).double()
        a = {k: backend.to_numpy(v).astype(np.float64) for k, v in block.attention.params.items()}
        with torch.no_grad():
            ref.self_attn.in_proj_weight.copy_(torch.tensor(np.concatenate(
                [a["Wq"].T, a["Wk"].T, a["Wv"].T])))
            ref.self_attn.in_proj_bias.copy_(torch.tensor(np.concatenate(
                [a["bq"], a["bk"], a["bv"]])))
            ref.self_attn.out_proj.weight.copy_(torch.tensor(a["Wo"].T))
            ref.self_attn.out_proj.bias.copy_(torch.tensor(a["bo"]))
            for ours, theirs in ((block.dense1, ref.linear1), (block.dense2, ref.linear2)):
                theirs.weight.copy_(torch.tensor(backend.to_numpy(ours.params["W"]).T))
                theirs.bias.copy_(torch.tensor(backend.to_numpy(ours.params["b"])))
        ref.train()
        yt = ref(torch.tensor(backend.to_numpy(xb)),
                 src_key_padding_mask=torch.tensor(~backend.to_numpy(mask)))
        diff = np.abs(backend.to_numpy(y) - yt.detach().numpy()).max()
        print("max |ours - PyTorch|:", float(diff))
    except ImportError:
        print("PyTorch not installed: parity is in tests/test_transformer.py")
    """),
    md(r"""
    ### Order matters: a toy task that needs the positional encoding

    Sequences of 8 symbols from {0, ..., 4}; the label is 1 when the first 3 comes
    before the first 1. Without positional encoding the block sees a *set* of tokens
    and cannot do better than guessing from which symbols occur.
    """),
    code(r"""
    from mmscratch import nn

    def toy(n, seed):
        rng = np.random.default_rng(seed)
        s = rng.integers(0, 5, size=(n, 8))
        first = lambda v: np.where((s == v).any(1), (s == v).argmax(1), 99)  # 99: absent
        return s, (first(3) < first(1)).astype(np.int64)

    class ToyTransformer(nn.Layer):
        def __init__(self, positional):
            super().__init__()
            self.positional = positional
            self.embed = nn.Embedding(5, 16, seed=0)
            self.pe = nn.PositionalEncoding()
            self.block = nn.TransformerEncoder(2, 8, 32, norm_first=True, seed=1)
        def parameters(self):
            yield from self.embed.parameters()
            yield from self.block.parameters()
        def forward(self, ids, training=False):
            self.t = ids.shape[1]
            h = self.embed.forward(ids) * 4.0  # sqrt(16): the embedding is not drowned by PE
            if self.positional:
                h = self.pe.forward(h)
            return self.block.forward(h, training=training).mean(axis=1)
        def backward(self, dy):
            t = self.t  # mean over the tokens: each gets dy / T
            dh = self.block.backward(backend.xp().repeat(dy[:, None, :] / t, t, axis=1))
            self.embed.backward(dh * 4.0)

    n_train = 600 if QUICK else 3000
    epochs = 4 if QUICK else 15
    s_tr, y_tr = toy(n_train, 0)
    s_te, y_te = toy(1000, 1)
    for positional in (False, True):
        model = nn.Sequential([ToyTransformer(positional), nn.Dense(2, seed=2)])
        model.compile(nn.Adam(3e-3), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
        model.fit(s_tr, y_tr, epochs=epochs, batch_size=32, verbose=0)
        acc = model.evaluate(s_te, y_te)["accuracy"]
        print(f"positional encoding {positional!s:5}: test accuracy {acc:.3f}")
    """),
    md(r"""
    ## 5. A multimodal Transformer

    `TransformerFusion` turns each modality into tokens of width $d$, adds a learned
    **modality embedding** $e_m$ and the positional encoding, and runs Transformer blocks
    over them: all tokens in one stream (`mode="single"`), or MulT's cross form
    (`mode="cross"`: each modality's tokens attend to the others'). Here on the
    embedded `digits` set (image, audio, text; no download), with the token branches of
    `transformer_branches`: conv-feature-map positions for the image, time steps of the
    MFCC CNN for the audio, 4 text tokens from the bag of words.
    """),
    code(r"""
    from mmscratch.datasets import load
    from mmscratch.multimodal import MultimodalClassifier
    from mmscratch.multimodal.transformer_fusion import TransformerFusion, transformer_branches

    data = load("digits", seed=0)
    mods = ("image", "audio", "text")
    n = 300 if QUICK else len(data["train"]["label"])
    xtr = {m: data["train"][m][:n] for m in mods}
    ytr = data["train"]["label"][:n]
    xte = {m: data["test"][m] for m in mods}
    yte = data["test"]["label"]
    shapes = {m: xtr[m].shape[1:] for m in mods}

    fusion = TransformerFusion(d_model=16, num_heads=2, ff_dim=32, mode="single", seed=9)
    model = MultimodalClassifier(transformer_branches(shapes, mods, 16, seed=0), fusion,
                                 [nn.Dense(64, activation="relu", seed=1), nn.Dense(10, seed=2)],
                                 modality_dropout=0.3, seed=0)
    model.compile(nn.Adam(1e-3), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
    model.fit(xtr, ytr, epochs=1 if QUICK else 10, batch_size=32, verbose=0)
    print("test accuracy, all modalities:", round(model.evaluate(xte, yte)["accuracy"], 3))
    for missing in mods:
        kept = {m: xte[m] for m in mods if m != missing}
        print(f"  without {missing}:", round(model.evaluate(kept, yte)["accuracy"], 3))
    """),
    md(r"""
    ### Which modality do the tokens look at?

    The block's attention weights, averaged over heads and test samples, summed over
    the key tokens of each modality: row = the query modality, column = where its
    attention goes. The tokens counts differ per modality, so a uniform attention would
    already favour the modality with more tokens; the dotted line is that baseline.
    """),
    code(r"""
    model.predict({m: xte[m][:64] for m in mods})
    att = backend.to_numpy(fusion.blocks[0].attention.attention_scores).mean(axis=(0, 1))
    bounds = np.cumsum([0] + fusion._tokens)
    share = np.array([[att[bounds[i]:bounds[i + 1], bounds[j]:bounds[j + 1]].sum(1).mean()
                       for j in range(3)] for i in range(3)])
    fig, ax = plt.subplots(figsize=(4, 3))
    im = ax.imshow(share, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(3), mods); ax.set_yticks(range(3), mods)
    ax.set_xlabel("keys (attended)"); ax.set_ylabel("queries")
    for i in range(3):
        for j in range(3):
            ax.text(j, i, f"{share[i, j]:.2f}", ha="center", va="center", color="w")
    plt.colorbar(im); plt.show()
    print("tokens per modality:", dict(zip(mods, fusion._tokens)),
          "| uniform share:", np.round(np.array(fusion._tokens) / sum(fusion._tokens), 2))
    """),
    md(r"""
    ## Where to go next

    * `benchmarks/fusion_results.py` compares this fusion with early, late, tensor and
      attention fusion on AV-MNIST (`benchmarks/RESULTS.md`, section "fusion");
    * `benchmarks/text_tasks.py` trains a small Transformer classifier on 20 Newsgroups
      beside the Embedding + mean model;
    * `benchmarks/train_mnist_cnn.py --compare-batchnorm` shows BatchNormalization's
      effect on the MNIST CNN's training curve;
    * `benchmarks/bench_sequence.py --modern` times GRU and the Transformer block
      against PyTorch.
    """),
]


if __name__ == "__main__":
    build("11_transformer", CELLS)
