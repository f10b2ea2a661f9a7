"""Unsupervised learning from scratch: PCA, k-means (and LSA, CCA, SOM as they land).

Chapter: chapters/03-3-tasks.md.
"""

from .cca import CCA
from .clustering import format_clustering_table, multimodal_clustering, standardize
from .kmeans import ConvergenceWarning, KMeans, kmeans_plusplus
from .lsa import TruncatedSVD
from .pca import PCA
from .som import SOM

__all__ = [
    "PCA",
    "KMeans",
    "kmeans_plusplus",
    "ConvergenceWarning",
    "multimodal_clustering",
    "format_clustering_table",
    "standardize",
    "TruncatedSVD",
    "CCA",
    "SOM",
]
