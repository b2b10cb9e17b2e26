"""Symbolic differentiation: ``grad`` and what is built on it (``jacobian``,
``hessian``, ``Lop``, ``Rop``). The ops that alter only the gradient
(``disconnected_grad``, ``zero_grad``, ``grad_clip``) are in :mod:`.ops.gradops`, the
finite-difference check ``verify_grad`` in :mod:`.testing`.

``grad`` walks the graph once in reverse topological order, calls each node's pullback
(:meth:`Op.L_op`) once, and sums the contributions of every client of a variable. The
result is a new graph, so gradients of gradients work.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

from ..config import config
from .graph import DERIVED_FROM, Apply, Variable, toposort
from .ops.alloc import ones_like, zeros_like
from .ops.elemwise import add, cast
from .ops.gradops import disconnected_grad, grad_clip, stop_gradient, zero_grad
from .ops.join import stack
from .ops.reduce import sum as _sum
from .ops.shape import reshape, specify_shape
from .types import (TensorType, disconnected_type, grad_not_implemented,
                    grad_undefined, is_disconnected, is_discrete_dtype, is_float_dtype, is_null)
from .variable import TensorVariable, as_tensor_variable


class DisconnectedInputError(ValueError):
    """``grad`` was asked for the gradient with respect to a variable the cost does not
    depend on."""


class NullTypeGradError(TypeError):
    """A gradient on the path is undefined or not implemented."""


# ---------------------------------------------------------------------------------------
# grad
# ---------------------------------------------------------------------------------------

def _zeros_for(v: Variable) -> TensorVariable:
    dtype = v.type.dtype if is_float_dtype(v.type.dtype) else config.floatX
    return zeros_like(v, dtype=dtype)


def grad(cost: Any, wrt: Any, consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise", known_grads: dict | None = None,
         return_disconnected: str = "zero") -> Any:
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt``.

    Parameters
    ----------
    cost : scalar Variable or None
        What to differentiate. None is allowed when ``known_grads`` gives the starting
        gradients.
    wrt : Variable or list/tuple of Variables
        The result has the same structure.
    consider_constant : list of Variables, optional
        Treat these as constants: no gradient flows through them.
    disconnected_inputs : {'raise', 'warn', 'ignore'}
        What to do when the cost does not depend on a variable of ``wrt``.
    known_grads : dict, optional
        ``{variable: gradient}`` to start from (or add to) instead of ``cost``.
    return_disconnected : {'zero', 'disconnected'}
        For a disconnected ``wrt`` (if not raising): zeros, or the marker.

    Returns
    -------
    Variable or list of Variables
        New symbolic expressions, never None. Integer ``wrt`` get float zeros.

    Examples
    --------
    >>> x = T.scalar('x'); y = x ** 2 + 3 * x + 1
    >>> nnthe.function([x], nnthe.grad(y, x))(2)
    array(7., dtype=float32)
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_inputs must be 'raise', 'warn' or 'ignore', got {disconnected_inputs!r}")
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must be symbolic variables, got {w!r} ({type(w).__name__})")
    seeds: dict[Variable, list] = {}
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.type.ndim != 0:
            raise TypeError(
                f"grad: the cost must be a scalar, got {cost!r} of type {cost.type}. Reduce it "
                "first (cost.sum() or cost.mean()), or use jacobian / Lop for non-scalar outputs")
        if not is_float_dtype(cost.type.dtype):
            raise TypeError(f"grad: the cost must be a float scalar, got dtype {cost.type.dtype}")
        seeds[cost] = [ones_like(cost)]
    if known_grads:
        for v, g in known_grads.items():
            g = as_tensor_variable(g)
            if g.type.ndim != v.type.ndim:
                raise ValueError(f"grad: known gradient of {v!r} has {g.type.ndim} dimensions, "
                                 f"the variable {v.type.ndim}")
            seeds.setdefault(v, []).append(g)
    if not seeds:
        raise ValueError("grad: give a cost or known_grads")

    grads = _backprop(list(seeds), seeds, wrt_list, consider_constant or [])

    results = []
    for w in wrt_list:
        g = grads.get(w)
        if g is None:
            if is_discrete_dtype(w.type.dtype):
                results.append(_zeros_for(w))
                continue
            message = (
                f"grad: the cost does not depend on {w.describe()}. If that is expected, "
                "pass disconnected_inputs='ignore' (or 'warn') to get zeros for it")
            if disconnected_inputs == "raise":
                raise DisconnectedInputError(message)
            if disconnected_inputs == "warn":
                warnings.warn(message, stacklevel=2)
            results.append(_zeros_for(w) if return_disconnected == "zero" else disconnected_type())
            continue
        if is_null(g):
            raise NullTypeGradError(f"grad with respect to {w!r}: {g.type.why}")
        if is_discrete_dtype(w.type.dtype):
            g = _zeros_for(w)
        results.append(g)
    return results[0] if single else (tuple(results) if isinstance(wrt, tuple) else results)


def _backprop(roots: list[Variable], seeds: dict[Variable, list], wrt: list[Variable],
              consider_constant: Sequence[Variable]) -> dict[Variable, Variable]:
    """Propagate gradients from ``seeds`` back to every variable on a path to ``wrt``."""
    constant_ids = {id(v) for v in consider_constant}
    nodes = toposort(roots, blockers=consider_constant)
    # Only nodes that depend on some wrt variable need a pullback.
    depends: set[int] = {id(w) for w in wrt}
    relevant: list[Apply] = []
    for node in nodes:
        if any(id(i) in depends and id(i) not in constant_ids for i in node.inputs):
            relevant.append(node)
            for o in node.outputs:
                depends.add(id(o))

    terms: dict[Variable, list] = {v: list(gs) for v, gs in seeds.items()}
    summed: dict[Variable, Variable] = {}

    def total(v: Variable) -> Variable | None:
        if v in summed:
            return summed[v]
        ts = terms.get(v)
        if not ts:
            return None
        nulls = [t for t in ts if is_null(t)]
        if nulls:
            summed[v] = nulls[0]
            return nulls[0]
        g = ts[0]
        for t in ts[1:]:
            g = add(g, t)
        if isinstance(v.type, TensorType) and is_float_dtype(v.type.dtype):
            if g.type.dtype != v.type.dtype:
                g = cast(g, v.type.dtype)
            # A gradient built by broadcasting may know less of its shape than v does.
            if g.type.ndim == v.type.ndim and g.type.shape != v.type.shape:
                g = specify_shape(g, v.type.shape)
        summed[v] = g
        return g

    for node in reversed(relevant):
        out_grads = []
        any_grad = False
        for o in node.outputs:
            g = None if is_discrete_dtype(getattr(o.type, "dtype", "bool")) else total(o)
            if g is None:
                out_grads.append(disconnected_type())
            else:
                any_grad = True
                out_grads.append(g)
        if not any_grad:
            continue
        if any(is_null(g) for g in out_grads):
            why = next(g for g in out_grads if is_null(g))
            for i in node.inputs:
                if id(i) in depends:
                    terms.setdefault(i, []).append(why)
            continue
        if len(node.outputs) > 1 and any(is_disconnected(g) for g in out_grads) and \
                not node.op.handles_disconnected_grads:
        
            out_grads = [zeros_like(o) if is_disconnected(g) and not is_discrete_dtype(o.type.dtype)
                         else g for o, g in zip(node.outputs, out_grads)]
        input_grads = node.op.L_op(node, node.inputs, node.outputs, out_grads)
        if input_grads is NotImplemented:
            input_grads = [grad_not_implemented(node.op, i, x) for i, x in enumerate(node.inputs)]
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(f"{node.op}.L_op returned {len(input_grads)} gradients for "
                               f"{len(node.inputs)} inputs")
        for i, (inp, g) in enumerate(zip(node.inputs, input_grads)):
            if id(inp) not in depends or id(inp) in constant_ids:
                continue
            if g is None or is_disconnected(g):
                continue
            if not is_null(g):
                g = as_tensor_variable(g)
                if isinstance(inp.type, TensorType) and g.type.ndim != inp.type.ndim:
                    raise RuntimeError(
                        f"{node.op}.L_op returned a gradient of {g.type.ndim} dimensions for input "
                        f"{i} ({inp!r}) which has {inp.type.ndim}; this is a bug in that op")
            terms.setdefault(inp, []).append(g)

    return {w: total(w) for w in wrt if total(w) is not None}


# ---------------------------------------------------------------------------------------
# jacobian, hessian, Lop, Rop
# ---------------------------------------------------------------------------------------

def _static_size(v: TensorVariable, what: str) -> int:
    if None in v.type.shape:
        raise ValueError(
            f"{what}: the shape of {v!r} ({v.type}) must be known statically")
    return int(np.prod(v.type.shape, dtype=np.int64))


def jacobian(expression: Any, wrt: Any, consider_constant: Sequence[Variable] | None = None,
             disconnected_inputs: str = "raise") -> Any:
    """The Jacobian of ``expression`` with respect to ``wrt``.

    The result for each ``w`` has shape ``expression.shape + w.shape``. With a static
    shape, one gradient is built per element; otherwise the rows are computed by a
    ``scan`` over the elements (the size is then known only at run time).
    """

    expression = as_tensor_variable(expression)
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    if expression.type.ndim == 0:
        out = grad(expression, wrt_list, consider_constant, disconnected_inputs)
        return out[0] if single else out
    if None in expression.type.shape and runtime_jacobian is not None:
        out = runtime_jacobian(expression, wrt_list, consider_constant, disconnected_inputs)
        return out[0] if single else out
    n = _static_size(expression, "jacobian")
    flat = expression.flatten()
    rows = [grad(flat[i], wrt_list, consider_constant, disconnected_inputs) for i in range(n)]
    results = []
    for k, w in enumerate(wrt_list):
        j = stack([r[k] for r in rows])
        results.append(reshape(j, tuple(expression.type.shape) + tuple(
            s if s is not None else w.shape[d] for d, s in enumerate(w.type.shape))))
    return results[0] if single else results


#: Builds the Jacobian of an expression whose size is known only at run time,
#: ``f(expression, wrt_list, consider_constant, disconnected_inputs) -> list``. It loops
#: with ``scan``, which is built on this module, so :mod:`nnthe.core.scan` installs it.
runtime_jacobian: Callable[..., list] | None = None


def hessian(cost: Any, wrt: Any, consider_constant: Sequence[Variable] | None = None,
            disconnected_inputs: str = "raise") -> Any:
    """The Hessian of the scalar ``cost`` with respect to each (vector) ``wrt``."""
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    out = []
    for w in wrt_list:
        g = grad(cost, w, consider_constant, disconnected_inputs)
        out.append(jacobian(g, w, consider_constant, disconnected_inputs))
    return out[0] if single else out


def Lop(f: Any, wrt: Any, eval_points: Any, consider_constant: Sequence[Variable] | None = None,
        disconnected_inputs: str = "raise") -> Any:
    """The vector-Jacobian product ``v^T J`` of ``f`` at ``wrt`` with ``v = eval_points``."""
    fs = f if isinstance(f, (list, tuple)) else [f]
    vs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(fs) != len(vs):
        raise ValueError(f"Lop: {len(fs)} outputs but {len(vs)} eval points")
    known = {as_tensor_variable(a): as_tensor_variable(b) for a, b in zip(fs, vs)}
    for a, b in known.items():
        if isinstance(b.type, TensorType) and b.type.ndim != a.type.ndim:
            raise ValueError(f"Lop: eval point of {a!r} must have {a.type.ndim} dimensions, got {b.type}")
    return grad(None, wrt, consider_constant, disconnected_inputs, known_grads=known)


def Rop(f: Any, wrt: Any, eval_points: Any, disconnected_outputs: str = "raise") -> Any:
    """The Jacobian-vector product ``J v`` of ``f`` at ``wrt`` with ``v = eval_points``.

    Computed by differentiating a vector-Jacobian product (the "double backprop" trick):
    ``J v = d/du (u^T J) v``, which needs only pullbacks.

    ``u^T J v`` is linear in ``u``, so its derivative does not depend on ``u``'s value,
    but the pullbacks read ``u``'s *shape* (``Alloc`` of a gradient to the shape of
    ``u * ...``), so the raw result still refers to ``u``. ``u`` is then replaced by
    zeros shaped like ``f``: the same shape, no new input, and exact by linearity.
    """
    single_f = not isinstance(f, (list, tuple))
    fs = [as_tensor_variable(x) for x in ([f] if single_f else f)]
    ws = wrt if isinstance(wrt, (list, tuple)) else [wrt]
    vs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(ws) != len(vs):
        raise ValueError(f"Rop: {len(ws)} variables but {len(vs)} eval points")
    results = []
    for fo in fs:
        u = fo.type.make_variable(name="u")
        vjp = grad(None, list(ws), known_grads={fo: u}, disconnected_inputs="ignore")
        inner = None
        for g, v in zip(vjp, vs):
            term = _sum(g * as_tensor_variable(v))
            inner = term if inner is None else inner + term
        jv = grad(inner, u, disconnected_inputs="ignore" if disconnected_outputs != "raise" else "raise")
        jv = _substitute(jv, u, zeros_like(fo))
        if jv.owner is not None:
            # J v of a linear map does not read the point (Rop(dot(x, W), W, V) is
            # dot(x, V)), but the user's graph reads f: function's unused-input check
            # looks at what the user wrote.
            jv.tag[DERIVED_FROM] = (fo,)
        results.append(jv)
    return results[0] if single_f else results


def _substitute(out: Variable, old: Variable, new: Variable) -> Variable:
    """``out`` with ``old`` replaced by ``new``; only the nodes that depend on ``old``
    are copied, the rest of the graph is shared."""
    memo: dict[int, Variable] = {id(old): new}
    for node in toposort([out]):
        if any(id(i) in memo for i in node.inputs):
            new_node = node.clone_with_new_inputs([memo.get(id(i), i) for i in node.inputs])
            for o, n in zip(node.outputs, new_node.outputs):
                memo[id(o)] = n
    return memo.get(id(out), out)


__all__ = ["grad", "jacobian", "hessian", "Lop", "Rop", "disconnected_grad", "stop_gradient",
           "zero_grad", "grad_clip", "DisconnectedInputError", "NullTypeGradError",
           "disconnected_type", "grad_undefined", "grad_not_implemented", "is_disconnected"]
