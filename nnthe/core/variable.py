"""Tensor variables: the Python operators and methods users write expressions with,
and the conversion of Python and NumPy values into constants."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..config import config
from .graph import Constant, Variable
from .types import ALL_DTYPES, TensorType, normalize_dtype


class _TensorOperators:
    """The functions behind :class:`TensorVariable`'s operators and methods.

    The ops are built on this module (they make TensorVariables), so it cannot import
    them; :mod:`nnthe.core.ops` fills this table in when it is imported, the way NumPy's
    ndarray gets its arithmetic from the ufunc layer. Gradient rules use the same
    methods (``g.sum(axis)``, ``x.zeros_like()``), so an op's module needs no import of
    the ops its gradient is made of.
    """

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the tensor operator {name!r} is not set: nnthe.core.ops must be "
                           "imported before expressions are built (import nnthe does it)")


_ops = _TensorOperators()


def set_tensor_operators(**functions: Any) -> None:
    """Install the functions behind TensorVariable's operators (called by nnthe.core.ops)."""
    _ops.__dict__.update(functions)


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
        return _ops.shape(self)

    @property
    def size(self) -> "TensorVariable":
        return _ops.prod(_ops.shape(self))

    @property
    def T(self) -> "TensorVariable":
        return self.transpose()

    def __bool__(self) -> bool:
        # A variable is a Python object, truthy as any (``if not W:`` in Theano code);
        # only a comparison's result refuses, to catch ``a < b < c`` and ``if x > 0:``.
        so = getattr(self.owner.op, "scalar_op", None) if self.owner is not None else None
        if so is not None and so.kind == "compare":
            raise TypeError(
                f"the symbolic comparison {self!r} has no truth value: it is known only when "
                "the compiled function runs (a chained a < b < c needs T.and_(a < b, b < c)). "
                "Use T.switch(cond, a, b) for a symbolic condition")
        return True

    def __len__(self) -> int:
        raise TypeError(f"len() of the symbolic variable {self!r} is undefined; use x.shape[0]")

    def __iter__(self):
        raise TypeError(
            f"the symbolic variable {self!r} cannot be iterated; index it (x[i]) or use "
            "T.split / unstack"
        )

    # -- arithmetic ----------------------------------------------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.true_div(self, other)
    def __rtruediv__(self, other): return _ops.true_div(other, self)
    def __floordiv__(self, other): return _ops.int_div(self, other)
    def __rfloordiv__(self, other): return _ops.int_div(other, self)
    def __mod__(self, other): return _ops.mod(self, other)
    def __rmod__(self, other): return _ops.mod(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __invert__(self): return _ops.logical_not(self)
    def __and__(self, other): return _ops.logical_and(self, other)
    def __rand__(self, other): return _ops.logical_and(other, self)
    def __or__(self, other): return _ops.logical_or(self, other)
    def __ror__(self, other): return _ops.logical_or(other, self)
    def __xor__(self, other): return _ops.logical_xor(self, other)
    def __rxor__(self, other): return _ops.logical_xor(other, self)
    def __lt__(self, other): return _ops.lt(self, other)
    def __le__(self, other): return _ops.le(self, other)
    def __gt__(self, other): return _ops.gt(self, other)
    def __ge__(self, other): return _ops.ge(self, other)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    __hash__ = Variable.__hash__  # defining __eq__ is avoided; keep identity hashing

    # -- indexing ------------------------------------------------------------------
    def __getitem__(self, key: Any) -> "TensorVariable":
        return _ops.getitem(self, key)

    # -- methods mirroring NumPy -----------------------------------------------------
    def astype(self, dtype: Any) -> "TensorVariable":
        return _ops.cast(self, dtype)

    def reshape(self, *shape: Any, ndim: int | None = None) -> "TensorVariable":
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return _ops.reshape(self, shape, ndim=ndim)

    def flatten(self, ndim: int = 1) -> "TensorVariable":
        return _ops.flatten(self, ndim)

    def dimshuffle(self, *pattern: Any) -> "TensorVariable":
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        return _ops.dimshuffle(self, pattern)

    def transpose(self, *axes: Any) -> "TensorVariable":
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    def squeeze(self, axis: Any = None) -> "TensorVariable":
        return _ops.squeeze(self, axis)

    def sum(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> "TensorVariable":
        return _ops.sum(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        return _ops.prod(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        return _ops.min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        return _ops.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        return _ops.argmin(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> "TensorVariable":
        return _ops.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> "TensorVariable":
        return _ops.std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def all(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        return _ops.all(self, axis=axis, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> "TensorVariable":
        return _ops.any(self, axis=axis, keepdims=keepdims)

    def dot(self, other: Any) -> "TensorVariable":
        return _ops.dot(self, other)

    def clip(self, a_min: Any, a_max: Any) -> "TensorVariable":
        return _ops.clip(self, a_min, a_max)

    def repeat(self, repeats: Any, axis: int | None = None) -> "TensorVariable":
        return _ops.repeat(self, repeats, axis)

    def zeros_like(self, dtype: Any = None) -> "TensorVariable":
        """Zeros of this variable's shape (and dtype, unless ``dtype`` is given)."""
        return _ops.zeros_like(self, dtype=dtype)

    def ones_like(self, dtype: Any = None) -> "TensorVariable":
        """Ones of this variable's shape (and dtype, unless ``dtype`` is given)."""
        return _ops.ones_like(self, dtype=dtype)

    def nonzero_values(self) -> "TensorVariable":
        return self[_ops.neq(self, 0)]


TensorType.variable_type = TensorVariable


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
            var = _ops.cast(var, dtype)
    else:
        if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in x):
            var = _ops.stack([as_tensor_variable(e) for e in x])
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
