"""Regenerate tests/data/mfcc_golden.npz (run from the repository root).

The input is a fixed chirp plus seeded noise (stored in the file too), the outputs are
mmscratch's MFCC + deltas for both presets in float64. When this script was written the
same configurations matched librosa 0.11 and python_speech_features 0.6 to < 1e-6
(see tests/test_mfcc.py), so the golden array is the references' answer as well.
"""

from pathlib import Path

import numpy as np

from mmscratch import backend
from mmscratch.features import mfcc

SR = 8000


def main():
    t = np.arange(2400) / SR
    chirp = 0.4 * np.sin(2 * np.pi * (150.0 * t + 0.5 * 3000.0 / t[-1] * t**2))
    signal = chirp + 0.01 * np.random.default_rng(1234).standard_normal(t.size)
    out = {"signal": signal, "sample_rate": np.int64(SR)}
    with backend.use("numpy"):
        for preset in ("librosa", "python_speech_features"):
            out[preset] = mfcc(signal, SR, preset=preset, deltas=1, delta_mode="edge")
    path = Path(__file__).with_name("mfcc_golden.npz")
    np.savez_compressed(path, **out)
    print(path, {k: v.shape for k, v in out.items()})


if __name__ == "__main__":
    main()
