"""Classical supervised learners from scratch: naive Bayes, SVMs, decision trees, forests.

scikit-learn's names, defaults and fitted attributes (``../shared/DESIGN.md``, "Second
wave"); every estimator runs on the active backend.

Chapter: chapters/03-4-classical.md.
"""

from .forest import RandomForestClassifier, RandomForestRegressor
from .kernels import linear_kernel, polynomial_kernel, rbf_kernel, sigmoid_kernel
from .naive_bayes import GaussianNB, MultinomialNB
from .svm import SVC, LinearSVC
from .tree import DecisionTreeClassifier, DecisionTreeRegressor

__all__ = [
    "GaussianNB",
    "MultinomialNB",
    "SVC",
    "LinearSVC",
    "linear_kernel",
    "polynomial_kernel",
    "rbf_kernel",
    "sigmoid_kernel",
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
]
