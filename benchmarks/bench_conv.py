"""Conv2D / MaxPooling2D forward+backward and one MNIST-CNN epoch: mmscratch vs PyTorch CPU.

Both run in this process, on the same data, float32, with the same thread count for
PyTorch (``torch.set_num_threads``) and NumPy's BLAS (``threadpoolctl``). ``--threads 1``
(the default) measures CPU time (``time.process_time``), which a machine shared with
other jobs disturbs far less than wall time; more threads measure wall time. Each
number is the best of several interleaved runs.

Shapes: MNIST-like (1->32 and 32->64 at 28/26 px, valid), CIFAR-like (3 channels at
32x32 with "same" padding, 16->32 at 16x16), 5x5 kernels and stride 2. Rows marked
"first layer" skip the input gradient on both sides (our ``needs_input_grad = False``,
PyTorch's input without ``requires_grad``), as in a network's first layer.

The training epoch is timed on ``--batches`` mini-batches of 128 (forward, loss,
backward, Adam step) and extrapolated to the 469 batches of a 60,000-image epoch.

Usage::

    python benchmarks/bench_conv.py [--threads 1] [--repeat 5] [--batches 10]
"""

from __future__ import annotations

import argparse
import time

import _report
import numpy as np

from mmscratch import backend
from mmscratch.nn import Adam, Conv2D, MaxPooling2D, SoftmaxCrossEntropy
from mmscratch.nn.conv import same_padding

# (C_in, F, H=W, kernel, stride, padding, first layer)
CONV_SHAPES = [
    (1, 32, 28, 3, 1, "valid", True),     # MNIST CNN, first layer
    (32, 64, 26, 3, 1, "valid", False),   # MNIST CNN, second layer
    (3, 16, 32, 3, 1, "same", True),      # CIFAR-like first layer
    (3, 16, 32, 3, 1, "same", False),     # ... with the input gradient
    (16, 32, 16, 3, 1, "same", False),
    (32, 64, 14, 5, 1, "same", False),    # 5x5 kernel
    (3, 32, 32, 5, 1, "same", True),      # 5x5 kernel, first layer
    (16, 32, 32, 3, 2, "same", False),    # stride 2
    (64, 64, 28, 3, 1, "valid", False),
]
N = 64
CLOCK = time.perf_counter


def _blas_threads():
    from threadpoolctl import threadpool_info

    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(i["num_threads"] for i in info) if info else 1


def _torch_pads(H, k, s, padding):
    if padding != "same":
        return (0, 0, 0, 0)
    (pt, pb), (pl, pr) = same_padding(H, k, s), same_padding(H, k, s)
    return (pl, pr, pt, pb)


def bench_conv(torch, repeat):
    rng = np.random.default_rng(0)
    rows = []
    for C, F, H, k, s, padding, first in CONV_SHAPES:
        x = rng.standard_normal((N, H, H, C)).astype(np.float32)
        layer = Conv2D(F, k, strides=s, padding=padding, seed=0)
        layer.needs_input_grad = not first
        y = layer(x)
        dy = rng.standard_normal(y.shape).astype(np.float32)

        def ours(layer=layer, x=x, dy=dy):
            layer.forward(x, training=True)
            layer.backward(dy)

        pads = _torch_pads(H, k, s, padding)
        symmetric = pads[0] == pads[1] and pads[2] == pads[3]
        conv = torch.nn.Conv2d(C, F, k, stride=s, padding=(pads[2], pads[0]) if symmetric else 0)
        xt = torch.tensor(x.transpose(0, 3, 1, 2)).requires_grad_(not first)
        dyt = torch.tensor(dy.transpose(0, 3, 1, 2))

        def theirs(conv=conv, xt=xt, dyt=dyt, symmetric=symmetric, pads=pads):
            xt.grad = None
            conv.zero_grad()
            xin = xt if symmetric else torch.nn.functional.pad(xt, pads)
            conv(xin).backward(dyt)

        t_ours, t_theirs = _interleaved(ours, theirs, repeat)
        label = (f"Conv2D {k}x{k} {C}->{F}, {H}x{H}, stride {s}, {padding}"
                 + (", first layer (no dx)" if first else ""))
        rows.append((label, t_ours, t_theirs))
        print(f"{label:60s} {t_ours * 1e3:8.1f} ms {t_theirs * 1e3:8.1f} ms "
              f"{t_ours / t_theirs:5.2f}x", flush=True)

    x = rng.standard_normal((N, 24, 24, 64)).astype(np.float32)
    pool = MaxPooling2D(2)
    dy = rng.standard_normal(pool(x).shape).astype(np.float32)

    def ours_pool():
        pool.forward(x, training=True)
        pool.backward(dy)

    xt = torch.tensor(x.transpose(0, 3, 1, 2)).requires_grad_(True)
    dyt = torch.tensor(dy.transpose(0, 3, 1, 2))

    def theirs_pool():
        xt.grad = None
        torch.nn.functional.max_pool2d(xt, 2).backward(dyt)

    t_ours, t_theirs = _interleaved(ours_pool, theirs_pool, repeat)
    rows.append(("MaxPooling2D 2x2, 64 ch, 24x24", t_ours, t_theirs))
    return rows


def _best(fn, warmup=1):
    for _ in range(warmup):
        fn()
    t0 = CLOCK()
    fn()
    return CLOCK() - t0


def _interleaved(a, b, repeat):
    """Best of ``repeat`` rounds, alternating the two so that load hits both alike."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(_best(a))
        tb.append(_best(b))
    return min(ta), min(tb)


def bench_epoch(torch, batches, repeat):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from train_mnist_cnn import mnist_cnn

    rng = np.random.default_rng(0)
    xb = rng.random((128, 28, 28, 1), dtype=np.float32)
    yb = rng.integers(0, 10, 128)
    model = mnist_cnn(seed=0)
    model.compile(optimizer=Adam(lr=1e-3), loss=SoftmaxCrossEntropy())

    def ours():
        for _ in range(batches):
            model.train_step(xb, yb)

    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128),
                        nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt = torch.tensor(xb.transpose(0, 3, 1, 2))
    yt = torch.tensor(yb)

    def theirs():
        for _ in range(batches):
            opt.zero_grad()
            nn.functional.cross_entropy(net(xt), yt).backward()
            opt.step()

    t_ours, t_theirs = _interleaved(ours, theirs, repeat)
    scale = 469 / batches
    return ("MNIST CNN epoch (469 x 128, extrapolated)", t_ours * scale, t_theirs * scale)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for PyTorch and NumPy's BLAS; 1 times CPU time")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    global CLOCK
    CLOCK = time.process_time if args.threads == 1 else time.perf_counter
    backend.use("numpy")
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads, user_api="blas"):
        threads = _blas_threads()
        rows = bench_conv(torch, args.repeat)
        rows.append(bench_epoch(torch, args.batches, max(2, args.repeat // 2)))
    clock = "CPU time (time.process_time)" if args.threads == 1 else "wall time"
    lines = [
        "## conv: Conv2D / MaxPooling2D forward+backward and a MNIST-CNN epoch vs PyTorch CPU "
        "(`benchmarks/bench_conv.py`)",
        "",
        f"N={N}, float32; backend numpy; PyTorch {torch.__version__} with "
        f"torch.set_num_threads({args.threads}), NumPy BLAS threads {threads}; {clock}. "
        f"Machine: {_report.machine()}, shared with other jobs while measured. Best of "
        f"{args.repeat} interleaved runs. Command: `python benchmarks/bench_conv.py "
        f"--threads {args.threads} --repeat {args.repeat} --batches {args.batches}`. The "
        f"epoch row times {args.batches} training steps (forward, loss, backward, Adam) of "
        f"batch 128 and multiplies by 469/{args.batches} (extrapolated, not a full epoch).",
        "",
        "| operation | mmscratch ms | PyTorch ms | ratio |",
        "|---|---|---|---|",
    ]
    for name, a, b in rows:
        lines.append(f"| {name} | {a * 1e3:.1f} | {b * 1e3:.1f} | {a / b:.2f}x |")
    print("\n".join(lines[-len(rows):]), flush=True)
    if not args.no_report:
        _report.write_section("conv", "\n".join(lines))


if __name__ == "__main__":
    main()
