"""MFCC in stages, one return type per function, and the list trap (issue 14 item 10).

Specification
-------------
* The pipeline is split as librosa splits it: ``features/spectrum.py`` (pre-emphasis,
  framing, window, power spectrum), ``features/mel.py`` (mel scale, filterbank),
  ``features/cepstrum.py`` (log, DCT, lifter, deltas) and ``features/mfcc.py`` (presets,
  :class:`MFCC`, :func:`mfcc`, :func:`mfcc_ragged`); every stage name stays importable
  from ``mmscratch.features.mfcc`` and is the same object.
* ``mfcc()`` always returns an array: a Python list is ONE signal, as in librosa
  (``mfcc([0.0] * 8000, 8000)`` has shape ``(13, frames)``); clips of different lengths
  go to ``mfcc_ragged()``, which always returns ``(features, n_frames)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.features import MFCC, cepstrum, mel, mfcc, mfcc_ragged, spectrum
from mmscratch.features import mfcc_stages as pipeline

SR = 8000


def test_stage_names_are_reexported_by_the_pipeline_module():
    for module in (spectrum, mel, cepstrum):
        for name in module.__all__:
            assert getattr(pipeline, name) is getattr(module, name), name
            assert name in pipeline.__all__, name


def test_a_list_is_one_signal_as_in_librosa():
    out = mfcc([0.0] * 8000, SR)
    assert backend.is_array(out)
    assert tuple(out.shape) == (13, MFCC(SR).num_frames(8000))
    # the same numbers as the array form, and librosa's shape where it is installed
    np.testing.assert_array_equal(backend.to_numpy(out),
                                  backend.to_numpy(mfcc(backend.asarray(np.zeros(8000)), SR)))
    librosa = pytest.importorskip("librosa")
    y = np.random.default_rng(0).normal(size=4000)
    ref = librosa.feature.mfcc(y=y, sr=SR)
    assert tuple(mfcc(y.tolist(), SR, preset="librosa").shape) == ref.shape


def test_the_call_on_a_list_of_samples_is_one_signal_too():
    ex = MFCC(SR)
    assert tuple(ex([0.0] * 4000).shape) == (13, ex.num_frames(4000))
    y = np.random.default_rng(1).normal(size=(2, 3000))
    np.testing.assert_allclose(backend.to_numpy(mfcc(y.tolist(), SR)),
                               backend.to_numpy(mfcc(backend.asarray(y), SR)), atol=1e-9)


def test_mfcc_has_one_return_type_and_points_to_mfcc_ragged():
    clips = [np.ones(1000), np.ones(3000)]
    with pytest.raises(ValueError, match="mfcc_ragged"):
        mfcc(clips, SR)
    with pytest.raises(TypeError, match="mfcc_ragged"):
        mfcc(np.zeros((2, 3000)), SR, lengths=[1000, 3000])


def test_mfcc_ragged_equals_each_clip_alone():
    rng = np.random.default_rng(2)
    clips = [rng.normal(size=n) for n in (900, 2500, 1600)]
    feats, n_frames = mfcc_ragged(clips, SR, n_fft=256, hop_length=80, n_mels=40)
    feats = backend.to_numpy(feats)
    for i, c in enumerate(clips):
        alone = backend.to_numpy(mfcc(c, SR, n_fft=256, hop_length=80, n_mels=40))
        assert n_frames[i] == alone.shape[-1]
        np.testing.assert_allclose(feats[i, :, :n_frames[i]], alone, atol=1e-9)
        assert np.all(feats[i, :, n_frames[i]:] == 0)
    padded = np.zeros((3, 2500))
    for i, c in enumerate(clips):
        padded[i, :len(c)] = c
    f2, n2 = mfcc_ragged(backend.asarray(padded), SR, lengths=[len(c) for c in clips],
                         n_fft=256, hop_length=80, n_mels=40)
    np.testing.assert_array_equal(n2, n_frames)
    np.testing.assert_allclose(backend.to_numpy(f2), feats, atol=1e-9)


def test_the_old_pair_returning_call_still_works_with_a_warning():
    clips = [np.ones(1000), np.ones(3000)]
    with pytest.warns(DeprecationWarning, match="ragged"):
        feats, n = MFCC(SR)(clips)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f2, n2 = MFCC(SR).ragged(clips)
    np.testing.assert_array_equal(n, n2)
    np.testing.assert_array_equal(backend.to_numpy(feats), backend.to_numpy(f2))
