"""Old home of multimodal clustering: the module is now
:mod:`mmscratch.unsupervised.clustering` (the name clashed with the
:mod:`mmscratch.multimodal` package). Kept so that old imports keep working.
"""

from .clustering import *  # noqa: F403 - the same public names
from .clustering import __all__  # noqa: F401
