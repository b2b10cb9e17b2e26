"""Reductions over axes: sum, prod, max, min, all, any, argmax, argmin, and the
compositions mean, var, std and logsumexp."""
from __future__ import annotations

from typing import Any

import builtins

import numpy as np

from ...config import config
from ..graph import Apply, Op
from ..types import (disconnected_type, is_discrete_dtype, is_float_dtype, normalize_dtype,
                     TensorType)
from ..variable import TensorVariable, as_tensor_variable
from .elemwise import cast, eq, exp, isinf, log, logical_and, sqr, sqrt, switch, true_div
from .alloc import alloc
from .shape import dimshuffle, shape, shape_i
from .gradops import disconnected_grad


def normalize_axis(axis: Any, ndim: int, what: str) -> tuple[int, ...]:
    """``axis`` (None, int or sequence of ints) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axes = [axis]
    elif isinstance(axis, (list, tuple)):
        axes = list(axis)
    else:
        raise TypeError(f"{what}: axis must be an int, a tuple of ints or None, got {axis!r}")
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{what}: axis must be an int, a tuple of ints or None, got {axis!r}")
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{what}: axis {a} is out of range for a {ndim}-d tensor")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {axis!r}")
    return tuple(sorted(out)) if ndim else ()


def _reduced_shape(shp: tuple, axes: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if d in axes else s for d, s in enumerate(shp))
    return tuple(s for d, s in enumerate(shp) if d not in axes)


def _expand(g: TensorVariable, ndim: int, axes: tuple, keepdims: bool) -> TensorVariable:
    """Put the reduced axes back (as size-1 dims) so that ``g`` broadcasts against x."""
    if keepdims or not axes:
        return g
    pattern: list = []
    it = iter(range(g.type.ndim))
    for d in range(ndim):
        pattern.append("x" if d in axes else next(it))
    return dimshuffle(g, pattern)


class CAReduce(Op):
    """A reduction by a commutative, associative operation along ``axes``.

    Gradients: ``sum`` broadcasts ``g``; ``prod`` gives the product of the other elements
    (exact with zeros); ``max``/``min`` split ``g`` equally among tied extrema (``k`` ties
    get ``g / k`` each, as ``torch.amax``; Theano gave ``g`` to each); ``all``/``any`` and
    integer inputs have none.
    """

    __props__ = ("kind", "axes", "keepdims", "dtype")
    _impls = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min,
              "all": np.all, "any": np.any}

    def __init__(self, kind: str, axes: tuple, keepdims: bool = False, dtype: str | None = None) -> None:
        self.kind = kind
        self.axes = tuple(axes)
        self.keepdims = bool(keepdims)
        self.dtype = dtype

    def __str__(self) -> str:
        return f"{self.kind.capitalize()}{{axes={self.axes}{', keepdims' if self.keepdims else ''}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if self.kind in ("all", "any"):
            dtype = "bool"
        elif self.dtype is not None:
            dtype = self.dtype
        elif self.kind in ("sum", "prod") and is_discrete_dtype(x.type.dtype):
            dtype = "uint64" if x.type.dtype.startswith("uint") and x.type.dtype != "uint8" else "int64"
        else:
            dtype = x.type.dtype
        if self.kind in ("max", "min"):
            for a in self.axes:
                if x.type.shape[a] == 0:
                    raise ValueError(f"{self.kind} over axis {a} of a tensor of size 0 ({x.type}) is undefined")
        return Apply(self, [x], [TensorType(dtype, _reduced_shape(x.type.shape, self.axes, self.keepdims))])

    def make_thunk(self, node):
        fn, axes, keep = self._impls[self.kind], self.axes, self.keepdims
        dtype = node.outputs[0].type.numpy_dtype
        if self.kind in ("sum", "prod") and dtype == np.float16:
            # Accumulate float16 in float32 (as NumPy's pairwise sum and torch do), so a
            # partial sum or product does not overflow or underflow on the way.
            return lambda x: fn(x, axis=axes, keepdims=keep, dtype=np.float32).astype(np.float16)
        if self.kind in ("sum", "prod"):
            return lambda x: fn(x, axis=axes, keepdims=keep, dtype=dtype)
        return lambda x: fn(x, axis=axes, keepdims=keep)

    def perform(self, node, x):
        return self.make_thunk(node)(x)

    def L_op(self, node, inputs, outputs, output_grads):
        x, z, g = inputs[0], outputs[0], output_grads[0]
        if self.kind in ("all", "any") or is_discrete_dtype(x.type.dtype):
            return [disconnected_type()]
        if g.type.dtype != x.type.dtype:
            g = cast(g, x.type.dtype)
        gx = _expand(g, x.type.ndim, self.axes, self.keepdims)
        if self.kind == "sum":
            return [alloc(gx, shape(x))]
        zx = _expand(z, x.type.ndim, self.axes, self.keepdims)
        if self.kind in ("max", "min"):
            # Tied extrema share the gradient equally (as torch.amax/amin): a subgradient
            # whose entries sum to g, where 1 to each (Theano) would count g once per tie.
            hit = cast(eq(x, zx), x.type.dtype)
            return [gx * hit / sum(hit, axis=self.axes, keepdims=True)]
        # prod: the product of the other elements, exact when x contains zeros.
        is_zero = eq(x, 0)
        nonzero = switch(is_zero, 1, x)
        prod_nz = prod(nonzero, axis=self.axes, keepdims=True)
        n_zero = sum(is_zero, axis=self.axes, keepdims=True)
        others = switch(eq(n_zero, 0), prod_nz / nonzero,
                          switch(logical_and(eq(n_zero, 1), is_zero), prod_nz, 0))
        return [gx * others]

    def connection_pattern(self, node):
        return [[self.kind not in ("all", "any")]]

    def infer_shape(self, node, input_shapes):
        return [_reduced_shape(input_shapes[0], self.axes, self.keepdims)]


def _reduce(kind: str, x: Any, axis: Any, keepdims: bool, dtype: Any = None) -> TensorVariable:
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.type.ndim, kind)
    dtype = normalize_dtype(dtype) if dtype is not None else None
    if not axes and kind in ("max", "min", "sum", "prod") and (dtype is None or dtype == x.type.dtype):
        return x
    return CAReduce(kind, axes, keepdims, dtype)(x)


def sum(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> TensorVariable:
    """Sum over ``axis`` (None: all). Integers and booleans sum as int64; float16
    accumulates in float32 and is rounded to float16 at the end (``dtype='float32'``
    keeps the float32 result)."""
    return _reduce("sum", x, axis, keepdims, dtype)


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> TensorVariable:
    """Product over ``axis``; its gradient is exact when ``x`` contains zeros."""
    return _reduce("prod", x, axis, keepdims, dtype)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """Maximum over ``axis``.

    The gradient goes to the maximal elements; ``k`` tied maxima each get ``g / k`` (as
    ``torch.amax``; Theano gave ``g`` to each), so the gradient sums to ``g`` like the
    derivative of ``max(x + t)`` in ``t``. A NaN in a reduced slice gives NaN gradients
    there. To route the whole gradient to one element, index with :func:`argmax`:
    ``x[T.arange(n), T.argmax(x, axis=1)]`` gives it all to the first maximum.
    """
    return _reduce("max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """Minimum over ``axis``; ``k`` tied minima each get ``g / k`` of the gradient (see
    :func:`max`)."""
    return _reduce("min", x, axis, keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """True where all elements over ``axis`` are non-zero."""
    return _reduce("all", x, axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """True where any element over ``axis`` is non-zero."""
    return _reduce("any", x, axis, keepdims)


class ArgReduce(Op):
    """Index of the maximum or minimum along one axis (or of the flattened array)."""

    __props__ = ("kind", "axis", "keepdims")

    def __init__(self, kind: str, axis: int | None, keepdims: bool = False) -> None:
        self.kind = kind
        self.axis = axis
        self.keepdims = bool(keepdims)

    def make_node(self, x):
        x = as_tensor_variable(x)
        axes = tuple(range(x.type.ndim)) if self.axis is None else (self.axis,)
        return Apply(self, [x], [TensorType("int64", _reduced_shape(x.type.shape, axes, self.keepdims))])

    def make_thunk(self, node):
        fn = np.argmax if self.kind == "argmax" else np.argmin
        axis, keep = self.axis, self.keepdims
        ndim = node.inputs[0].type.ndim
        if axis is None and keep:
            return lambda x: np.asarray(fn(x)).reshape((1,) * ndim)
        return lambda x: fn(x, axis=axis, keepdims=keep) if axis is not None else np.asarray(fn(x))

    def perform(self, node, x):
        return self.make_thunk(node)(x)

    def L_op(self, node, inputs, outputs, output_grads):
        return [disconnected_type()]

    def connection_pattern(self, node):
        return [[False]]


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> TensorVariable:
    """Index of the maximum along ``axis`` (of the flattened array when None), int64."""
    x = as_tensor_variable(x)
    if axis is not None:
        (axis,) = normalize_axis(axis, x.type.ndim, "argmax")
    return ArgReduce("argmax", axis, keepdims)(x)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> TensorVariable:
    """Index of the minimum along ``axis`` (of the flattened array when None), int64."""
    x = as_tensor_variable(x)
    if axis is not None:
        (axis,) = normalize_axis(axis, x.type.ndim, "argmin")
    return ArgReduce("argmin", axis, keepdims)(x)


def _count(x: TensorVariable, axes: tuple) -> Any:
    """The number of elements reduced over ``axes`` (a constant when known)."""
    dims = [x.type.shape[a] for a in axes]
    if None not in dims:
        return float(np.prod(dims)) if dims else 1.0
    n = shape_i(x, axes[0])
    for a in axes[1:]:
        n = n * shape_i(x, a)
    return n


#: The dtype reductions of a dtype accumulate in: float16 sums in float32, as in NumPy
#: and torch (a float16 sum of 100,000 ones is inf, and so is the count 100,000).
_ACCUMULATE = {"float16": "float32"}


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """Arithmetic mean over ``axis`` (float: integers average as floatX).

    float16 is summed and divided in float32, then rounded to float16 (as NumPy and
    torch): the mean of 100,000 float16 ones is 1.
    """
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.type.ndim, "mean")
    if not is_float_dtype(x.type.dtype):
        x = cast(x, config.floatX)
    if not axes:
        return x
    acc = _ACCUMULATE.get(x.type.dtype)
    n = _count(x, axes)
    if not isinstance(n, float):
        n = cast(n, acc or x.type.dtype)
    if acc is not None:
        return cast(true_div(sum(x, axis=axes, keepdims=keepdims, dtype=acc), n), x.type.dtype)
    return true_div(sum(x, axis=axes, keepdims=keepdims), n)


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> TensorVariable:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (``np.var``).

    float16 is computed in float32 and rounded to float16 (its squares overflow at 256).
    """
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.type.ndim, "var")
    if not is_float_dtype(x.type.dtype):
        x = cast(x, config.floatX)
    acc = _ACCUMULATE.get(x.type.dtype)
    if acc is not None:
        return cast(var(cast(x, acc), axis=axes, keepdims=keepdims, ddof=ddof), x.type.dtype)
    centered = x - mean(x, axis=axes, keepdims=True)
    v = mean(sqr(centered), axis=axes, keepdims=keepdims)
    if ddof:
        n = _count(x, axes)
        if not isinstance(n, float):
            n = cast(n, x.type.dtype)
        v = v * (n / (n - ddof))
    return v


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> TensorVariable:
    """Standard deviation over ``axis`` (``np.std``)."""
    return sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """``log(sum(exp(x)))`` over ``axis``, computed stably (shifted by the maximum).

    Its gradient is the softmax of ``x``; rows of ``-inf`` give ``-inf`` without NaN.
    """
    x = as_tensor_variable(x)
    if not is_float_dtype(x.type.dtype):
        x = cast(x, config.floatX)
    axes = normalize_axis(axis, x.type.ndim, "logsumexp")
    m = max(x, axis=axes, keepdims=True)
    # The result does not depend on the shift, so no gradient flows through it.
    m = disconnected_grad(switch(isinf(m), 0, m))
    shifted = x - m
    # Marks the already-stable form, so the logsumexp rewrite leaves it alone.
    shifted.tag["stable_shifted"] = True
    acc = _ACCUMULATE.get(x.type.dtype)
    if acc is not None:
        # Shifted exponentials are <= 1, but more than 65504 of them overflow float16.
        out = cast(log(sum(exp(shifted), axis=axes, keepdims=True, dtype=acc)),
                     x.type.dtype) + m
    else:
        out = log(sum(exp(shifted), axis=axes, keepdims=True)) + m
    if not keepdims:
        out = dimshuffle(out, [d for d in range(x.type.ndim) if d not in axes])
    return out


__all__ = ["sum", "prod", "max", "min", "all", "any", "argmax", "argmin", "mean", "var",
           "std", "logsumexp", "normalize_axis", "CAReduce", "ArgReduce"]
