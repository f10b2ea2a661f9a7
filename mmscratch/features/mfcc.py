"""Mel-frequency cepstral coefficients (MFCC), built stage by stage from scratch.

The source document (section 3.1.3) writes the MFCC as ``c_i = log10(P_i / P_{i-1})``
with ``P_i`` the energy of mel band i. That is *not* how MFCCs are defined: it is a
log-ratio of neighbouring bands (a crude spectral slope). The standard pipeline,
implemented here, is

    x  --pre-emphasis-->  x'[n] = x[n] - a x[n-1]
       --framing------->  frames (hop, frame length; centred with padding or not)
       --window-------->  w[n] * frame[n]
       --rFFT---------->  P_k = |X_k|^power            (power spectrum, k = 0..n_fft/2)
       --mel matrix---->  P_i = sum_k H_ik P_k          (triangular filters on the mel scale)
       --log----------->  L_i = log P_i  (natural) or 10 log10 P_i (dB, with top_db)
       --DCT-II-------->  c_j = sum_i D_ji L_i          (orthonormal, as a matrix product)
       --lifter-------->  c_j (1 + (Q/2) sin(pi j / Q))
       [--deltas------>  regression over +-N frames]

Every stage is a public function, so a notebook can call and plot each one. The
:class:`MFCC` class precomputes window, filterbank, DCT matrix and lifter once and runs
whole batches through framing, FFT and two matrix products without a Python loop over
clips, frames or filters (it runs unchanged on CuPy through ``mmscratch.backend``).

Two presets reproduce the libraries people use, on the same input:

``preset="librosa"``
    ``librosa.feature.mfcc`` defaults: n_fft 2048, hop 512, periodic Hann window,
    centred frames with constant (zero) padding, power spectrum, 128 Slaney-scale,
    Slaney-normalised filters, ``power_to_db`` (amin 1e-10, top_db 80), 20 coefficients,
    DCT-II ortho, lifter ``1 + (Q/2) sin(pi (j+1) / Q)`` (librosa's index shift).
``preset="python_speech_features"``
    ``python_speech_features.mfcc`` (release 0.6) defaults: 25 ms / 10 ms frames, no
    window, pre-emphasis 0.97, nfft 512 (``nfft="pow2"`` gives the next power of two
    >= the window, as its later source does), zero padding at the end, power spectrum
    divided by nfft, 26 HTK-scale filters with edges snapped to FFT bins, natural log,
    13 coefficients, lifter 22, c0 replaced by the log frame energy.

Layouts: the stage functions work frame-major, ``(..., frames, features)`` (frames from
:func:`frame` are ``(..., n_frames, frame_length)``, as ``torch.Tensor.unfold``); the
final :func:`mfcc` / :class:`MFCC` output is ``(..., n_mfcc, frames)`` like librosa.

Chapter: chapters/03-1-feature-extraction.md.
"""

from __future__ import annotations

import decimal
import math
import warnings

import numpy as np

from .. import backend
from ..errors import check_count

# The stages live one per module, as librosa splits them; their names stay importable
# from here (``from mmscratch.features.mfcc import mel_filterbank`` keeps working).
from .cepstrum import (
    _clip_top,
    _dct_host,
    _lifter_host,
    dct,
    dct_matrix,
    deltas,
    document_mfcc,
    lifter,
    log,
    power_to_db,
)
from .mel import (
    _mel_filterbank_host,
    apply_filterbank,
    hz_to_mel,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
)
from .spectrum import (
    _mm,
    fft_frequencies,
    frame,
    get_window,
    num_frames,
    power_spectrum,
    preemphasis,
)

__all__ = [
    "PRESETS",
    "preemphasis",
    "frame",
    "num_frames",
    "get_window",
    "power_spectrum",
    "fft_frequencies",
    "hz_to_mel",
    "mel_to_hz",
    "mel_frequencies",
    "mel_filterbank",
    "apply_filterbank",
    "power_to_db",
    "log",
    "dct_matrix",
    "dct",
    "lifter",
    "deltas",
    "document_mfcc",
    "mfcc",
    "mfcc_ragged",
    "MFCC",
]

# --------------------------------------------------------------------------- presets
#: Settings of the two reference libraries. ``int`` sizes are samples, ``float`` sizes
#: are seconds. Explicit keyword arguments override these values.
PRESETS = {
    "librosa": dict(
        n_mfcc=20, n_fft=2048, hop_length=512, win_length=None, window="hann",
        center=True, pad_mode="constant", window_pad="center", pad_end=False,
        power=2.0, spectrum_scale=None, n_mels=128, fmin=0.0, fmax=None, htk=False,
        mel_norm="slaney", mel_quantize=False, log="db", amin=1e-10, top_db=80.0,
        norm="ortho", lifter=0, lifter_offset=1, preemphasis=0.0, append_energy=False,
    ),
    "python_speech_features": dict(
        n_mfcc=13, n_fft=512, hop_length=0.01, win_length=0.025, window=None,
        center=False, pad_mode="constant", window_pad="end", pad_end=True,
        power=2.0, spectrum_scale="n_fft", n_mels=26, fmin=0.0, fmax=None, htk=True,
        mel_norm=None, mel_quantize=True, log="ln", amin=float(np.finfo(np.float64).eps),
        top_db=None, norm="ortho", lifter=22, lifter_offset=0, preemphasis=0.97,
        append_energy=True,
    ),
}
#: ``preset=None``: librosa's pipeline with 13 coefficients.
_DEFAULT = dict(PRESETS["librosa"], n_mfcc=13)

#: python_speech_features' argument names, accepted as aliases.
_ALIASES = {
    "winlen": "win_length", "winstep": "hop_length", "nfft": "n_fft", "nfilt": "n_mels",
    "numcep": "n_mfcc", "lowfreq": "fmin", "highfreq": "fmax", "preemph": "preemphasis",
    "ceplifter": "lifter", "appendEnergy": "append_energy", "winfunc": "window",
}
_SECONDS_ALIASES = ("winlen", "winstep")


def _round_half_up(v: float) -> int:
    # python_speech_features rounds frame sizes this way (decimal, not banker's rounding).
    return int(decimal.Decimal(v).quantize(decimal.Decimal("1"), rounding=decimal.ROUND_HALF_UP))


def _to_samples(v, sample_rate, name):
    """``int`` -> samples (:func:`mmscratch.errors.check_count`); ``float`` -> seconds
    converted with round-half-up (documented for ``hop_length``/``win_length`` only)."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        n = _round_half_up(float(v) * sample_rate)
        if n < 1:
            raise ValueError(f"MFCC: {name} must be at least one sample, got {v!r} seconds "
                             f"({n} samples at {sample_rate:g} Hz)")
        return n
    return check_count(v, name, where="MFCC")


def _float_dtype(a):
    return a.dtype if a.dtype.kind == "f" else np.dtype(backend.floatx())


# --------------------------------------------------------------------------- stages


# --------------------------------------------------------------------------- pipeline
def _resolve(sample_rate, n_mfcc, preset, kwargs):
    if preset is None:
        cfg = dict(_DEFAULT)
    elif preset in PRESETS:
        cfg = dict(PRESETS[preset])
    else:
        raise ValueError(f"preset must be None, 'librosa' or 'python_speech_features', "
                         f"got {preset!r}")
    extra = dict(deltas=0, delta_width=9, delta_mode="interp", dtype=None)
    cfg.update(extra)
    explicit = {}
    for key, value in kwargs.items():
        name = _ALIASES.get(key, key)
        if key in _SECONDS_ALIASES and isinstance(value, (int, np.integer)):
            value = float(value)  # winlen / winstep are seconds even when written as 1
        if name not in cfg:
            raise TypeError(f"MFCC got an unexpected keyword argument {key!r}")
        if name in explicit:
            raise TypeError(f"MFCC got {name!r} twice (through an alias)")
        explicit[name] = value
    if n_mfcc is not None:
        explicit["n_mfcc"] = n_mfcc
    cfg.update(explicit)
    if cfg["log"] not in ("db", "ln"):
        raise ValueError(f"log must be 'db' or 'ln', got {cfg['log']!r}")
    if cfg["log"] == "ln" and "amin" not in explicit and preset != "python_speech_features":
        cfg["amin"] = float(np.finfo(np.float64).eps)
    sr = float(sample_rate)
    if not (math.isfinite(sr) and sr > 0):
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    # Counts follow librosa's rule: ints only, a float n_fft (2048.0) is refused at once
    # instead of being read as something else. Only hop_length/win_length take floats,
    # documented as seconds (python_speech_features' winstep/winlen).
    for key, minimum in (("n_mfcc", 1), ("n_mels", 1), ("deltas", 0), ("delta_width", 3)):
        cfg[key] = check_count(cfg[key], key, where="MFCC", minimum=minimum)
    if cfg["deltas"] > 2:
        raise ValueError(f"MFCC: deltas must be 0, 1 or 2, got {cfg['deltas']}")
    win = _to_samples(cfg["win_length"], sr, "win_length")
    hop = _to_samples(cfg["hop_length"], sr, "hop_length")
    n_fft = cfg["n_fft"]
    if isinstance(n_fft, str) and n_fft == "pow2":
        base = win if win is not None else 1
        n_fft = 1 << max(int(base - 1).bit_length(), 0)
    else:
        n_fft = check_count(n_fft, "n_fft", where="MFCC")
    if win is None:
        win = n_fft
    if hop is None:
        hop = win // 4
    cfg.update(n_fft=n_fft, win_length=win, hop_length=hop)
    if cfg["window_pad"] not in ("center", "end"):
        raise ValueError(f"window_pad must be 'center' or 'end', got {cfg['window_pad']!r}")
    if cfg["window_pad"] == "center" and win > n_fft:
        raise ValueError(f"win_length={win} must be <= n_fft={n_fft}")
    if int(cfg["n_mfcc"]) > int(cfg["n_mels"]):
        raise ValueError(f"n_mfcc={cfg['n_mfcc']} cannot exceed n_mels={cfg['n_mels']}")
    return cfg


class MFCC:
    """MFCC extractor that precomputes window, mel filterbank, DCT matrix and lifter once.

    ``MFCC(sample_rate, n_mfcc=None, preset=None, **kwargs)(signal)`` computes

        c = lift * (D @ log(H @ |rfft(w * frame(preemphasis(x)))|^power))

    for a whole batch at once. See the module docstring for the stages and presets.

    Parameters
    ----------
    sample_rate : float
    n_mfcc : int, optional
        Coefficients kept (default 13; 20 with ``preset="librosa"``).
    preset : None, "librosa" or "python_speech_features"
        Starting values; explicit keywords override them. ``None`` is librosa's
        pipeline with 13 coefficients.
    n_fft : int or "pow2"
        FFT size in samples; ``"pow2"`` = next power of two >= win_length. A float
        (``2048.0``) raises ``TypeError`` at once, as in librosa (counts are ints:
        :func:`mmscratch.errors.check_count`); so do ``n_mfcc``, ``n_mels``, ``deltas``.
    hop_length, win_length : int (samples) or float (seconds)
        ``winstep`` / ``winlen`` (seconds, python_speech_features' names) are aliases.
    window : "hann", "hamming", None, array or callable
    center, pad_mode : librosa's centred framing and its padding mode.
    window_pad : "center" or "end"
        librosa frames ``n_fft`` samples with the window zero-padded in the middle;
        python_speech_features frames ``win_length`` samples and zero-pads the end of
        each frame to ``n_fft`` in the FFT.
    pad_end : bool
        Zero-pad the signal end so that no sample is dropped (python_speech_features).
    power : float
        2 power spectrum, 1 magnitude.
    spectrum_scale : None or "n_fft"
        Divide the power spectrum by n_fft (python_speech_features).
    n_mels, fmin, fmax, htk, mel_norm, mel_quantize : the mel filterbank
        (:func:`mel_filterbank`; ``mel_norm`` is its ``norm``).
    log : "db" or "ln"
        ``10 log10`` with ``top_db`` clipping, or natural log.
    amin : float
        Floor applied before the log (1e-10 for dB, machine epsilon for ln), so silence
        gives finite coefficients.
    top_db : float or None
        Dynamic range kept below each clip's peak (in dB; scaled for ln).
    norm : "ortho" or None
        The DCT-II scaling, as in ``librosa.feature.mfcc``.
    lifter : float
        Cepstral lifter Q (0 = off); ``lifter_offset`` 0 = HTK, 1 = librosa indexing.
    preemphasis : float
        Coefficient a of ``x[n] - a x[n-1]`` (0 = off).
    append_energy : bool
        Replace c0 by the log of the frame's total spectral energy (same log and floor).
    deltas : 0, 1 or 2
        Append delta (and delta-delta) coefficients along the coefficient axis;
        ``delta_width`` (default 9) and ``delta_mode`` ("interp" = librosa, "edge" =
        python_speech_features) as in :func:`deltas`.
    dtype : None or dtype
        Compute dtype; default: the signal's float dtype (integers -> ``floatx()``).

    Call
    ----
    ``extractor(signal)`` -> array ``(..., n_mfcc, frames)`` for ``signal`` an array
    ``(..., samples)`` of the active backend, or a Python list of samples (one signal,
    as in librosa; read on the host and moved once).

    ``extractor.ragged(clips)`` / ``extractor.ragged(batch, lengths)`` -> the pair
    ``(features (N, n_mfcc, frames_max), n_frames (N,))`` for a list of 1-D clips of
    different lengths (host arrays, padded and moved once) or a zero-padded ``(N,
    samples)`` batch with its valid ``lengths`` (N,); frames past a clip's own count are
    0. Clips are processed in length-sorted chunks of at most ``max_chunk`` frame
    samples, so memory stays bounded. (The older ``extractor(clips)`` /
    ``extractor(batch, lengths=...)`` forms still return that pair, with a
    ``DeprecationWarning``.)

    Integer PCM is cast to the float dtype; boolean or object signals raise
    ``ValueError``. Samples are not scanned for NaN/inf (that would cost a device
    sync): a NaN or inf in a clip makes that clip's coefficients NaN and leaves the
    other clips of the batch unchanged (tests/test_validation.py).

    Chapter: chapters/03-1-feature-extraction.md.
    """

    def __init__(self, sample_rate, n_mfcc=None, preset=None, *, max_chunk=1 << 21, **kwargs):
        self.sample_rate = float(sample_rate)
        self.preset = preset
        self.max_chunk = check_count(max_chunk, "max_chunk", where="MFCC")
        self.kwargs = dict(kwargs)
        cfg = _resolve(sample_rate, n_mfcc, preset, kwargs)
        self.config = cfg
        self.n_mfcc = int(cfg["n_mfcc"])
        self.n_fft = cfg["n_fft"]
        self.hop_length = cfg["hop_length"]
        self.win_length = cfg["win_length"]
        self.frame_length = self.n_fft if cfg["window_pad"] == "center" else self.win_length
        pad_to = self.n_fft if cfg["window_pad"] == "center" else None
        # host copies; moved to the backend (and dtype) lazily, once per backend/dtype
        self.window_host = backend.to_numpy(get_window(cfg["window"], self.win_length, pad_to))
        self.mel_host = _mel_filterbank_host(self.sample_rate, self.n_fft, int(cfg["n_mels"]),
                                             cfg["fmin"], cfg["fmax"], cfg["htk"],
                                             cfg["mel_norm"], cfg["mel_quantize"])
        self.dct_host = _dct_host(int(cfg["n_mels"]), self.n_mfcc, cfg["norm"])
        self.lifter_host = _lifter_host(self.n_mfcc, cfg["lifter"], cfg["lifter_offset"])
        self._device = {}

    # ------------------------------------------------------------------ helpers
    def _constants(self, dtype):
        key = (backend.name(), np.dtype(dtype).str)
        if key not in self._device:
            w = self.window_host
            is_ones = bool(np.all(w == 1.0))
            self._device[key] = dict(
                window=None if is_ones else backend.asarray(w.astype(dtype)),
                mel_T=backend.asarray(np.ascontiguousarray(self.mel_host.T).astype(dtype)),
                mel_bands=[(m0, m1, k0, k1, backend.asarray(
                    np.ascontiguousarray(self.mel_host[m0:m1, k0:k1].T).astype(dtype)))
                    for m0, m1, k0, k1 in _mel_bands(self.mel_host)],
                dct_T=backend.asarray(np.ascontiguousarray(self.dct_host.T).astype(dtype)),
                lift=None if self.lifter_host is None
                else backend.asarray(self.lifter_host.astype(dtype)),
            )
        return self._device[key]

    def num_frames(self, length):
        """Frames produced for a clip of ``length`` samples (int or host int array)."""
        c = self.config
        return num_frames(length, self.frame_length, self.hop_length, center=c["center"],
                          pad_end=c["pad_end"])

    @property
    def n_features(self):
        """Coefficients per frame in the output: n_mfcc * (1 + deltas)."""
        return self.n_mfcc * (1 + int(self.config["deltas"]))

    # ------------------------------------------------------------------ stages
    def stages(self, x, lengths=None):
        """All intermediate arrays of the pipeline for a (N, samples) batch (for plots).

        Returns a dict with ``emphasized`` (N, L), ``frames`` (N, T, frame_length),
        ``windowed``, ``power`` (N, T, bins), ``mel`` (N, T, n_mels), ``log_mel``,
        ``cepstrum`` (N, T, n_mfcc, before lifter/energy), ``mfcc`` (N, n_mfcc, T) and
        ``n_frames``.
        """
        return self._run(x, lengths, keep=True)

    def _run(self, x, lengths, keep=False):
        xp = backend.xp()
        c = self.config
        dtype = np.dtype(c["dtype"]) if c["dtype"] is not None else _float_dtype(x)
        if x.dtype != dtype:
            x = x.astype(dtype)
        k = self._constants(dtype)
        out = {}
        emph = preemphasis(x, c["preemphasis"], lengths) if c["preemphasis"] else x
        frames, n = frame(emph, self.frame_length, self.hop_length, center=c["center"],
                          pad_mode=c["pad_mode"], pad_end=c["pad_end"], lengths=lengths)
        T = frames.shape[-2]
        if keep:
            windowed, P, mel = self._spectral(frames, k)
            energy = P.sum(axis=-1, keepdims=True) if c["append_energy"] else None
        else:
            mel, energy = self._mel_blocks(frames, k)
        valid = None
        if lengths is not None:
            valid = backend.asarray(np.arange(T)[None, :] < np.asarray(n)[:, None])
        if c["log"] == "db":
            logmel = power_to_db(mel, c["amin"], c["top_db"], valid=valid)
        else:
            logmel = log(mel, c["amin"])
            if c["top_db"] is not None:
                logmel = _clip_top(logmel, c["top_db"] * math.log(10.0) / 10.0, valid, xp)
        cep = _mm(logmel, k["dct_T"])  # (N, T, C)
        coeffs = cep if k["lift"] is None else cep * k["lift"]
        if c["append_energy"]:
            e = (10.0 * xp.log10(xp.maximum(energy, c["amin"])) if c["log"] == "db"
                 else xp.log(xp.maximum(energy, c["amin"])))
            coeffs = xp.concatenate([e, coeffs[..., 1:]], axis=-1)
        if valid is not None:
            coeffs = xp.where(valid[..., None], coeffs, xp.zeros((), dtype=coeffs.dtype))
        result = xp.swapaxes(coeffs, -1, -2)  # (N, C, T) like librosa
        if c["deltas"]:
            parts = [result]
            for order in range(1, int(c["deltas"]) + 1):
                parts.append(deltas(result, c["delta_width"], order, c["delta_mode"], axis=-1,
                                    lengths=n if lengths is not None else None))
            result = xp.concatenate(parts, axis=-2)
        if keep:
            out.update(emphasized=emph, frames=frames, windowed=windowed, power=P, mel=mel,
                       log_mel=logmel, cepstrum=cep, mfcc=result, n_frames=n)
            return out
        return result, n

    def _spectral(self, frames, k):
        """Window, power spectrum and mel energies of ``frames (N, T, frame_length)``."""
        c = self.config
        windowed = frames if k["window"] is None else frames * k["window"]
        P = power_spectrum(windowed, self.n_fft, c["power"], c["spectrum_scale"])  # (N,T,K)
        return windowed, P, apply_mel_banded(P, k["mel_bands"], k["mel_T"].shape[1])

    def _mel_blocks(self, frames, k):
        """Mel energies ``(N, T, M)`` (and frame energies when needed), a block of frames
        at a time.

        The windowed frames and the power spectrum are the largest arrays of the
        pipeline (``T x n_fft`` values each, twice the signal's size times the overlap);
        the mel energies are ``n_fft / (2 n_mels)`` times smaller. Blocks of at most
        ``max_chunk`` frame samples keep the large ones bounded, so a 10-minute
        recording needs memory for its signal and its mel matrix, not for its spectrum.
        The frames are a strided view: slicing a block copies nothing.
        """
        xp = backend.xp()
        N, T, L = frames.shape
        step = max(1, self.max_chunk // max(1, N * L))
        if step >= T:
            _, P, mel = self._spectral(frames, k)
            energy = P.sum(axis=-1, keepdims=True) if self.config["append_energy"] else None
            return mel, energy
        mel = energy = None
        for t0 in range(0, T, step):  # blocks of frames, not single frames
            _, P, m = self._spectral(frames[:, t0:t0 + step], k)
            if mel is None:
                mel = xp.empty((N, T, m.shape[-1]), dtype=m.dtype)
                if self.config["append_energy"]:
                    energy = xp.empty((N, T, 1), dtype=P.dtype)
            mel[:, t0:t0 + step] = m
            if energy is not None:
                energy[:, t0:t0 + step] = P.sum(axis=-1, keepdims=True)
        return mel, energy

    def __call__(self, signal, lengths=None):
        """MFCCs of ``signal (..., samples)`` -> ``(..., n_mfcc, frames)`` (one array)."""
        if lengths is not None or _is_list_of_clips(signal):
            warnings.warn("MFCC(...)(clips) and MFCC(...)(batch, lengths=...) return a "
                          "(features, n_frames) pair; call MFCC.ragged(...) for that (the "
                          "call form will return arrays only)", DeprecationWarning,
                          stacklevel=2)
            return self.ragged(signal, lengths)
        signal = _as_signal(signal)
        lead = signal.shape[:-1]
        x = signal.reshape((-1, signal.shape[-1]))
        res, _ = self._run(x, None)
        return res.reshape(lead + res.shape[-2:])

    def ragged(self, clips, lengths=None):
        """MFCCs of clips of different lengths -> ``(features (N, n_mfcc, T_max), n_frames (N,))``.

        ``clips``: a list of 1-D clips (host or backend arrays), or a zero-padded ``(N,
        samples)`` array of the active backend with ``lengths`` (N,) valid samples each.
        Frames past a clip's own ``n_frames`` are 0.
        """
        if lengths is None:
            if not isinstance(clips, (list, tuple)):
                raise TypeError("MFCC.ragged: pass a list of 1-D clips, or a (N, samples) "
                                f"array with its lengths; got {type(clips).__name__}")
            return self._variable(clips)
        signal = _as_signal(clips)
        if signal.ndim != 2:
            raise ValueError(f"MFCC: lengths need a (N, samples) signal, got "
                             f"{tuple(signal.shape)}")
        return self._chunked(signal, np.asarray(backend.to_numpy(lengths), dtype=np.int64))

    def _variable(self, clips):
        hosts = [np.asarray(backend.to_numpy(c)).reshape(-1) for c in clips]
        if not hosts:
            raise ValueError("MFCC: empty list of clips")
        lens = np.array([h.shape[0] for h in hosts], dtype=np.int64)
        if lens.min() == 0:
            raise ValueError(f"MFCC: clip {int(np.argmin(lens))} is empty")
        dtype = np.result_type(*[h.dtype for h in hosts])
        if dtype.kind != "f":
            dtype = np.dtype(backend.floatx())
        buf = np.zeros((len(hosts), int(lens.max())), dtype=dtype)
        mask = np.arange(buf.shape[1])[None, :] < lens[:, None]
        buf[mask] = np.concatenate(hosts)
        return self._chunked(buf, lens, host=True)

    def _chunked(self, x, lens, host=False):
        """Length-sorted chunks so that short clips are not padded to the longest one."""
        xp = backend.xp()
        n_all = np.asarray(self.num_frames(lens)).reshape(-1)
        if n_all.min() < 1:
            raise ValueError(f"MFCC: clip {int(np.argmin(n_all))} ({lens[np.argmin(n_all)]} "
                             f"samples) is shorter than one frame of {self.frame_length}")
        T_max = int(n_all.max())
        order = np.argsort(lens, kind="stable")
        per_frame = self.frame_length
        out = None
        start = 0
        N = len(lens)
        while start < N:
            # grow the chunk while (clips x longest frames x frame length) fits max_chunk
            stop = start + 1
            while (stop < N and (stop + 1 - start) * n_all[order[stop]] * per_frame
                   <= self.max_chunk):
                stop += 1
            idx = order[start:stop]
            L = int(lens[idx].max())
            sub = x[idx, :L] if host else x[backend.asarray(idx), :L]
            sub = backend.asarray(sub) if host else sub
            res, n = self._run(sub, lens[idx])
            if out is None:
                out = xp.zeros((N, res.shape[-2], T_max), dtype=res.dtype)
            out[backend.asarray(idx), :, :res.shape[-1]] = res
            start = stop
        return out, n_all

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return (f"MFCC(sample_rate={self.sample_rate:g}, n_mfcc={self.n_mfcc}, "
                f"preset={self.preset!r}{', ' + args if args else ''})")


def mfcc(signal, sample_rate, n_mfcc=None, preset=None, **kwargs):
    """MFCCs of one clip or a batch: ``(..., samples)`` -> array ``(..., n_mfcc, frames)``.

    ``mfcc(x, sr, preset="librosa")`` equals ``librosa.feature.mfcc(y=x, sr=sr)`` and
    ``mfcc(x, sr, preset="python_speech_features")`` equals
    ``python_speech_features.mfcc(x, sr).T``, to float64 round-off. Keywords as in
    :class:`MFCC` (librosa's names, plus python_speech_features' aliases).

    Silence is safe: every log takes ``max(., amin)`` first, so the output is finite.

    Parameters
    ----------
    signal : array (..., samples) of the active backend, or a list of samples
        A Python list is one signal, as in librosa: ``mfcc([0.0] * 8000, 8000)`` is
        ``(13, frames)``. Clips of different lengths go to :func:`mfcc_ragged`.
    sample_rate : float
    n_mfcc : int, optional (default 13; 20 with ``preset="librosa"``)
    preset : None, "librosa" or "python_speech_features"

    Returns
    -------
    array (..., n_mfcc, frames), always (one return type, as librosa's).

    Raises
    ------
    TypeError
        ``lengths=`` (use :func:`mfcc_ragged`), a float count such as ``n_fft=2048.0``.
    ValueError
        An empty or ragged signal, bad settings (each named).

    Chapter: chapters/03-1-feature-extraction.md.
    """
    if "lengths" in kwargs:
        raise TypeError("mfcc: lengths= gives a (features, n_frames) pair; call "
                        "mfcc_ragged(signal, sample_rate, lengths=...) for that")
    return MFCC(sample_rate, n_mfcc, preset, **kwargs)(_as_signal(signal))


def mfcc_ragged(clips, sample_rate, n_mfcc=None, preset=None, lengths=None, **kwargs):
    """MFCCs of clips of different lengths -> ``(features (N, n_mfcc, T_max), n_frames (N,))``.

    ``clips``: a list of 1-D clips (host or backend arrays), or a zero-padded ``(N,
    samples)`` array with ``lengths`` (N,) valid samples per clip. Row i of ``features``
    equals ``mfcc(clip_i)`` in its first ``n_frames[i]`` frames and is 0 after them.
    Keywords as in :func:`mfcc`.

    Chapter: chapters/03-1-feature-extraction.md.
    """
    return MFCC(sample_rate, n_mfcc, preset, **kwargs).ragged(clips, lengths)


#: Mel filters per band of :func:`apply_mel_banded`.
MEL_BAND = 16


def _mel_bands(H, band=MEL_BAND):
    """(m0, m1, k0, k1) per group of ``band`` consecutive mel filters of ``H (M, K)``:
    the filters m0..m1-1 are zero outside the frequency bins k0..k1-1 (host)."""
    nz = H != 0
    out = []
    for m0 in range(0, H.shape[0], band):
        m1 = min(H.shape[0], m0 + band)
        cols = np.nonzero(nz[m0:m1].any(axis=0))[0]
        k0, k1 = (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, 1)
        out.append((m0, m1, k0, k1))
    return out


def apply_mel_banded(P, bands, n_mels):
    """Mel energies ``P @ H^T`` using that each mel filter is zero outside a few bins.

    Equal to the dense product ``P (..., K) @ H^T (K, M)`` (tested against it in
    tests/test_speed_paths.py): a triangular filter covers a handful of FFT bins, so
    groups of :data:`MEL_BAND` consecutive filters need only the bins ``k0..k1-1`` they
    cover, one GEMM per group on a column slice of P (no copy). With 128 filters over
    1,025 bins this is several times fewer flops than the dense product.

    ``bands``: ``(m0, m1, k0, k1, H[m0:m1, k0:k1]^T)`` per group (``MFCC._constants``).
    Shapes: P ``(..., K)`` -> ``(..., n_mels)``.
    """
    xp = backend.xp()
    P2 = P.reshape((-1, P.shape[-1]))  # (rows, K)
    out = xp.empty((P2.shape[0], n_mels), dtype=P.dtype)
    for m0, m1, k0, k1, block in bands:  # a few groups of filters, not frames
        out[:, m0:m1] = P2[:, k0:k1] @ block
    return out.reshape(tuple(P.shape[:-1]) + (n_mels,))


def _is_list_of_clips(signal):
    """A list/tuple whose items are arrays or sequences (several clips), not numbers."""
    return isinstance(signal, (list, tuple)) and len(signal) > 0 and all(
        backend.is_array(c) or isinstance(c, (np.ndarray, list, tuple)) for c in signal)


def _as_signal(signal):
    """The signal as an array of the active backend, checked: ``(..., samples > 0)``.

    A list of numbers is one signal (librosa's reading); a list of equal-length clips is
    a batch; ragged lists are refused with a pointer to :func:`mfcc_ragged`. Arrays of
    another backend are refused (``BackendError``), never copied silently.
    """
    if isinstance(signal, (list, tuple)):
        try:
            host = np.asarray(signal)
        except ValueError:
            host = None
        if host is None or host.dtype == object:
            raise ValueError("MFCC: the clips have different lengths; use mfcc_ragged() / "
                             "MFCC.ragged() for a list of clips, which returns "
                             "(features, n_frames)")
        signal = backend.asarray(host)
    backend.check_backend(signal, "signal", "MFCC")
    if signal.dtype.kind not in "fiu":
        raise ValueError(f"MFCC: argument 'signal' must have a floating or integer "
                         f"dtype, got {signal.dtype}")
    if signal.ndim < 1 or signal.shape[-1] == 0:
        raise ValueError(f"MFCC: signal must have shape (..., samples) with samples > 0, "
                         f"got {tuple(signal.shape)}")
    return signal
