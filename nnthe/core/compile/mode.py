"""Compilation modes: which rewrites run and how thunks are wrapped.

``'FAST_RUN'`` (the default) applies every rewrite tagged ``fast_run``;
``'FAST_COMPILE'`` applies none. A :class:`Mode` can include or exclude rewrites by name
or tag: ``nnthe.function(..., mode=Mode(exclude=['constant_folding']))``.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

from ..rewrite import apply_rewrites


class Mode:
    """How ``nnthe.function`` compiles.

    Parameters
    ----------
    rewrites : bool
        Apply graph rewrites at all.
    include, exclude : sequences of str
        Rewrite names or tags to add to or remove from the default set.
    profile : bool
        Collect per-op timings in every function compiled with this mode.
    kernels : {None, 'auto', 'numpy', 'numba'}
        The kernel backend (:mod:`nnthe.core.kernels`); None follows ``$NNTHE_KERNELS``
        (default ``'auto'``: numba when installed).
    """

    #: A function ``(node, thunk) -> thunk`` applied to every thunk (None: none).
    thunk_wrapper: Callable | None = None
    #: A function ``(fn, inputs, outputs, updates) -> fn`` applied to the result.
    wrap_function: Callable | None = None

    def __init__(self, rewrites: bool = True, include: Sequence[str] = (), exclude: Sequence[str] = (),
                 profile: bool = False, name: str = "custom", kernels: str | None = None) -> None:
        if kernels is not None and kernels not in ("auto", "numpy", "numba"):
            raise ValueError(f"Mode: kernels must be None, 'auto', 'numpy' or 'numba', got {kernels!r}")
        self.kernels = kernels
        self.rewrites = rewrites
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.profile = profile
        self.name = name

    def including(self, *names: str) -> "Mode":
        """A copy of this mode (of the same class and settings) with more rewrites."""
        new = copy.copy(self)
        new.include = self.include + names
        return new

    def excluding(self, *names: str) -> "Mode":
        """A copy of this mode (of the same class and settings) without some rewrites."""
        new = copy.copy(self)
        new.exclude = self.exclude + names
        return new

    def rewrite(self, fgraph: Any) -> None:
        """Apply this mode's rewrites to ``fgraph`` in place."""
        if not self.rewrites:
            return
        apply_rewrites(fgraph, include=self.include, exclude=self.exclude)

    def __repr__(self) -> str:
        return (f"Mode({self.name!r}, rewrites={self.rewrites}, include={list(self.include)}, "
                f"exclude={list(self.exclude)}, kernels={self.kernels!r})")


class CheckFailed(Exception):
    """Raised by a checking mode (DebugMode, NanGuardMode): the message already names
    the node and its creation site, so ``Function`` passes it on unchanged."""


#: Mode names -> factories. FAST_RUN and FAST_COMPILE are here; the checking modes
#: register themselves (:mod:`.debugmode`), which :mod:`nnthe.core.compile` imports.
_PREDEFINED: dict[str, Callable[[], Mode]] = {
    "FAST_RUN": lambda: Mode(True, name="FAST_RUN"),
    "FAST_COMPILE": lambda: Mode(False, name="FAST_COMPILE"),
}


def register_mode(name: str, factory: Callable[[], Mode]) -> None:
    """Make ``mode=name`` mean ``factory()`` in ``nnthe.function``."""
    _PREDEFINED[name] = factory


def get_mode(mode: Any) -> Mode:
    """Resolve ``mode`` (None, a name, or a Mode) to a Mode."""
    if mode is None:
        return _PREDEFINED["FAST_RUN"]()
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str):
        if mode not in _PREDEFINED:
            raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(_PREDEFINED)} or a Mode")
        return _PREDEFINED[mode]()
    raise TypeError(f"mode must be None, a mode name or a Mode, got {mode!r}")
