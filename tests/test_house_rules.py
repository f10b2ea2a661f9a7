"""Static checks of STYLE.md's house rules over the library source.

1. No module but ``mmscratch/backend.py`` imports cupy (or cupyx).
2. No module asks for the array module at import time (``xp = backend.xp()`` at module
   level would freeze whichever backend was active when it was imported).
3. NumPy is imported only by modules that do host-side work, each listed below with the
   reason; the rest must get their array module from ``backend``. What the listed modules
   do with NumPy is checked at run time instead: the layer, feature and estimator tests run
   under the ``strict`` backend, whose arrays raise ``TypeError`` when NumPy touches them.
"""

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "mmscratch"

HOST_NUMPY = {
    "backend.py": "is the backend",
    "__main__.py": "command line: host-side bookkeeping of labels and predictions",
    "base.py": "host arrays and lists given to an estimator become one host array at the boundary",
    "gradcheck.py": "accumulates numerical gradients on the host in float64",
    "plots.py": "matplotlib takes host arrays",
    "metrics.py": "integer bookkeeping of label sets on the host",
    "nn/layer.py": "parameters are given as host arrays and moved with backend.asarray",
    "nn/initializers.py": "weights are drawn on the host so a seed means the same on every backend",
    "nn/model.py": "shuffle order from a host Generator; checkpoints are host .npz files",
    "nn/reference.py": "the naive loop-based reference used by tests",
    "nn/conv.py": "integer index tables and dtype checks built once on the host",
    "nn/pooling.py": "-inf padding value and average-pooling counts built on the host",
    "nn/recurrent.py": "initial weights (orthogonal recurrent kernel) and dtype checks",
    "nn/attention.py": "initial weights and dtype checks",
    "nn/gru.py": "initial weights (orthogonal recurrent kernel per gate block)",
    "nn/normalization.py": "gamma and beta start as host arrays given to add_param",
    "nn/embedding.py": "initial weights and integer dtype checks",
    "nn/mfcc_layer.py": "index tables for framing/overlap-add and DCT/lifter matrices on the host",
    "multimodal/classifier.py": "modality-dropout masks drawn from a host Generator",
    "features/mfcc.py": "window, mel filterbank and DCT matrices built once on the host",
    "extmath.py": "host random draws (scikit-learn's test matrices) and dtype limits",
    "features/audio.py": "noise and MFCC matrices of host data-set arrays",
    "features/spectrum.py": "the analysis window and frame counts are built on the host",
    "features/mel.py": "the mel filterbank is built once on the host",
    "features/cepstrum.py": "DCT, lifter and Savitzky-Golay matrices built once on the host",
    "features/bow.py": "tokenizing and counting strings happens on the host",
    "unsupervised/kmeans.py": "host Generator for k-means++ seeding draws",
    "unsupervised/pca.py": "dtype checks and the host Generator of the randomized solver",
    "unsupervised/lsa.py": "host Generator of the randomized solver",
    "unsupervised/som.py": "MiniSom's seeded RandomState stream and grid tables on the host",
    "supervised/_smo.py": "SMO's sequential iterations run on the host (scalar choices each step)",
    "multimodal/mkl.py": "the tiny (modalities x modalities) alignment QP on the host",
    "supervised/svm.py": "class bookkeeping and the libsvm model layout on the host; SMO input",
    "_safe_io.py": "untrusted files are parsed on the host",
    "datasets/mnist.py": "file parsing happens on the host",
    "datasets/fsdd.py": "file parsing happens on the host",
    "datasets/text.py": "file parsing happens on the host",
    "datasets/digits.py": "data set assembly happens on the host",
    "datasets/avmnist.py": "data set assembly happens on the host",
    "datasets/_pairing.py": "seeded pairing of samples on the host",
    "datasets/download.py": "checksums of downloaded files",
    "datasets/registry.py": "data set assembly happens on the host",
    "supervised/_tree_growth.py": "feature subsets from a host Generator: one seed, one tree",
    "supervised/forest.py": "bootstrap counts from a host Generator: one seed, one forest",
}


def library_modules():
    return sorted(p for p in LIB.rglob("*.py"))


def imported_roots(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: str(p.relative_to(LIB)))
def test_only_backend_imports_cupy(path):
    roots = set(imported_roots(ast.parse(path.read_text())))
    if path.name != "backend.py" or path.parent != LIB:
        assert not roots & {"cupy", "cupyx"}, f"{path} imports cupy; ask mmscratch.backend"


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: str(p.relative_to(LIB)))
def test_numpy_only_where_host_work_is_declared(path):
    rel = str(path.relative_to(LIB))
    if "numpy" in set(imported_roots(ast.parse(path.read_text()))):
        assert rel in HOST_NUMPY, (
            f"{rel} imports numpy; library code gets its array module from backend.xp(). "
            "If this module does host-side work, add it to HOST_NUMPY with the reason.")


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: str(p.relative_to(LIB)))
def test_no_array_module_frozen_at_import_time(path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            for call in ast.walk(node.value):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                        and call.func.attr == "xp":
                    pytest.fail(f"{path}:{node.lineno} calls backend.xp() at import time")
