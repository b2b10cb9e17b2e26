"""``ifelse(cond, then, else)``: a lazy conditional, where only the branch taken runs.

The straight-line linker runs every node it is given, so laziness lives inside one op:
:class:`IfElse` owns the two branches as inner graphs and its thunk holds them compiled
(by :func:`~nnthe.core.compile.function.function`, at link time); a call evaluates the
condition's value and runs one of them. No change to the linker is needed.

What goes inside a branch is the work only that branch needs: the builder cuts each
branch's graph at the variables that are computed anyway (those the condition or both
branches depend on), which become the op's inputs and are computed outside as usual.
"""
from __future__ import annotations

from typing import Any, Sequence

from .compile.function import function
from .graph import Apply, Constant, Op, Variable, ancestors, clone_graph, graph_inputs
from .gradient import grad
from .ops.alloc import zeros_like
from .types import TensorType, disconnected_type, fmt_shape, is_disconnected, is_float_dtype
from .variable import TensorVariable, as_tensor_variable, is_weak, retype_weak


class IfElse(Op):
    """Run the inner graph ``then_outputs`` or ``else_outputs`` (both of ``inner_inputs``)
    depending on the scalar input 0.

    Inputs: ``[cond, *outer values of inner_inputs]``.
    """

    def __init__(self, inner_inputs: Sequence[Variable], then_outputs: Sequence[Variable],
                 else_outputs: Sequence[Variable], name: str | None = None) -> None:
        self.inner_inputs = list(inner_inputs)
        self.then_outputs = list(then_outputs)
        self.else_outputs = list(else_outputs)
        self.name = name

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        return f"IfElse{{{self.name}}}" if self.name else "IfElse"

    __repr__ = __str__

    def make_node(self, cond: Any, *values: Any) -> Apply:
        cond = as_tensor_variable(cond)
        if cond.type.ndim != 0:
            raise TypeError(f"ifelse: the condition must be a scalar, got {cond!r} ({cond.type})")
        values = [as_tensor_variable(v) for v in values]
        if len(values) != len(self.inner_inputs):
            raise TypeError(f"ifelse: expected {len(self.inner_inputs)} inputs, got {len(values)}")
        types = []
        for a, b in zip(self.then_outputs, self.else_outputs):
            shape = tuple(x if x == y else None for x, y in zip(a.type.shape, b.type.shape))
            types.append(TensorType(a.type.dtype, shape))
        return Apply(self, [cond] + values, types)

    def make_thunk(self, node: Apply):
        f_then = function(self.inner_inputs, self.then_outputs, on_unused_input="ignore",
                          name="ifelse_then")
        f_else = function(self.inner_inputs, self.else_outputs, on_unused_input="ignore",
                          name="ifelse_else")
        single = len(self.then_outputs) == 1
        f_then.trust_input = f_else.trust_input = True
        run_then, run_else = f_then._fn, f_else._fn

        def run(cond, *values):
            outs = run_then(*values) if cond else run_else(*values)
            return outs[0] if single else tuple(outs)

        return run

    def perform(self, node, *inputs):
        return self.make_thunk(node)(*inputs)

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[False] * len(node.outputs)] + [[True] * len(node.outputs) for _ in node.inputs[1:]]

    def L_op(self, node, inputs, outputs, output_grads):
        cond, values = inputs[0], inputs[1:]
        replace = dict(zip(self.inner_inputs, values))
        wrt = [v for v in values if isinstance(v.type, TensorType) and is_float_dtype(v.type.dtype)]

        def branch_grads(outs: list) -> list:
            exprs, _ = clone_graph(outs, dict(replace))
            known: dict = {}
            for e, g in zip(exprs, output_grads):
                if g is None or is_disconnected(g) or isinstance(e, Constant):
                    continue
                if not is_float_dtype(e.type.dtype):
                    continue
                known[e] = known[e] + g if e in known else g
            if not known or not wrt:
                return [zeros_like(w) for w in wrt]
            return grad(None, wrt, known_grads=known, disconnected_inputs="ignore")

        g_then, g_else = branch_grads(self.then_outputs), branch_grads(self.else_outputs)
        chosen = ifelse(cond, g_then, g_else) if wrt else []
        chosen = chosen if isinstance(chosen, list) else [chosen]
        by_id = {id(w): g for w, g in zip(wrt, chosen)}
        return [disconnected_type()] + [by_id.get(id(v), disconnected_type()) for v in values]


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None) -> Any:
    """``then_branch`` if ``condition`` is true, else ``else_branch``; lazily.

    Only the chosen branch is computed (unlike ``T.switch``, which computes both
    elementwise). Branches are tensors or lists of tensors of matching dtypes and ranks.

    Parameters
    ----------
    condition : scalar tensor
    then_branch, else_branch : tensor or list of tensors
    name : str, optional

    Returns
    -------
    Variable, or a list when the branches are lists.

    Examples
    --------
    >>> a, b = T.scalar('a'), T.scalar('b')
    >>> z = ifelse(T.lt(a, b), T.mean(T.stack([a, b])), a * b)
    """
    as_list = isinstance(then_branch, (list, tuple))
    thens = [as_tensor_variable(x) for x in (then_branch if as_list else [then_branch])]
    elses = [as_tensor_variable(x) for x in (else_branch if isinstance(else_branch, (list, tuple)) else [else_branch])]
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: the then branch has {len(thens)} outputs, the else branch {len(elses)}")
    if not thens:
        raise ValueError("ifelse: the branches are empty")
    cond = as_tensor_variable(condition)
    if cond.type.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar, got {cond!r} ({cond.type})")
    for k, (a, b) in enumerate(zip(thens, elses)):
        if a.type.dtype != b.type.dtype:
            if is_weak(b):
                elses[k] = b = retype_weak(b, a.type.dtype)
            elif is_weak(a):
                thens[k] = a = retype_weak(a, b.type.dtype)
        if a.type.dtype != b.type.dtype or a.type.ndim != b.type.ndim:
            raise TypeError(f"ifelse: output {k} is {a.type.dtype}{fmt_shape(a.type.shape)} in the "
                            f"then branch ({a!r}) but {b.type.dtype}{fmt_shape(b.type.shape)} in the "
                            f"else branch ({b!r}); both branches must give the same dtype and rank")

    # Cut each branch at what is computed anyway: the condition's ancestors and the
    # variables both branches need.
    a_then = {id(v) for v in ancestors(thens)}
    a_else = {id(v) for v in ancestors(elses)}
    common = [v for v in ancestors(elses) if id(v) in a_then] + ancestors([cond])
    free: list = []
    seen: set = set()
    for v in graph_inputs(thens + elses, blockers=common):
        if isinstance(v, Constant) or id(v) in seen:
            continue
        seen.add(id(v))
        free.append(v)
    del a_else
    phs = [TensorVariable(v.type, name=v.name) for v in free]
    inner, _ = clone_graph(thens + elses, dict(zip(free, phs)))
    op = IfElse(phs, inner[:len(thens)], inner[len(thens):], name=name)
    out = op(cond, *free)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    return outs if as_list else outs[0]


__all__ = ["ifelse", "IfElse"]
