"""Theano's ``MonitorMode``: call user functions before and after every node runs.

``pre_func(i, node, fn)`` and ``post_func(i, node, fn)`` get the node's position in the
schedule, the node, and an object whose ``fn.inputs`` / ``fn.outputs`` are lists of
one-element lists holding the values (Theano's storage cells), so Theano's examples
(``[input[0] for input in fn.inputs]``, NaN detectors) run unchanged.
"""
from __future__ import annotations

from typing import Any, Callable

from ..graph import Apply
from .mode import Mode, register_mode


class ThunkCells:
    """The values around one node's computation, as Theano's storage cells."""

    __slots__ = ("inputs", "outputs")

    def __init__(self, inputs: list, outputs: list) -> None:
        self.inputs = inputs
        self.outputs = outputs


class MonitorMode(Mode):
    """A mode that calls ``pre_func`` / ``post_func`` around every node.

    Parameters
    ----------
    pre_func, post_func : callable ``(i, node, fn)``, optional
        Called before and after node ``i`` of the schedule computes; ``fn.inputs`` and
        ``fn.outputs`` hold its values (outputs are ``[None]`` before it runs).
    optimizer : str
        ``'default'`` / ``'fast_run'`` rewrite the graph; ``'None'`` / ``'fast_compile'``
        / None do not (what the user sees is then the graph as written).
    linker : ignored (Theano's; nnthe has one linker).

    Examples
    --------
    >>> def inspect_inputs(i, node, fn):
    ...     print(i, node, "input(s) value(s):", [input[0] for input in fn.inputs])
    >>> f = nnthe.function([x], 5 * x, mode=MonitorMode(pre_func=inspect_inputs))
    """

    def __init__(self, pre_func: Callable | None = None, post_func: Callable | None = None,
                 optimizer: str | None = "default", linker: Any = None) -> None:
        rewrites = optimizer not in (None, "None", "fast_compile", "FAST_COMPILE")
        super().__init__(rewrites=rewrites, name="MonitorMode")
        self.pre_func = pre_func
        self.post_func = post_func
        self._position: dict[int, int] = {}

        def wrapper(node: Apply, thunk: Callable) -> Callable:
            # The linker wraps thunks in schedule order: the count is the node's index.
            i = self._position.setdefault(id(node), len(self._position))
            several = len(node.outputs) > 1
            pre, post = self.pre_func, self.post_func

            def monitored(*args: Any) -> Any:
                cells = ThunkCells([[a] for a in args], [[None] for _ in node.outputs])
                if pre is not None:
                    pre(i, node, cells)
                result = thunk(*args)
                for cell, v in zip(cells.outputs, result if several else (result,)):
                    cell[0] = v
                if post is not None:
                    post(i, node, cells)
                return result
            return monitored

        self.thunk_wrapper = wrapper

    def wrap_function(self, fn: Any, inputs: list, outputs: list, updates: list) -> Any:
        # The next function compiled with this mode numbers its nodes from 0 again.
        self._position = {}
        return fn


register_mode("MonitorMode", MonitorMode)

__all__ = ["MonitorMode", "ThunkCells"]
