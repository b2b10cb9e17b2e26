"""Specialization: replace general operations by faster special cases."""
from __future__ import annotations

from typing import Any

from ..graph import Apply
from ..ops import elemwise as E
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
