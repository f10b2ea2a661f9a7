"""Data sets: MNIST (IDX), and more added by their loaders (see DESIGN.md, "Data")."""

from . import mnist
from ._paths import data_dir
from .digits import load_digits_multimodal
from .fsdd import load_fsdd
from .mnist import load_mnist
from .registry import DATASETS, load
from .text import TextDataset, load_text

__all__ = ["data_dir", "load_fsdd", "mnist", "load_mnist", "load_text", "TextDataset",
           "load_digits_multimodal", "load", "DATASETS"]
