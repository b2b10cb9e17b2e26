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

from ..aliasing import memory_root
from ..graph import Apply, Variable


def shared_update_targets(nodes: Sequence[Apply], outputs: Sequence[Variable],
                          updates: Sequence[tuple[Variable, Variable]],
                          candidates: set[Apply]) -> dict[Apply, dict[int, int]]:
    """``{node: {output index: input index}}`` for the nodes in ``candidates`` whose
    outputs may overwrite the shared variable they update (rules in the module doc)."""
    if not candidates or not updates:
        return {}
    update_of = {id(u): s for s, u in updates}
    shared_ids = {id(s) for s, _ in updates}
    # Who reads each updated shared variable's memory (itself or a view of it), where.
    readers: dict[int, list[tuple[int, Apply, Variable]]] = {}
    read: set[int] = set()
    for pos, node in enumerate(nodes):
        for i in node.inputs:
            read.add(id(i))
            root = memory_root(i)
            if id(root) in shared_ids:
                readers.setdefault(id(root), []).append((pos, node, i))
    # Outputs and update values whose memory is a shared variable's: they are read
    # after every node has run.
    late = {id(memory_root(v)) for v in list(outputs) + [u for _, u in updates]}
    result: dict[Apply, dict[int, int]] = {}
    for pos, node in enumerate(nodes):
        if node not in candidates:
            continue
        chosen: dict[int, int] = {}
        for j, u in enumerate(node.outputs):
            s = update_of.get(id(u))
            if s is None or id(u) in read or any(u is o for o in outputs) or id(s) in late:
                continue
            inputs = [k for k, x in enumerate(node.inputs) if x is s]
            if not inputs or inputs[0] in chosen.values():
                continue
            if all((r is node and x is s) or (r is not node and p < pos)
                   for p, r, x in readers.get(id(s), ())):
                chosen[j] = inputs[0]
        if chosen:
            result[node] = chosen
    return result
