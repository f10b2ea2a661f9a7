"""Feature extraction: audio (MFCC) and text (bag-of-words, TF-IDF)."""

from . import cepstrum, mel, spectrum
from . import mfcc as mfcc_stages
from .bow import CountVectorizer, NotFittedError, TfidfTransformer, TfidfVectorizer
from .mfcc import MFCC, mfcc, mfcc_ragged
from .tokenize import ENGLISH_STOP_WORDS, build_analyzer

__all__ = [
    "MFCC",
    "mfcc",
    "mfcc_ragged",
    "mfcc_stages",
    "spectrum",
    "mel",
    "cepstrum",
    "CountVectorizer",
    "TfidfTransformer",
    "TfidfVectorizer",
    "NotFittedError",
    "ENGLISH_STOP_WORDS",
    "build_analyzer",
]
