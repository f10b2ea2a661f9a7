"""Conv2D / MaxPooling2D forward+backward and one MNIST-CNN epoch: mmscratch vs PyTorch CPU.

Both run in this process, on the same data, float32, with PyTorch limited to as many
threads as NumPy's BLAS uses (``torch.set_num_threads``). Each number is the best of
several runs (``_report.best_of``); the machine is shared, so the spread is large.

The training epoch is timed on ``--batches`` mini-batches of 128 (forward, loss,
backward, Adam step) and extrapolated to the 469 batches of a 60,000-image epoch.

Usage::

    python benchmarks/bench_conv.py            # writes the "conv" section of RESULTS.md
"""

from __future__ import annotations

import argparse

import _report
import numpy as np

from mmscratch import backend
from mmscratch.nn import Adam, Conv2D, MaxPooling2D, SoftmaxCrossEntropy

CONV_SHAPES = [(1, 32, 28), (32, 64, 26), (64, 64, 28), (32, 64, 14)]  # (C_in, F, H=W)
N = 64


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        return max(i["num_threads"] for i in info) if info else 1
    except ImportError:  # pragma: no cover
        import os

        return os.cpu_count() or 1


def bench_conv(torch, repeat):
    rng = np.random.default_rng(0)
    rows = []
    for C, F, H in CONV_SHAPES:
        x = rng.standard_normal((N, H, H, C)).astype(np.float32)
        layer = Conv2D(F, 3, seed=0)
        y = layer(x)
        dy = rng.standard_normal(y.shape).astype(np.float32)

        def ours(layer=layer, x=x, dy=dy):
            layer.forward(x, training=True)
            layer.backward(dy)

        conv = torch.nn.Conv2d(C, F, 3)
        xt = torch.tensor(x.transpose(0, 3, 1, 2)).requires_grad_(True)
        dyt = torch.tensor(dy.transpose(0, 3, 1, 2))

        def theirs(conv=conv, xt=xt, dyt=dyt):
            xt.grad = None
            conv.zero_grad()
            conv(xt).backward(dyt)

        t_ours, t_theirs = _interleaved(ours, theirs, repeat)
        rows.append((f"Conv2D 3x3 {C}->{F}, {H}x{H}", t_ours, t_theirs))

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


def _interleaved(a, b, repeat):
    """Best of ``repeat`` rounds, alternating the two so that load hits both alike."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(_report.best_of(a, repeat=1, warmup=1))
        tb.append(_report.best_of(b, repeat=1, warmup=1))
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
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args(argv)
    import torch

    backend.use("numpy")
    threads = _blas_threads()
    torch.set_num_threads(threads)
    rows = bench_conv(torch, args.repeat)
    rows.append(bench_epoch(torch, args.batches, max(2, args.repeat // 2)))
    lines = [
        "## conv: Conv2D / MaxPooling2D forward+backward and a MNIST-CNN epoch vs PyTorch CPU "
        "(`benchmarks/bench_conv.py`)",
        "",
        f"N={N}, float32, 3x3 kernels, valid padding; backend numpy; PyTorch "
        f"{torch.__version__} with torch.set_num_threads({threads}) = BLAS threads. "
        f"Machine: {_report.machine()}. Best of {args.repeat} interleaved runs; the machine "
        "is shared with other jobs, so expect large run-to-run spread. The epoch row times "
        f"{args.batches} training steps (forward, loss, backward, Adam) of batch 128 and "
        "multiplies by 469/{} (extrapolated, not a full epoch).".format(args.batches),
        "",
        "| operation | mmscratch ms | PyTorch ms | ratio |",
        "|---|---|---|---|",
    ]
    for name, a, b in rows:
        lines.append(f"| {name} | {a * 1e3:.1f} | {b * 1e3:.1f} | {a / b:.2f}x |")
        print(f"{name:45s} {a * 1e3:9.1f} ms {b * 1e3:9.1f} ms  {a / b:5.2f}x", flush=True)
    if not args.no_report:
        _report.write_section("conv", "\n".join(lines))


if __name__ == "__main__":
    main()
