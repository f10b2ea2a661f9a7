"""mmscratch: multimodal learning from scratch in NumPy, unchanged on a GPU through CuPy."""

from . import backend
from .errors import DataError

__version__ = "0.1.0"
__all__ = ["backend", "DataError", "__version__"]
