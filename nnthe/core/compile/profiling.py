"""Per-op profiling of compiled functions: ``nnthe.function(..., profile=True)``.

Each thunk is wrapped by a timer; ``f.profile.summary()`` prints the time per node and
per op type, with call counts and the share of the total, plus the compile time split by
phase and by rewrite. The wrapper adds about a microsecond per op, so profile a function
to find where time goes, not to measure its unprofiled speed.
"""
from __future__ import annotations

import io
import sys
import time
from collections import defaultdict
from typing import Any, Callable

from ..graph import Apply, format_site


class ProfileStats:
    """Timings collected for one compiled function."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.node_time: dict[Apply, float] = defaultdict(float)
        self.node_calls: dict[Apply, int] = defaultdict(int)
        self.compile_times: dict[str, float] = {}
        self.rewrite_times: dict[str, float] = {}
        self.order: list[Apply] = []
        #: The kernels linked (a :class:`~nnthe.core.kernels.KernelReport`), if any.
        self.kernel_report: Any = None

    def wrap_thunks(self, inner: Callable | None) -> Callable[[Apply, Callable], Callable]:
        """A thunk wrapper that times each call (after ``inner`` wrapped it, if given)."""
        node_time, node_calls, order = self.node_time, self.node_calls, self.order
        perf = time.perf_counter

        def wrap(node: Apply, thunk: Callable) -> Callable:
            if inner is not None:
                thunk = inner(node, thunk)
            order.append(node)

            def timed(*args: Any) -> Any:
                t0 = perf()
                out = thunk(*args)
                node_time[node] += perf() - t0
                node_calls[node] += 1
                return out
            return timed
        return wrap

    def total_time(self) -> float:
        return sum(self.node_time.values())

    def by_op_type(self) -> dict[str, tuple[float, int]]:
        """{op type name: (seconds, calls)}."""
        out: dict[str, list] = defaultdict(lambda: [0.0, 0])
        for node, t in self.node_time.items():
            key = type(node.op).__name__
            if key in ("Elemwise", "InplaceElemwise"):
                key = f"{key}{{{node.op.scalar_op.name}}}"
            out[key][0] += t
            out[key][1] += self.node_calls[node]
        return {k: (v[0], v[1]) for k, v in out.items()}

    def summary(self, file: Any = None, n_nodes: int = 15) -> str:
        """Print (and return) the profile as text tables."""
        buf = io.StringIO()
        total = self.total_time() or 1e-12
        buf.write(f"Profile of {self.name!r}: {total * 1e3:.3f} ms in ops over "
                  f"{max(self.node_calls.values(), default=0)} call(s)\n")
        if self.compile_times:
            parts = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.compile_times.items())
            buf.write(f"Compile time: {sum(self.compile_times.values()) * 1e3:.1f} ms ({parts})\n")
        if self.rewrite_times:
            top = sorted(self.rewrite_times.items(), key=lambda kv: -kv[1])[:8]
            buf.write("  slowest rewrites: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in top) + "\n")
        if self.kernel_report is not None and (self.kernel_report.entries or self.kernel_report.reused):
            buf.write(f"Kernels (part of link): {self.kernel_report.summary()}\n")
        buf.write("\nBy op type:\n  %time     total ms   calls  op\n")
        for name, (t, calls) in sorted(self.by_op_type().items(), key=lambda kv: -kv[1][0]):
            buf.write(f"  {100 * t / total:5.1f}%  {t * 1e3:10.3f}  {calls:6d}  {name}\n")
        buf.write(f"\nSlowest nodes (of {len(self.node_time)}):\n  %time     total ms   calls  node (created at)\n")
        for node, t in sorted(self.node_time.items(), key=lambda kv: -kv[1])[:n_nodes]:
            shapes = ", ".join(repr(i) for i in node.inputs)
            buf.write(f"  {100 * t / total:5.1f}%  {t * 1e3:10.3f}  {self.node_calls[node]:6d}  "
                      f"{node.op}({shapes})  [{format_site(node.site)}]\n")
        text = buf.getvalue()
        (file or sys.stdout).write(text)
        return text
