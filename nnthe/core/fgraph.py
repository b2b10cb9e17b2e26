"""FunctionGraph: the graph being compiled, owner of its readers.

Rewrites work on a FunctionGraph; the user's graph is never modified (``function``
clones it first). The FunctionGraph is the one place that knows who reads each
variable: ``readers[v]`` holds one entry per use of ``v``, kept exact as rewrites
replace variables and as the nodes they replace die. In-place, fusion, merge and the
linker ask it (and :mod:`nnthe.core.aliasing` for memory sharing) instead of keeping
rules of their own.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

from .aliasing import alias_source, owns_memory
from .graph import Apply, Variable, toposort
from .types import TensorType


class _Output:
    """The reader that stands for "returned by the function" (a singleton: ``OUTPUT``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OUTPUT"


#: The reader of a function output: ``(OUTPUT, k)`` marks ``v`` as output ``k``.
OUTPUT = _Output()

#: A use of a variable: ``(node, input index)`` or ``(OUTPUT, output index)``.
Reader = tuple


class FunctionGraph:
    """A graph from ``inputs`` to ``outputs`` that knows every variable's readers.

    ``readers[v]`` is an insertion-ordered dict whose keys are ``(node, i)`` for each use
    of ``v`` as input ``i`` of ``node`` and ``(OUTPUT, k)`` for its use as output ``k``
    (the values are unused): adding and removing a reader is O(1) even for a constant
    merged into thousands of nodes. A node none of whose outputs has a reader is dead:
    :meth:`replace` removes it, and the readers it held on its inputs, at once.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable]) -> None:
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.readers: dict[Variable, dict[Reader, None]] = {}
        self.nodes: set[Apply] = set()
        self.rewrite_times: dict[str, float] = {}
        self._blockers = {id(v) for v in inputs}
        # owns_memory answers, kept exact by replace (see _forget_aliases).
        self._owns: dict[Variable, bool] = {}
        for k, o in enumerate(self.outputs):
            self.readers.setdefault(o, {})[(OUTPUT, k)] = None
        self._import(self.outputs)

    # -- readers --------------------------------------------------------------------

    def readers_of(self, v: Variable) -> list[Reader]:
        """The uses of ``v``, in the order they were added (empty for a dead variable)."""
        return list(self.readers.get(v, ()))

    def has_readers(self, v: Variable) -> bool:
        """True if anything (a node or the function's outputs) reads ``v``."""
        return bool(self.readers.get(v))

    def is_output(self, v: Variable) -> bool:
        """True if ``v`` is returned by the function (or is an update value)."""
        return any(node is OUTPUT for node, _ in self.readers.get(v, ()))

    def only_reader(self, v: Variable, node: Apply) -> bool:
        """True if ``node`` is the one reader of ``v`` (so ``v`` is not an output either)."""
        readers = self.readers.get(v)
        if not readers or len(readers) != 1:
            return False
        return next(iter(readers))[0] is node

    def read_only_within(self, v: Variable, nodes: set) -> bool:
        """True if every reader of ``v`` is in ``nodes`` or is the function's output."""
        return all(node is OUTPUT or node in nodes for node, _ in self.readers.get(v, ()))

    def owns_memory(self, v: Variable) -> bool:
        """May a sole reader of ``v`` overwrite it? (:func:`nnthe.core.aliasing.owns_memory`,
        memoized for this graph.)"""
        return owns_memory(v, self._owns)

    def _forget_aliases(self, v: Variable) -> None:
        """Drop memoized aliasing answers of ``v`` and of every variable whose alias
        chain runs through it (they may have changed when ``v``'s readers did).

        An answer is memoized only together with the answers of its whole chain, so the
        walk can stop at a variable that has none.
        """
        cache = self._owns
        stack = [v]
        while stack:
            w = stack.pop()
            if cache.pop(w, None) is None:
                continue
            for node, _ in self.readers.get(w, ()):
                if node is OUTPUT:
                    continue
                for o in node.outputs:
                    step = alias_source(o)
                    if step is not None and step[0] is w:
                        stack.append(o)

    def variables(self) -> Iterator[Variable]:
        """Every variable the graph has seen (a snapshot is safe to mutate during)."""
        return iter(list(self.readers))

    # -- structure ------------------------------------------------------------------

    def _import(self, variables: Iterable[Variable]) -> None:
        """Register the nodes computing ``variables`` that are not in the graph yet.

        The walk stops at nodes already in the graph, so importing the few nodes a
        rewrite creates costs time proportional to their number, not the graph's.
        """
        blockers = self._blockers
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
        readers = self.readers
        for node in new_nodes:
            self.nodes.add(node)
            for i, inp in enumerate(node.inputs):
                readers.setdefault(inp, {})[(node, i)] = None
            for o in node.outputs:
                readers.setdefault(o, {})

    def _prune(self, node: Apply) -> None:
        """Remove ``node`` if it is dead, and then every node that dies with it."""
        readers = self.readers
        stack = [node]
        while stack:
            n = stack.pop()
            if n not in self.nodes or any(readers.get(o) for o in n.outputs):
                continue
            self.nodes.discard(n)
            for o in n.outputs:
                readers.pop(o, None)
            for i, inp in enumerate(n.inputs):
                r = readers.get(inp)
                if r is not None:
                    r.pop((n, i), None)
                    if not r and inp.owner is not None:
                        stack.append(inp.owner)

    def toposort(self) -> list[Apply]:
        """The nodes needed by the outputs, in an executable order."""
        return toposort(self.outputs, blockers=self.inputs)

    def replace(self, old: Variable, new: Variable, reason: str = "") -> None:
        """Make every reader of ``old`` read ``new`` instead; nodes left dead are removed.

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
        moved = self.readers.get(old) or {}
        self.readers[old] = {}
        target = self.readers.setdefault(new, {})
        for reader in moved:
            node, i = reader
            if node is OUTPUT:
                self.outputs[i] = new
            else:
                node.inputs[i] = new
                if self._owns:
                    for o in node.outputs:
                        self._forget_aliases(o)
            target[reader] = None
        if old.owner is not None:
            self._prune(old.owner)

    def __repr__(self) -> str:
        return f"FunctionGraph({self.inputs} -> {self.outputs})"
