"""NumPy (CPU) vs CuPy (GPU) vs PyTorch CUDA, side by side in one run.

Run on a machine with an NVIDIA GPU and CuPy (``benchmarks/gpu_check.sh`` does). Each
row times the same computation on the three; GPU timings synchronize the device before
the clock is read (``backend.synchronize`` / ``torch.cuda.synchronize``). Writes the
"gpu" section of benchmarks/RESULTS.md (and a copy to --out); ``--parts recurrent``
times only the LSTM/GRU rows (fused gate kernels on and off against cuDNN) and writes
the section "gpu_recurrent". Torch columns are left empty where torch sees no CUDA.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import best_of, write_section  # noqa: E402

from mmscratch import backend, nn  # noqa: E402

N = 64
#: Replaced by --dry-run (CPU only): "strict" stands in for cupy and torch runs on the CPU.
GPU = {"backend": "cupy", "torch": "cuda"}


def _sync():
    backend.synchronize()


def time_layer_fwd_bwd(make_layer, x_host, repeat=5, **fwd):
    """Best time of forward+backward of a freshly built layer on the active backend."""
    layer = make_layer()
    x = backend.asarray(x_host)
    y = layer.forward(x, training=True, **fwd)
    dy = backend.xp().ones_like(y)

    def step():
        layer.forward(x, training=True, **fwd)
        layer.backward(dy)

    return best_of(step, repeat=repeat, warmup=1, sync=_sync)


def torch_fwd_bwd(build, x_host, repeat=5):
    """Best time of PyTorch's forward+backward on GPU["torch"], or None (no row entry)
    when that device is CUDA and torch sees none (a CPU-only torch build)."""
    import torch

    dev = GPU["torch"]
    if dev == "cuda" and not torch.cuda.is_available():
        return None
    mod = build(torch).to(dev)
    x = torch.tensor(x_host, device=dev, requires_grad=True)

    def step():
        out = mod(x)
        out = out[0] if isinstance(out, tuple) else out
        out.backward(torch.ones_like(out))

    sync = torch.cuda.synchronize if dev == "cuda" else None
    return best_of(step, repeat=repeat, warmup=2, sync=sync)


def conv_rows():
    from mmscratch.nn.conv import Conv2D, MaxPooling2D

    rows = []
    for cin, cout, hw in [(1, 32, 28), (32, 64, 26), (64, 64, 28), (32, 64, 14)]:
        x = np.random.default_rng(0).standard_normal((N, hw, hw, cin)).astype(np.float32)
        times = {}
        for name in ("numpy", GPU["backend"]):
            with backend.use(name):
                times[name] = time_layer_fwd_bwd(lambda c=cout: Conv2D(c, 3, seed=0), x,
                                                 repeat=3 if name == "numpy" else 10)
        t_ref = torch_fwd_bwd(
            lambda t, cin=cin, cout=cout: _NCHW(t, t.nn.Conv2d(cin, cout, 3)), x, repeat=10)
        if t_ref is not None:
            times["torch"] = t_ref
        rows.append((f"Conv2D 3x3 {cin}->{cout}, {hw}x{hw}, N={N}", times))
    x = np.random.default_rng(0).standard_normal((N, 26, 26, 64)).astype(np.float32)
    times = {}
    for name in ("numpy", GPU["backend"]):
        with backend.use(name):
            times[name] = time_layer_fwd_bwd(lambda: MaxPooling2D(2), x)
    t_ref = torch_fwd_bwd(lambda t: _NCHW(t, t.nn.MaxPool2d(2)), x, repeat=10)
    if t_ref is not None:
        times["torch"] = t_ref
    rows.append((f"MaxPooling2D 2x2, 64ch 26x26, N={N}", times))
    return rows


def _NCHW(torch, module):  # noqa: N802 - wraps a torch module to take NHWC input
    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = module

        def forward(self, x):
            return self.m(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)

    return Wrap()


class _StepKernels:
    """Set ``cls.step_kernels`` (fused gate kernels per step on/off) inside a with-block."""

    def __init__(self, cls, value):
        self.cls, self.value = cls, value

    def __enter__(self):
        self.before = self.cls.__dict__.get("step_kernels")
        self.cls.step_kernels = self.value

    def __exit__(self, *exc):
        self.cls.step_kernels = self.before


def recurrent_rows():
    """LSTM and GRU forward+backward (N=64, T=50, D=40, H=128, float32): ours with one
    fused gate kernel per step (``step_kernels=True``, the cupy default) and with the
    unfused in-place steps (``step_kernels=False``), against PyTorch's nn.LSTM / nn.GRU,
    which on CUDA run cuDNN's fused RNN kernels. Goal (issue 19): LSTM <= 3x cuDNN."""
    import torch

    from mmscratch.nn import GRU, LSTM

    cudnn = GPU["torch"] == "cuda" and torch.backends.cudnn.is_available()
    ref = "cuDNN" if cudnn else "PyTorch"
    x = np.random.default_rng(0).standard_normal((N, 50, 40)).astype(np.float32)
    rows = []
    for cls, torch_cls in ((LSTM, "LSTM"), (GRU, "GRU")):
        for fused in (True, False):
            times = {}
            names = ("numpy", GPU["backend"]) if fused else (GPU["backend"],)
            for name in names:
                with backend.use(name), _StepKernels(cls, fused if name != "numpy" else None):
                    times[name] = time_layer_fwd_bwd(
                        lambda c=cls: c(128, return_sequences=True, seed=0), x,
                        repeat=3 if name == "numpy" else 10)
            if fused:
                t_ref = torch_fwd_bwd(
                    lambda t, n=torch_cls: getattr(t.nn, n)(40, 128, batch_first=True), x,
                    repeat=10)
                if t_ref is not None:
                    times["torch"] = t_ref
            how = "one fused gate kernel per step" if fused else "unfused steps"
            rows.append((f"{torch_cls} T=50, D=40, H=128, N={N}, {how} (vs {ref})", times))
    return rows


def sequence_rows():
    from mmscratch.nn.attention import MultiHeadAttention

    rows = recurrent_rows()
    x = np.random.default_rng(0).standard_normal((N, 50, 128)).astype(np.float32)
    times = {}
    for name in ("numpy", GPU["backend"]):
        with backend.use(name):
            times[name] = time_layer_fwd_bwd(lambda: MultiHeadAttention(4, 32, seed=0), x)

    def mha(t):
        class SelfAttn(t.nn.Module):
            def __init__(self):
                super().__init__()
                self.m = t.nn.MultiheadAttention(128, 4, batch_first=True)

            def forward(self, x):
                return self.m(x, x, x, need_weights=False)[0]

        return SelfAttn()

    t_ref = torch_fwd_bwd(mha, x)
    if t_ref is not None:
        times["torch"] = t_ref
    rows.append(("MultiHeadAttention T=50, D=128, 4 heads, N=64", times))
    return rows


def mfcc_row():
    from mmscratch.features import MFCC

    clips = np.random.default_rng(0).standard_normal((3000, 8000)).astype(np.float32) * 0.1
    times = {}
    for name in ("numpy", GPU["backend"]):
        with backend.use(name):
            extractor = MFCC(8000, preset="librosa")
            x = backend.asarray(clips)
            times[name] = best_of(lambda e=extractor, a=x: e(a), repeat=3, warmup=1, sync=_sync)
    return [("MFCC (librosa preset) of 3000 one-second 8 kHz clips", times)]


def epoch_row(n_train=2000):
    """One training epoch of the attention-fusion classifier on AV-MNIST-shaped inputs."""
    from mmscratch.multimodal import build_model

    rng = np.random.default_rng(0)
    x = {"image": rng.random((n_train, 28, 28, 1), dtype=np.float32),
         "audio": rng.standard_normal((n_train, 20, 13)).astype(np.float32)}
    y = rng.integers(0, 10, n_train)
    times = {}
    for name in ("numpy", GPU["backend"]):
        with backend.use(name):
            model = build_model({"image": (28, 28, 1), "audio": (20, 13)}, ("image", "audio"),
                                "attention", seed=0)
            model.compile(nn.Adam(1e-3), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
            model.fit({k: v[:64] for k, v in x.items()}, y[:64], epochs=1, verbose=0)  # warm-up
            _sync()
            t0 = time.perf_counter()
            model.fit(x, y, epochs=1, batch_size=64, verbose=0)
            _sync()
            times[name] = time.perf_counter() - t0
    return [(f"one epoch, attention fusion image+audio (AV-MNIST shapes), {n_train} samples",
             times)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--dry-run", action="store_true",
                   help="no GPU: run every code path with 'strict' for cupy and torch on CPU")
    p.add_argument("--parts", default="conv,sequence,mfcc,epoch",
                   help="comma-separated subset of conv, recurrent (LSTM/GRU only), "
                        "sequence (recurrent + attention), mfcc, epoch")
    args = p.parse_args()
    parts = {"conv": conv_rows, "recurrent": recurrent_rows, "sequence": sequence_rows,
             "mfcc": mfcc_row, "epoch": epoch_row}
    unknown = set(args.parts.split(",")) - set(parts)
    if unknown:
        p.error(f"--parts: unknown {sorted(unknown)}; choose from {sorted(parts)}")
    import torch

    if args.dry_run:
        GPU.update(backend="strict", torch="cpu")
        device, cupy_version = "none (dry run on CPU; numbers mean nothing)", "-"
    elif not backend.cupy_available():
        raise SystemExit("bench_gpu.py needs CuPy and a GPU (or --dry-run)")
    else:
        import cupy

        device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        cupy_version = cupy.__version__
    rows = []
    for part in (parts[k] for k in args.parts.split(",")):
        try:
            rows += part()
        except Exception as exc:  # keep the other rows when one part breaks
            rows.append((f"{part.__name__} FAILED: {type(exc).__name__}: {exc}", {}))
        print(rows[-1], flush=True)
    lines = [f"Device: {device}; CPU side: {os.cpu_count()} cores; CuPy {cupy_version}, "
             f"PyTorch {torch.__version__}. Written by `benchmarks/bench_gpu.py` "
             "(run by `benchmarks/gpu_check.sh`). Times are best-of-N in ms, forward+backward "
             "unless said; NumPy runs on the GPU machine's CPU.", "",
             "| workload | NumPy CPU ms | CuPy GPU ms | PyTorch CUDA ms | CuPy / PyTorch | "
             "NumPy / CuPy (speed-up) |", "|---|---|---|---|---|---|"]
    for label, t in rows:
        def ms(k, t=t):
            return f"{1e3 * t[k]:.2f}" if k in t else "-"

        g = GPU["backend"]
        ratio = f"{t[g] / t['torch']:.2f}" if g in t and "torch" in t else "-"
        speed = f"{t['numpy'] / t[g]:.1f}x" if g in t and "numpy" in t else "-"
        lines.append(f"| {label} | {ms('numpy')} | {ms(g)} | {ms('torch')} | {ratio} | "
                     f"{speed} |")
    text = "\n".join(["## GPU: NumPy vs CuPy vs PyTorch CUDA", "", *lines])
    if not args.dry_run:  # a subset of parts gets its own section, not the full table's
        full = args.parts == p.get_default("parts")
        write_section("gpu" if full else "gpu_" + args.parts.replace(",", "_"), text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
