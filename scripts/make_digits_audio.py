"""Generate the synthetic spoken digits shipped with mmscratch (run once, not at runtime).

The embedded ``digits`` data set pairs scikit-learn's bundled 8x8 handwritten digits
with spoken digits. No free recording of many speakers fits in a few megabytes, so the
speech is **synthetic**: the words "zero" ... "nine" spoken by the espeak-ng
formant synthesizer in many voices (English accents x voice variants), each clip at a
random speaking rate and pitch, resampled to 8 kHz mono, trimmed of silence, peak
normalized and stored as 8-bit linear PCM, LZMA-compressed, in
``mmscratch/datasets/embedded/digits_audio.npz`` (8-bit linear PCM compresses to about
half the size of 8-bit mu-law here, because most samples of a trimmed word are small).

Needs espeak-ng on the PATH (``apt-get install espeak-ng``) and SciPy; only this script
needs it, never the library or its tests. The output is reproducible for a given
espeak-ng version and ``--seed`` (the clips are deterministic given the parameters).

Usage::

    python scripts/make_digits_audio.py            # writes the embedded file
    python scripts/make_digits_audio.py --out /tmp/x.npz --clips-per-voice 2
"""

from __future__ import annotations

import argparse
import io
import lzma
import subprocess
import sys
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

#: espeak-ng's English accents (its own "gmw" voices; the mbrola ones need extra packages).
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
#: Voice variants (formant settings): 6 male, 4 female.
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f4")

SAMPLE_RATE = 8000
PEAK = 0.95


def synthesize(word: str, voice: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    """Run espeak-ng and return (float waveform in [-1, 1], sample rate)."""
    out = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                          "--stdout", word], check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(out)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    return x / 32768.0, rate


def trim(x: np.ndarray, rate: int, top_db: float = 40.0, margin_s: float = 0.02) -> np.ndarray:
    """Cut leading/trailing silence: frames more than ``top_db`` below the loudest one."""
    hop = rate // 100
    n = len(x) // hop
    energy = (x[: n * hop].reshape(n, hop) ** 2).mean(axis=1) + 1e-12
    db = 10 * np.log10(energy / energy.max())
    active = np.flatnonzero(db > -top_db)
    pad = int(margin_s * rate)
    start = max(active[0] * hop - pad, 0)
    stop = min((active[-1] + 1) * hop + pad, len(x))
    return x[start:stop]


def quantize(x: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] -> int8 linear PCM (decode with ``q / 127``)."""
    return np.round(np.clip(x, -1, 1) * 127).astype(np.int8)


def make_clip(job):
    word, voice, speed, pitch = job
    x, rate = synthesize(word, voice, speed, pitch)
    # 22050 -> 8000 Hz: 8000/22050 = 160/441; resample_poly low-passes first.
    g = np.gcd(SAMPLE_RATE, rate)
    x = resample_poly(x, SAMPLE_RATE // g, rate // g)
    x = trim(x, SAMPLE_RATE)
    x = PEAK * x / max(np.abs(x).max(), 1e-9)
    return quantize(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1]
                   / "mmscratch" / "datasets" / "embedded" / "digits_audio.npz")
    p.add_argument("--clips-per-voice", type=int, default=3,
                   help="clips per (voice, digit), each at its own rate and pitch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speed", type=int, nargs=2, default=(130, 230), help="words/min range")
    p.add_argument("--pitch", type=int, nargs=2, default=(20, 80), help="espeak pitch range")
    args = p.parse_args(argv)

    version = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True,
                             text=True).stdout.strip()
    rng = np.random.default_rng(args.seed)
    voices = [f"{a}+{v}" for a in ACCENTS for v in VARIANTS]
    jobs, meta = [], []
    for vi, voice in enumerate(voices):
        for digit, word in enumerate(WORDS):
            for _ in range(args.clips_per_voice):
                speed = int(rng.integers(args.speed[0], args.speed[1] + 1))
                pitch = int(rng.integers(args.pitch[0], args.pitch[1] + 1))
                jobs.append((word, voice, speed, pitch))
                meta.append((digit, vi, speed, pitch))
    with ThreadPoolExecutor(max_workers=4) as pool:
        clips = list(pool.map(make_clip, jobs))
    lengths = np.array([len(c) for c in clips], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    meta = np.array(meta, dtype=np.int64)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        args.out,
        # One LZMA blob of all clips back to back (np.savez's zlib gets 2x less here).
        audio_int8_lzma=np.frombuffer(lzma.compress(np.concatenate(clips).tobytes(),
                                                    preset=9 | lzma.PRESET_EXTREME),
                                      dtype=np.uint8),
        offsets=offsets,
        digit=meta[:, 0].astype(np.int8),
        voice=meta[:, 1].astype(np.int16),
        speed=meta[:, 2].astype(np.int16),
        pitch=meta[:, 3].astype(np.int16),
        voices=np.array(voices),
        words=np.array(WORDS),
        sample_rate=np.int64(SAMPLE_RATE),
        generator=np.array(f"{version}; scripts/make_digits_audio.py seed={args.seed} "
                           f"speed={tuple(args.speed)} pitch={tuple(args.pitch)}"),
    )
    size = args.out.stat().st_size
    print(f"{len(clips)} clips, {len(voices)} voices x 10 digits x {args.clips_per_voice}; "
          f"duration min/median/max {lengths.min() / SAMPLE_RATE:.3f}/"
          f"{np.median(lengths) / SAMPLE_RATE:.3f}/{lengths.max() / SAMPLE_RATE:.3f} s; "
          f"{size / 1e6:.2f} MB -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
