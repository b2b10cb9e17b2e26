"""Creating tensors: alloc (broadcast a value to a shape), zeros/ones/full and their
``*_like`` forms, arange, eye."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...config import config
from ..graph import Apply, Op
from ..types import disconnected_type, fmt_shape, normalize_dtype, TensorType, upcast
from ..variable import TensorVariable, as_tensor_variable, constant, is_weak, retype_weak
from .elemwise import cast, sum_to
from .shape import _int_scalar, as_shape_vector, constant_value, shape, shape_i


class Alloc(Op):
    """A new array of a given shape filled by broadcasting ``value`` into it."""

    __props__ = ("static_shape",)

    def __init__(self, static_shape: tuple) -> None:
        self.static_shape = tuple(static_shape)

    def make_node(self, value, shp):
        value = as_tensor_variable(value)
        static = self.static_shape
        if value.type.ndim > len(static):
            raise ValueError(f"alloc: a value of shape {fmt_shape(value.type.shape)} cannot be "
                             f"broadcast to {len(static)} dimensions")
        lead = len(static) - value.type.ndim
        out = list(static)
        for d, vs in enumerate(value.type.shape):
            ts = static[lead + d]
            if vs is not None and vs != 1 and ts is not None and vs != ts:
                raise ValueError(f"alloc: cannot broadcast a value of shape "
                                 f"{fmt_shape(value.type.shape)} to shape {fmt_shape(static)}")
            if ts is None and vs is not None and vs != 1:
                out[lead + d] = vs
        return Apply(self, [value, shp], [TensorType(value.type.dtype, tuple(out))])

    def perform(self, node, value, shp):
        out = np.empty(tuple(shp.tolist()), dtype=node.outputs[0].type.numpy_dtype)
        out[...] = value
        return out

    def L_op(self, node, inputs, outputs, output_grads):
        return [sum_to(output_grads[0], inputs[0]), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]


def alloc(value: Any, *shape_: Any) -> TensorVariable:
    """An array of shape ``shape_`` (ints or int scalars) filled with ``value``
    (broadcast); ``alloc(v, shape_vector)`` also works."""
    if len(shape_) == 1 and not isinstance(shape_[0], (int, np.integer)) and \
            (isinstance(shape_[0], (list, tuple)) or getattr(getattr(shape_[0], "type", None), "ndim", 0) == 1):
        shape_ = shape_[0]
    vec, static = as_shape_vector(list(shape_) if isinstance(shape_, tuple) else shape_, "alloc")
    return Alloc(static)(value, vec)


def full(shape_: Any, fill_value: Any, dtype: Any = None) -> TensorVariable:
    """An array of ``shape_`` filled with ``fill_value`` (dtype: ``dtype`` or the value's)."""
    v = as_tensor_variable(fill_value)
    if dtype is not None:
        v = retype_weak(v, normalize_dtype(dtype)) if is_weak(v) else cast(v, dtype)
    if isinstance(shape_, (int, np.integer)):
        shape_ = (shape_,)
    return alloc(v, shape_)


def zeros(shape_: Any, dtype: Any = None) -> TensorVariable:
    """An array of zeros of ``shape_`` (ints or int scalars); ``dtype`` defaults to floatX."""
    return full(shape_, constant(np.asarray(0, dtype=normalize_dtype(dtype))))


def ones(shape_: Any, dtype: Any = None) -> TensorVariable:
    """An array of ones of ``shape_``; ``dtype`` defaults to floatX."""
    return full(shape_, constant(np.asarray(1, dtype=normalize_dtype(dtype))))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> TensorVariable:
    """An array shaped like ``x`` filled with ``fill_value`` (dtype of ``x`` by default)."""
    x = as_tensor_variable(x)
    dtype = normalize_dtype(dtype) if dtype is not None else x.type.dtype
    v = constant(np.asarray(fill_value, dtype=dtype)) if not hasattr(fill_value, "type") else fill_value
    v = cast(v, dtype)
    return alloc(v, x.type.shape if None not in x.type.shape else shape(x))


def zeros_like(x: Any, dtype: Any = None) -> TensorVariable:
    """Zeros shaped like ``x``."""
    return full_like(x, 0, dtype)


def ones_like(x: Any, dtype: Any = None) -> TensorVariable:
    """Ones shaped like ``x``."""
    return full_like(x, 1, dtype)


def fill(model: Any, value: Any) -> TensorVariable:
    """Theano's ``fill``: ``value`` broadcast to the shape of ``model``."""
    model = as_tensor_variable(model)
    v = as_tensor_variable(value)
    if is_weak(v):
        v = retype_weak(v, model.type.dtype)
    return alloc(v, shape(model))


class ARange(Op):
    """``np.arange(start, stop, step)`` with scalar inputs."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def make_node(self, start, stop, step):
        ins = [as_tensor_variable(v) for v in (start, stop, step)]
        for v in ins:
            if v.type.ndim != 0:
                raise TypeError(f"arange: start, stop and step must be scalars, got {v.type}")
        vals = [constant_value(v) for v in ins]
        length = None
        if all(v is not None for v in vals):
            length = len(np.arange(*[np.asarray(v).item() for v in vals]))
        return Apply(self, ins, [TensorType(self.dtype, (length,))])

    def perform(self, node, start, stop, step):
        return np.arange(start, stop, step, dtype=self.dtype)

    def L_op(self, node, inputs, outputs, output_grads):
        return [disconnected_type() for _ in inputs]

    def connection_pattern(self, node):
        return [[False]] * 3


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> TensorVariable:
    """Evenly spaced values (``np.arange``); bounds may be symbolic scalars."""
    if stop is None:
        start, stop = 0, start
    ins = [as_tensor_variable(v) for v in (start, stop, step)]
    if dtype is None:
        strong = [v.type.dtype for v in ins if not is_weak(v)]
        kinds = [v.type.dtype for v in ins]
        dtype = upcast(*(strong or kinds))
        if any(np.dtype(d).kind == "f" for d in kinds) and np.dtype(dtype).kind != "f":
            dtype = config.floatX
    dtype = normalize_dtype(dtype)
    return ARange(dtype)(*ins)


class Eye(Op):
    """``np.eye(n, m, k)`` with scalar inputs."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def make_node(self, n, m, k):
        n, m, k = (_int_scalar(v, "eye") for v in (n, m, k))
        sn, sm = constant_value(n), constant_value(m)
        shp = (None if sn is None else int(sn), None if sm is None else int(sm))
        return Apply(self, [n, m, k], [TensorType(self.dtype, shp)])

    def perform(self, node, n, m, k):
        return np.eye(int(n), int(m), int(k), dtype=self.dtype)

    def L_op(self, node, inputs, outputs, output_grads):
        return [disconnected_type() for _ in inputs]

    def connection_pattern(self, node):
        return [[False]] * 3


def eye(n: Any, m: Any = None, k: Any = 0, dtype: Any = None) -> TensorVariable:
    """A 2-d array with ones on the ``k``-th diagonal (``np.eye``)."""
    return Eye(normalize_dtype(dtype))(n, n if m is None else m, k)


def identity_like(x: Any, dtype: Any = None) -> TensorVariable:
    """An identity matrix shaped like the matrix ``x``."""
    x = as_tensor_variable(x, ndim=2)
    return eye(shape_i(x, 0), shape_i(x, 1), 0, dtype or x.type.dtype)
