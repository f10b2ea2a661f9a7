"""Classical supervised learners from scratch: naive Bayes, SVMs, decision trees, forests.

scikit-learn's names, defaults and fitted attributes (``../shared/DESIGN.md``, "Second
wave"); every estimator runs on the active backend.

Chapter: chapters/03-4-classical.md.
"""

from .naive_bayes import GaussianNB, MultinomialNB

__all__ = [
    "GaussianNB",
    "MultinomialNB",
]
