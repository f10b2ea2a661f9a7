"""Unsupervised learning from scratch: PCA, k-means (and LSA, CCA, SOM as they land).

Chapter: chapters/03-3-tasks.md.
"""

from .kmeans import ConvergenceWarning, KMeans, kmeans_plusplus
from .lsa import TruncatedSVD
from .pca import PCA

__all__ = [
    "PCA",
    "KMeans",
    "kmeans_plusplus",
    "ConvergenceWarning",
    "TruncatedSVD",
]
