"""Which kernel outputs may be written into the buffer of a shared variable they update.

Adam's update of a parameter ``p`` reads ``p``, ``m``, ``v`` and the gradient once per
element and computes their new values; a fused kernel can write them straight back into
the shared buffers instead of into new arrays that the function then installs. That is
safe for the output ``u`` of node ``n`` and the shared variable ``s`` (an input of ``n``)
when, in the linker's schedule:

1. ``u`` is the update value of ``s``, and nothing else reads ``u`` (no node, no function
   output: the caller must not get an array that is also ``s``'s value);
2. every other reader of ``s`` or of a view of ``s`` runs before ``n``, and no view of
   ``s`` is an output or another update's value (they would see the new values);
3. ``n`` reads no view of ``s`` other than ``s`` itself (an element-wise loop reads and
   writes each element once, at the same index, only for the same array).

The kernel still checks at run time that the buffer is C-contiguous, writable and of the
output's dtype and shape, and falls back to a new array otherwise.
"""
from __future__ import annotations

from typing import Sequence

from ..graph import Apply, Variable


def _view_sources(node: Apply) -> dict[int, list[int]]:
    return {**(getattr(node.op, "view_map", None) or {}), **(getattr(node.op, "destroy_map", None) or {})}


def shared_update_targets(nodes: Sequence[Apply], outputs: Sequence[Variable],
                          updates: Sequence[tuple[Variable, Variable]],
                          candidates: set[Apply]) -> dict[Apply, dict[int, int]]:
    """``{node: {output index: input index}}`` for the nodes in ``candidates`` whose
    outputs may overwrite the shared variable they update (rules in the module doc)."""
    if not candidates or not updates:
        return {}
    position = {node: k for k, node in enumerate(nodes)}
    readers: dict[int, list[Apply]] = {}
    for node in nodes:
        for i in node.inputs:
            readers.setdefault(id(i), []).append(node)
    update_of = {id(u): s for s, u in updates}
    values = {id(u) for _, u in updates}
    out_ids = {id(o) for o in outputs}
    result: dict[Apply, dict[int, int]] = {}
    for node in candidates:
        pos = position.get(node)
        if pos is None:
            continue
        chosen: dict[int, int] = {}
        used_inputs: set[int] = set()
        for j, u in enumerate(node.outputs):
            s = update_of.get(id(u))
            if s is None or id(u) in out_ids or readers.get(id(u)):
                continue
            if sum(1 for _, v in updates if v is u) != 1:
                continue
            try:
                i = next(k for k, x in enumerate(node.inputs) if x is s)
            except StopIteration:
                continue
            if i in used_inputs or not _safe(s, node, pos, position, readers, out_ids, values):
                continue
            chosen[j] = i
            used_inputs.add(i)
        if chosen:
            result[node] = chosen
    return result


def _safe(s: Variable, node: Apply, pos: int, position: dict, readers: dict, out_ids: set,
          values: set) -> bool:
    """Rules 2 and 3 for shared variable ``s`` overwritten by ``node``."""
    aliases = [s]
    seen = {id(s)}
    k = 0
    while k < len(aliases):
        v = aliases[k]
        k += 1
        if id(v) in out_ids or id(v) in values:
            return False
        for r in readers.get(id(v), ()):
            if r is node:
                if v is not s:
                    return False
                continue
            if position[r] > pos:
                return False
            for o_idx, srcs in _view_sources(r).items():
                if any(r.inputs[i] is v for i in srcs):
                    o = r.outputs[o_idx]
                    if id(o) not in seen:
                        seen.add(id(o))
                        aliases.append(o)
    return True
