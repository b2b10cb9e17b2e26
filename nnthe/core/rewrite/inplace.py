"""In-place elementwise operations on buffers that are dead afterwards.

``relu(dot(x, W) + b)`` needs one buffer, not three: the dot's result is read only by
the addition, so the addition can write into it, and the maximum into that again. The
rewrite here replaces an Elemwise node by an :class:`InplaceElemwise` that writes its
result into input ``k`` (``ufunc(..., out=inputs[k])``) when the destroy-handler rules
below say that overwriting input ``k`` cannot be observed:

1. the input's buffer was allocated by a node of the graph and reached it through
   in-place writes only (:meth:`FunctionGraph.owns_memory`: never a function
   input, a constant, a shared variable or a view of anything);
2. this node is its only reader (:meth:`FunctionGraph.only_reader`), so it is not an
   output of the function either (outputs and update values must stay intact);
3. it has the output's dtype, and its shape is the output's shape — proven statically,
   or checked at run time with a fall back to a fresh result.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..graph import Apply, Op
from ..ops.elemwise import Elemwise
from ..types import TensorType
from .registry import register


class InplaceElemwise(Op):
    """An Elemwise op that writes its result into input ``target``."""

    __props__ = ("scalar_op", "target", "runtime_check")

    def __init__(self, scalar_op: Any, target: int, runtime_check: bool) -> None:
        self.scalar_op = scalar_op
        self.target = target
        self.runtime_check = runtime_check
        self.destroy_map = {0: [target]}

    def make_node(self, *inputs):
        base = Elemwise(self.scalar_op).make_node(*inputs)
        return Apply(self, base.inputs, [o.type for o in base.outputs])

    def make_thunk(self, node: Apply) -> Callable:
        ufunc = self.scalar_op.impl
        k = self.target
        ndarray = np.ndarray
        check = self.runtime_check
        if len(node.inputs) == 2:
            def inplace_binary(a, b):
                target, other = (b, a) if k else (a, b)
                if type(target) is ndarray and (not check or other.shape == target.shape or other.ndim == 0):
                    return ufunc(a, b, out=target)
                return ufunc(a, b)
            return inplace_binary
        if len(node.inputs) == 1:
            def inplace_unary(a):
                return ufunc(a, out=a) if type(a) is ndarray else ufunc(a)
            return inplace_unary

        def inplace_n(*args):
            a = args[k]
            if type(a) is ndarray and (not check or all(
                    getattr(x, "shape", ()) == a.shape or np.ndim(x) == 0 for x in args)):
                return ufunc(*args, out=a)
            return ufunc(*args)
        return inplace_n

    def perform(self, node, *inputs):
        return self.make_thunk(node)(*inputs)

    def __str__(self) -> str:
        return f"{self.scalar_op.name}{{inplace={self.target}}}"

    def pretty(self, inputs):
        return Elemwise(self.scalar_op).pretty(inputs)


def _shape_relation(target: Any, others: list, out: Any) -> str | None:
    """'static' if ``target`` provably has the output's shape, 'runtime' if that needs
    checking when called, None if it cannot hold the result."""
    ts, os_ = target.type.shape, out.type.shape
    if len(ts) != len(os_):
        return None
    needs_check = False
    for d, (a, b) in enumerate(zip(ts, os_)):
        if a is not None and b is not None:
            if a != b:
                return None
            continue
        if a is not None and b is None:
            return None
        # a is None: another input could stretch this dimension at run time.
        for o in others:
            k = d - (len(os_) - o.type.ndim)
            if k >= 0 and o.type.shape[k] != 1:
                needs_check = True
    return "runtime" if needs_check else "static"


@register("inplace", "inplace", tracks=(Elemwise,))
def local_inplace_elemwise(fgraph: Any, node: Apply):
    """Make an Elemwise ufunc write into a dead input buffer of the same dtype/shape."""
    op = node.op
    if not isinstance(op, Elemwise) or not isinstance(op.scalar_op.impl, np.ufunc):
        return None
    out = node.outputs[0]
    if not isinstance(out.type, TensorType):
        return None
    for k, inp in enumerate(node.inputs):
        if inp.type.dtype != out.type.dtype:
            continue
        # only_reader is False for a function output: OUTPUT reads it too.
        if not fgraph.owns_memory(inp) or not fgraph.only_reader(inp, node):
            continue
        if any(inp is other for j, other in enumerate(node.inputs) if j != k):
            continue
        relation = _shape_relation(inp, [x for j, x in enumerate(node.inputs) if j != k], out)
        if relation is None:
            continue
        # The inputs are already checked and cast: build the node directly.
        new_node = Apply(InplaceElemwise(op.scalar_op, k, relation == "runtime"), node.inputs,
                         [o.type for o in node.outputs])
        return new_node.outputs
    return None
