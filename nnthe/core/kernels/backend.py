"""Which kernel backend runs, how many threads its kernels use, and the lazy numba import.

``NNTHE_KERNELS`` selects the backend for every compiled function: ``auto`` (the default:
numba when it is installed, else NumPy), ``numpy`` (every op runs its NumPy ``perform``)
or ``numba`` (an ImportError naming the extra if numba is missing). A
:class:`~nnthe.core.compile.mode.Mode` can override it per function with
``Mode(kernels=...)``. Finding out whether numba is installed never imports it: only
linking a node that has a kernel does, so ``import nnthe`` and functions without kernels
stay as fast to start as before.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import os
from types import ModuleType

BACKENDS = ("auto", "numpy", "numba")

_numba: ModuleType | None = None
_threads: int | None = None


@functools.lru_cache(maxsize=None)
def numba_available() -> bool:
    """True if numba can be imported (checked once, without importing it;
    ``numba_available.cache_clear()`` checks again)."""
    return importlib.util.find_spec("numba") is not None


def resolve_backend(requested: str | None = None) -> str:
    """``'numpy'`` or ``'numba'``: the backend ``requested`` (None: ``$NNTHE_KERNELS``,
    default ``'auto'``) stands for on this machine.

    Raises
    ------
    ValueError
        For a name that is not a backend.
    ImportError
        For ``'numba'`` when numba is not installed.
    """
    source = "the kernels option"
    if requested is None:
        requested = os.environ.get("NNTHE_KERNELS", "auto").strip().lower() or "auto"
        source = "NNTHE_KERNELS"
    if requested not in BACKENDS:
        raise ValueError(f"{source} must be one of {BACKENDS}, got {requested!r}")
    if requested == "auto":
        return "numba" if numba_available() else "numpy"
    if requested == "numba" and not numba_available():
        raise ImportError("the numba kernel backend needs numba: pip install 'nnthe[fast]' "
                          "(or set NNTHE_KERNELS=numpy)")
    return requested


def numba() -> ModuleType:
    """The numba module, imported on first use (it costs ~0.4 s and is an optional extra)."""
    global _numba
    if _numba is None:
        try:
            _numba = importlib.import_module("numba")
        except ImportError as exc:
            raise ImportError("compiled kernels need numba: pip install 'nnthe[fast]' "
                              "(or set NNTHE_KERNELS=numpy)") from exc
    return _numba


def _blas_threads() -> int:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def get_num_threads() -> int:
    """Threads a kernel may use: ``set_num_threads``, else ``$NNTHE_KERNEL_THREADS``, else 1.

    One thread by default, even when BLAS uses two: measured on this shared 2-core
    machine at a load of ~9 (A/B/A/B, three pairs), the MLP training step took 254-415 ms
    with 1-thread kernels against 607-732 ms with 2-thread ones; alone, the 2-thread Adam
    kernel had a better median (0.14 against 0.29 ms for 800x800) but stalls of up to
    24 ms when it waited for a core, and it competes with BLAS's own threads. With
    ``n > 1`` kernels are compiled with ``parallel=True`` (more compile time).
    ``NNTHE_KERNEL_THREADS=blas`` follows the BLAS setting (``OPENBLAS_NUM_THREADS``,
    ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, else the core count).
    """
    if _threads is not None:
        return _threads
    value = os.environ.get("NNTHE_KERNEL_THREADS", "").strip().lower()
    if value == "blas":
        return _blas_threads()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"NNTHE_KERNEL_THREADS must be a positive integer or 'blas', got {value!r}")
        return int(value)
    return 1


def set_num_threads(n: int | None) -> None:
    """Set the threads of kernels linked from now on (None: back to the default).

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer.
    """
    global _threads
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"set_num_threads: expected a positive integer or None, got {n!r}")
    _threads = n


def inexact_allowed() -> bool:
    """Whether kernels may compute functions that NumPy rounds differently (exp, log,
    tanh, power, ...: within an ulp or two). Off by default, so that results do not
    depend on the backend; ``NNTHE_KERNELS_INEXACT=1`` turns it on."""
    return os.environ.get("NNTHE_KERNELS_INEXACT", "").strip().lower() in ("1", "true", "yes", "on")
