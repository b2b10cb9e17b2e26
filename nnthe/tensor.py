"""The user-facing math namespace, used as ``import nnthe.tensor as T``.

Constructors of symbolic inputs (``T.scalar``, ``T.matrix``, ``T.ivector``,
``T.tensor(dtype=, shape=)``, ...), elementwise math, reductions, shape and indexing
operations, linear algebra, and ``T.grad``. Names follow Theano and NumPy.
"""
from __future__ import annotations

import sys as _sys
from types import ModuleType
from typing import Any, Sequence

from . import nnet as _nnet
from . import random as _random
from .config import config
from .core.nnet import pool as _core_pool
from .core.gradient import (Lop, Rop, disconnected_grad, grad, grad_clip, hessian, jacobian,
                            stop_gradient, zero_grad)
from .core.ops.alloc import (alloc, arange, eye, fill, full, full_like, identity_like, ones,
                             ones_like, zeros, zeros_like)
from .core.ops.elemwise import (abs, add, add_n, arccos, arcsin, arctan, arctan2, cast, ceil,
                                clip, cos, cosh, eq, erf, exp, exp2, expm1, floor, floor_div,
                                ge, gt, int_div, inv, isfinite, isinf, isnan, le, log, log1p,
                                log2, log10, logical_and, logical_not, logical_or, logical_xor,
                                lt, maximum, minimum, mod, mul, neg, neq, pow, reciprocal,
                                round, sigmoid, sign, sin, sinh, softplus, sqr, sqrt, sub,
                                switch, tan, tanh, true_div, true_divide, trunc, where)
from .core.ops.linalg import batched_dot, dot, matmul, outer, tensordot
from .core.ops.reduce import (all, any, argmax, argmin, logsumexp, max, mean, min, prod, std,
                              sum, var)
from .core.ops.join import concatenate, repeat, split, stack, tile
from .core.ops.shape import (dimshuffle, expand_dims, flatten, reshape, shape, shape_i,
                             specify_shape, squeeze, transpose)
from .core.ops.subtensor import inc_subtensor, set_subtensor, take
from .core.shared import SharedVariable, shared
from .core.types import DTYPE_ORIGIN, TensorType
from .core.variable import TensorConstant, TensorVariable, as_tensor_variable, constant

as_tensor = as_tensor_variable
# Theano's names of the logical elementwise ops.
and_, or_, xor, invert = logical_and, logical_or, logical_xor, logical_not
square = sqr
power = pow
divide = true_div
concat = concatenate


def join(axis: int, *tensors: Any) -> TensorVariable:
    """Theano's ``join``: ``concatenate(tensors, axis)``."""
    return concatenate(list(tensors), axis=axis)


def tensor(dtype: Any = None, shape: Sequence[int | None] | None = None, name: str | None = None,
           ndim: int | None = None) -> TensorVariable:
    """A symbolic input of the given dtype and static shape.

    Parameters
    ----------
    dtype : str, optional
        ``'float32'``, ``'int64'``, ... (default ``config.floatX``).
    shape : tuple of (int or None), optional
        The static shape; None entries are known only at run time.
    name : str, optional
    ndim : int, optional
        Number of dimensions when ``shape`` is not given (all unknown).

    Examples
    --------
    >>> X = T.tensor('float32', shape=(None, 784), name='X')
    """
    if isinstance(dtype, str) and shape is None and ndim is None and name is None \
            and dtype not in _KNOWN_DTYPE_NAMES:
        # T.tensor('X') reads as a name; say what is expected.
        raise TypeError(f"tensor(): {dtype!r} is not a dtype; did you mean tensor(name={dtype!r}, ...)?")
    if shape is None:
        shape = (None,) * (ndim or 0)
    elif ndim is not None and ndim != len(shape):
        raise ValueError(f"tensor(): ndim={ndim} contradicts shape={tuple(shape)}")
    v = TensorVariable(TensorType(dtype, tuple(shape)), name=name)
    # Whether the user named the dtype decides whether mixing it is an upcast to warn about.
    v.tag[DTYPE_ORIGIN] = "default" if dtype is None or dtype == "floatX" else "chosen"
    return v


_KNOWN_DTYPE_NAMES = {"floatX", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                      "uint32", "uint64", "float16", "float32", "float64", "complex64",
                      "complex128"}


def _constructor(ndim: int, dtype: str | None, kind: str):
    def make(name: str | None = None, dtype: Any = dtype, shape: Sequence[int | None] | None = None) -> TensorVariable:
        if shape is not None and len(shape) != ndim:
            raise ValueError(f"{kind}: shape {tuple(shape)} must have {ndim} entries")
        return tensor(dtype=dtype, shape=shape if shape is not None else (None,) * ndim, name=name)

    make.__name__ = kind
    make.__doc__ = (f"A symbolic {ndim}-d input of dtype {dtype or 'config.floatX'} "
                    f"(``shape=`` gives a static shape).")
    return make


scalar = _constructor(0, None, "scalar")
vector = _constructor(1, None, "vector")
matrix = _constructor(2, None, "matrix")
tensor3 = _constructor(3, None, "tensor3")
tensor4 = _constructor(4, None, "tensor4")
tensor5 = _constructor(5, None, "tensor5")

_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
             "d": "float64", "c": "complex64", "z": "complex128"}
for _p, _dt in _PREFIXES.items():
    for _nd, _kind in enumerate(["scalar", "vector", "matrix", "tensor3", "tensor4", "tensor5"]):
        globals()[_p + _kind] = _constructor(_nd, _dt, _p + _kind)
del _p, _dt, _nd, _kind


def _plural(single):
    def make(*names: Any) -> list[TensorVariable]:
        if len(names) == 1 and isinstance(names[0], int):
            return [single() for _ in range(names[0])]
        if not names:
            raise TypeError(f"{single.__name__}s(): give names ('a', 'b') or a count (2)")
        return [single(n) for n in names]

    make.__name__ = single.__name__ + "s"
    make.__doc__ = (f"Several inputs at once, as in Theano: ``{make.__name__}('a', 'b')`` "
                    f"or ``{make.__name__}(2)``; returns a list of ``{single.__name__}``.")
    return make


# Theano's plural constructors: T.dmatrices('a', 'b'), T.iscalars(3), ...
for _kind in ["scalar", "vector", "matrix", "tensor3", "tensor4", "tensor5"]:
    _plural_name = "matrices" if _kind == "matrix" else _kind + "s"
    for _p in [""] + list(_PREFIXES):
        globals()[_p + _plural_name] = _plural(globals()[_p + _kind])
del _p, _kind, _plural_name


def row(name: str | None = None, dtype: Any = None) -> TensorVariable:
    """A symbolic matrix with one row (static shape (1, None))."""
    return tensor(dtype, (1, None), name)


def col(name: str | None = None, dtype: Any = None) -> TensorVariable:
    """A symbolic matrix with one column (static shape (None, 1))."""
    return tensor(dtype, (None, 1), name)


# ---------------------------------------------------------------------------------------
# Theano's submodule paths: ``from theano.tensor.nnet import conv2d``,
# ``from theano.tensor.signal import pool``, ``theano.tensor.shared_randomstreams``.
# nnthe.tensor is a module, not a package, so these are registered in sys.modules (the
# import system looks there before it looks for files).
# ---------------------------------------------------------------------------------------

def _submodule(name: str, doc: str, **names: Any) -> ModuleType:
    mod = ModuleType(f"{__name__}.{name}", doc)
    mod.__dict__.update(names)
    mod.__all__ = sorted(n for n in names if not isinstance(names[n], ModuleType))
    _sys.modules[mod.__name__] = mod
    return mod


nnet = _nnet
_sys.modules[f"{__name__}.nnet"] = _nnet
_sys.modules[f"{__name__}.nnet.nnet"] = _nnet
pool_module = _submodule("signal.pool", "Theano's theano.tensor.signal.pool: pool_2d.",
                         pool_2d=_core_pool.pool_2d, Pool=_core_pool.Pool)
downsample = _submodule("signal.downsample", "Theano's old theano.tensor.signal.downsample.",
                        max_pool_2d=_core_pool.pool_2d)
signal = _submodule("signal", "Theano's theano.tensor.signal.", pool=pool_module,
                    downsample=downsample)
shared_randomstreams = _submodule("shared_randomstreams",
                                  "Theano's theano.tensor.shared_randomstreams.",
                                  RandomStreams=_random.RandomStreams)
del pool_module
