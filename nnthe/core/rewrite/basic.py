"""Removing useless operations, canonical forms, and constant folding."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Constant
from ..ops.gradops import IdentityGradOp
from ..ops import elemwise as E
from ..ops.alloc import Alloc
from ..ops.elemwise import SumToShape, Elemwise
from ..ops.elemwise import Cast
from ..ops.linalg import Dot
from ..ops.shape import (DimShuffle, Reshape, Shape, SpecifyShape, _make_vector, dimshuffle, shape,
                         shape_i)
from ..types import TensorType
from ..variable import TensorConstant
from .inplace import InplaceElemwise
from .patterns import elemwise_name, is_constant_value, node_name
from .registry import register


def _same_type(a, b) -> bool:
    return a.type == b.type


# -- useless ------------------------------------------------------------------------

_NEUTRAL = {"add": (0, 0), "sub": (None, 0), "mul": (1, 1), "true_div": (None, 1),
            "pow": (None, 1), "logical_or": (False, False)}


@register("useless", "useless", tracks=(Elemwise,))
def local_useless_elemwise(fgraph: Any, node: Apply):
    """``x + 0``, ``x - 0``, ``x * 1``, ``x / 1``, ``x ** 1`` -> ``x`` (when the neutral
    operand does not change the shape or dtype); ``-(-x)`` -> ``x``."""
    name = node_name(node)
    out = node.outputs[0]
    if name in _NEUTRAL:
        left, right = _NEUTRAL[name]
        a, b = node.inputs
        if right is not None and is_constant_value(b, right) and _same_type(a, out):
            return [a]
        if left is not None and is_constant_value(a, left) and _same_type(b, out):
            return [b]
    if name == "neg" and elemwise_name(node.inputs[0]) == "neg":
        inner = node.inputs[0].owner.inputs[0]
        if _same_type(inner, out):
            return [inner]
    return None


@register("useless", "useless", tracks=(IdentityGradOp, SpecifyShape, Reshape, SumToShape, Alloc, DimShuffle))
def local_useless_shape_ops(fgraph: Any, node: Apply):
    """Reshape, Alloc and SumToShape that do not change a fully known shape;
    DimShuffle of a DimShuffle composed into one; identity-gradient ops removed (they
    only matter to ``grad``, which has already run)."""
    op = node.op
    x = node.inputs[0] if node.inputs else None
    out = node.outputs[0]
    if isinstance(op, (IdentityGradOp, SpecifyShape)):
        return [x]  # both matter only while building the graph
    if isinstance(op, (Reshape, SumToShape, Alloc)) and _same_type(x, out) and None not in out.type.shape:
        return [x]
    if isinstance(op, DimShuffle) and x.owner is not None and isinstance(x.owner.op, DimShuffle):
        inner = x.owner.op
        composed = [p if p == "x" else inner.pattern[p] for p in op.pattern]
        src = x.owner.inputs[0]
        kept = [p for p in composed if p != "x"]
        if len(set(kept)) == len(kept):
            return [dimshuffle(src, composed)]
    return None


# -- canonicalize --------------------------------------------------------------------

@register("canonicalize", "canonicalize", tracks=(Elemwise,))
def local_mul_minus_one(fgraph: Any, node: Apply):
    """``x * -1`` -> ``-x``; ``x * x`` -> ``sqr(x)``."""
    if node_name(node) != "mul":
        return None
    a, b = node.inputs
    out = node.outputs[0]
    if is_constant_value(b, -1) and _same_type(a, out):
        return [E.neg(a)]
    if is_constant_value(a, -1) and _same_type(b, out):
        return [E.neg(b)]
    if a is b:
        return [E.sqr(a)]
    return None


# -- constant folding ----------------------------------------------------------------

#: Folding an Alloc into a large constant costs memory and prevents in-place reuse.
MAX_FOLDED_ALLOC = 4096


@register("constant_folding", "constant_folding")
def constant_folding(fgraph: Any, node: Apply):
    """Compute at compile time any node whose inputs are all constants."""
    if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    for o in node.outputs:
        if not isinstance(o.type, TensorType):
            return None
    if isinstance(node.op, Alloc):
        shape = np.asarray(node.inputs[1].data)
        if int(np.prod(shape)) > MAX_FOLDED_ALLOC:
            return None
    try:
        with np.errstate(all="ignore"):
            result = node.op.perform(node, *[i.data for i in node.inputs])
    except Exception:
        return None  # leave the failure to run time, where it gets a full error message
    results = result if len(node.outputs) > 1 else (result,)
    out = []
    for o, r in zip(node.outputs, results):
        arr = np.asarray(r, dtype=o.type.numpy_dtype)
        if not o.type.shape_matches(arr.shape):
            return None
        c = TensorConstant(TensorType(o.type.dtype, arr.shape), arr)
        out.append(c)
    return out


@register("useless_after", "useless")
def local_useless_elemwise_again(fgraph: Any, node: Apply):
    """The useless-operation rewrites again, after folding made new constants."""
    return local_useless_elemwise(fgraph, node) or local_useless_shape_ops(fgraph, node)



# -- shape-of ---------------------------------------------------------------------------

def _same_shape_input(node: Apply):
    """An input of the elementwise ``node`` whose shape is the output's for sure."""
    out = node.outputs[0]
    for x in node.inputs:
        if x.type.ndim != out.type.ndim:
            continue
        ok = True
        for d, (xs, os_) in enumerate(zip(x.type.shape, out.type.shape)):
            if xs is not None and xs == os_:
                continue
            for other in node.inputs:
                if other is x:
                    continue
                k = d - (out.type.ndim - other.type.ndim)
                if k >= 0 and other.type.shape[k] != 1:
                    ok = False
        if ok:
            return x
    return None


@register("canonicalize", "canonicalize", "shape_of", tracks=(Shape,))
def local_shape_of(fgraph: Any, node: Apply):
    """``shape(f(x))`` -> ``shape(x)`` when ``f`` keeps the shape (elementwise ops,
    casts) and -> ``[x.shape[0], W.shape[1]]`` for a matrix product: the shape is known
    without computing ``f(x)``, which is then freed if nothing else reads it."""
    v = node.inputs[0]
    owner = v.owner
    if owner is None:
        return None
    op = owner.op
    src = None
    if isinstance(op, (Elemwise, InplaceElemwise)):
        src = _same_shape_input(owner)
    elif isinstance(op, (Cast, IdentityGradOp)):
        src = owner.inputs[0]
    elif isinstance(op, Dot) and owner.inputs[0].type.ndim == 2 and owner.inputs[1].type.ndim == 2:
        return [_make_vector(shape_i(owner.inputs[0], 0), shape_i(owner.inputs[1], 1))]
    if src is None or src.type.ndim != v.type.ndim:
        return None
    return [shape(src)]
