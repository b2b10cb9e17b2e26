"""The Jacobian of an expression whose size is known only at run time: one gradient per
element, looped by ``scan`` over the element's index (as Theano does). Installed as
:data:`nnthe.core.gradient.runtime_jacobian`; ``jacobian`` keeps its static-shape path
(one symbolic gradient per element) when the size is known."""
from __future__ import annotations

from typing import Any, Sequence

import nnthe.core.gradient as _gradient  # the module itself: this file installs a hook in it
from ..graph import Variable
from ..ops.alloc import arange
from ..ops.shape import reshape, shape_i
from ..variable import TensorVariable
from .builder import scan


def jacobian_by_scan(expression: TensorVariable, wrt_list: list,
                     consider_constant: Sequence[Variable] | None = None,
                     disconnected_inputs: str = "raise") -> list[Any]:
    """Rows ``grad(expression.flatten()[i], wrt)`` by a scan over ``i``, reshaped to
    ``expression.shape + w.shape`` for each ``w`` of ``wrt_list``."""
    flat = expression.flatten()

    def row(i: TensorVariable) -> list:
        return _gradient.grad(flat[i], wrt_list, consider_constant, disconnected_inputs)

    rows, _ = scan(row, sequences=arange(shape_i(flat, 0)), return_list=True, name="jacobian")
    results = []
    for w, j in zip(wrt_list, rows):
        dims = [s if s is not None else shape_i(v, d) for v in (expression, w)
                for d, s in enumerate(v.type.shape)]
        results.append(reshape(j, tuple(dims)))
    return results


_gradient.runtime_jacobian = jacobian_by_scan
