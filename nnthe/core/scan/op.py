"""The Scan op: a loop whose body is a compiled inner graph.

The op is deliberately narrow; :func:`nnthe.core.scan.builder.scan` turns Theano's rich
signature (taps on sequences, ``outputs_info``, implicit shared variables, random
streams, ``go_backwards``) into this normal form:

outer inputs
    ``[n_steps, *sequences, *initial_states, *non_sequences]``. ``n_steps`` is an int64
    scalar: the number of steps asked for, or -1 for "as many as the shortest
    sequence". Each sequence is iterated along its first axis (a sequence tap is a
    separate, shifted slice of the user's sequence). Each initial state has a leading
    axis of length ``L = -min(taps)``: the ``L`` values before step 0.
inner inputs
    ``[*sequence_items, *state_taps, *non_sequences]``: one item of each sequence; for
    each state, its value at ``t + tap`` for every tap (oldest first); the non-sequences.
inner outputs
    ``[*new_states, *per_step_outputs]``.
outer outputs
    ``[*state_histories, *per_step_histories]``: arrays of ``n_steps`` rows; a state
    marked ``last_only`` gives only its final value, as one row (its history is never
    stored, which is what gradient accumulators and random states need).

The inner graph is compiled with :func:`~nnthe.core.compile.function.function` (rewrites,
in-place, buffers) when the outer function is linked, and the loop itself is generated
Python source: one call of the inner function per step plus the indexing of its
arguments and the copies of its results into the history buffers.
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from ..compile.function import function
from ..graph import Apply, Constant, Op, Variable, format_site
from ..ops.elemwise import minimum, switch
from ..types import TensorType, fmt_shape
from ..variable import as_tensor_variable
from .grad import scan_L_op

_ids = itertools.count()


class ScanError(ValueError):
    """A scan failed at run time (lengths that disagree, a step that raised)."""

    names_its_node = True


class Scan(Op):
    """A loop over an inner graph (see the module docstring for the normal form).

    Parameters
    ----------
    inner_inputs, inner_outputs : lists of Variables
        The step function's graph; the inputs are root variables.
    n_seqs : int
        Number of sequences.
    state_taps : tuple of tuples of negative ints
        The taps of each recurrent state, sorted.
    n_nit : int
        Number of per-step outputs that are not fed back.
    last_only : tuple of bool
        Per state: keep only the final value instead of the history.
    truncate_gradient : int
        Steps of back-propagation through time (-1: all).
    strict : bool
        Sequences must all have the same length.
    mode : Mode or str or None
        The compilation mode of the inner function.
    name : str
        For error messages.
    site : (file, line)
        Where the user called ``scan``.
    """

    def __init__(self, inner_inputs: Sequence[Variable], inner_outputs: Sequence[Variable],
                 n_seqs: int, state_taps: Sequence[Sequence[int]], n_nit: int,
                 last_only: Sequence[bool] | None = None, truncate_gradient: int = -1,
                 strict: bool = False, mode: Any = None, name: str | None = None,
                 site: Any = None) -> None:
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)
        self.n_seqs = int(n_seqs)
        self.state_taps = tuple(tuple(sorted(int(k) for k in taps)) for taps in state_taps)
        self.n_states = len(self.state_taps)
        self.n_nit = int(n_nit)
        self.last_only = tuple(bool(b) for b in (last_only or (False,) * self.n_states))
        self.truncate_gradient = int(truncate_gradient)
        self.strict = bool(strict)
        self.mode = mode
        self.name = name or f"scan{next(_ids)}"
        self.site = site
        #: Shared variables whose new values this loop returns as ``updates`` (set by the
        #: builder; ``function`` warns when they are not passed).
        self.returned_updates: tuple = ()
        self._compiled: Any = None
        n_taps = sum(len(t) for t in self.state_taps)
        self.n_nonseqs = len(self.inner_inputs) - self.n_seqs - n_taps
        if self.n_nonseqs < 0 or len(self.inner_outputs) != self.n_states + self.n_nit:
            raise ValueError(f"{self.name}: the inner graph does not match the loop's structure")
        for taps in self.state_taps:
            if not taps or taps[-1] >= 0:
                raise ValueError(f"{self.name}: state taps must be negative, got {taps}")

    # An inner graph has no useful value equality: two scans are the same op only if
    # they are the same object (so merging never confuses two loops).
    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        return f"Scan{{{self.name}}}"

    __repr__ = __str__

    # -- structure -------------------------------------------------------------------
    def lags(self) -> list[int]:
        """``L = -min(taps)`` of each state: the rows of its initial value."""
        return [-taps[0] for taps in self.state_taps]

    def split_outer(self, inputs: Sequence[Variable]) -> tuple[Variable, list, list, list]:
        s, m = self.n_seqs, self.n_states
        return inputs[0], list(inputs[1:1 + s]), list(inputs[1 + s:1 + s + m]), list(inputs[1 + s + m:])

    def inner_groups(self) -> tuple[list, list[list], list]:
        """Inner inputs split into (sequence items, taps of each state, non-sequences)."""
        ins = self.inner_inputs
        seqs = ins[:self.n_seqs]
        pos = self.n_seqs
        taps = []
        for t in self.state_taps:
            taps.append(ins[pos:pos + len(t)])
            pos += len(t)
        return seqs, taps, ins[pos:]

    def clone_with(self, **changes: Any) -> "Scan":
        kw = dict(inner_inputs=self.inner_inputs, inner_outputs=self.inner_outputs,
                  n_seqs=self.n_seqs, state_taps=self.state_taps, n_nit=self.n_nit,
                  last_only=self.last_only, truncate_gradient=self.truncate_gradient,
                  strict=self.strict, mode=self.mode, name=self.name, site=self.site)
        kw.update(changes)
        return Scan(**kw)

    # -- graph -----------------------------------------------------------------------
    def make_node(self, n_steps: Any, *outer: Any) -> Apply:
        n_steps = as_tensor_variable(n_steps)
        if n_steps.type.ndim != 0 or not n_steps.type.dtype.startswith(("int", "uint")):
            raise TypeError(f"{self.name}: n_steps must be an integer scalar, got {n_steps.type}")
        outer = [as_tensor_variable(x) for x in outer]
        expected = self.n_seqs + self.n_states + self.n_nonseqs
        if len(outer) != expected:
            raise TypeError(f"{self.name}: expected {expected} outer inputs, got {len(outer)}")
        _, seqs, inits, nonseqs = self.split_outer([n_steps] + outer)
        i_seqs, i_taps, i_nons = self.inner_groups()
        for k, (x, i) in enumerate(zip(seqs, i_seqs)):
            if x.type.dtype != i.type.dtype or x.type.ndim != i.type.ndim + 1:
                raise TypeError(f"{self.name}: sequence {k} has type {x.type}, the step "
                                f"function takes items of type {i.type}")
        for k, (x, taps) in enumerate(zip(inits, i_taps)):
            i = taps[0]
            if x.type.dtype != i.type.dtype or x.type.ndim != i.type.ndim + 1:
                raise TypeError(f"{self.name}: the initial value of state {k} has type "
                                f"{x.type}, expected {i.type.dtype} with {i.type.ndim + 1} dimensions")
        for k, (x, i) in enumerate(zip(nonseqs, i_nons)):
            if x.type.dtype != i.type.dtype or x.type.ndim != i.type.ndim:
                raise TypeError(f"{self.name}: non-sequence {k} has type {x.type}, the step "
                                f"function takes {i.type}")
        n_static = self._static_steps(n_steps, seqs)
        out_types = []
        for k, o in enumerate(self.inner_outputs[:self.n_states]):
            rows = 1 if self.last_only[k] else n_static
            out_types.append(TensorType(o.type.dtype, (rows,) + tuple(o.type.shape)))
        for o in self.inner_outputs[self.n_states:]:
            out_types.append(TensorType(o.type.dtype, (n_static,) + tuple(o.type.shape)))
        return Apply(self, [n_steps] + outer, out_types)

    @staticmethod
    def _static_steps(n_steps: Variable, seqs: list) -> int | None:
        lens = [s.type.shape[0] for s in seqs]
        asked = int(n_steps.data) if isinstance(n_steps, Constant) else None
        if asked is not None and asked >= 0:
            return asked
        if asked == -1 and lens and None not in lens:
            return min(lens)
        return None

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        # Conservative: every output may depend on every input except n_steps.
        return [[False] * len(node.outputs)] + [[True] * len(node.outputs)
                                                for _ in node.inputs[1:]]

    def L_op(self, node, inputs, outputs, output_grads):
        return scan_L_op(self, node, inputs, outputs, output_grads)

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        n_steps = node.inputs[0]
        seq_lens = [shp[0] for shp in input_shapes[1:1 + self.n_seqs]]
        if seq_lens:
            n = seq_lens[0]
            for other in seq_lens[1:]:
                n = minimum(n, other)
            n = switch(n_steps < 0, n, n_steps)
        else:
            n = n_steps
        out = []
        init_shapes = input_shapes[1 + self.n_seqs:1 + self.n_seqs + self.n_states]
        for k, shp in enumerate(init_shapes):
            out.append((1 if self.last_only[k] else n,) + tuple(shp[1:]))
        for o in node.outputs[self.n_states:]:
            if None in o.type.shape[1:]:
                raise NotImplementedError("Scan.infer_shape: per-step output of unknown shape")
            out.append((n,) + tuple(o.type.shape[1:]))
        return out

    # -- running ---------------------------------------------------------------------
    def compile_inner(self) -> Any:
        """The step function compiled like any function.

        It depends only on this op, so it is compiled once and shared by every outer
        function (and by both variants, checked and ``trust_input``, of one).
        """
        if self._compiled is not None:
            return self._compiled
        fn = function(self.inner_inputs, list(self.inner_outputs), mode=self.mode,
                      on_unused_input="ignore", name=f"{self.name}_step")
        fn.trust_input = True
        self._compiled = fn
        return fn

    def make_thunk(self, node: Apply):
        return _LoopRunner(self, node, self.compile_inner())

    def perform(self, node, *inputs):
        return self.make_thunk(node)(*inputs)


class _LoopRunner:
    """The thunk of a Scan node: checks lengths, allocates the histories and runs the
    generated loop."""

    def __init__(self, op: Scan, node: Apply, fn: Any) -> None:
        self.op, self.node, self.fn = op, node, fn
        self.lags = op.lags()
        self.nit_types = [o.type for o in op.inner_outputs[op.n_states:]]
        self.state_types = [o.type for o in op.inner_outputs[:op.n_states]]
        self.loop = _generate_loop(op, self.lags)

    def describe(self) -> str:
        return f"scan {self.op.name!r} (created at {format_site(self.op.site)})"

    def __call__(self, n_steps, *outer):
        op = self.op
        S, M = op.n_seqs, op.n_states
        seqs, inits, nons = outer[:S], outer[S:S + M], outer[S + M:]
        n_steps = int(n_steps)
        lens = [len(s) for s in seqs]
        if op.strict and len(set(lens)) > 1:
            k = next(i for i, n in enumerate(lens) if n != lens[0])
            raise ScanError(f"{self.describe()}: strict=True but sequence 0 has {lens[0]} steps "
                            f"and sequence {k} has {lens[k]}")
        if n_steps < 0:
            if not lens:
                raise ScanError(f"{self.describe()}: give n_steps or at least one sequence")
            n = min(lens)
        else:
            n = n_steps
            if lens and n > min(lens):
                k = lens.index(min(lens))
                raise ScanError(f"{self.describe()}: n_steps is {n} but sequence {k} has only "
                                f"{lens[k]} steps")
        bufs = []
        for k, (init, L) in enumerate(zip(inits, self.lags)):
            if init.shape[0] < L:
                raise ScanError(f"{self.describe()}: state {k} reads {L} past values (taps "
                                f"{op.state_taps[k]}) but its initial value has {init.shape[0]} rows")
            t = self.state_types[k]
            if not t.shape_matches(init.shape[1:]):
                raise ScanError(f"{self.describe()}: the initial value of state {k} has shape "
                                f"{init.shape[1:]}, the step function returns {fmt_shape(t.shape)}")
            if op.last_only[k]:
                buf = init[:L].copy()
            else:
                buf = np.empty((L + n,) + init.shape[1:], dtype=init.dtype)
                buf[:L] = init[:L]
            bufs.append(buf)
        nits: list = [None] * op.n_nit
        if n == 0:
            for q, t in enumerate(self.nit_types):
                nits[q] = np.zeros((0,) + tuple(s or 0 for s in t.shape), dtype=t.dtype)
        else:
            try:
                self.loop(self.fn._fn, n, seqs, bufs, nons, nits, self._check)
            except _StepFailure as fail:
                self._explain(fail)
        outs = []
        for k, (buf, L) in enumerate(zip(bufs, self.lags)):
            outs.append(buf[-1:] if op.last_only[k] else buf[L:])
        outs.extend(nits)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _check(self, t: int, k: int, value: np.ndarray, expected: tuple) -> None:
        op = self.op
        what = (f"state {k}" if k < op.n_states else f"output {k - op.n_states} (not fed back)")
        out = op.inner_outputs[k]
        raise ScanError(
            f"{self.describe()}: at step {t} the step function's {what} ({out!r}, created at "
            f"{format_site(out.site)}) has shape {value.shape}, but earlier steps gave "
            f"{expected}; a scan output must keep its shape from step to step")

    def _explain(self, fail: "_StepFailure") -> None:
        exc, t, args = fail.exc, fail.step, fail.args_
        if isinstance(exc, ScanError):
            raise exc
        try:
            self.fn.trust_input = False
            self.fn(*args)  # the checked call names the inner node that fails
        except Exception as explained:
            raise type(exc)(f"{explained}\n\n(at step {t} of {self.describe()})") from exc \
                if _reconstructible(exc) else explained
        finally:
            self.fn.trust_input = True
        raise ScanError(f"at step {t} of {self.describe()}: {exc}") from exc


def _reconstructible(exc: Exception) -> bool:
    try:
        type(exc)("x")
        return True
    except Exception:
        return False


class _StepFailure(Exception):
    def __init__(self, exc: Exception, step: int, args: list) -> None:
        super().__init__(str(exc))
        self.exc, self.step, self.args_ = exc, step, args


def _generate_loop(op: Scan, lags: list[int]):
    """Write the loop as Python source: per step, one call of the inner function on
    indexed views, and copies of its results into the preallocated histories."""
    i_seqs, i_taps, _ = op.inner_groups()
    lines = ["def loop(f, n, seqs, bufs, nons, nits, check):"]
    S, M, Q, N = op.n_seqs, op.n_states, op.n_nit, op.n_nonseqs
    for k in range(S):
        lines.append(f"    q{k} = seqs[{k}]")
    # A last-only state of one tap is a local variable: the inner function returns fresh
    # arrays, so the reference is kept instead of copying the value into a buffer.
    held = [op.last_only[m] and lags[m] == 1 for m in range(M)]
    for m in range(M):
        lines.append(f"    B{m} = bufs[{m}]")
        if held[m]:
            lines.append(f"    h{m} = B{m}[0]")
    for k in range(N):
        lines.append(f"    n{k} = nons[{k}]")
    # A 1-d array indexed by an int gives a NumPy scalar, not an array: index with
    # [t, ...] to keep a 0-d array view.
    ell = lambda v: ", ..." if v.type.ndim == 0 else ""  # noqa: E731
    args = [f"q{k}[t{ell(i_seqs[k])}]" for k in range(S)]
    for m in range(M):
        L = lags[m]
        for tap, v in zip(op.state_taps[m], i_taps[m]):
            if held[m]:
                args.append(f"h{m}")
            elif op.last_only[m]:
                args.append(f"B{m}[{L + tap}{ell(v)}]")
            else:
                args.append(f"B{m}[t + {L + tap}{ell(v)}]")
    args += [f"n{k}" for k in range(N)]
    outs = [f"o{k}" for k in range(M + Q)]
    body = [f"args = ({', '.join(args)}{',' if len(args) == 1 else ''})",
            f"{', '.join(outs)}{',' if len(outs) == 1 else ''} = f(*args)"]
    for m in range(M):
        t_out = op.inner_outputs[m].type
        L = lags[m]
        if None in t_out.shape:
            body.append(f"if o{m}.shape != B{m}.shape[1:]: check(t, {m}, o{m}, B{m}.shape[1:])")
        if op.last_only[m]:
            if L == 1:
                body.append(f"h{m} = o{m}")
            else:
                body.append(f"B{m}[:-1] = B{m}[1:]; B{m}[-1] = o{m}")
        else:
            body.append(f"B{m}[t + {L}] = o{m}")
    first = list(body)
    for q in range(Q):
        k = M + q
        first.append(f"Y{q} = nits[{q}] = np.empty((n,) + o{k}.shape, dtype=o{k}.dtype)")
        first.append(f"Y{q}[0] = o{k}")
        if None in op.inner_outputs[k].type.shape:
            body.append(f"if o{k}.shape != Y{q}.shape[1:]: check(t, {k}, o{k}, Y{q}.shape[1:])")
        body.append(f"Y{q}[t] = o{k}")
    lines.append("    t = 0")
    lines.append("    try:")
    lines += ["        " + b for b in first]
    lines.append("        for t in range(1, n):")
    lines += ["            " + b for b in body]
    for m in range(M):
        if held[m]:
            lines.append(f"        bufs[{m}] = h{m}[None]")
    lines.append("    except Exception as exc:")
    lines.append("        raise _StepFailure(exc, t, list(args) if 'args' in locals() else []) from exc")
    env = {"np": np, "_StepFailure": _StepFailure}
    src = "\n".join(lines) + "\n"
    exec(compile(src, f"<nnthe-scan-loop:{op.name}>", "exec"), env)
    loop = env["loop"]
    loop.source = src
    return loop
