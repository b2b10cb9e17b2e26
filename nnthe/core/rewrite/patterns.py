"""Small helpers for matching graph patterns in rewrites."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Constant
from ..ops.elemwise import Elemwise


def elemwise_name(v: Any) -> str | None:
    """The scalar op name of the Elemwise node computing ``v`` (None otherwise)."""
    owner = getattr(v, "owner", None)
    if owner is not None and isinstance(owner.op, Elemwise):
        return owner.op.scalar_op.name
    return None


def node_name(node: Apply) -> str | None:
    return node.op.scalar_op.name if isinstance(node.op, Elemwise) else None


def scalar_constant(v: Any) -> float | None:
    """The value of ``v`` if it is a constant whose elements are all equal, else None."""
    if not isinstance(v, Constant):
        return None
    data = np.asarray(v.data)
    if data.size == 0:
        return None
    flat = data.reshape(-1)
    first = flat[0]
    if data.size > 1 and not np.all(flat == first):
        return None
    try:
        return float(first)
    except (TypeError, ValueError):
        return None


def is_constant_value(v: Any, value: float) -> bool:
    c = scalar_constant(v)
    return c is not None and c == value
