"""Peak memory and time of MFCC on a 10-minute 44.1 kHz signal: mmscratch vs librosa.

The signal is seeded white noise (float32, 26,460,000 samples, 101 MiB). Peak memory is
what ``tracemalloc`` sees allocated during the call (NumPy's arrays included; the input
itself is not counted), time is CPU time (``time.process_time``) with one BLAS thread.
Both compute ``librosa.feature.mfcc(y, sr=44100)`` (our ``preset="librosa"``); the
outputs are compared.

Usage::

    python benchmarks/bench_mfcc_memory.py [--minutes 10] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _report  # noqa: E402
from mmscratch import backend  # noqa: E402
from mmscratch.features import MFCC  # noqa: E402


def _peak(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.process_time()
    out = fn()
    seconds = time.process_time() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, seconds, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    import librosa
    from threadpoolctl import threadpool_limits

    backend.use("numpy")
    sr = 44100
    x = (np.random.default_rng(0).standard_normal(int(sr * 60 * args.minutes)) * 0.1
         ).astype(np.float32)
    ex = MFCC(sr, preset="librosa")
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m_ref, t_ref, ref = _peak(lambda: librosa.feature.mfcc(y=x, sr=sr))
        m_ours, t_ours, ours = _peak(lambda: ex(x))
    err = float(np.abs(np.asarray(ours) - ref).max())
    lines = [
        "## mfcc_memory: MFCC of one long recording vs librosa "
        "(`benchmarks/bench_mfcc_memory.py`)",
        "",
        f"{args.minutes:g} minutes at 44.1 kHz, float32 ({x.nbytes / 2**20:.0f} MiB), "
        f"`preset='librosa'` vs `librosa.feature.mfcc` {librosa.__version__}; peak memory "
        "allocated during the call (tracemalloc), CPU time with one BLAS thread. Machine: "
        f"{_report.machine()}, shared with other jobs while measured. Command: "
        f"`python benchmarks/bench_mfcc_memory.py --minutes {args.minutes:g}`.",
        "",
        "| | peak MiB | CPU s |",
        "|---|---|---|",
        f"| librosa | {m_ref:.0f} | {t_ref:.2f} |",
        f"| mmscratch | {m_ours:.0f} | {t_ours:.2f} |",
        f"| ratio (mmscratch / librosa) | {m_ours / m_ref:.2f}x | {t_ours / t_ref:.2f}x |",
        "",
        f"Output shape {tuple(ref.shape)}; max |difference| {err:.1e}.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        _report.write_section("mfcc_memory", text)


if __name__ == "__main__":
    main()
