"""Turning a scheduled graph into straight-line Python code.

The linker writes one Python function per compiled graph: one line per Apply node that
calls the op's thunk (often a NumPy ufunc) on local variables, ``del`` statements that
release intermediates as soon as their last reader has run, and the output and update
handling at the end. Ops that offer ``make_buffered_thunk`` (matrix products) write into
a buffer kept between calls when their result cannot reach an output or a shared
variable; a function with such buffers serializes its calls with a lock, so threads
sharing it get correct results. There is no interpreter loop and no per-op bookkeeping, so the
overhead of a call is a few hundred nanoseconds plus the thunks' own work.

Run-time errors are mapped back to the node that raised them through the line number of
the generated code, so the hot path pays nothing for good error messages.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..aliasing import aliases_given_memory, escaping
from ..graph import Apply, Constant, Variable
from ..kernels import KernelContext, KernelReport, has_kernel, kernel_thunk, resolve_backend
from ..kernels.inplace import shared_update_targets
from ..shared import SharedVariable
from ..types import TensorType
from .checks import make_input_check

_counter = itertools.count()


@dataclass
class LinkedProgram:
    """The result of linking: the generated function and what is needed to explain it."""

    fn: Callable[..., Any]
    source: str
    line_to_node: dict[int, Apply]
    var_names: dict[Variable, str]
    filename: str
    nodes: list[Apply] = field(default_factory=list)
    #: Kernels linked (compile time, disk cache hits); empty with the NumPy backend.
    kernel_report: KernelReport = field(default_factory=KernelReport)


def link(inputs: Sequence[Variable], outputs: Sequence[Variable],
         updates: Sequence[tuple[SharedVariable, Variable]], nodes: Sequence[Apply],
         check_inputs: bool = True, name: str = "nnthe_function",
         thunk_wrapper: Callable[[Apply, Callable], Callable] | None = None,
         input_names: Sequence[str] | None = None,
         allow_downcast: bool | None = False, single_output: bool = False,
         kernels: str | None = None) -> LinkedProgram:
    """Generate the straight-line function for ``nodes`` (already in execution order).

    ``thunk_wrapper(node, thunk)`` may wrap each thunk (profiling, NaN guards, checks).
    With ``single_output`` the function returns its one output itself, not a list.
    ``kernels`` is the kernel backend (None: ``$NNTHE_KERNELS``); with ``'numba'``,
    nodes that have a compiled kernel (:mod:`nnthe.core.kernels`) use it.
    """
    env: dict[str, Any] = {"asarray": np.asarray, "ndarray": np.ndarray}
    names: dict[Variable, str] = {}
    lines: list[str] = []
    line_to_node: dict[int, Apply] = {}

    arg_names = [f"i{k}" for k in range(len(inputs))]
    for v, n in zip(inputs, arg_names):
        names[v] = n
    header = f"def {name}({', '.join(arg_names)}):"

    for k, v in enumerate(inputs):
        if check_inputs and isinstance(v.type, TensorType):
            label = (input_names[k] if input_names else None) or f"input {k} ({v!r})"
            cond, check_fn = make_input_check(v.type, label, allow_downcast)
            env[f"_chk{k}"] = check_fn
            env[f"_dt{k}"] = v.type.numpy_dtype
            lines.append(f"    if {cond.format(x=arg_names[k], dt=f'_dt{k}')}: {arg_names[k]} = _chk{k}({arg_names[k]})")

    # Shared variables: read every value once, before any node runs, so that updates
    # always see the old values.
    shared_vars = []
    for node in nodes:
        for i in node.inputs:
            if isinstance(i, SharedVariable) and i not in names:
                shared_vars.append(i)
                names[i] = f"s{len(shared_vars) - 1}"
    for out in list(outputs) + [u for _, u in updates]:
        if isinstance(out, SharedVariable) and out not in names:
            shared_vars.append(out)
            names[out] = f"s{len(shared_vars) - 1}"
    for k, s in enumerate(shared_vars):
        env[f"S{k}"] = s.container
        lines.append(f"    s{k} = S{k}[0]")

    n_const = itertools.count()

    def name_of(v: Variable) -> str:
        n = names.get(v)
        if n is None:
            if isinstance(v, Constant):
                n = f"c{next(n_const)}"
                env[n] = v.data
                names[v] = n
            else:
                raise RuntimeError(f"the linker met {v!r}, computed by no scheduled node")
        return n

    # Last use of each variable, to release intermediates early.
    last_use: dict[Variable, int] = {}
    for pos, node in enumerate(nodes):
        for i in node.inputs:
            last_use[i] = pos
    keep = set(outputs) | {u for _, u in updates}

    # Variables whose memory may end up in an output or a shared variable may not live
    # in buffers that the next call reuses.
    escapes = escaping(list(outputs) + [u for _, u in updates])

    # Kernels: the backend, and which kernel outputs may overwrite the shared variable
    # they update (their readers are all scheduled before).
    report = KernelReport()
    use_kernels = resolve_backend(kernels) != "numpy"
    destroy = {}
    if use_kernels:
        destroy = shared_update_targets(nodes, outputs, updates, {n for n in nodes if has_kernel(n)})

    counter = itertools.count()
    buffered = False
    for pos, node in enumerate(nodes):
        args = ", ".join(name_of(i) for i in node.inputs)
        outs = []
        for o in node.outputs:
            n = f"t{next(counter)}"
            names[o] = n
            outs.append(n)
        thunk = None
        if use_kernels and has_kernel(node):
            thunk = kernel_thunk(node, KernelContext(report, destroy.get(node, {})))
        if thunk is None:  # no kernel: the op's own thunk, buffered where nothing escapes
            make_buffered = node.op.make_buffered_thunk
            if make_buffered is not None and not any(id(o) in escapes for o in node.outputs):
                thunk = make_buffered(node)
                buffered = True
            else:
                thunk = node.op.make_thunk(node)
        if thunk_wrapper is not None:
            thunk = thunk_wrapper(node, thunk)
        env[f"k{pos}"] = thunk
        line = f"    {', '.join(outs)} = k{pos}({args})"
        lines.append(line)
        line_to_node[len(lines) + 1] = node  # +1 for the header line
        dead = [name_of(i) for i in dict.fromkeys(node.inputs)
                if last_use.get(i) == pos and i not in keep and i.owner is not None]
        dead += [names[o] for o in node.outputs if o not in last_use and o not in keep]
        # After the last node the function returns: its locals die without a del.
        if dead and pos < len(nodes) - 1:
            lines.append(f"    del {', '.join(dead)}")

    # Outputs: a fresh array per call; copy what aliases an input, a constant or a
    # shared value (the caller could otherwise modify those through it).
    update_values = {id(u) for _, u in updates}
    ret = []
    for o in outputs:
        n = name_of(o)
        if aliases_given_memory(o) or id(o) in update_values:
            ret.append(f"asarray({n}).copy()")
        else:
            ret.append(f"asarray({n})")
    for k, (s, u) in enumerate(updates):
        n = name_of(u)
        value = f"asarray({n}).copy()" if aliases_given_memory(u) else f"asarray({n})"
        env[f"U{k}"] = s.container
        lines.append(f"    U{k}[0] = {value}")
    lines.append(f"    return {ret[0]}" if single_output else f"    return [{', '.join(ret)}]")

    if buffered:
        # Buffers kept between calls are shared by every caller: two threads in the same
        # function at once would write into each other's intermediates. Calls are
        # serialized instead (an uncontended lock costs ~0.1 us; BLAS inside each call
        # still uses its own threads).
        env["_lock"] = threading.Lock()
        lines = ["    with _lock:"] + ["    " + line for line in lines]
        line_to_node = {k + 1: n for k, n in line_to_node.items()}
    filename = f"<nnthe-compiled-{next(_counter)}:{name}>"
    source = header + "\n" + "\n".join(lines) + "\n"
    code = compile(source, filename, "exec")
    exec(code, env)
    return LinkedProgram(env[name], source, line_to_node, names, filename, list(nodes), report)
