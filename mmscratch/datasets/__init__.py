"""Data sets: MNIST (IDX), and more added by their loaders (see DESIGN.md, "Data")."""

from . import mnist
from ._paths import data_dir
from .fsdd import load_fsdd
from .mnist import load_mnist
from .text import TextDataset, load_text

__all__ = ["data_dir", "load_fsdd", "mnist", "load_mnist", "load_text", "TextDataset"]
