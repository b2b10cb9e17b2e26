"""Types of symbolic values: tensors with a dtype and a static shape, and gradient markers.

A :class:`TensorType` is ``(dtype, shape)`` where each entry of ``shape`` is an int
(known when the expression is written) or None (known only at run time). Static shapes
are what let nnthe reject ``dot((None, 784), (800, 10))`` when it is written.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Sequence

import numpy as np

from ..config import config
from .graph import Constant, Op, Type, Variable, _creation_site

#: dtypes a tensor may have.
ALL_DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
)
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_CANONICAL = frozenset(ALL_DTYPES)
FLOAT_DTYPES = ("float16", "float32", "float64")
DISCRETE_DTYPES = ("bool",) + INT_DTYPES


def is_float_dtype(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES or dtype.startswith("complex")


def is_int_dtype(dtype: str) -> bool:
    return dtype in INT_DTYPES


def is_discrete_dtype(dtype: str) -> bool:
    return dtype in DISCRETE_DTYPES


def normalize_dtype(dtype: Any) -> str:
    """Return the canonical dtype name, resolving ``'floatX'`` and NumPy dtypes."""
    if dtype is None or dtype == "floatX":
        return config.floatX
    if dtype.__class__ is str and dtype in _CANONICAL:
        return dtype  # the common case: asking NumPy for the name costs 4 us a call
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"expected a dtype name such as 'float32', got {dtype!r}") from None
    if name not in ALL_DTYPES:
        raise TypeError(f"dtype {name!r} is not supported; expected one of {ALL_DTYPES}")
    return name


def upcast(*dtypes: str) -> str:
    """The dtype of a result computed from ``dtypes`` (NumPy's promotion rules, except
    that integers never widen a float: int32 with float32 gives float32, as in PyTorch)."""
    return _upcast(dtypes)


@functools.lru_cache(maxsize=1024)
def _upcast(dtypes: tuple[str, ...]) -> str:
    # Memoized: every elementwise op built asks, with a handful of distinct tuples.
    floats = [d for d in dtypes if is_float_dtype(d)]
    if floats and len(floats) < len(dtypes):
        return np.result_type(*floats).name
    return np.result_type(*dtypes).name


_warned_sites: set = set()

#: The tag that says where a float variable's dtype came from:
#: ``"chosen"`` (the user named it: ``T.dmatrix``, ``dtype=``, ``T.cast``) or
#: ``"default"`` (``config.floatX`` picked it: ``T.matrix()``, ``shared(0.)``). Anything
#: else (constants, the dtype of a NumPy array, variables built without the tag) is
#: ``"other"``. Results carry the origin of their same-dtype inputs (cached here).
DTYPE_ORIGIN = "dtype_origin"


def dtype_origin(v: Variable) -> str:
    """Where ``v``'s dtype came from: ``"chosen"``, ``"default"`` or ``"other"``.

    A result is ``"chosen"`` when one of its inputs of its dtype is, ``"default"`` when
    all of them are (or when it has none and its dtype is floatX), else ``"other"``.
    The walk is iterative and memoised in the variables' tags.
    """
    stack = [v]
    while stack:
        u = stack[-1]
        if DTYPE_ORIGIN in u.tag:
            stack.pop()
            continue
        if u.owner is None:
            u.tag[DTYPE_ORIGIN] = "other"
            stack.pop()
            continue
        same = [i for i in u.owner.inputs
                if isinstance(i.type, TensorType) and i.type.dtype == u.type.dtype
                and not (isinstance(i, Constant) and i.weak)]  # Python numbers adapt
        todo = [i for i in same if DTYPE_ORIGIN not in i.tag]
        if todo:
            stack.extend(todo)
            continue
        origins = {i.tag[DTYPE_ORIGIN] for i in same}
        if "chosen" in origins:
            u.tag[DTYPE_ORIGIN] = "chosen"
        elif origins == {"default"} or (not origins and u.type.dtype == config.floatX):
            u.tag[DTYPE_ORIGIN] = "default"
        else:
            u.tag[DTYPE_ORIGIN] = "other"
        stack.pop()
    return v.tag[DTYPE_ORIGIN]


def _requested(inputs: Sequence[Variable]) -> bool:
    """Whether a float64 result of ``inputs`` is what the user asked for: every float64
    operand has a dtype the user chose (``T.dmatrix``, ``dtype='float64'``, a cast) and
    every narrower float operand has floatX's default dtype (``shared(0.)``,
    ``T.matrix()``), as in Theano's tutorials written for floatX=float64. A float64
    constant or NumPy array, or a float32 the user chose, still warns."""
    for v in inputs:
        if not isinstance(v.type, TensorType):
            continue
        if v.type.dtype == "float64" and dtype_origin(v) != "chosen":
            return False
        if v.type.dtype in ("float32", "float16") and dtype_origin(v) != "default":
            return False
    return True


def reset_upcast_warnings() -> None:
    """Forget the creation sites already warned about, so that each warns again (the
    UpcastWarning is given once per site)."""
    _warned_sites.clear()


def warn_float64_upcast(inputs: Sequence[Variable], out_dtype: str, what: str) -> None:
    """Warn once per creation site when float32 values are promoted to float64 without
    the user asking for float64 (see :func:`_requested`)."""
    if not config.warn_float64 or out_dtype != "float64":
        return
    dtypes = [v.type.dtype for v in inputs if isinstance(v.type, TensorType)]
    if "float32" not in dtypes and "float16" not in dtypes:
        return
    site = _creation_site()
    if site in _warned_sites or _requested(inputs):
        return
    _warned_sites.add(site)
    described = ", ".join(f"{v!r}: {v.type.dtype}" for v in inputs)
    warnings.warn(
        f"{what} upcasts float32 to float64 ({described}). If that is intended, cast "
        "explicitly with T.cast(x, 'float64'); otherwise make the float64 operand "
        "float32.",
        UpcastWarning,
        stacklevel=4,
    )


class UpcastWarning(UserWarning):
    """An expression promotes float32 values to float64 without being asked to.

    Not raised when every float64 operand has a dtype the user chose (``T.dmatrix``,
    ``dtype='float64'``, ``T.cast``) and every float32 one only floatX's default
    (``shared(0.)``, ``T.matrix()``): see :func:`dtype_origin`.
    """


class TensorType(Type):
    """The type of an n-dimensional array: a dtype and a static shape.

    Parameters
    ----------
    dtype : str
        A NumPy dtype name (``'float32'``, ``'int64'``, ...) or ``'floatX'``.
    shape : tuple of (int or None)
        The static shape; None marks a dimension known only at run time.
    """

    __slots__ = ("dtype", "shape", "ndim", "_np_dtype")

    def __init__(self, dtype: Any, shape: Sequence[int | None] = ()) -> None:
        self.dtype = normalize_dtype(dtype)
        if isinstance(shape, (int, np.integer)) or shape is None:
            raise TypeError(f"shape must be a tuple of ints or None, got {shape!r}")
        checked = []
        for s in shape:
            if s is None:
                checked.append(None)
            elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0:
                checked.append(int(s))
            else:
                raise ValueError(
                    f"each static shape entry must be a non-negative int or None, got "
                    f"{s!r} in shape {tuple(shape)!r}"
                )
        self.shape: tuple[int | None, ...] = tuple(checked)
        self.ndim = len(self.shape)
        self._np_dtype = np.dtype(self.dtype)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        """Theano's view of the static shape: True where a dimension is known to be 1."""
        return tuple(s == 1 for s in self.shape)

    @property
    def numpy_dtype(self) -> np.dtype:
        return self._np_dtype

    def __eq__(self, other: object) -> bool:
        return (type(other) is TensorType and other.dtype == self.dtype  # type: ignore[attr-defined]
                and other.shape == self.shape)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((TensorType, self.dtype, self.shape))

    def __str__(self) -> str:
        # The compact form of error messages and debugprint.
        shape = ", ".join("?" if s is None else str(s) for s in self.shape)
        if self.ndim == 1:
            shape += ","
        return f"{self.dtype}({shape})"

    def __repr__(self) -> str:
        # Theano's spelling, what ``x.type`` shows at the prompt.
        return f"TensorType({self.dtype}, {self.shape!r})"

    def clone(self, dtype: Any = None, shape: Sequence[int | None] | None = None) -> "TensorType":
        return TensorType(self.dtype if dtype is None else dtype,
                          self.shape if shape is None else shape)

    def is_compatible(self, other: "TensorType") -> bool:
        """True if a value of ``other`` is always a valid value of this type."""
        if not isinstance(other, TensorType) or other.dtype != self.dtype or other.ndim != self.ndim:
            return False
        return all(a is None or a == b for a, b in zip(self.shape, other.shape))

    def shape_matches(self, shape: tuple[int, ...]) -> bool:
        return len(shape) == self.ndim and all(
            s is None or s == d for s, d in zip(self.shape, shape))

    def filter(self, value: Any, allow_downcast: bool | None = False, name: str = "value") -> np.ndarray:
        """Convert ``value`` to an ndarray of this type or raise an error naming ``name``.

        Lossless conversions are always allowed (an int32 array for a float64 input,
        a Python number that the dtype represents exactly); others need
        ``allow_downcast=True``.
        """
        if type(value) is np.ndarray and value.dtype is self._np_dtype:
            arr = value
        else:
            arr = self._convert(value, allow_downcast, name)
        if arr.ndim != self.ndim:
            raise TypeError(
                f"{name}: expected a {self.ndim}-d array of {self.dtype} ({self!r}), got "
                f"{arr.ndim}-d array of shape {arr.shape}"
            )
        if not self.shape_matches(arr.shape):
            raise ValueError(
                f"{name}: expected shape {_fmt_shape(self.shape)}, got {arr.shape}"
            )
        return arr

    def _convert(self, value: Any, allow_downcast: bool | None, name: str) -> np.ndarray:
        if isinstance(value, Variable):
            raise TypeError(
                f"{name}: expected a numeric value, got the symbolic variable {value!r}; "
                "compiled functions take NumPy arrays (use givens= to substitute variables)"
            )
        if isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
            try:
                arr = np.asarray(value, dtype=self._np_dtype)
            except OverflowError:
                raise TypeError(f"{name}: the number {value!r} does not fit in {self.dtype}") from None
            if not allow_downcast and not np.isnan(arr).any() and arr.item() != value:
                raise TypeError(
                    f"{name}: the number {value!r} cannot be represented exactly as "
                    f"{self.dtype}; pass allow_input_downcast=True to convert it anyway"
                )
            return arr
        try:
            arr = np.asarray(value)
        except Exception as exc:
            raise TypeError(f"{name}: expected an array of {self.dtype}, got {type(value).__name__}: {exc}") from None
        if arr.dtype == self._np_dtype:
            return arr
        if arr.dtype.kind in "OUSV":
            raise TypeError(f"{name}: expected an array of {self.dtype}, got an array of dtype {arr.dtype}")
        if allow_downcast or np.can_cast(arr.dtype, self._np_dtype, casting="safe"):
            return arr.astype(self._np_dtype)
        if not isinstance(value, np.ndarray):
            # Python data ([1, 2] for a float32 input) is untyped: accept it when exact.
            with np.errstate(all="ignore"):
                converted = arr.astype(self._np_dtype)
            if np.array_equal(converted, arr):
                return converted
        raise TypeError(
            f"{name}: expected an array of {self.dtype}, got {arr.dtype}; converting would "
            f"lose information. Convert the data (x.astype('{self.dtype}')) or pass "
            "allow_input_downcast=True"
        )

    def value_zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape, dtype=self._np_dtype)


def _fmt_shape(shape: Sequence[int | None]) -> str:
    inner = ", ".join("None" if s is None else str(s) for s in shape)
    if len(shape) == 1:
        inner += ","
    return f"({inner})"


fmt_shape = _fmt_shape


class DisconnectedType(Type):
    """The type of the marker a gradient returns for an input the cost does not depend on."""

    def filter(self, value: Any, allow_downcast: bool = False, name: str = "value") -> Any:
        raise TypeError("a disconnected-gradient marker holds no value")

    def __eq__(self, other: object) -> bool:
        return type(other) is DisconnectedType

    def __hash__(self) -> int:
        return hash(DisconnectedType)

    def __repr__(self) -> str:
        return "Disconnected"



class NullType(Type):
    """The type of the marker for a gradient that is undefined or not implemented.

    ``why`` says which op and input, and why, so that the error raised when a user asks
    for this gradient can say so.
    """

    def __init__(self, why: str) -> None:
        self.why = why

    def filter(self, value: Any, allow_downcast: bool = False, name: str = "value") -> Any:
        raise TypeError(f"an undefined gradient holds no value: {self.why}")

    def __eq__(self, other: object) -> bool:
        return type(other) is NullType and other.why == self.why  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((NullType, self.why))

    def __repr__(self) -> str:
        return "NullGrad"



# Gradient markers: what an op's L_op returns for an input with no gradient.

def disconnected_type() -> Variable:
    """The marker for 'this input does not influence the output'."""
    return Variable(DisconnectedType())


def is_disconnected(v: Any) -> bool:
    """True for the marker of a disconnected gradient."""
    return isinstance(v, Variable) and isinstance(v.type, DisconnectedType)


def grad_undefined(op: Op, index: int, x: Variable, why: str = "") -> Variable:
    """The marker for a mathematically undefined gradient of ``op`` wrt input ``index``."""
    return Variable(NullType(f"the gradient of {op} with respect to input {index} ({x!r}) "
                             f"is undefined{': ' + why if why else ''}"))


def grad_not_implemented(op: Op, index: int, x: Variable) -> Variable:
    """The marker for a gradient that nnthe does not implement (yet)."""
    return Variable(NullType(f"{op} does not implement the gradient with respect to "
                             f"input {index} ({x!r})"))


def is_null(v: Any) -> bool:
    """True for the marker of an undefined or unimplemented gradient."""
    return isinstance(v, Variable) and isinstance(v.type, NullType)
