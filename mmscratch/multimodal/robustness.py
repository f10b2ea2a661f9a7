"""Robustness of multimodal models to a degraded modality (MultiBench's protocol).

Perturbations of one modality at a time, at increasing levels, and MultiBench's two
summaries of an accuracy-vs-noise curve. Chapter: chapters/05-future.md
("robustness to noisy and missing modalities").
"""

from __future__ import annotations

from .. import backend
from ..errors import check_array, check_real
from ..nn import initializers

__all__ = ["gaussian_noise", "occlude", "audio_at_snr", "relative_robustness",
           "effective_robustness", "NOISE_LEVELS"]

#: MultiBench evaluates 10 noise levels, 0.0, 0.1, ..., 0.9 (the curve's x axis).
NOISE_LEVELS = tuple(i / 10 for i in range(10))


def gaussian_noise(x, sigma, seed=0):
    """x + sigma * n, n ~ N(0, 1) elementwise (drawn on the host from ``seed``).

    ``x`` any shape (images ``(N, H, W, C)`` in [0, 1]); ``sigma`` >= 0 in the units of
    x. Returns a new array on the active backend, of x's dtype.
    """
    sigma = check_real(sigma, "sigma", where="gaussian_noise", low=0.0)
    x = backend.asarray(x)
    check_array(x, "x", where="gaussian_noise", min_ndim=1)
    rng = initializers.make_rng(seed)
    noise = backend.asarray(rng.standard_normal(tuple(x.shape)).astype(x.dtype))
    return x + sigma * noise


def occlude(images, fraction, seed=0, value=0.0):
    """Hide a square of ``fraction`` of each image's area at a random position.

    The square has side s = round(sqrt(fraction) * min(H, W)); its top-left corner is
    drawn uniformly per image (from ``seed``) so that it lies inside the image; the
    pixels under it become ``value`` (0: MNIST's background). ``images (N, H, W, C)``.
    """
    fraction = check_real(fraction, "fraction", where="occlude", low=0.0, high=1.0)
    x = backend.asarray(images)
    check_array(x, "images", where="occlude", ndim=4)
    xp = backend.xp()
    n, h, w, _ = x.shape
    side = int(round(fraction ** 0.5 * min(h, w)))
    if side == 0:
        return x.copy()
    rng = initializers.make_rng(seed)
    top = backend.asarray(rng.integers(0, h - side + 1, size=n))
    left = backend.asarray(rng.integers(0, w - side + 1, size=n))
    rows = xp.arange(h)[None, :, None]  # (1, H, 1)
    cols = xp.arange(w)[None, None, :]  # (1, 1, W)
    inside = ((rows >= top[:, None, None]) & (rows < top[:, None, None] + side)
              & (cols >= left[:, None, None]) & (cols < left[:, None, None] + side))
    return xp.where(inside[..., None], xp.asarray(value, dtype=x.dtype), x)


def audio_at_snr(split, info, snr_db, seed=0):
    """AV-MNIST audio features after more white noise at ``snr_db`` dB (None: as given).

    Takes the split's noisy waveforms (``split["meta"]["waveform"]``, already at the data
    set's SNR), adds white Gaussian noise with power P_x / 10^(SNR/10) over each clip's
    own samples (:func:`mmscratch.features.audio.add_white_noise`), recomputes the
    MFCCs with the data set's settings and standardizes them with its *training*
    statistics (``info["mfcc"]``), exactly as the clean features were made. Host arrays
    ``(N, T, 13)`` float32.
    """
    from ..features.audio import add_white_noise, mfcc_features  # noqa: PLC0415

    meta, cfg = split["meta"], dict(info["mfcc"])
    if snr_db is None:
        return split["audio"]
    mean, std, sr = cfg.pop("mean"), cfg.pop("std"), cfg.pop("sample_rate")
    waves = add_white_noise(meta["waveform"], snr_db, initializers.make_rng(seed),
                            meta["length"])
    feats, _ = mfcc_features(waves, sr, meta["length"], **cfg)
    return ((feats - mean) / std).astype("float32")


def _curve(acc, name):
    a = backend.to_numpy(backend.asarray(acc)) if not isinstance(acc, (list, tuple)) else acc
    values = [float(v) for v in a]
    if len(values) < 2:
        raise ValueError(f"{name}: needs the accuracies at two or more noise levels, got "
                         f"{len(values)}")
    return values


def relative_robustness(accuracies, spacing=0.1):
    """MultiBench's relative robustness: the area under the accuracy-vs-noise curve.

        RR = sum_{i=0}^{L-2} (a_i + a_{i+1}) * spacing / 2      (trapezoids)

    with ``accuracies`` a_0 (clean), a_1, ... at evenly spaced noise levels (MultiBench:
    10 levels, spacing 0.1, so RR <= 0.9). Higher is better.

    Source: Liang et al. 2021, MultiBench, ``eval_scripts/robustness.py``
    (``relative_robustness_helper``). MultiBench additionally min-max normalises RR over
    the methods compared; this function returns the raw area.
    """
    a = _curve(accuracies, "relative_robustness")
    return sum((a[i] + a[i + 1]) * spacing / 2 for i in range(len(a) - 1))


def effective_robustness(accuracies, reference):
    """MultiBench's effective robustness: accuracy kept beyond a reference model's curve.

        ER = sum_i ( a_i - (r_i + a_0 - r_0) )

    The reference curve (MultiBench: late fusion) shifted to start at this model's clean
    accuracy a_0 is what the model would keep if it degraded like the reference; ER > 0
    means it degrades more slowly. Same levels for both curves.

    Source: Liang et al. 2021, MultiBench (``effective_robustness_helper``); raw value,
    not min-max normalised.
    """
    a = _curve(accuracies, "effective_robustness")
    r = _curve(reference, "effective_robustness")
    if len(a) != len(r):
        raise ValueError(f"effective_robustness: accuracies has {len(a)} levels, reference "
                         f"{len(r)}; both curves need the same levels")
    return sum(ai - (ri + a[0] - r[0]) for ai, ri in zip(a, r))
