"""Data sets: MNIST (IDX), and more added by their loaders (see DESIGN.md, "Data")."""

from . import mnist
from ._paths import data_dir
from .avmnist import load_avmnist
from .digits import load_digits_multimodal
from .download import download, fetch
from .fsdd import load_fsdd
from .mnist import load_mnist
from .registry import DATASETS, load
from .text import TextDataset, load_text

__all__ = ["data_dir", "load_fsdd", "mnist", "load_mnist", "load_text", "TextDataset",
           "load_digits_multimodal", "load_avmnist", "load", "DATASETS", "download", "fetch"]
