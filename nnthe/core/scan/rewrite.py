"""Compile-time rewrites of Scan nodes.

``scan_use_extended``: the gradient of a loop runs the forward loop again with more
outputs (every state's history and the step's saved intermediates, see
:mod:`nnthe.core.scan.grad`). When the original loop is in the same graph with the same
inputs, its outputs are taken from the extended loop instead, so the forward steps run
once.
"""
from __future__ import annotations

from typing import Any

from ..ops.join import concatenate
from ..rewrite.registry import register
from .op import Scan


@register("merge_after", "scan", name="scan_use_extended", is_global=True)
def scan_use_extended(fgraph: Any) -> int:
    """Replace a Scan by the extended copy of it that the gradient built."""
    by_inputs: dict = {}
    for node in fgraph.toposort():
        if isinstance(node.op, Scan):
            by_inputs.setdefault(tuple(map(id, node.inputs)), []).append(node)
    changes = 0
    for group in by_inputs.values():
        if len(group) < 2:
            continue
        ops = {id(n.op): n for n in group}
        for ext in group:
            base = ops.get(id(getattr(ext.op, "extends", None)))
            if base is None or base is ext:
                continue
            op = base.op
            M = op.n_states
            _, _, inits, _ = op.split_outer(base.inputs)
            for k, old in enumerate(base.outputs):
                new = ext.outputs[k]
                if k < M and op.last_only[k]:
                    L = op.lags()[k]
                    new = concatenate([inits[k][:L], new], axis=0)[-1:]
                fgraph.replace(old, new, reason="scan_use_extended")
            changes += 1
    return changes
