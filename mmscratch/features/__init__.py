"""Feature extraction: audio (MFCC) and text (bag-of-words, TF-IDF)."""

from .bow import CountVectorizer, NotFittedError, TfidfTransformer, TfidfVectorizer
from .text import ENGLISH_STOP_WORDS, build_analyzer

__all__ = [
    "CountVectorizer",
    "TfidfTransformer",
    "TfidfVectorizer",
    "NotFittedError",
    "ENGLISH_STOP_WORDS",
    "build_analyzer",
]
