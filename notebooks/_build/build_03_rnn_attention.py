"""Build (and execute) notebooks/03_rnn_attention.ipynb: RNN, LSTM and attention.

Run from the repository root::

    python notebooks/_build/build_03_rnn_attention.py            # write and execute
    QUICK=1 python notebooks/_build/build_03_rnn_attention.py    # quick mode (< 1 min)
    python notebooks/_build/build_03_rnn_attention.py --no-execute
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _nb import SETUP, build, code, md  # noqa: E402

CELLS = [
    md(r"""
    # 03 · Recurrent networks and attention, from scratch

    Section 3.2 of the source document names two sequence models:

    * **RNN** (3.2.2): $h_t = f(W x_t + U h_{t-1} + b)$ — the hidden state $h_t$ carries
      what the network has seen so far;
    * **self-attention** (3.2.3):
      $e_{ij} = \dfrac{\exp(s(h_i, h_j))}{\sum_{k=1}^{n} \exp(s(h_i, h_k))}$,
      $a_i = \sum_{j=1}^{n} e_{ij} h_j$ — every position looks at every other one.

    This notebook unrolls an RNN by hand, checks the backward passes (backpropagation
    through time, the softmax Jacobian) against finite differences, and trains a tiny
    attention model whose attention map you can read.

    Code: `mmscratch/nn/recurrent.py`, `mmscratch/nn/attention.py`,
    `mmscratch/nn/embedding.py`. Tests: `tests/test_recurrent.py`,
    `tests/test_attention.py`. Chapter: `chapters/03-2-models.md`.
    """),
    code(SETUP),
    md(r"""
    ## 1. The RNN step, unrolled by hand

    mmscratch stores samples as rows, so with $x_t$ of shape $(N, D)$ the document's
    $W x_t$ becomes `x_t @ W` with $W \in \mathbb{R}^{D\times H}$, $U \in
    \mathbb{R}^{H\times H}$, $b \in \mathbb{R}^{H}$:

    $$h_t = \tanh(x_t W + h_{t-1} U + b), \qquad h_0 = 0.$$

    A toy sequence: one sample, $T = 5$ steps of a 2-D signal (a sine and a cosine).
    """),
    code(r"""
    from mmscratch.nn import SimpleRNN

    T, D, H = 5, 2, 3
    t = np.arange(T)
    x_host = np.stack([np.sin(t), np.cos(t)], axis=1)[None]   # (N=1, T, D)
    x = backend.asarray(x_host)

    rnn = SimpleRNN(H, return_sequences=True, seed=0)
    hs = backend.to_numpy(rnn.forward(x))                     # (1, T, H)
    W, U, b = (backend.to_numpy(rnn.params[k]) for k in ("W", "U", "b"))

    h = np.zeros(H)
    for step in range(T):
        a = x_host[0, step] @ W + h @ U + b                   # W x_t + U h_{t-1} + b
        h = np.tanh(a)                                        # f = tanh
        print(f"t={step}: x_t={x_host[0, step]}  ->  h_t={h}   (layer: {hs[0, step]})")
    print("max |by hand - layer| =", np.abs(h - hs[0, -1]).max())
    """),
    md(r"""
    ## 2. Backpropagation through time, checked

    With $a_t = x_t W + h_{t-1} U + b$ and $\delta_t = \partial L / \partial a_t$, the
    backward pass walks the sequence in reverse:

    $$\delta_t = \bigl(\tfrac{\partial L}{\partial h_t} + \delta_{t+1} U^\top\bigr)
    \odot f'(a_t),\qquad
    \frac{\partial L}{\partial W} = \sum_t x_t^\top \delta_t,\quad
    \frac{\partial L}{\partial U} = \sum_t h_{t-1}^\top \delta_t,\quad
    \frac{\partial L}{\partial b} = \sum_t \delta_t .$$

    The LSTM (gates $i, f, c, o$ in Keras' order) adds a cell state
    $c_t = f_t \odot c_{t-1} + i_t \odot g_t$ and outputs $h_t = o_t \odot \tanh c_t$,
    whose additive path lets gradients survive many steps.

    `mmscratch.gradcheck.check_layer` compares every analytic gradient with central
    differences in float64 (relative error, CS231n's definition). A mask marks padded
    steps (`False`): they carry the state through and receive zero gradient.
    """),
    code(r"""
    from mmscratch.gradcheck import check_layer
    from mmscratch.nn import LSTM, Attention, Embedding, MultiHeadAttention

    rng = np.random.default_rng(0)
    xs = backend.asarray(rng.standard_normal((2, 3, 3)))
    mask = backend.asarray(np.array([[True, True, False], [True, True, True]]))
    idx = backend.asarray(np.array([[1, 1, 4], [0, 1, 2]]))
    cases = {
        "SimpleRNN (last state)": (SimpleRNN(4, seed=0), xs, {}),
        "SimpleRNN (sequence, mask)": (SimpleRNN(4, return_sequences=True, seed=0), xs,
                                       {"mask": mask}),
        "LSTM (last state, mask)": (LSTM(4, seed=0), xs, {"mask": mask}),
        "LSTM (sequence)": (LSTM(4, return_sequences=True, seed=0), xs, {}),
        "Attention (causal)": (Attention(causal=True), xs, {}),
        "MultiHeadAttention [q, v]": (MultiHeadAttention(2, key_dim=2, use_bias=False, seed=0),
                                      [xs, backend.asarray(rng.standard_normal((2, 4, 3)))], {}),
        "Embedding (repeated ids)": (Embedding(5, 3, seed=0), idx, {}),
    }
    for name, (layer, inp, kw) in cases.items():
        res = check_layer(layer, inp, forward_kwargs=kw, eps=1e-5)
        worst = max(res.values(), key=lambda r: r.rel_error)
        print(f"{name:28s} checked {', '.join(res):22s} worst rel. error {worst.rel_error:.1e}")
    """),
    md(r"""
    ## 3. Attention: $e_{ij}$ as a picture

    mmscratch takes $s(h_i, h_j) = h_i \cdot h_j / \sqrt{d}$, the scaled dot product.
    With queries $Q$, keys $K$ and values $V$ (all equal to the sequence in
    self-attention):

    $$E = \operatorname{softmax}\!\Bigl(\frac{Q K^\top}{\sqrt d}\Bigr),\qquad A = E V .$$

    Each row $e_{i\cdot}$ is a probability distribution over the positions $j$. A
    *causal* mask lets position $i$ look only at $j \le i$; masked entries get exactly
    zero weight (their scores become $-\infty$ before the softmax).
    """),
    code(r"""
    seq = backend.asarray(np.random.default_rng(1).standard_normal((1, 6, 4)))
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.4))
    for ax, causal in zip(axes, (False, True)):
        _, e = Attention(causal=causal).forward(seq, return_attention_scores=True)
        e = backend.to_numpy(e)[0]
        im = ax.imshow(e, cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"self-attention, causal={causal}")
        ax.set_xlabel("key position j"); ax.set_ylabel("query position i")
        print(f"causal={causal}: row sums {e.sum(axis=1).round(6)}")
    fig.colorbar(im, ax=axes, shrink=0.8)
    plt.show()
    """),
    md(r"""
    ## 4. A toy task: reverse a sequence

    Input: $T = 6$ random tokens from a vocabulary of 8; target: the same tokens in
    reverse order. The model has one attention head and no recurrence:

    * keys and values: token embedding + position embedding of each input step;
    * queries: a learned embedding of the *output* position $i$;
    * output: a dense layer on $a_i$ gives the logits of token $i$.

    To solve the task, output position $i$ must attend to input position $T - 1 - i$,
    so after training the attention map should be an anti-diagonal. Each layer's
    `backward` is called by hand and Adam updates all parameters.
    """),
    code(r"""
    from mmscratch.nn import Adam, Dense, SoftmaxCrossEntropy

    V, T, d, batch = 8, 6, 16, 64
    steps = 150 if QUICK else 400
    tok, pos_k, pos_q = Embedding(V, d, seed=1), Embedding(T, d, seed=2), Embedding(T, d, seed=3)
    mha = MultiHeadAttention(num_heads=1, key_dim=d, seed=4)
    head = Dense(V, seed=5)
    layers = [tok, pos_k, pos_q, mha, head]


    class Toy:
        def parameters(self):  # what the optimizer steps over
            for layer in layers:
                yield from layer.parameters()


    positions = backend.asarray(np.tile(np.arange(T), (batch, 1)))


    def forward(x):
        kv = tok.forward(x) + pos_k.forward(positions)   # (N, T, d)
        q = pos_q.forward(positions)                      # (N, T, d)
        return head.forward(mha.forward([q, kv]))         # (N, T, V) logits


    def backward(dlogits):
        dq, dkv = mha.backward(head.backward(dlogits))
        pos_q.backward(dq)
        tok.backward(dkv)
        pos_k.backward(dkv)


    loss_fn, opt = SoftmaxCrossEntropy(), Adam(lr=0.01)
    rng = np.random.default_rng(0)
    history = []
    for step in range(steps):
        x_host = rng.integers(0, V, size=(batch, T))
        y_host = x_host[:, ::-1].copy()
        logits = forward(backend.asarray(x_host))
        loss = loss_fn.forward(logits.reshape(-1, V), backend.asarray(y_host.reshape(-1)))
        backward(loss_fn.backward().reshape(batch, T, V))
        opt.step(Toy())
        history.append(loss)
        if step % 50 == 0 or step == steps - 1:
            acc = (backend.to_numpy(logits.argmax(axis=-1)) == y_host).mean()
            print(f"step {step:3d}  loss {loss:.4f}  token accuracy {acc:.3f}")
    """),
    code(r"""
    x_host = rng.integers(0, V, size=(batch, T))
    pred = backend.to_numpy(forward(backend.asarray(x_host)).argmax(axis=-1))
    print("held-out token accuracy:", (pred == x_host[:, ::-1]).mean())
    print("input   ", x_host[0], "\npredicted", pred[0])

    e = backend.to_numpy(mha.attention_scores)[0, 0]        # (T_out, T_in), head 0
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    axes[0].plot(history)
    axes[0].set_yscale("log"); axes[0].set_xlabel("step"); axes[0].set_ylabel("loss")
    axes[0].set_title("training loss")
    im = axes[1].imshow(e, cmap="viridis", vmin=0, vmax=1)
    axes[1].set_xticks(range(T), [str(v) for v in x_host[0]])
    axes[1].set_yticks(range(T), [str(v) for v in pred[0]])
    axes[1].set_xlabel("input token (key position j)")
    axes[1].set_ylabel("output token (query i)")
    axes[1].set_title("attention weights e_ij")
    fig.colorbar(im, ax=axes[1], shrink=0.8)
    plt.tight_layout()
    plt.show()
    """),
    md(r"""
    ## 5. Long sequences

    The LSTM's gates use a numerically stable sigmoid,
    $\sigma(z) = \tfrac12 \tanh(z/2) + \tfrac12$, so even 1000 steps of large inputs
    give finite states and gradients (also a test in `tests/test_recurrent.py`).
    """),
    code(r"""
    xp = backend.xp()
    lstm = LSTM(8, return_sequences=True, seed=0)
    long_x = backend.asarray((10 * np.random.default_rng(0).standard_normal((2, 1000, 3)))
                             .astype(np.float32))
    y = lstm.forward(long_x)
    dx = lstm.backward(xp.ones_like(y))
    print("states finite:", bool(backend.to_numpy(xp.isfinite(y).all())),
          "| input gradient finite:", bool(backend.to_numpy(xp.isfinite(dx).all())))
    """),
]


if __name__ == "__main__":
    build("03_rnn_attention", CELLS)
