"""Tensor variables: the Python operators and methods users write expressions with,
and the conversion of Python and NumPy values into constants."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import config
from .graph import Constant, Variable
from .types import ALL_DTYPES, TensorType, normalize_dtype


class TensorVariable(Variable):
    """A symbolic n-dimensional array.

    Supports NumPy-like operators (``+ - * / // % ** @``, comparisons ``< <= > >=``,
    ``-x``, ``abs(x)``, indexing) and methods (``sum``, ``mean``, ``reshape``,
    ``dimshuffle``, ``T``, ...). ``==`` is identity, as for any Python object, so that
    variables can be dict keys; use ``T.eq`` / ``T.neq`` for elementwise equality.
    """

    __slots__ = ()

    # -- type information ----------------------------------------------------------
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def static_shape(self) -> tuple[int | None, ...]:
        """The shape known when the graph is built (None where unknown)."""
        return self.type.shape

    @property
    def shape(self) -> "TensorVariable":
        """The symbolic shape: an int64 vector (``x.shape[0]`` is a scalar)."""
        from .ops.shape import shape

        return shape(self)

    @property
    def size(self) -> "TensorVariable":
        from .ops.reduce import prod
        from .ops.shape import shape

        return prod(shape(self))

    @property
    def T(self) -> "TensorVariable":
        return self.transpose()

    def __bool__(self) -> bool:
        raise TypeError(
            f"the symbolic variable {self!r} has no truth value: it is known only when the "
            "compiled function runs. Use T.switch(cond, a, b) for a symbolic condition"
        )

    def __len__(self) -> int:
        raise TypeError(f"len() of the symbolic variable {self!r} is undefined; use x.shape[0]")

    def __iter__(self):
        raise TypeError(
            f"the symbolic variable {self!r} cannot be iterated; index it (x[i]) or use "
            "T.split / unstack"
        )

    # -- arithmetic ----------------------------------------------------------------
    def __add__(self, other): return _e().add(self, other)
    def __radd__(self, other): return _e().add(other, self)
    def __sub__(self, other): return _e().sub(self, other)
    def __rsub__(self, other): return _e().sub(other, self)
    def __mul__(self, other): return _e().mul(self, other)
    def __rmul__(self, other): return _e().mul(other, self)
    def __truediv__(self, other): return _e().true_div(self, other)
    def __rtruediv__(self, other): return _e().true_div(other, self)
    def __floordiv__(self, other): return _e().int_div(self, other)
    def __rfloordiv__(self, other): return _e().int_div(other, self)
    def __mod__(self, other): return _e().mod(self, other)
    def __rmod__(self, other): return _e().mod(other, self)
    def __pow__(self, other): return _e().pow(self, other)
    def __rpow__(self, other): return _e().pow(other, self)
    def __neg__(self): return _e().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _e().abs(self)
    def __invert__(self): return _e().logical_not(self)
    def __and__(self, other): return _e().logical_and(self, other)
    def __rand__(self, other): return _e().logical_and(other, self)
    def __or__(self, other): return _e().logical_or(self, other)
    def __ror__(self, other): return _e().logical_or(other, self)
    def __xor__(self, other): return _e().logical_xor(self, other)
    def __rxor__(self, other): return _e().logical_xor(other, self)
    def __lt__(self, other): return _e().lt(self, other)
    def __le__(self, other): return _e().le(self, other)
    def __gt__(self, other): return _e().gt(self, other)
    def __ge__(self, other): return _e().ge(self, other)

    def __matmul__(self, other):
        from .ops.linalg import matmul
        return matmul(self, other)

    def __rmatmul__(self, other):
        from .ops.linalg import matmul
        return matmul(other, self)

    __hash__ = Variable.__hash__  # defining __eq__ is avoided; keep identity hashing

    # -- indexing ------------------------------------------------------------------
    def __getitem__(self, key: Any) -> "TensorVariable":
        from .ops.subtensor import getitem

        return getitem(self, key)

    # -- methods mirroring NumPy -----------------------------------------------------
    def astype(self, dtype: Any) -> "TensorVariable":
        return _e().cast(self, dtype)

    def reshape(self, *shape: Any, ndim: int | None = None) -> "TensorVariable":
        from .ops.shape import reshape

        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return reshape(self, shape, ndim=ndim)

    def flatten(self, ndim: int = 1) -> "TensorVariable":
        from .ops.shape import flatten

        return flatten(self, ndim)

    def dimshuffle(self, *pattern: Any) -> "TensorVariable":
        from .ops.shape import dimshuffle

        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        return dimshuffle(self, pattern)

    def transpose(self, *axes: Any) -> "TensorVariable":
        from .ops.shape import transpose

        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        return transpose(self, axes or None)

    def squeeze(self, axis: Any = None) -> "TensorVariable":
        from .ops.shape import squeeze

        return squeeze(self, axis)

    def sum(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> "TensorVariable":
        from .ops.reduce import sum as _sum
        return _sum(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        from .ops.reduce import mean
        return mean(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        from .ops.reduce import prod
        return prod(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        from .ops.reduce import max as _max
        return _max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        from .ops.reduce import min as _min
        return _min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        from .ops.reduce import argmax
        return argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        from .ops.reduce import argmin
        return argmin(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> "TensorVariable":
        from .ops.reduce import var
        return var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> "TensorVariable":
        from .ops.reduce import std
        return std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def all(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        from .ops.reduce import all as _all
        return _all(self, axis=axis, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        from .ops.reduce import any as _any
        return _any(self, axis=axis, keepdims=keepdims)

    def dot(self, other: Any) -> "TensorVariable":
        from .ops.linalg import dot
        return dot(self, other)

    def clip(self, a_min: Any, a_max: Any) -> "TensorVariable":
        return _e().clip(self, a_min, a_max)

    def repeat(self, repeats: Any, axis: int | None = None) -> "TensorVariable":
        from .ops.join import repeat
        return repeat(self, repeats, axis)

    def nonzero_values(self) -> "TensorVariable":
        return self[_e().neq(self, 0)]


class TensorConstant(TensorVariable, Constant):
    """A tensor constant (its value is ``.data``, an ndarray)."""

    __slots__ = ()

    def __init__(self, type: TensorType, data: np.ndarray, name: str | None = None,
                 weak: bool = False) -> None:
        Constant.__init__(self, type, data, name, weak)

    @property
    def value(self) -> np.ndarray:
        return self.data

    __repr__ = Constant.__repr__
    clone = Constant.clone


def _e():
    from .ops import elemwise

    return elemwise


def constant(value: Any, dtype: Any = None, name: str | None = None) -> TensorConstant:
    """A symbolic constant holding ``value`` (an array or number), with a static shape.

    Python floats become ``config.floatX`` unless ``dtype`` says otherwise.
    """
    weak = False
    if dtype is not None:
        arr = np.asarray(value, dtype=normalize_dtype(dtype))
    elif isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (bool, np.bool_)):
        arr, weak = np.asarray(value, dtype=bool), True
    elif isinstance(value, (int, np.integer)):
        arr, weak = np.asarray(value, dtype="int64"), True
    elif isinstance(value, (float, np.floating)):
        arr, weak = np.asarray(value, dtype=config.floatX), True
    else:
        arr = np.asarray(value)
        if arr.dtype.kind == "f" and arr.dtype != np.dtype(config.floatX):
            # A list of Python floats is untyped data: give it the default float dtype.
            arr = arr.astype(config.floatX)
    if arr.dtype.name not in ALL_DTYPES:
        raise TypeError(
            f"cannot make a numeric constant from {type(value).__name__} {value!r} "
            f"(dtype {arr.dtype}); expected numbers or arrays of {ALL_DTYPES}")
    c = TensorConstant(TensorType(arr.dtype.name, arr.shape), arr, name=name, weak=weak)
    if weak:
        # Keep the exact number: retyping 0.1 to float64 must not go through float32.
        c.tag["weak_value"] = value
    return c


def as_tensor_variable(x: Any, name: str | None = None, ndim: int | None = None,
                       dtype: Any = None) -> TensorVariable:
    """Return ``x`` as a tensor Variable: Variables pass through, values become constants.

    Raises
    ------
    TypeError
        If ``x`` is not a tensor and cannot be converted, or has the wrong ``ndim``.
    """
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            raise TypeError(f"expected a tensor variable, got {x!r} of type {x.type}")
        var = x
        if dtype is not None and var.type.dtype != normalize_dtype(dtype):
            var = _e().cast(var, dtype)
    else:
        if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in x):
            from .ops.join import stack

            var = stack([as_tensor_variable(e) for e in x])
        else:
            var = constant(x, dtype=dtype, name=name)
    if ndim is not None and var.type.ndim != ndim:
        raise TypeError(f"expected a {ndim}-d tensor, got {var!r} with {var.type.ndim} dimensions")
    return var  # type: ignore[return-value]


as_tensor = as_tensor_variable


def is_weak(v: Variable) -> bool:
    """True for constants made from Python numbers (their dtype adapts)."""
    return isinstance(v, Constant) and v.weak


def retype_weak(v: TensorConstant, dtype: str) -> TensorVariable:
    """The weak constant ``v`` as a constant of ``dtype``; ``v`` itself when its value
    does not fit in an integer ``dtype`` (then the usual upcast applies)."""
    if v.type.dtype == dtype:
        return v
    exact = v.tag.get("weak_value", v.data)
    with np.errstate(all="ignore"):
        new = np.asarray(exact).astype(dtype)
    if new.dtype.kind in "iub" and not np.array_equal(new, exact):
        return v
    c = TensorConstant(TensorType(dtype, new.shape), new, name=v.name, weak=True)
    if "weak_value" in v.tag:
        c.tag["weak_value"] = v.tag["weak_value"]
    return c
