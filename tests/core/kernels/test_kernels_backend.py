"""Choosing the kernel backend, and numba imported only when a kernel is linked."""
import os
import subprocess
import sys

import pytest

import nnthe
from nnthe.core.compile.mode import Mode
from nnthe.core.kernels import backend


def test_import_and_a_function_without_kernels_do_not_import_numba():
    code = ("import sys, nnthe, nnthe.tensor as T\n"
            "x = T.vector('x')\n"
            "f = nnthe.function([x], T.exp(x) * 2)\n"
            "f([1.0])\n"
            "print('numba' in sys.modules)\n")
    env = dict(os.environ, NNTHE_KERNELS="auto")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(nnthe.__file__)), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_resolve_backend(monkeypatch):
    monkeypatch.setenv("NNTHE_KERNELS", "numpy")
    assert backend.resolve_backend() == "numpy"
    assert backend.resolve_backend("numpy") == "numpy"
    monkeypatch.setenv("NNTHE_KERNELS", "auto")
    assert backend.resolve_backend() == ("numba" if backend.numba_available() else "numpy")
    monkeypatch.setenv("NNTHE_KERNELS", "cuda")
    with pytest.raises(ValueError, match="NNTHE_KERNELS must be one of"):
        backend.resolve_backend()
    with pytest.raises(ValueError, match="kernels option"):
        backend.resolve_backend("fast")


def test_numba_backend_without_numba_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "numba" else real(name, *a))
    backend.numba_available.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"nnthe\[fast\]"):
            backend.resolve_backend("numba")
        assert backend.resolve_backend("auto") == "numpy"
    finally:
        monkeypatch.undo()
        backend.numba_available.cache_clear()


def test_mode_kernels_option_is_checked():
    assert Mode(kernels="numpy").kernels == "numpy"
    assert "kernels='numba'" in repr(Mode(kernels="numba"))
    with pytest.raises(ValueError, match="kernels must be"):
        Mode(kernels="gpu")


def test_threads_setting(monkeypatch):
    monkeypatch.delenv("NNTHE_KERNEL_THREADS", raising=False)
    assert backend.get_num_threads() == 1
    monkeypatch.setenv("NNTHE_KERNEL_THREADS", "blas")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert backend.get_num_threads() == 3
    monkeypatch.setenv("NNTHE_KERNEL_THREADS", "zero")
    with pytest.raises(ValueError, match="NNTHE_KERNEL_THREADS"):
        backend.get_num_threads()
    backend.set_num_threads(2)
    try:
        assert backend.get_num_threads() == 2
    finally:
        backend.set_num_threads(None)
    with pytest.raises(ValueError, match="positive integer"):
        backend.set_num_threads(0)
