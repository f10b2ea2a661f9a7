"""AV-MNIST: degraded MNIST digits paired with noisy spoken digits (FSDD), from real files.

The audio-visual MNIST benchmark of Vielzeuf et al. (CentralNet, 2018), used by MFAS
(Perez-Rua et al., 2019) and MultiBench (Liang et al., 2021), makes each modality alone
insufficient so that fusion has something to gain:

* **image** -- MNIST digits projected onto their top ``k`` principal components and
  reconstructed, ``x_hat = mean + (x - mean) V_k V_k^T`` (PCA fitted on the training
  images only). The original recipe removes 75 % of the energy; the default ``k = 4``
  keeps about 29 % of the pixel variance here, and a logistic regression on the
  result reaches only about 61 % test accuracy (an MLP about 64 %; 91 % and 94 % on
  the intact images; ``scripts/dataset_baselines.py``);
* **audio** -- Free Spoken Digit Dataset recordings, peak-normalised, mixed with white
  Gaussian noise at ``snr_db`` (seeded; default 10 dB, where a logistic regression on
  the MFCCs of the unseen speaker gets about 58-61 %, 80 % without noise), as MFCC
  matrices ``(T, 13)``. The original mixes in ESC-50 environmental noise, which is not
  in the data folder; white noise at a fixed SNR plays the same role here.

Both modalities concatenated reach about 76 % with the same logistic regression, so
fusion has room to gain over either modality alone.

The test speaker (default ``yweweler``, as in MFAS) never occurs in training, so audio
accuracy measures generalisation to a new voice. FSDD has 3,000 clips (500 per
speaker) while MNIST has 70,000 images: every clip is paired with ``pairs_per_clip``
distinct MNIST images of the same digit (training clips with images of MNIST's
training set, test clips with images of its test set), drawn by ``seed``. With the
defaults the set has 2,500 training and 500 test pairs (MFAS uses 55,000 / 10,000 by
reusing each clip many times; raise ``pairs_per_clip`` to get closer).

Files (see :func:`mmscratch.datasets.data_dir`): ``mnist/*-ubyte.gz`` and
``fsdd/recordings/*.wav``; :func:`mmscratch.datasets.download.fetch` downloads them.

Chapter: chapters/04-code-example.md.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..errors import DataError, check_count
from ._pairing import add_white_noise, mfcc_features, pair_by_label, standardize
from ._paths import data_dir as _data_dir

__all__ = ["load_avmnist", "degrade_images", "DEFAULT_PCA_COMPONENTS", "DEFAULT_SNR_DB"]

#: Principal components kept of each MNIST image (about 28 % of the pixel variance).
DEFAULT_PCA_COMPONENTS = 4
#: Signal-to-noise ratio of the white noise mixed into each FSDD clip, in dB.
DEFAULT_SNR_DB = 10.0


def degrade_images(train, *others, n_components=DEFAULT_PCA_COMPONENTS):
    """Keep only the top principal components of images (fitted on ``train``).

    With mean image m and the first k principal directions V_k (784 x k) of the
    training images, each image x becomes its rank-k reconstruction

        x_hat = m + (x - m) V_k V_k^T,

    computed with :class:`mmscratch.unsupervised.PCA` on the active backend.

    Parameters
    ----------
    train : (N, H, W, C) float host array
        Images the PCA is fitted on.
    *others : (M, H, W, C) float host arrays, projected with the same PCA.
    n_components : int (components) or float in (0, 1) (share of variance to keep)

    Returns
    -------
    list of float32 host arrays of the input shapes (train first), and the share of the
    training variance kept (float).
    """
    from ..unsupervised import PCA  # noqa: PLC0415

    # The eigendecomposition of the (784, 784) covariance: exact, deterministic (no
    # randomized solver, so a seed fixes the images bit for bit) and cheap for n >> d.
    pca = PCA(n_components=n_components, svd_solver="covariance_eigh")
    shape = train.shape[1:]
    flat = [np.ascontiguousarray(a, dtype=np.float64).reshape(len(a), -1)
            for a in (train, *others)]
    pca.fit(backend.asarray(flat[0]))
    out = []
    for a, f in zip((train, *others), flat):
        rec = pca.inverse_transform(pca.transform(backend.asarray(f)))
        out.append(backend.to_numpy(rec).astype(np.float32).reshape((len(a),) + shape))
    kept = float(backend.to_numpy(pca.explained_variance_ratio_).sum())
    return out, kept


def _subsample(labels, n, rng):
    """Indices of n items stratified by label (all, sorted, when n is None)."""
    if n is None or n >= len(labels):
        return np.arange(len(labels))
    if n < 1:
        raise ValueError(f"subsample size must be >= 1, got {n}")
    classes = np.unique(labels)
    # as equal a share per class as the counts allow
    share = np.full(len(classes), n // len(classes))
    share[: n % len(classes)] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:s] for c, s in zip(classes, share)]
    return np.sort(np.concatenate(picked))


def load_avmnist(data_dir=None, seed=0, *, image_pca_components=DEFAULT_PCA_COMPONENTS,
                 snr_db=DEFAULT_SNR_DB, test_speaker="yweweler", n_train=None, n_test=None,
                 pairs_per_clip=1, audio_seconds=1.0, features=True):
    """AV-MNIST (MFAS/MultiBench recipe) built from the MNIST and FSDD files.

    Parameters
    ----------
    data_dir : path, optional
        Data folder holding ``mnist/`` and ``fsdd/recordings/`` (default
        ``$MMSCRATCH_DATA``, else ``~/.cache/mmscratch``).
    seed : int
        Drives the clip subsample, the image pairing and the audio noise: the same seed
        gives identical arrays.
    image_pca_components : int or float in (0, 1) or None
        Principal components kept of each image (a float: share of variance to keep);
        None leaves the images intact.
    snr_db : float or None
        Signal-to-noise ratio of the white noise added to each clip (None: no noise).
    test_speaker : str
        FSDD speaker held out for testing (the other five train).
    n_train, n_test : int, optional
        Number of FSDD clips used per split, stratified by digit (default all: 2,500
        and 500).
    pairs_per_clip : int
        MNIST images paired with each clip (N = clips x pairs_per_clip).
    audio_seconds : float
        Clips are cut or zero-padded to this length (FSDD clips last 0.14-2.28 s,
        median 0.42 s; 1 s cuts 13 of 3,000 clips).
    features : bool
        True: ``audio`` = standardized MFCC ``(N, T, 13)``; False: waveforms ``(N, L)``.

    Returns
    -------
    dict ``{"train": split, "test": split, "info": info}``; each split has

    * ``"image"`` : (N, 28, 28, 1) float32, the rank-k reconstruction (values may
      leave [0, 1] slightly, as a linear projection does)
    * ``"audio"`` : (N, T, 13) float32 (T = 101 for 1 s), or waveforms
    * ``"label"`` : (N,) int64
    * ``"meta"`` : ``waveform`` (N, L) float32 after the noise, ``length``, ``speaker``,
      ``file`` (FSDD file name), ``mnist_index`` (row in MNIST's train or test file),
      ``clip`` (row in ``load_fsdd``'s split)

    and ``info`` has ``name``, ``modalities``, ``n_classes``, ``sample_rate``,
    ``image_pca_components``, ``image_variance_kept``, ``snr_db``, ``test_speaker``,
    ``train_speakers``, ``mfcc`` (settings, mean, std), ``seed``.

    Raises
    ------
    DataError
        MNIST or FSDD files are missing or bad; the message names the file or folder
        and how to get it.

    Chapter: chapters/04-code-example.md.
    """
    from .fsdd import load_fsdd  # noqa: PLC0415
    from .mnist import load_mnist  # noqa: PLC0415

    pairs_per_clip = check_count(pairs_per_clip, "pairs_per_clip", where="load_avmnist")
    n_train = check_count(n_train, "n_train", where="load_avmnist", allow_none=True)
    n_test = check_count(n_test, "n_test", where="load_avmnist", allow_none=True)
    root = _data_dir(data_dir)
    rng = np.random.default_rng(seed)
    sr = 8000
    length = int(round(audio_seconds * sr))
    try:
        fsdd = load_fsdd(root, split="speaker", test_speaker=test_speaker, max_len=length,
                         normalize="peak")
        (img_tr, lab_tr), (img_te, lab_te) = (load_mnist(root, "train"),
                                              load_mnist(root, "test"))
    except DataError as exc:
        raise DataError(f"AV-MNIST needs MNIST (mnist/*-ubyte.gz) and FSDD "
                        f"(fsdd/recordings/*.wav) under the data folder {root}: {exc} "
                        f"Download both with: python -c \"from mmscratch.datasets.download "
                        f"import fetch; fetch('mnist', '{root}'); fetch('fsdd', '{root}')\""
                        ) from exc

    info = dict(name="avmnist", modalities=["image", "audio"], n_classes=10,
                class_names=[str(d) for d in range(10)], sample_rate=sr,
                audio_seconds=audio_seconds, seed=seed,
                image_pca_components=image_pca_components, image_variance_kept=1.0,
                snr_db=snr_db, test_speaker=test_speaker,
                train_speakers=sorted(set(fsdd.train.speakers.tolist())),
                pairs_per_clip=pairs_per_clip, mfcc=None)
    splits = {}
    for name, part, n, (images, img_labels) in (("train", fsdd.train, n_train,
                                                 (img_tr, lab_tr)),
                                                ("test", fsdd.test, n_test, (img_te, lab_te))):
        clips = _subsample(part.labels, n, rng)
        clips = np.repeat(clips, pairs_per_clip)
        labels = part.labels[clips]
        mnist_idx = pair_by_label(labels, img_labels, rng)
        if np.unique(mnist_idx).size < len(mnist_idx):
            raise ValueError(f"load_avmnist: {len(mnist_idx)} {name} pairs need more MNIST "
                             "images of one digit than exist; lower pairs_per_clip")
        waves = add_white_noise(part.waveforms[clips], snr_db, rng, part.lengths[clips])
        splits[name] = dict(
            image=images[mnist_idx], label=labels.astype(np.int64),
            meta=dict(waveform=waves, length=part.lengths[clips], speaker=part.speakers[clips],
                      file=part.files[clips], mnist_index=mnist_idx, clip=clips))
    if image_pca_components is not None:
        (im_tr, im_te), kept = degrade_images(splits["train"]["image"], splits["test"]["image"],
                                              n_components=image_pca_components)
        splits["train"]["image"], splits["test"]["image"] = im_tr, im_te
        info["image_variance_kept"] = kept

    if not features:
        for s in splits.values():
            s["audio"] = s["meta"]["waveform"]
        return dict(train=splits["train"], test=splits["test"], info=info)
    tr, te = splits["train"]["meta"], splits["test"]["meta"]
    mf_tr, cfg = mfcc_features(tr["waveform"], sr, tr["length"])
    mf_te, _ = mfcc_features(te["waveform"], sr, te["length"])
    (mf_tr, mf_te), (mean, std) = standardize(mf_tr, mf_te)
    info["mfcc"] = dict(cfg, sample_rate=sr, mean=mean, std=std)
    splits["train"]["audio"], splits["test"]["audio"] = mf_tr, mf_te
    return dict(train=splits["train"], test=splits["test"], info=info)
