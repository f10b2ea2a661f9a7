"""MFCC of all 3,000 FSDD clips: mmscratch vs librosa and python_speech_features, one run.

    MMSCRATCH_DATA=/path/to/data python benchmarks/bench_mfcc.py [--backend cupy] [--quick]

Method: the references run clip by clip (their API takes one signal). mmscratch takes the
list of variable-length clips at once: it sorts them by length and cuts the sorted list
into chunks of at most ``max_chunk`` frame samples; each chunk is zero-padded to its
longest clip (lengths kept, padded frames masked) and goes through framing, one batched
rFFT and two GEMMs. Outputs are checked against the references in the same run.
Writes section "mfcc" of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, write_section  # noqa: E402

from mmscratch import backend  # noqa: E402
from mmscratch.datasets._paths import data_dir  # noqa: E402
from mmscratch.datasets.fsdd import read_wav  # noqa: E402
from mmscratch.features import MFCC  # noqa: E402

#: Wall clock by default; --cpu-time (one BLAS thread) uses time.process_time, which
#: other jobs on a shared machine disturb far less.
CLOCK = time.perf_counter


def best_of(fn, repeat=3, warmup=1, sync=None):
    """Best seconds of ``fn()`` over ``repeat`` runs after ``warmup`` (``CLOCK``)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = CLOCK()
        fn()
        if sync:
            sync()
        times.append(CLOCK() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    ap.add_argument("--quick", action="store_true", help="every 10th clip, one repeat")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--cpu-time", action="store_true",
                    help="one BLAS thread, CPU time (time.process_time)")
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        from threadpoolctl import threadpool_limits

        CLOCK = time.process_time
        threadpool_limits(1)  # in force for the rest of the run
    folder = data_dir() / "fsdd" / "recordings"
    files = sorted(folder.glob("*.wav"))
    if not files:
        sys.exit(f"no FSDD files under {folder}; set MMSCRATCH_DATA")
    if args.quick:
        files = files[::10]
    repeat = 1 if args.quick else args.repeat
    clips32 = [read_wav(f).astype(np.float32) / 32768.0 for f in files]
    clips64 = [c.astype(np.float64) for c in clips32]
    sr = 8000
    rows, checks = [], []

    import librosa
    import python_speech_features as psf

    def run_librosa():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "n_fft=2048 is too large" for short clips
            return [librosa.feature.mfcc(y=c, sr=sr) for c in clips32]

    def run_psf():
        return [psf.mfcc(c, sr) for c in clips64]

    sync = backend.synchronize
    with backend.use(args.backend):
        ex_lib = MFCC(sr, preset="librosa")
        ex_psf = MFCC(sr, preset="python_speech_features")

        def ours(ex, clips):
            return lambda: ex.ragged(clips)

        t_lib = best_of(run_librosa, repeat=repeat, warmup=0)
        t_ours32 = best_of(ours(ex_lib, clips32), repeat=repeat, warmup=1, sync=sync)
        t_ours64 = best_of(ours(ex_lib, clips64), repeat=repeat, warmup=1, sync=sync)
        t_psf = best_of(run_psf, repeat=repeat, warmup=0)
        t_ourspsf = best_of(ours(ex_psf, clips64), repeat=repeat, warmup=1, sync=sync)

        ref_lib = run_librosa()
        ref_psf = run_psf()
        for label, ex, clips, ref, transpose in (
                ("librosa preset, float32", ex_lib, clips32, ref_lib, False),
                ("librosa preset, float64", ex_lib, clips64, ref_lib, False),
                ("python_speech_features preset, float64", ex_psf, clips64, ref_psf, True)):
            F, n = ex.ragged(clips)
            F = backend.to_numpy(F)
            err = max(float(np.abs(F[i, :, :n[i]] - (r.T if transpose else r)).max())
                      for i, r in enumerate(ref))
            checks.append((label, err))

    n_clips = len(files)
    rows = [
        ("librosa.feature.mfcc (clip by clip, float32)", t_lib, None),
        ("mmscratch MFCC preset='librosa', float32", t_ours32, t_lib),
        ("mmscratch MFCC preset='librosa', float64", t_ours64, t_lib),
        ("python_speech_features.mfcc (clip by clip, float64)", t_psf, None),
        ("mmscratch MFCC preset='python_speech_features', float64", t_ourspsf, t_psf),
    ]
    lines = [
        f"MFCC of {n_clips} FSDD clips (8 kHz, 1,148-18,262 samples), mmscratch backend "
        f"`{args.backend}`; best of {repeat}. Machine: {machine()}; "
        f"load average at the end {os.getloadavg()[0]:.1f} (shared with other jobs: noisy)"
        f"{'; one BLAS thread, CPU time (time.process_time)' if args.cpu_time else ''}.",
        "",
        "Batching: clips sorted by length, chunks of <= 2^21 frame samples, each padded to "
        "its longest clip with lengths kept (padded frames masked, per-clip top_db).",
        "",
        "| method | seconds | clips/s | ratio (mmscratch / reference) | speed-up |",
        "|---|---|---|---|---|",
    ]
    for name, t, ref in rows:
        ratio = f"{t / ref:.3f}" if ref else ""
        speed = f"{ref / t:.1f}x" if ref else ""
        lines.append(f"| {name} | {t:.3f} | {n_clips / t:.0f} | {ratio} | {speed} |")
    lines += ["", "Max |difference| to the reference over all clips (same run):", ""]
    lines += [f"- {label}: {err:.2e}" for label, err in checks]
    lines.append("")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines.append(f"Command: `python benchmarks/bench_mfcc.py --backend {args.backend}"
                 f"{' --cpu-time' if args.cpu_time else ''}"
                 f"{' --quick' if args.quick else ''}` ({stamp})")
    text = "\n".join(lines)
    print(text)
    if not args.no_write and not args.quick:
        write_section("mfcc" if args.backend == "numpy" else f"mfcc-{args.backend}", text)


if __name__ == "__main__":
    main()
