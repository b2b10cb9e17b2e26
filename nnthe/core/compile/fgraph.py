"""FunctionGraph: the graph being compiled, with its clients, and a ``replace`` that
keeps it valid. Rewrites work on it; the user's graph is never modified (``function``
clones it first)."""
from __future__ import annotations

from typing import Iterable, Sequence

from ..graph import Apply, Variable, toposort
from ..types import TensorType


class FunctionGraph:
    """A graph from ``inputs`` to ``outputs`` with the clients of every variable.

    ``clients[v]`` lists ``(node, i)`` pairs for each use of ``v`` as input ``i`` of
    ``node``, and ``('output', k)`` for its use as output ``k``.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.clients: dict[Variable, list] = {}
        self.nodes: set[Apply] = set()
        self.rewrite_times: dict[str, float] = {}
        self._blockers = list(inputs)
        for k, o in enumerate(self.outputs):
            self.clients.setdefault(o, []).append(("output", k))
        self._import(self.outputs)

    def _import(self, variables: Iterable[Variable]) -> None:
        """Register the nodes computing ``variables`` that are not in the graph yet.

        The walk stops at nodes already in the graph, so importing the few nodes a
        rewrite creates costs time proportional to their number, not the graph's.
        """
        blockers = {id(v) for v in self._blockers}
        stack = [v.owner for v in variables if v.owner is not None and id(v) not in blockers]
        new_nodes = []
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if node in self.nodes or id(node) in seen:
                continue
            seen.add(id(node))
            new_nodes.append(node)
            for inp in node.inputs:
                if inp.owner is not None and id(inp) not in blockers:
                    stack.append(inp.owner)
        for node in new_nodes:
            self.nodes.add(node)
            for i, inp in enumerate(node.inputs):
                self.clients.setdefault(inp, []).append((node, i))
            for o in node.outputs:
                self.clients.setdefault(o, [])

    def toposort(self) -> list[Apply]:
        """The nodes needed by the outputs, in an executable order."""
        return toposort(self.outputs, blockers=self._blockers)

    def replace(self, old: Variable, new: Variable, reason: str = "") -> None:
        """Make every client of ``old`` use ``new`` instead.

        Raises TypeError if ``new``'s type cannot stand in for ``old``'s.
        """
        if old is new:
            return
        ot, nt = old.type, new.type
        if isinstance(ot, TensorType):
            if not isinstance(nt, TensorType) or nt.dtype != ot.dtype or nt.ndim != ot.ndim or any(
                    a is not None and b is not None and a != b for a, b in zip(ot.shape, nt.shape)):
                raise TypeError(
                    f"rewrite {reason!r} tried to replace {old!r} of type {ot} with {new!r} "
                    f"of type {nt}; a replacement must have the same dtype and shape")
        self._import([new])
        for client in self.clients.pop(old, []):
            node, i = client
            if node == "output":
                self.outputs[i] = new
            else:
                node.inputs[i] = new
            self.clients.setdefault(new, []).append(client)
        self.clients[old] = []

    def clients_of(self, v: Variable) -> list:
        return self.clients.get(v, [])

    def __repr__(self) -> str:
        return f"FunctionGraph({self.inputs} -> {self.outputs})"
