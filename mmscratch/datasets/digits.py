"""``digits``: the embedded, offline image + audio + text data set (no download).

Three views of the digits 0-9, paired by label:

* **image** -- scikit-learn's bundled handwritten digits (1,797 real 8x8 scans, pixel
  values 0-16, from the UCI "Optical Recognition of Handwritten Digits" set), scaled
  to [0, 1];
* **audio** -- **synthetic** speech: the words "zero" ... "nine" spoken by the espeak-ng
  formant synthesizer in 80 voices (8 English accents x 10 voice variants), 3 clips
  per voice and digit at random rates and pitches, 8 kHz mono, trimmed, stored as 8-bit
  PCM in ``embedded/digits_audio.npz`` (2,400 clips, about 4 MB; made once by
  ``scripts/make_digits_audio.py``);
* **text** -- **synthetic** captions from templates: most name the digit
  ("a handwritten seven", "the digit 7"), some only hint at it ("the number after
  six", "the days in a week", "an odd number greater than five"), and with probability
  ``text_noise`` a caption describes a wrong digit.

Nothing here is a recording of a person or text written by a person except the images:
the speech and the captions are machine-made so that the whole set ships inside the
package and loads in about a second. The test split uses espeak voices that never occur
in training, so audio accuracy measures generalisation to a new voice.

Chapter: chapters/04-code-example.md (the multimodal classifier trains on it by default).
"""

from __future__ import annotations

import lzma
from importlib import resources

import numpy as np

from .. import backend
from ..errors import DataError
from ._pairing import (
    add_white_noise,
    mfcc_features,
    pad_clips,
    pair_by_label,
    standardize,
    stratified_split,
)

__all__ = ["load_digits_multimodal", "load_digits_audio", "make_captions", "WORDS",
           "EMBEDDED_AUDIO"]

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

#: File of the synthetic spoken digits inside the package.
EMBEDDED_AUDIO = "digits_audio.npz"

# Captions that name the digit ({w}: word, {n}: numeral).
_NAMING = (
    "a handwritten {w}", "the digit {n}", "this is a {w}", "someone wrote the number {w}",
    "a scanned {w}", "a small picture of a {n}", "it shows a {w}", "the number {w} written by hand",
    "a sloppy {w}", "a neat {n}", "a {w} drawn with a pen", "digit {w}",
)
# Hints that identify exactly one digit without naming it.
_HINTS = (
    ("a round shape with a hole", "the number before one", "nothing at all",
     "an oval with nothing inside"),
    ("a single straight stroke", "the number after zero", "the smallest positive number",
     "a thin vertical line"),
    ("the number after one", "the only even prime", "one plus one", "a pair of something"),
    ("the number after two", "one plus two", "two bumps open to the left",
     "the sides of a triangle"),
    ("the number after three", "two plus two", "the sides of a square",
     "the legs of a chair"),
    ("the number after four", "half of ten", "the fingers on one hand",
     "the points of a star"),
    ("the number after five", "half a dozen", "two times three",
     "a loop at the bottom with a tail on top"),
    ("the number after six", "the days in a week", "the colours of a rainbow",
     "a line with a sharp corner at the top"),
    ("the number after seven", "two times four", "two loops stacked",
     "the legs of a spider"),
    ("the number after eight", "three times three", "a loop on top of a tail",
     "the largest single digit"),
)
# Vague hints: true of the digit, but of one or two others too.
_VAGUE = (
    ("an even number smaller than five", "a digit with a closed loop"),
    ("an odd number smaller than five", "a digit drawn without curves"),
    ("an even number smaller than five", "a digit with a curve at the top"),
    ("an odd number smaller than five", "a digit with curves open to the left"),
    ("an even number smaller than five", "a digit with straight lines only"),
    ("an odd number in the middle", "a digit with a flat top"),
    ("an even number greater than five", "a digit with a closed loop"),
    ("an odd number greater than five", "a digit with a straight stem"),
    ("an even number greater than five", "a digit with two closed loops"),
    ("an odd number greater than five", "a digit with a closed loop"),
)
_HINT_FRAMES = ("{h}", "it looks like {h}", "a drawing of {h}", "maybe {h}",
                "a picture of {h}")


def load_digits_audio():
    """The embedded synthetic spoken digits (see the module docstring).

    Returns
    -------
    dict with
        ``clips`` : list of 2,400 float32 host arrays in [-1, 1] (8 kHz, variable length),
        ``digit`` : (M,) int64, ``voice`` : (M,) int64 index into ``voices``,
        ``voices`` : list of str (espeak-ng ``accent+variant`` names),
        ``speed`` (words/min), ``pitch`` (espeak 0-99) : (M,) int64,
        ``sample_rate`` : int (8000), ``generator`` : str (espeak-ng version, settings).

    Raises
    ------
    DataError
        The packaged file is missing or unreadable (a broken installation).
    """
    ref = resources.files("mmscratch.datasets") / "embedded" / EMBEDDED_AUDIO
    try:
        with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as f:
            raw = lzma.decompress(f["audio_int8_lzma"].tobytes())
            offsets = f["offsets"]
            out = dict(digit=f["digit"].astype(np.int64), voice=f["voice"].astype(np.int64),
                       voices=[str(v) for v in f["voices"]],
                       speed=f["speed"].astype(np.int64), pitch=f["pitch"].astype(np.int64),
                       sample_rate=int(f["sample_rate"]), generator=str(f["generator"]))
    except (OSError, KeyError, ValueError, lzma.LZMAError) as exc:
        raise DataError(f"{ref}: the embedded spoken-digit file is missing or unreadable "
                        f"({exc}). Reinstall mmscratch, or regenerate it with "
                        "scripts/make_digits_audio.py (needs espeak-ng).") from exc
    pcm = np.frombuffer(raw, dtype=np.int8).astype(np.float32) / np.float32(127)
    out["clips"] = np.split(pcm, offsets[1:-1])
    return out


def make_captions(labels, rng, text_noise=0.2, hint_rate=0.3, vague_rate=0.3):
    """Template captions for digit labels, with a controlled share of wrong ones.

    For each label y: with probability ``text_noise`` the caption describes a digit
    drawn uniformly from the 9 others (a wrong caption), else y itself. Then with
    probability ``hint_rate`` the caption only hints at its digit (of these hints a
    share ``vague_rate`` fits two or three digits, e.g. "an odd number greater than
    five"); otherwise it names the digit, as a word or a numeral.

    Parameters
    ----------
    labels : (N,) int in 0..9
    rng : numpy.random.Generator
    text_noise, hint_rate, vague_rate : float in [0, 1]

    Returns
    -------
    captions : list of N str
    described : (N,) int64, the digit each caption was written for
        (``described != labels`` exactly for the wrong captions).
    kind : (N,) str array, ``"name"``, ``"hint"`` or ``"vague"``
    """
    for name, p in (("text_noise", text_noise), ("hint_rate", hint_rate),
                    ("vague_rate", vague_rate)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"make_captions: {name} must be in [0, 1], got {p}")
    labels = np.asarray(labels, dtype=np.int64)
    N = len(labels)
    wrong = rng.random(N) < text_noise
    # labels + 1..9 mod 10: uniform over the nine other digits
    described = np.where(wrong, (labels + rng.integers(1, 10, N)) % 10, labels)
    u = rng.random(N)
    kind = np.where(u < hint_rate * vague_rate, "vague",
                    np.where(u < hint_rate, "hint", "name"))
    pick = rng.integers(0, 1 << 30, size=(N, 2))  # template choices
    captions = []
    for d, k, (a, b) in zip(described.tolist(), kind.tolist(), pick.tolist()):
        if k == "name":
            text = _NAMING[a % len(_NAMING)].format(w=WORDS[d], n=d)
        else:
            hints = _HINTS[d] if k == "hint" else _VAGUE[d]
            text = _HINT_FRAMES[b % len(_HINT_FRAMES)].format(h=hints[a % len(hints)])
        captions.append(text)
    return captions, described, kind


def load_digits_multimodal(seed=0, test_size=0.25, text_noise=0.2, features=True, *,
                           hint_rate=0.3, audio_snr_db=None, audio_seconds=1.0,
                           test_voices=None, max_features=None, data_dir=None):
    """The embedded ``digits`` set: real 8x8 images + synthetic speech + synthetic captions.

    Each of scikit-learn's 1,797 digit images gets one spoken clip and one caption of
    the same digit (the caption is wrong with probability ``text_noise``). The images
    are split per class (``test_size`` of each class to the test set); the espeak-ng
    voices are split too, so test clips come only from voices never heard in training.
    Pairing, splits, captions and noise all follow ``seed``: the same seed gives
    identical arrays.

    Audio features are MFCCs (13 coefficients, 32 ms windows, 10 ms hop, 40 mel bands,
    :func:`mmscratch.features.mfcc`) of each clip cut or zero-padded to
    ``audio_seconds``, standardized per coefficient with training statistics. Text
    features are TF-IDF rows (:class:`mmscratch.features.TfidfVectorizer`, fitted on
    the training captions, single-character tokens kept so "7" counts):

        x_d = sum_i tf_di * idf_i e_i / || . ||_2

    Parameters
    ----------
    seed : int
    test_size : float in (0, 1)
        Share of the images (per class) and of the voices held out for testing.
    text_noise : float in [0, 1]
        Probability that a caption describes a wrong digit.
    features : bool
        True: ``audio`` = MFCC ``(N, T, 13)``, ``text`` = TF-IDF ``(N, V)``.
        False: ``audio`` = waveforms ``(N, L)`` float32 (L = 8000 * audio_seconds),
        ``text`` = the caption strings (a (N,) str array); no feature extraction runs.
    hint_rate : float in [0, 1]
        Share of captions that only hint at their digit.
    audio_snr_db : float or None
        Mix seeded white Gaussian noise into every clip at this signal-to-noise ratio
        (dB); None keeps the clean synthetic speech (which a logistic regression on
        MFCCs already recognises almost perfectly, even for unseen voices).
    audio_seconds : float
        Fixed clip length (the synthetic clips last 0.2-0.9 s).
    test_voices : list of str, optional
        Explicit held-out voices (``info["voices"]`` lists them all); default: a
        seeded random ``test_size`` share of the 80 voices.
    max_features : int, optional
        Vocabulary limit of the TF-IDF vectorizer.
    data_dir : ignored
        The set is embedded; accepted so that every loader of
        :func:`mmscratch.datasets.load` takes the same arguments.

    Returns
    -------
    dict ``{"train": split, "test": split, "info": info}`` where ``split`` has

    * ``"image"`` : (N, 8, 8, 1) float32 in [0, 1]
    * ``"audio"`` : (N, T, 13) float32 (T = 101 for 1 s) -- or waveforms, see ``features``
    * ``"text"`` : (N, V) float32 TF-IDF -- or caption strings, see ``features``
    * ``"label"`` : (N,) int64 in 0..9
    * ``"meta"`` : dict of host arrays: ``caption`` (str), ``caption_digit`` (the digit
      the caption describes), ``caption_kind``, ``waveform`` (N, L) float32,
      ``clip`` (index of the clip), ``voice`` (voice name), ``image_index`` (row in
      ``sklearn.datasets.load_digits()``)

    and ``info`` has ``name``, ``modalities``, ``n_classes``, ``class_names``,
    ``sample_rate``, ``mfcc`` (settings, ``mean``, ``std``), ``vectorizer`` (the fitted
    TF-IDF vectorizer, or None), ``vocabulary``, ``train_voices``, ``test_voices``,
    ``text_noise``, ``hint_rate``, ``seed``, ``synthetic`` (a sentence saying what is
    machine-made).

    Chapter: chapters/04-code-example.md.
    """
    from sklearn.datasets import load_digits  # noqa: PLC0415 - bundled with scikit-learn

    if not 0.0 < test_size < 1.0:
        raise ValueError(f"load_digits_multimodal: test_size must be in (0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    sk = load_digits()
    images = (sk.images.astype(np.float32) / np.float32(16))[..., None]  # (1797, 8, 8, 1)
    labels = sk.target.astype(np.int64)
    tr, te = stratified_split(labels, test_size, rng)

    audio = load_digits_audio()
    voices = audio["voices"]
    if test_voices is None:
        n_test = max(1, int(round(test_size * len(voices))))
        test_voice_ids = np.sort(rng.permutation(len(voices))[:n_test])
    else:
        unknown = sorted(set(test_voices) - set(voices))
        if unknown:
            raise ValueError(f"load_digits_multimodal: unknown test voices {unknown}; "
                             f"choose from {voices}")
        test_voice_ids = np.array(sorted(voices.index(v) for v in test_voices))
    clip_is_test = np.isin(audio["voice"], test_voice_ids)
    pool_tr, pool_te = np.flatnonzero(~clip_is_test), np.flatnonzero(clip_is_test)
    clip_tr = pool_tr[pair_by_label(labels[tr], audio["digit"][pool_tr], rng)]
    clip_te = pool_te[pair_by_label(labels[te], audio["digit"][pool_te], rng)]

    captions, described, kind = make_captions(labels, rng, text_noise, hint_rate)
    captions = np.array(captions)

    sr = audio["sample_rate"]
    length = int(round(audio_seconds * sr))
    wave_tr, len_tr = pad_clips([audio["clips"][i] for i in clip_tr], length)
    wave_te, len_te = pad_clips([audio["clips"][i] for i in clip_te], length)
    wave_tr = add_white_noise(wave_tr, audio_snr_db, rng, len_tr)
    wave_te = add_white_noise(wave_te, audio_snr_db, rng, len_te)

    info = dict(
        name="digits", modalities=["image", "audio", "text"], n_classes=10,
        class_names=list(WORDS), sample_rate=sr, audio_seconds=audio_seconds, seed=seed,
        text_noise=text_noise, hint_rate=hint_rate, audio_snr_db=audio_snr_db,
        voices=voices, train_voices=[voices[i] for i in range(len(voices))
                                     if i not in set(test_voice_ids.tolist())],
        test_voices=[voices[i] for i in test_voice_ids], n_clips=len(audio["clips"]),
        audio_generator=audio["generator"], mfcc=None, vectorizer=None, vocabulary=None,
        synthetic=("The speech and the captions are synthetic: the speech is synthesized "
                   "with espeak-ng, the captions are generated from templates. Only the "
                   "images are real scans (scikit-learn's digits)."),
    )
    splits = {}
    for name, idx, clips, wave, lens in (("train", tr, clip_tr, wave_tr, len_tr),
                                         ("test", te, clip_te, wave_te, len_te)):
        splits[name] = dict(
            image=images[idx], label=labels[idx],
            meta=dict(caption=captions[idx], caption_digit=described[idx],
                      caption_kind=kind[idx], waveform=wave, length=lens, clip=clips,
                      voice=np.array([voices[v] for v in audio["voice"][clips]]),
                      image_index=idx),
        )
    if not features:
        for name in ("train", "test"):
            splits[name]["audio"] = splits[name]["meta"]["waveform"]
            splits[name]["text"] = splits[name]["meta"]["caption"]
        return dict(train=splits["train"], test=splits["test"], info=info)

    mf_tr, cfg = mfcc_features(wave_tr, sr, len_tr)
    mf_te, _ = mfcc_features(wave_te, sr, len_te)
    (mf_tr, mf_te), (mean, std) = standardize(mf_tr, mf_te)
    info["mfcc"] = dict(cfg, sample_rate=sr, mean=mean, std=std)

    from ..features.bow import TfidfVectorizer  # noqa: PLC0415

    vec = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b", max_features=max_features, dense=True)
    txt_tr = backend.to_numpy(vec.fit_transform(list(splits["train"]["meta"]["caption"])))
    txt_te = backend.to_numpy(vec.transform(list(splits["test"]["meta"]["caption"])))
    info["vectorizer"] = vec
    info["vocabulary"] = [str(t) for t in vec.get_feature_names_out()]
    for name, mf, txt in (("train", mf_tr, txt_tr), ("test", mf_te, txt_te)):
        splits[name]["audio"] = mf
        splits[name]["text"] = np.asarray(txt, dtype=np.float32)
    return dict(train=splits["train"], test=splits["test"], info=info)
