"""Input checks shared by the unsupervised estimators (PCA, KMeans, ...)."""

from __future__ import annotations

from ..base import check_X
from ..extmath import host_rng  # noqa: F401 - re-exported: the estimators' generator


def check_data(X, where: str, argument: str = "X"):
    """Validate a data matrix ``X (n_samples, n_features)`` like scikit-learn does.

    :func:`mmscratch.base.check_X` with the first wave's backend rule: an array of
    another backend is refused with ``BackendError`` (never copied), while lists and
    other array-likes are read on the host. Integer and boolean input is cast to
    float64 (as scikit-learn does); float32 and float64 stay as they are. Raises
    ``ValueError`` for 1-D input (with the ``reshape`` hint), empty input and NaN/inf.
    """
    return check_X(X, where, argument, host=False)


__all__ = ["check_data", "host_rng"]
