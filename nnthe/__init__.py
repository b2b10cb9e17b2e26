"""nnthe: a small, fast deep-learning framework on NumPy with a Theano-style symbolic core.

Build a symbolic graph with :mod:`nnthe.tensor`, differentiate it with :func:`grad`,
compile it with :func:`function`, and keep state in :func:`shared` variables::

    import nnthe
    import nnthe.tensor as T

    x = T.scalar('x')
    y = x ** 2 + 3 * x + 1
    f = nnthe.function([x], nnthe.grad(y, x))
    f(2)   # array(7., dtype=float32)
"""
from __future__ import annotations

import importlib
from typing import Any

from .config import config
from . import gradient
from .core.compile import Function, In, Mode, Out, function
from .core.gradient import grad
from .core.shared import SharedVariable, shared

__version__ = "0.1.0"

_LAZY = {
    "tensor": "nnthe.tensor",
    "printing": "nnthe.printing",
    "layers": "nnthe.layers",
    "optim": "nnthe.optim",
    "losses": "nnthe.losses",
    "init": "nnthe.init",
    "random": "nnthe.random",
    "data": "nnthe.data",
    "train": "nnthe.train",
    "nnet": "nnthe.nnet",
    "checkpoint": "nnthe.checkpoint",
    "metrics": "nnthe.metrics",
    "regularization": "nnthe.regularization",
    "compile": "nnthe.compile",
    # Callable modules: nnthe.scan(fn, ...) and nnthe.ifelse(cond, a, b) as in Theano.
    "scan": "nnthe.scan",
    "ifelse": "nnthe.ifelse",
}
_LAZY_ATTRS = {
    "pp": ("nnthe.printing", "pp"),
    "debugprint": ("nnthe.printing", "debugprint"),
    "save_checkpoint": ("nnthe.checkpoint", "save_checkpoint"),
    "load_checkpoint": ("nnthe.checkpoint", "load_checkpoint"),
    "map": ("nnthe.core.scan", "map"),
    "reduce": ("nnthe.core.scan", "reduce"),
    "foldl": ("nnthe.core.scan", "foldl"),
    "foldr": ("nnthe.core.scan", "foldr"),
}


def __getattr__(name: str) -> Any:
    # Submodules load on first use, so ``import nnthe`` stays fast.
    if name in _LAZY:
        return importlib.import_module(_LAZY[name])
    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'nnthe' has no attribute {name!r}")


__all__ = ["config", "function", "Function", "In", "Out", "Mode", "grad", "gradient", "shared",
           "SharedVariable", "__version__"] + list(_LAZY) + list(_LAZY_ATTRS)
