"""Old home of the tokenizer: the module is now :mod:`mmscratch.features.tokenize`.

Kept so that ``from mmscratch.features.text import build_analyzer`` keeps working; the
name clashed with :mod:`mmscratch.datasets.text` (the text corpus loader).
"""

from .tokenize import *  # noqa: F403 - the same public names
from .tokenize import __all__  # noqa: F401
