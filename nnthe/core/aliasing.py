"""Memory sharing between variables: the one set of rules that in-place rewrites, fusion
and the linker consult.

An op declares how its outputs share memory with its inputs:

- ``view_map = {k: [i]}``: output ``k`` is a view of input ``i`` (a reshape, a slice);
  input ``i`` stays readable and both names see the same bytes;
- ``destroy_map = {k: [i]}``: output ``k`` is written into input ``i``'s buffer; input
  ``i`` must not be read after the node runs.

Following these back from a variable gives its *alias chain*: the variables whose
buffer it may be, ending at the *memory root*, the variable whose buffer was allocated
(by a node) or given (an input, a constant, a shared value). Everything below is
derived from that chain, so a new kind of aliasing needs one change here.
"""
from __future__ import annotations

from typing import Iterable

from .graph import Variable


def alias_source(v: Variable) -> tuple[Variable, bool] | None:
    """The input whose memory ``v`` shares, and whether ``v`` is a view of it (True) or
    was written into it (False); None when ``v`` has its own buffer or is a root."""
    owner = v.owner
    if owner is None:
        return None
    op = owner.op
    src = (op.view_map or {}).get(v.index)
    if src:
        return owner.inputs[src[0]], True
    src = (op.destroy_map or {}).get(v.index)
    if src:
        return owner.inputs[src[0]], False
    return None


def alias_chain(v: Variable) -> list[Variable]:
    """``v`` and every variable whose buffer ``v`` may be, ending at its memory root."""
    chain = [v]
    while True:
        step = alias_source(chain[-1])
        if step is None:
            return chain
        chain.append(step[0])


def memory_root(v: Variable) -> Variable:
    """The variable whose buffer ``v`` is: allocated by its owner, or given to the
    function (no owner)."""
    return alias_chain(v)[-1]


def aliases_given_memory(v: Variable) -> bool:
    """True if ``v`` may share memory with something the function did not allocate: an
    input, a constant or a shared variable's value. Such a value must be copied before
    it is returned or stored (the caller could otherwise change one through the other).
    """
    return memory_root(v).owner is None


def owns_memory(v: Variable, cache: dict | None = None) -> bool:
    """True if ``v``'s buffer was allocated by a node of the graph and reached ``v``
    through in-place writes only, never through a view.

    In-place writes leave one live name for a buffer (the destroyed input may not be
    read afterwards), views leave two; so a reader that is ``v``'s only reader may
    overwrite ``v`` exactly when this holds. ``cache`` (a dict kept by the caller, see
    :meth:`FunctionGraph.owns_memory`) memoizes the answer for every variable on the
    walk, so a chain of n in-place nodes costs O(n) in all, not O(n**2).
    """
    path = []
    while True:
        if cache is not None and v in cache:
            answer = cache[v]
            break
        step = alias_source(v)
        if step is None:
            answer = v.owner is not None
            path.append(v)
            break
        if step[1]:  # a view
            answer = False
            path.append(v)
            break
        path.append(v)
        v = step[0]
    if cache is not None:
        for w in path:
            cache[w] = answer
    return answer


def escaping(variables: Iterable[Variable]) -> set[int]:
    """``id``s of every variable whose buffer may be the buffer of one of ``variables``
    (the function's outputs and update values): these must not live in memory that the
    next call reuses."""
    out: set[int] = set()
    for v in variables:
        for w in alias_chain(v):
            if id(w) in out:
                break
            out.add(id(w))
    return out
