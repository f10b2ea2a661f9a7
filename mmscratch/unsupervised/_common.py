"""Input checks shared by the unsupervised estimators (PCA, KMeans, ...)."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..errors import check_array


def check_data(X, where: str, argument: str = "X"):
    """Validate a data matrix ``X (n_samples, n_features)`` like scikit-learn does.

    Integer and boolean input is cast to float64 (as scikit-learn does); float32
    and float64 stay as they are. Raises ``ValueError`` for 1-D input (with the
    ``reshape`` hint), empty input and NaN/inf, and ``BackendError`` for an array
    of another backend.
    """
    backend.check_backend(X, argument, where)
    if X.ndim != 2:
        hint = (" Reshape your data with X.reshape(-1, 1) if it has a single feature "
                "or X.reshape(1, -1) if it is a single sample.") if X.ndim == 1 else ""
        raise ValueError(f"{where}: argument '{argument}' must be a 2-D array "
                         f"(n_samples, n_features), got shape {tuple(X.shape)}.{hint}")
    check_array(X, argument, where=where, ndim=2, dtype_kind="fiub", finite=True)
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    return X


def host_rng(random_state):
    """A host ``numpy.random.Generator`` from ``None``, an int or a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)
