"""Linear algebra: dot, matmul (``@``), batched_dot, tensordot, outer.

These ops hand their operands to NumPy (and so to BLAS) as they are: a transposed
operand is a strided view that BLAS reads without a copy.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op
from ..types import TensorType, fmt_shape
from ..variable import TensorVariable, as_tensor_variable
from .elemwise import resolve_dtypes
from .elemwise import broadcast_static_shapes, sum_to
from .shape import dimshuffle, reshape, shape_i


def _check_inner(what: str, x: TensorVariable, y: TensorVariable, kx: int | None, ky: int | None) -> None:
    if kx is not None and ky is not None and kx != ky:
        raise ValueError(
            f"{what}: shapes {fmt_shape(x.type.shape)} ({x!r}) and {fmt_shape(y.type.shape)} "
            f"({y!r}) are not aligned: {kx} (dim {x.type.ndim - 1} of the first) != {ky} "
            f"(dim {max(y.type.ndim - 2, 0)} of the second)")


class Dot(Op):
    """``np.dot`` of vectors and matrices (1-d or 2-d operands)."""

    def make_node(self, x, y):
        x, y = resolve_dtypes([as_tensor_variable(x), as_tensor_variable(y)], "same", "dot")
        if x.type.ndim not in (1, 2) or y.type.ndim not in (1, 2):
            raise TypeError(f"Dot takes 1-d or 2-d operands, got {x.type} and {y.type}")
        kx = x.type.shape[-1]
        ky = y.type.shape[0]
        _check_inner("dot", x, y, kx, ky)
        shp = x.type.shape[:-1] + y.type.shape[1:]
        return Apply(self, [x, y], [TensorType(x.type.dtype, shp)])

    def make_thunk(self, node):
        return np.dot

    def make_buffered_thunk(self, node):
        """``np.dot`` into a buffer reused while the output shape repeats (2-d only)."""
        if node.inputs[0].type.ndim != 2 or node.inputs[1].type.ndim != 2:
            return np.dot
        dtype = node.outputs[0].type.numpy_dtype
        empty, dot = np.empty, np.dot
        holder: list = [None]

        def dot_into_buffer(x, y):
            buf = holder[0]
            shape = (x.shape[0], y.shape[1])
            if buf is None or buf.shape != shape:
                buf = holder[0] = empty(shape, dtype)
            if x.dtype is not dtype or y.dtype is not dtype:
                return dot(x, y)
            return dot(x, y, out=buf)
        return dot_into_buffer

    def perform(self, node, x, y):
        return np.dot(x, y)

    def L_op(self, node, inputs, outputs, output_grads):
        x, y = inputs
        g = output_grads[0]
        nx, ny = x.type.ndim, y.type.ndim
        if nx == 2 and ny == 2:
            return [dot(g, y.T), dot(x.T, g)]
        if nx == 2 and ny == 1:
            return [outer(g, y), dot(x.T, g)]
        if nx == 1 and ny == 2:
            return [dot(y, g), outer(x, g)]
        return [g * y, g * x]

    def infer_shape(self, node, input_shapes):
        sx, sy = input_shapes
        return [tuple(sx[:-1]) + tuple(sy[1:])]

    def pretty(self, inputs):
        return f"dot({inputs[0]}, {inputs[1]})"


_dot = Dot()


def dot(x: Any, y: Any) -> TensorVariable:
    """``np.dot``: inner product, matrix-vector or matrix-matrix product; for n-d
    operands, a sum over the last axis of ``x`` and the second-to-last of ``y``.

    Raises ValueError when the static shapes are not aligned, naming both.
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.type.ndim == 0 or y.type.ndim == 0:
        return x * y
    if x.type.ndim <= 2 and y.type.ndim <= 2:
        return _dot(x, y)
    ky = 0 if y.type.ndim == 1 else y.type.ndim - 2
    return tensordot(x, y, [[x.type.ndim - 1], [ky]])


def outer(x: Any, y: Any) -> TensorVariable:
    """The outer product of two vectors (flattened first, as ``np.outer``)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.type.ndim != 1:
        x = x.flatten()
    if y.type.ndim != 1:
        y = y.flatten()
    return dimshuffle(x, [0, "x"]) * dimshuffle(y, ["x", 0])


class MatMul(Op):
    """``np.matmul`` for operands of at least 2 dimensions (leading dims broadcast)."""

    def make_node(self, x, y):
        x, y = resolve_dtypes([as_tensor_variable(x), as_tensor_variable(y)], "same", "matmul")
        if x.type.ndim < 2 or y.type.ndim < 2:
            raise TypeError(f"MatMul takes operands of 2 or more dimensions, got {x.type} and {y.type}")
        _check_inner("matmul", x, y, x.type.shape[-1], y.type.shape[-2])
        batch = broadcast_static_shapes([x.type.shape[:-2], y.type.shape[:-2]], "matmul (batch dimensions)")
        shp = batch + (x.type.shape[-2], y.type.shape[-1])
        return Apply(self, [x, y], [TensorType(x.type.dtype, shp)])

    def make_thunk(self, node):
        return np.matmul

    def perform(self, node, x, y):
        return np.matmul(x, y)

    def L_op(self, node, inputs, outputs, output_grads):
        x, y = inputs
        g = output_grads[0]
        gx = matmul(g, _swap_last(y))
        gy = matmul(_swap_last(x), g)
        return [sum_to(gx, x), sum_to(gy, y)]

    def pretty(self, inputs):
        return f"({inputs[0]} @ {inputs[1]})"


def _swap_last(x: TensorVariable) -> TensorVariable:
    n = x.type.ndim
    return dimshuffle(x, list(range(n - 2)) + [n - 1, n - 2])


_matmul = MatMul()


def matmul(x: Any, y: Any) -> TensorVariable:
    """``x @ y`` with NumPy's ``matmul`` rules (1-d operands are promoted and the added
    dimension removed; leading dimensions broadcast)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.type.ndim == 0 or y.type.ndim == 0:
        raise ValueError("matmul: scalar operands are not allowed, use * instead")
    if x.type.ndim <= 2 and y.type.ndim <= 2:
        return _dot(x, y)
    xv, yv = x, y
    if x.type.ndim == 1:
        xv = dimshuffle(x, ["x", 0])
    if y.type.ndim == 1:
        yv = dimshuffle(y, [0, "x"])
    out = _matmul(xv, yv)
    n = out.type.ndim
    drop = ({n - 2} if x.type.ndim == 1 else set()) | ({n - 1} if y.type.ndim == 1 else set())
    if drop:
        out = dimshuffle(out, [d for d in range(n) if d not in drop])
    return out


def batched_dot(x: Any, y: Any) -> TensorVariable:
    """Matrix products of corresponding slices: ``out[i] = dot(x[i], y[i])`` for 3-d
    operands (2-d operands are batches of vectors)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.type.ndim < 2 or y.type.ndim < 2:
        raise TypeError(f"batched_dot needs operands with a batch dimension, got {x.type} and {y.type}")
    xv = dimshuffle(x, [0, "x", 1]) if x.type.ndim == 2 else x
    yv = dimshuffle(y, [0, 1, "x"]) if y.type.ndim == 2 else y
    out = _matmul(xv, yv)
    if x.type.ndim == 2 and y.type.ndim == 2:
        return dimshuffle(out, [0])
    if x.type.ndim == 2:
        return dimshuffle(out, [0, 2])
    if y.type.ndim == 2:
        return dimshuffle(out, [0, 1])
    return out


def tensordot(x: Any, y: Any, axes: int | Sequence = 2) -> TensorVariable:
    """``np.tensordot``: sum products over the given axes, lowered to one matrix product
    (transpose + reshape + dot), so the gradient comes for free."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if isinstance(axes, (int, np.integer)):
        ax = list(range(x.type.ndim - axes, x.type.ndim))
        ay = list(range(axes))
    else:
        ax, ay = axes
        ax = [ax] if isinstance(ax, (int, np.integer)) else list(ax)
        ay = [ay] if isinstance(ay, (int, np.integer)) else list(ay)
    if len(ax) != len(ay):
        raise ValueError(f"tensordot: axes {ax} and {ay} have different lengths")
    ax = [a % x.type.ndim for a in ax]
    ay = [a % y.type.ndim for a in ay]
    for a, b in zip(ax, ay):
        sa, sb = x.type.shape[a], y.type.shape[b]
        if sa is not None and sb is not None and sa != sb:
            raise ValueError(f"tensordot: shape mismatch for sum: axis {a} of "
                             f"{fmt_shape(x.type.shape)} ({sa}) vs axis {b} of {fmt_shape(y.type.shape)} ({sb})")
    free_x = [d for d in range(x.type.ndim) if d not in ax]
    free_y = [d for d in range(y.type.ndim) if d not in ay]
    xt = dimshuffle(x, free_x + ax)
    yt = dimshuffle(y, ay + free_y)

    def _prod(t, dims):
        if not dims:
            return 1
        n = shape_i(t, dims[0])
        for d in dims[1:]:
            n = n * shape_i(t, d)
        return n

    x2 = reshape(xt, [_prod(x, free_x), _prod(x, ax)])
    y2 = reshape(yt, [_prod(y, ay), _prod(y, free_y)])
    out = _dot(x2, y2)
    out_shape = [shape_i(x, d) for d in free_x] + [shape_i(y, d) for d in free_y]
    return reshape(out, out_shape)
