"""Download the real data sets with SHA-256 checks (for users who are online).

``fetch("mnist", data_dir)`` and ``fetch("fsdd", data_dir)`` put the official files
where the loaders look for them (``<data_dir>/mnist/*-ubyte.gz``,
``<data_dir>/fsdd/recordings/*.wav``). Every file is checked against a SHA-256 shipped
with mmscratch before it appears under its final name: a download goes to a temporary
file in the same folder, is hashed while it streams, and is renamed into place only if
the hash matches (an atomic ``os.replace``), so an interrupted or corrupt download never
leaves a file that a loader could mistake for the real one. Files already present with
the right hash are not downloaded again. Only the standard library (``urllib``) is used.

What is supported:

* ``"mnist"``: the four IDX ``.gz`` files, tried in turn from the mirrors in
  :data:`MNIST_MIRRORS` (the original site at yann.lecun.com often refuses scripts).
* ``"fsdd"``: the 3,000 WAV recordings of the Free Spoken Digit Dataset, one request
  per file, from GitHub at the pinned commit in :data:`FSDD_BASE_URL` (the recordings
  are identical to release v1.0.10). GitHub's release archives are not guaranteed to
  be byte-stable, so no single tarball checksum is used. The ``index.csv`` and
  ``speakers.csv`` of the shared data folder were written for this course and are not
  fetched; the loaders do not need them.

The 20 Newsgroups text corpus is not fetched (its CSVs were assembled for this course).

Chapter: chapters/04-code-example.md.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from .._safe_io import new_file_mode
from ..errors import DataError
from ..extmath import sha256_file as _sha256_file
from ._paths import data_dir as _data_dir

__all__ = ["download", "fetch", "checksums", "MNIST_MIRRORS", "FSDD_BASE_URL"]

#: Mirrors of the MNIST files, tried in order (TensorFlow's, torchvision's, the original).
MNIST_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: FSDD recordings at the commit the shared data folder was copied from.
FSDD_BASE_URL = ("https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/"
                 "26eb9aaf76e81b692f806f9140c2d2777410d7a1/recordings/")

_CHUNK = 1 << 16
_USER_AGENT = "mmscratch-download/1 (+https://github.com; urllib)"


def download(url, dest, sha256, *, timeout=60.0, overwrite=False):
    """Download ``url`` to ``dest`` if its SHA-256 is ``sha256``; atomic, never half-written.

    The body streams into a temporary file next to ``dest`` while being hashed; only a
    matching hash renames it to ``dest``. On any failure the temporary file is removed
    and ``dest`` is left as it was.

    Parameters
    ----------
    url : str
    dest : str or Path
        Final file path; its folder is created.
    sha256 : str
        Expected hex digest (64 characters, case-insensitive).
    timeout : float
        Seconds for the connection and each read.
    overwrite : bool
        Download even when ``dest`` exists with the right hash.

    Returns
    -------
    Path of ``dest``.

    Raises
    ------
    DataError
        The server is unreachable or answers with an error, or the downloaded bytes do
        not have the expected SHA-256 (the message names the URL and both digests).
    """
    dest = Path(dest)
    want = str(sha256).strip().lower()
    if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
        raise ValueError(f"download: sha256 must be 64 hex digits, got {sha256!r}")
    if dest.is_file() and not overwrite and _sha256_file(dest) == want:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, new_file_mode())  # mkstemp's 0600 -> what open() would give (0644)
        h = hashlib.sha256()
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request,
                                                                    timeout=timeout) as resp:
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    h.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DataError(f"{url}: download failed ({type(exc).__name__}: {exc}); "
                            f"{dest} was not written") from exc
        got = h.hexdigest()
        if got != want:
            raise DataError(f"{url}: SHA-256 mismatch: got {got}, expected {want}; the "
                            f"download was discarded and {dest} was not written")
        os.replace(tmp, dest)
        return dest
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def checksums(name):
    """``{file name: sha256}`` of the files :func:`fetch` downloads for ``name``."""
    if name == "mnist":
        from .mnist import SHA256  # noqa: PLC0415

        return dict(SHA256)
    if name == "fsdd":
        ref = resources.files("mmscratch.datasets") / "embedded" / "fsdd_recordings.sha256.gz"
        text = gzip.decompress(ref.read_bytes()).decode("ascii")
        pairs = (line.split() for line in text.splitlines() if line.strip())
        return {fname: digest for digest, fname in pairs}
    raise ValueError(f"fetch: unknown data set {name!r}; choose 'mnist' or 'fsdd'")


def fetch(name, data_dir=None, *, base_url=None, files=None, workers=8, timeout=60.0,
          progress=True):
    """Download a real data set into the data folder, checking every file's SHA-256.

    Parameters
    ----------
    name : {"mnist", "fsdd"}
    data_dir : path, optional
        Data folder (default ``$MMSCRATCH_DATA``, else ``~/.cache/mmscratch``); files go
        to ``mnist/`` or ``fsdd/recordings/`` below it.
    base_url : str, optional
        Fetch from this URL prefix instead (``base_url + file name``), e.g. a local
        mirror; default: :data:`MNIST_MIRRORS` in turn, or :data:`FSDD_BASE_URL`.
    files : list of str, optional
        Only these file names (default: all of the set).
    workers : int
        Parallel downloads (FSDD is 3,000 small files).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    Path of the folder the files are in.

    Raises
    ------
    DataError
        A file could not be downloaded from any source, or its hash is wrong; files
        that did arrive intact stay in place, so calling again resumes.
    """
    sums = checksums(name)
    if files is not None:
        unknown = sorted(set(files) - set(sums))
        if unknown:
            raise ValueError(f"fetch({name!r}): unknown files {unknown[:5]}")
        sums = {f: sums[f] for f in files}
    root = _data_dir(data_dir)
    folder = root / "mnist" if name == "mnist" else root / "fsdd" / "recordings"
    if base_url is not None:
        bases = (base_url if base_url.endswith("/") else base_url + "/",)
    else:
        bases = MNIST_MIRRORS if name == "mnist" else (FSDD_BASE_URL,)

    def one(fname):
        errors = []
        for base in bases:
            try:
                return download(base + fname, folder / fname, sums[fname], timeout=timeout)
            except DataError as exc:
                errors.append(str(exc))
        raise DataError(f"{folder / fname}: could not be fetched from any source: "
                        + " | ".join(errors))

    names = sorted(sums)
    bar = None
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=len(names), desc=f"fetch {name}", unit="file")
    failures = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for fname, fut in zip(names, [pool.submit(one, f) for f in names]):
            try:
                fut.result()
            except DataError as exc:
                failures.append((fname, exc))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    if failures:
        first = failures[0][1]
        raise DataError(f"fetch({name!r}): {len(failures)} of {len(names)} files failed; "
                        f"first: {first}") from first
    return folder
