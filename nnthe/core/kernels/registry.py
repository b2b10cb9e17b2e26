"""The registry of kernels: op class -> factories of a compiled thunk for a node.

The linker asks :func:`kernel_thunk` for each node before falling back to the op's own
``make_thunk``. A factory returns None when it has no kernel for that node (an
unsupported dtype or function, say); the next factory of the op class is asked, and
when none has one the op's NumPy ``perform`` is used, as it is for every op without a
factory. Thunks a factory makes carry two attributes that
DebugMode reads: ``nnthe_kernel`` (a short name) and ``nnthe_exact`` (True when the
kernel must match ``perform`` bit for bit); optionally ``nnthe_placeholders``, the indices
of outputs the kernel leaves as placeholders (an op's cache for another op that the
consumers validate and rebuild, such as Conv2d's im2col matrix), which DebugMode neither
compares with ``perform`` nor checks against the output's type.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..graph import Apply
from .backend import numba

#: ``{op class: [factory(node, context) -> thunk or None, ...]}``, in registration order.
_FACTORIES: dict[type, list[Callable[[Apply, "KernelContext"], Callable | None]]] = {}


def register_kernel(op_class: type) -> Callable:
    """Decorator: register ``factory(node, context)`` as a kernel of ``op_class``. An op
    class may have several (the direct convolution, then the GEMM path's epilogue, say):
    :func:`kernel_thunk` takes the first that returns a thunk, in registration order."""
    def deco(factory: Callable) -> Callable:
        _FACTORIES.setdefault(op_class, []).append(factory)
        return factory
    return deco


def has_kernel(node: Apply) -> bool:
    """True if some factory is registered for the node's op class."""
    return type(node.op) in _FACTORIES


@dataclass
class KernelReport:
    """What linking one function cost in kernels: one entry per kernel compiled or loaded
    from the disk cache, ``(name, seconds, cache hit)``, and in ``reused`` the names of
    kernels another function had already loaded in this process (free)."""

    entries: list[tuple[str, float, bool]] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    @property
    def compile_time(self) -> float:
        return sum(t for _, t, _ in self.entries)

    @property
    def cache_hits(self) -> int:
        return sum(1 for _, _, hit in self.entries if hit)

    def summary(self) -> str:
        """One line: how many kernels, cache hits and the time they took to get."""
        n = len(self.entries)
        reused = f", {len(self.reused)} already loaded" if self.reused else ""
        return (f"{n + len(self.reused)} kernel(s): {self.cache_hits} from the disk cache, "
                f"{n - self.cache_hits} compiled{reused}, {self.compile_time * 1e3:.1f} ms")


@dataclass
class KernelContext:
    """What a factory may know besides the node.

    ``destroy`` maps an output index to the input index whose buffer that output may be
    written into (decided by the linker from the aliasing rules); ``report`` collects
    compile times.
    """

    report: KernelReport
    destroy: dict[int, int] = field(default_factory=dict)


def compile_kernel(module: Any, name: str, signature: Any, report: KernelReport, label: str) -> Any:
    """Compile ``module.<name>`` (a numba dispatcher) for ``signature`` now, so the cost
    lands in the compile report instead of the first call, and note whether numba's disk
    cache had it."""
    disp = getattr(module, name)
    if tuple(signature) in disp.overloads:
        report.reused.append(label)  # compiled or loaded earlier in this process: free
        return disp
    t0 = time.perf_counter()
    disp.compile(signature)
    elapsed = time.perf_counter() - t0
    hit = bool(disp.stats.cache_hits) and not disp.stats.cache_misses
    report.entries.append((label, elapsed, hit))
    return disp


def kernel_thunk(node: Apply, context: KernelContext) -> Callable | None:
    """A compiled thunk for ``node``, or None (then the op's own thunk runs)."""
    return first_thunk(_FACTORIES.get(type(node.op), ()), node, context)


def first_thunk(factories: Any, node: Apply, context: KernelContext) -> Callable | None:
    """The thunk of the first of ``factories`` that has one for ``node``, or None."""
    # A factory imports numba (raising the ImportError that names the extra) only once
    # it knows it has a kernel for this node.
    for factory in factories:
        thunk = factory(node, context)
        if thunk is not None:
            return thunk
    return None


def numba_array_type(dtype: Any, ndim: int) -> Any:
    """The numba type of a C-contiguous writable array."""
    nb = numba()
    return nb.types.Array(nb.from_dtype(dtype), ndim, "C")
