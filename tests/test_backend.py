"""The backend switch: which module is active, moving data, and refusing silent copies."""

import numpy as np
import pytest

from mmscratch import backend, nn


def test_numpy_is_the_default_and_use_restores_on_exit():
    assert backend.name() == "numpy"
    with backend.use("strict") as mod:
        assert backend.name() == "strict"
        assert mod is backend.xp()
    assert backend.name() == "numpy" and backend.xp() is np


def test_unknown_backend_name_is_refused():
    with pytest.raises(ValueError, match="numpy"):
        backend.use("tensorflow")


def test_cupy_without_gpu_says_why():
    if backend.cupy_available():
        pytest.skip("a GPU is present here")
    with pytest.raises(backend.BackendError, match="cupy"):
        backend.use("cupy")
    assert backend.name() == "numpy"


def test_get_array_module_and_round_trip(xp):
    a = backend.asarray(np.arange(6.0).reshape(2, 3))
    assert backend.get_array_module(a) is backend.xp()
    assert backend.get_array_module(np.zeros(2)) is np
    host = backend.to_numpy(a * 2)
    assert isinstance(host, np.ndarray)
    np.testing.assert_array_equal(host, np.arange(6.0).reshape(2, 3) * 2)


def test_strict_arrays_refuse_implicit_host_conversion():
    with backend.use("strict"):
        a = backend.xp().ones(3)
        for implicit in (lambda: np.asarray(a), lambda: float(a.sum()), lambda: bool(a[0]),
                         lambda: a.sum().item(), lambda: np.sum(a)):
            with pytest.raises(TypeError):
                implicit()
        assert backend.to_numpy(a).sum() == 3.0  # the explicit path works


def test_layer_refuses_array_of_another_backend():
    layer = nn.Dense(4)
    with backend.use("strict"):
        with pytest.raises(backend.BackendError, match="numpy array but the active backend"):
            layer.forward(np.ones((2, 3), dtype=np.float32))


def test_parameters_are_created_on_the_active_backend(xp):
    layer = nn.Dense(4, seed=0)
    layer.forward(backend.asarray(np.ones((2, 3), dtype=np.float32)))
    assert backend.get_array_module(layer.params["W"]) is backend.xp()


def test_scatter_add_accumulates_repeated_indices(xp):
    target = xp.zeros(3)
    backend.scatter_add(target, backend.asarray(np.array([0, 0, 2])), backend.asarray(
        np.array([1.0, 2.0, 5.0])))
    np.testing.assert_array_equal(backend.to_numpy(target), [3.0, 0.0, 5.0])
