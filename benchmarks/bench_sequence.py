"""Forward + backward speed of LSTM and MultiHeadAttention against PyTorch (CPU), one run.

    python benchmarks/bench_sequence.py [--repeat 7] [--no-write]
    python benchmarks/bench_sequence.py --modern   # GRU and TransformerEncoder (issue 18)

Shapes from issue 4: LSTM N=64, T=50, D=40, H=128; MultiHeadAttention self-attention
N=64, T=50, D=128, 4 heads (key_dim 32). float32 on both sides; PyTorch
and NumPy's BLAS get the same thread count (``--threads``, default 1: the machine is
shared, and one thread each is the least noisy fair comparison). The two sides run
alternately, round after round, and the best round of each counts, so that a burst of
load from other jobs hits both. Writes the section "sequence" of benchmarks/RESULTS.md.
Goals: LSTM within 1.2x of PyTorch (issue 19; 2x before), attention within 1.5x.
``--modern`` times GRU (N=64, T=50, D=40, H=128) and a TransformerEncoder block
(N=64, T=50, D=128, 4 heads, ff 512, key padding mask) instead, goal 1.5x, and writes
the section "sequence_modern".
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report  # noqa: E402

from mmscratch import backend  # noqa: E402
from mmscratch.nn import GRU, LSTM, MultiHeadAttention, TransformerEncoder  # noqa: E402

#: Wall clock by default; ``--cpu-time`` (one thread) switches to time.process_time,
#: which other jobs on a shared machine disturb far less.
CLOCK = time.perf_counter


def _timed(fn, sync=None):
    t0 = CLOCK()
    fn()
    if sync:
        sync()
    return CLOCK() - t0


def interleaved(ours, theirs, repeat):
    """Best seconds of ``ours`` and ``theirs`` timed alternately (``theirs`` may be None)."""
    t_ours, t_ref = [], []
    ours()  # warm-up (lazy build, allocator, BLAS thread start)
    if theirs:
        theirs()
    for _ in range(repeat):
        t_ours.append(_timed(ours, sync=backend.synchronize))
        if theirs:
            t_ref.append(_timed(theirs))
    return min(t_ours), (min(t_ref) if theirs else None)


def _bench_recurrent(repeat, torch, layer_cls, torch_name, label, goal):
    """One recurrent layer's forward+backward (N=64, T=50, D=40, H=128) vs PyTorch's."""
    n, t, d, h = 64, 50, 40, 128
    rng = np.random.default_rng(0)
    x = backend.asarray(rng.standard_normal((n, t, d)).astype(np.float32))
    dy = backend.asarray(rng.standard_normal((n, t, h)).astype(np.float32))
    layer = layer_cls(h, return_sequences=True, seed=0)

    def ours():
        layer.forward(x)
        layer.backward(dy)

    theirs = None
    if torch is not None:
        ref = getattr(torch.nn, torch_name)(d, h, batch_first=True)
        xt = torch.tensor(backend.to_numpy(x), requires_grad=True)
        gt = torch.tensor(backend.to_numpy(dy))

        def theirs():
            out, _ = ref(xt)
            out.backward(gt)

    t_ours, t_ref = interleaved(ours, theirs, repeat)
    return f"{label} fwd+bwd (N=64, T=50, D=40, H=128)", t_ours, t_ref, goal


def bench_lstm(repeat, torch):
    return _bench_recurrent(repeat, torch, LSTM, "LSTM", "LSTM", 1.2)


def bench_mha(repeat, torch):
    n, t, d, heads = 64, 50, 128, 4
    rng = np.random.default_rng(0)
    x = backend.asarray(rng.standard_normal((n, t, d)).astype(np.float32))
    dy = backend.asarray(rng.standard_normal((n, t, d)).astype(np.float32))
    layer = MultiHeadAttention(heads, key_dim=d // heads, seed=0)

    def ours():
        layer.forward(x)
        layer.backward(dy)

    theirs = None
    if torch is not None:
        ref = torch.nn.MultiheadAttention(d, heads, batch_first=True)
        xt = torch.tensor(backend.to_numpy(x), requires_grad=True)
        gt = torch.tensor(backend.to_numpy(dy))

        def theirs():
            out, _ = ref(xt, xt, xt, need_weights=False)
            out.backward(gt)

    t_ours, t_ref = interleaved(ours, theirs, repeat)
    return "MultiHeadAttention fwd+bwd (N=64, T=50, D=128, 4 heads)", t_ours, t_ref, 1.5


def bench_gru(repeat, torch):
    # GRU's default reset_after=True is PyTorch's form
    return _bench_recurrent(repeat, torch, GRU, "GRU", "GRU", 1.5)


def bench_transformer(repeat, torch):
    n, t, d, heads, ff = 64, 50, 128, 4, 512
    rng = np.random.default_rng(0)
    x = backend.asarray(rng.standard_normal((n, t, d)).astype(np.float32))
    dy = backend.asarray(rng.standard_normal((n, t, d)).astype(np.float32))
    mask = np.ones((n, t), dtype=bool)
    mask[::2, 40:] = False  # half the samples padded after 40 tokens
    layer = TransformerEncoder(heads, d // heads, ff, seed=0)  # post-norm, ReLU

    def ours():
        layer.forward(x, mask=backend.asarray(mask))
        layer.backward(dy)

    theirs = None
    if torch is not None:
        ref = torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True)
        xt = torch.tensor(backend.to_numpy(x), requires_grad=True)
        gt = torch.tensor(backend.to_numpy(dy))
        pad = torch.tensor(~mask)

        def theirs():
            ref(xt, src_key_padding_mask=pad).backward(gt)

    t_ours, t_ref = interleaved(ours, theirs, repeat)
    return ("TransformerEncoder fwd+bwd (N=64, T=50, D=128, 4 heads, ff 512, padding mask)",
            t_ours, t_ref, 1.5)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="alternating rounds")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for PyTorch and for NumPy's BLAS (0: library defaults)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--modern", action="store_true",
                        help="GRU and TransformerEncoder instead (section sequence_modern)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU seconds (time.process_time); needs --threads 1")
    args = parser.parse_args(argv)
    global CLOCK
    if args.cpu_time:
        if args.threads != 1:
            parser.error("--cpu-time needs --threads 1")
        CLOCK = time.process_time
    try:
        import torch
    except ImportError:  # still time mmscratch alone
        torch = None
    limits = contextlib.nullcontext()
    if args.threads > 0:
        if torch is not None:
            torch.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits
            limits = threadpool_limits(args.threads)
        except ImportError:
            print("threadpoolctl missing: NumPy's BLAS keeps its default thread count")
    threads = torch.get_num_threads() if torch is not None else None

    with limits:
        benches = (bench_gru, bench_transformer) if args.modern else (bench_lstm, bench_mha)
        rows = [bench(args.repeat, torch) for bench in benches]
    section = "sequence_modern" if args.modern else "sequence"
    lines = [
        f"## {section} (benchmarks/bench_sequence.py{' --modern' if args.modern else ''})",
        "",
        f"Machine: {_report.machine()}; backend `{backend.name()}`; float32; best of "
        f"{args.repeat} alternating rounds"
        f"{' of CPU time (time.process_time)' if args.cpu_time else ' (wall time)'}; PyTorch "
        f"{torch.__version__ if torch else 'not installed'} CPU, {threads} thread(s), NumPy "
        f"BLAS {args.threads or 'default'} thread(s). The machine is shared with other jobs "
        f"(1-min load average {os.getloadavg()[0]:.1f} at the end): timings are noisy, ratios "
        "less so. Command: `python benchmarks/bench_sequence.py "
        f"--threads {args.threads} --repeat {args.repeat}"
        f"{' --cpu-time' if args.cpu_time else ''}`.",
        "",
        "| benchmark | mmscratch (ms) | PyTorch (ms) | ratio | goal |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, t_ours, t_ref, goal in rows:
        ref = f"{t_ref * 1e3:.2f}" if t_ref else "—"
        ratio = f"{t_ours / t_ref:.2f}x" if t_ref else "—"
        lines.append(f"| {label} | {t_ours * 1e3:.2f} | {ref} | {ratio} | ≤ {goal}x |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        _report.write_section(section, text)


if __name__ == "__main__":
    main()
