"""Merge: compute each distinct subexpression once (common subexpression elimination).

Constants are merged by type and value; Apply nodes by op and (merged) inputs. One
topological walk with a hash table keeps it linear in the graph size.
"""
from __future__ import annotations

from typing import Any

from ..graph import Constant
from .registry import register


def _merge(fgraph: Any) -> int:
    changes = 0
    constants: dict = {}
    for v in fgraph.variables():
        if isinstance(v, Constant) and fgraph.has_readers(v):
            key = v.signature()
            first = constants.setdefault(key, v)
            if first is not v:
                fgraph.replace(v, first, reason="merge")
                changes += 1
    seen: dict = {}
    for node in fgraph.toposort():
        if node not in fgraph.nodes:  # removed by an earlier merge in this walk
            continue
        key = (node.op, tuple(id(i) for i in node.inputs))
        other = seen.setdefault(key, node)
        if other is node:
            continue
        for old, new in zip(node.outputs, other.outputs):
            fgraph.replace(old, new, reason="merge")
        changes += 1
    return changes


@register("merge", "merge", name="merge", is_global=True)
def merge(fgraph: Any) -> int:
    """Merge equal constants and equal nodes (same op, same inputs)."""
    return _merge(fgraph)


@register("merge_after", "merge", name="merge_after_rewrites", is_global=True)
def merge_after(fgraph: Any) -> int:
    """Merge again, after the rewrites created new nodes."""
    return _merge(fgraph)
