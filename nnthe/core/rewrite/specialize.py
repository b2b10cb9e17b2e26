"""Specialization: replace general operations by faster special cases."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..ops import elemwise as E
from ..ops.reduce import CAReduce
from ..types import TensorType
from ..variable import as_tensor_variable
from ..ops.elemwise import Elemwise
from .patterns import node_name, scalar_constant
from .registry import register

_POW_SPECIAL = {2.0: E.sqr, 0.5: E.sqrt, -1.0: E.reciprocal, 1.0: None}


@register("specialize", "specialize", tracks=(Elemwise,))
def local_pow_specialize(fgraph: Any, node: Apply):
    """``x ** 2`` -> ``sqr(x)``, ``x ** 0.5`` -> ``sqrt(x)``, ``x ** -1`` ->
    ``reciprocal(x)``, ``x ** 3`` -> ``x * sqr(x)`` (one multiply instead of pow)."""
    if node_name(node) != "pow":
        return None
    x, y = node.inputs
    c = scalar_constant(y)
    if c is None:
        return None
    out = node.outputs[0]
    if c == 3.0:
        new = x * E.sqr(x)
    elif c in _POW_SPECIAL and _POW_SPECIAL[c] is not None:
        new = _POW_SPECIAL[c](x)
    else:
        return None
    if new.type.dtype != out.type.dtype or new.type.ndim != out.type.ndim:
        return None
    if any(a is not None and b is not None and a != b for a, b in zip(new.type.shape, out.type.shape)):
        return None
    if new.type.shape != out.type.shape and None in new.type.shape:
        return None  # the constant exponent broadcast x to a larger shape
    return [new]


class SumOfSquares(Op):
    """``sum(x ** 2)`` over all elements as one BLAS dot product of ``x`` with itself:
    one pass over memory and no temporary for ``x ** 2``."""

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType(x.type.dtype, ())])

    def perform(self, node, x):
        flat = np.ravel(x)  # a view for contiguous x
        return np.asarray(np.dot(flat, flat), dtype=node.outputs[0].type.numpy_dtype)

    def L_op(self, node, inputs, outputs, output_grads):
        return [2 * inputs[0] * output_grads[0]]


@register("specialize", "specialize", tracks=(CAReduce,))
def local_sum_of_squares(fgraph: Any, node: Apply):
    """``sum(sqr(x))`` over all axes (float x) -> :class:`SumOfSquares` (a dot product)."""
    op = node.op
    inner = node.inputs[0].owner
    if op.kind != "sum" or op.keepdims or inner is None or node_name(inner) != "sqr":
        return None
    x = node.inputs[0].owner.inputs[0]
    out = node.outputs[0]
    if len(op.axes) != x.type.ndim or x.type.dtype not in ("float32", "float64") \
            or out.type.dtype != x.type.dtype:
        return None
    return [SumOfSquares()(x)]
