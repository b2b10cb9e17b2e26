"""``scan`` with Theano's signature, and ``map``, ``reduce``, ``foldl``, ``foldr``.

The builder calls the user's step function once on symbolic placeholders, then brings
the resulting graph to the normal form of :class:`~nnthe.core.scan.op.Scan`:

- each tap of a sequence becomes its own shifted slice of the sequence;
- every variable the step graph reads that does not change from step to step (explicit
  non-sequences, shared variables, any outer expression used inside ``fn``) becomes a
  non-sequence input, so loop-invariant work is computed once, outside the loop;
- shared variables updated by ``fn`` (its returned updates, and the states of random
  streams drawn inside it) become states carried from step to step; their final values
  are returned in ``updates``. A random state's ``default_update`` is set to its final
  value too, so a function compiled without the updates still advances the stream.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Callable

from ..graph import Constant, Variable, _creation_site, clone_graph, format_site, toposort
from ..shared import SharedVariable, check_update, creation_observers
from ..types import TensorType, fmt_shape
from ..variable import TensorVariable, as_tensor_variable, constant, is_weak, retype_weak
from .op import Scan


class ScanTypeError(TypeError):
    """The step function's output does not match its state (dtype or rank)."""


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _parse_sequences(sequences: Any) -> list[tuple[TensorVariable, list[int]]]:
    out = []
    for k, s in enumerate(_as_list(sequences)):
        if isinstance(s, dict):
            unknown = set(s) - {"input", "taps"}
            if unknown or "input" not in s:
                raise TypeError(f"scan: sequence {k} must be a tensor or dict(input=..., "
                                f"taps=[...]), got keys {sorted(s)}")
            taps = list(s.get("taps", [0]) or [0])
            x = s["input"]
        else:
            x, taps = s, [0]
        x = as_tensor_variable(x)
        if x.type.ndim < 1:
            raise TypeError(f"scan: sequence {k} ({x!r}) is a scalar; a sequence is iterated "
                            "along its first axis")
        if any(not isinstance(t, int) for t in taps):
            raise TypeError(f"scan: the taps of sequence {k} must be ints, got {taps}")
        out.append((x, taps))
    return out


def _parse_outputs_info(outputs_info: Any) -> list[tuple[TensorVariable, list[int]] | None]:
    out: list = []
    for k, o in enumerate(_as_list(outputs_info)):
        if o is None:
            out.append(None)
            continue
        if isinstance(o, dict):
            unknown = set(o) - {"initial", "taps"}
            if unknown:
                raise TypeError(f"scan: outputs_info[{k}] has unknown keys {sorted(unknown)}; "
                                "expected 'initial' and 'taps'")
            if o.get("initial") is None:
                out.append(None)
                continue
            taps = list(o.get("taps", [-1]))
            init = as_tensor_variable(o["initial"])
        else:
            taps, init = [-1], as_tensor_variable(o)
        if not taps or any(not isinstance(t, int) or t >= 0 for t in taps):
            raise ValueError(f"scan: the taps of outputs_info[{k}] must be negative ints "
                             f"(past values), got {taps}")
        out.append((init, sorted(taps)))
    return out


def _split_return(ret: Any) -> tuple[list, dict]:
    """The step function may return outputs, an updates dict, or both (either order)."""
    if isinstance(ret, dict):
        return [], dict(ret)
    if isinstance(ret, tuple) and len(ret) == 2 and (isinstance(ret[0], dict) or isinstance(ret[1], dict)):
        a, b = ret
        outs, upd = (b, a) if isinstance(a, dict) else (a, b)
        return _as_list(outs), dict(upd)
    return _as_list(ret), {}


def _ph(t: TensorType, name: str) -> TensorVariable:
    return TensorVariable(t, name=name)


def scan(fn: Callable[..., Any], sequences: Any = None, outputs_info: Any = None,
         non_sequences: Any = None, n_steps: Any = None, truncate_gradient: int = -1,
         go_backwards: bool = False, mode: Any = None, name: str | None = None,
         strict: bool = False, return_list: bool = False) -> tuple[Any, OrderedDict]:
    """Repeat ``fn`` over sequences and recurrent states (Theano's ``scan``).

    Parameters
    ----------
    fn : callable
        Called once, symbolically, with (in this order) one item per tap of every
        sequence, the past values of every output with an initial value (one per tap),
        and the non-sequences. Returns the step's outputs, optionally with a dict of
        shared-variable updates (``return outs, updates``).
    sequences : tensor, dict(input=x, taps=[...]) or list of those
        Iterated along the first axis; tap ``k`` gives ``x[t + k]``.
    outputs_info : list of (tensor, dict(initial=x, taps=[...]) or None)
        One entry per output of ``fn``: the initial value of a recurrent output (tap
        -1 by default; with taps ``[-2, -1]`` the initial value holds the two values
        before step 0), or None for an output that is not fed back.
    non_sequences : list of tensors
        Passed to every step unchanged. Shared variables and outer expressions used
        inside ``fn`` are found without being listed.
    n_steps : int or integer scalar, optional
        Number of steps; by default the length of the shortest sequence.
    truncate_gradient : int
        Back-propagate through the last ``truncate_gradient`` steps only (-1: all).
    go_backwards : bool
        Iterate the sequences from the end; outputs are in iteration order.
    mode : str or Mode, optional
        How to compile the step function (default: the outer function's default).
    name : str, optional
        For error messages and profiles.
    strict : bool
        Sequences must have equal lengths (checked at run time), and every shared
        variable ``fn`` reads must be listed in ``non_sequences``.
    return_list : bool
        Return a list even for a single output.

    Returns
    -------
    outputs : Variable or list of Variables
        The history of each output, ``n_steps`` rows (without the initial values).
    updates : OrderedDict
        Shared variables updated inside ``fn`` (including random streams) and their
        values after the last step: pass it to ``nnthe.function(..., updates=updates)``.

    Examples
    --------
    >>> k = T.iscalar('k'); A = T.vector('A')
    >>> result, updates = nnthe.scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A),
    ...                              non_sequences=A, n_steps=k)
    >>> power = nnthe.function([A, k], result[-1], updates=updates)
    """
    site = _creation_site()
    label = f"scan {name!r}" if name else "scan"
    if truncate_gradient is None:
        truncate_gradient = -1
    if not isinstance(truncate_gradient, int) or (truncate_gradient < 1 and truncate_gradient != -1):
        raise ValueError(f"{label}: truncate_gradient must be -1 or a positive int, got {truncate_gradient!r}")
    seqs = _parse_sequences(sequences)
    infos = _parse_outputs_info(outputs_info)
    given_info = outputs_info is not None
    nonseqs = [v if isinstance(v, Variable) else as_tensor_variable(v) for v in _as_list(non_sequences)]
    if n_steps is None and not seqs:
        raise ValueError(f"{label}: give sequences or n_steps (the number of steps is unknown)")
    if n_steps is not None:
        n_steps_v = as_tensor_variable(n_steps)
        if n_steps_v.type.ndim != 0 or not n_steps_v.type.dtype.startswith(("int", "uint")):
            raise TypeError(f"{label}: n_steps must be an integer scalar, got {n_steps_v!r} "
                            f"({n_steps_v.type})")
        if isinstance(n_steps_v, Constant) and int(n_steps_v.data) < 0:
            raise ValueError(f"{label}: n_steps must be >= 0, got {int(n_steps_v.data)}")
        n_steps_v = n_steps_v if n_steps_v.type.dtype == "int64" else n_steps_v.astype("int64")
    else:
        n_steps_v = constant(-1, dtype="int64")

    # Sequence slices, one per tap.
    outer_seqs, seq_phs = [], []
    for k, (x, taps) in enumerate(seqs):
        if go_backwards:
            x = x[::-1]
        lo, hi = min(min(taps), 0), max(max(taps), 0)
        for tap in taps:
            start, stop = tap - lo, (tap - hi) if tap - hi < 0 else None
            outer_seqs.append(x[start:stop] if (start or stop is not None) else x)
            seq_phs.append(_ph(TensorType(x.type.dtype, x.type.shape[1:]),
                               f"{x.name or f'seq{k}'}[t{tap:+d}]" if tap else f"{x.name or f'seq{k}'}[t]"))

    for attempt in range(2):
        # Initial states and their tap placeholders.
        state_inits, state_phs, state_taps = [], [], []
        for k, info in enumerate(infos):
            if info is None:
                continue
            init, taps = info
            L = -taps[0]
            if taps == [-1]:
                # Theano: a single-tap state's initial value has the output's shape.
                init_rows = init[None]
                item = init.type
            else:
                if init.type.ndim < 1:
                    raise TypeError(f"{label}: outputs_info[{k}] has taps {taps}, so its initial "
                                    f"value needs a leading axis of {L} rows; got a scalar")
                if init.type.shape[0] is not None and init.type.shape[0] < L:
                    raise ValueError(f"{label}: outputs_info[{k}] has taps {taps} but its initial "
                                     f"value has only {init.type.shape[0]} rows (needs {L})")
                init_rows = init[:L]
                item = TensorType(init.type.dtype, init.type.shape[1:])
            state_inits.append(init_rows)
            state_taps.append(taps)
            state_phs.append([_ph(item, f"out{k}[t{tap:+d}]") for tap in taps])

        new_shared: list = []
        creation_observers.append(new_shared)
        # With a weak initial value (outputs_info=0.) the first call may upcast a
        # placeholder of the wrong dtype: hold its warnings until we know it is kept.
        guessing = attempt == 0 and any(i is not None and is_weak(i[0]) for i in infos)
        try:
            if guessing:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    ret = fn(*seq_phs, *[p for phs in state_phs for p in phs], *nonseqs)
            else:
                caught = None
                ret = fn(*seq_phs, *[p for phs in state_phs for p in phs], *nonseqs)
        finally:
            creation_observers.remove(new_shared)
        outs, fn_updates = _split_return(ret)
        outs = [as_tensor_variable(o) for o in outs]
        if not given_info:
            infos = [None] * len(outs)
        if len(outs) != len(infos):
            raise ValueError(f"{label}: the step function returned {len(outs)} output(s) but "
                             f"outputs_info has {len(infos)} entries (use None for outputs that "
                             "are not fed back)")
        # A weak initial value (outputs_info=0.) takes the dtype of its output: rebuild once.
        retry = False
        for k, (o, info) in enumerate(zip(outs, infos)):
            if info is not None and is_weak(info[0]) and info[0].type.dtype != o.type.dtype:
                infos[k] = (retype_weak(info[0], o.type.dtype), info[1])
                retry = True
        if not retry:
            for w in caught or ():
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            break

    # Type-check the step against the states.
    states_out, nit_out = [], []
    si = 0
    for k, (o, info) in enumerate(zip(outs, infos)):
        where = f"output {k} of the step function ({o!r}, created at {format_site(o.site)})"
        if info is None:
            nit_out.append(o)
            continue
        expect = state_phs[si][0].type
        si += 1
        if o.type.dtype != expect.dtype:
            raise ScanTypeError(
                f"{label}: {where} has dtype {o.type.dtype}, but its initial value "
                f"(outputs_info[{k}]) has dtype {expect.dtype}; a state keeps one dtype from "
                f"step to step. Cast one of them (T.cast(..., '{expect.dtype}'))")
        if o.type.ndim != expect.ndim:
            raise ScanTypeError(
                f"{label}: {where} has {o.type.ndim} dimensions {fmt_shape(o.type.shape)}, but "
                f"its initial value (outputs_info[{k}]) gives {expect.ndim} {fmt_shape(expect.shape)}")
        for a, b in zip(o.type.shape, expect.shape):
            if a is not None and b is not None and a != b:
                raise ValueError(f"{label}: {where} has shape {fmt_shape(o.type.shape)}, but its "
                                 f"initial value (outputs_info[{k}]) has {fmt_shape(expect.shape)}; "
                                 "a state keeps its shape from step to step")
        states_out.append(o)

    # Shared variables carried from step to step: fn's updates and random states drawn in fn.
    carried: "OrderedDict[SharedVariable, Variable]" = OrderedDict()
    for s, u in fn_updates.items():
        carried[s] = check_update(s, u)
    for s in new_shared:
        if s.default_update is not None and s not in carried:
            carried[s] = s.default_update
    carried_phs = {s: _ph(s.type, f"{s.name or 'shared'}[t-1]") for s in carried}

    # Loop-invariant inputs of the step graph: read by a node that varies, or returned.
    varying = {id(p) for p in seq_phs} | {id(p) for phs in state_phs for p in phs} | {id(s) for s in carried}
    targets = outs + list(carried.values())
    blockers = seq_phs + [p for phs in state_phs for p in phs] + list(carried)
    free: list = []
    free_ids: set = set()

    def add_free(v: Variable) -> None:
        if id(v) not in free_ids and id(v) not in varying and not isinstance(v, Constant):
            free_ids.add(id(v))
            free.append(v)

    for v in nonseqs:
        add_free(v)  # explicit non-sequences first, in the user's order
    for node in toposort(targets, blockers=blockers):
        if any(id(i) in varying for i in node.inputs):
            for o in node.outputs:
                varying.add(id(o))
    for node in toposort(targets, blockers=blockers):
        if any(id(o) in varying for o in node.outputs):
            for i in node.inputs:
                add_free(i)
    for o in targets:
        add_free(o)
    if strict:
        listed = {id(v) for v in nonseqs}
        hidden = [v for v in free if isinstance(v, SharedVariable) and id(v) not in listed
                  and v not in carried]
        if hidden:
            raise ValueError(f"{label}: strict=True, but the step function reads the shared "
                             f"variable(s) {hidden} without them in non_sequences")
    free_phs = [_ph(v.type, v.name or f"nonseq{k}") for k, v in enumerate(free)]

    replace = dict(zip(free, free_phs))
    replace.update(carried_phs)
    for p in blockers[:len(seq_phs) + sum(len(p) for p in state_phs)]:
        replace[p] = p
    inner_outs, _ = clone_graph(states_out + list(carried.values()) + nit_out, replace)

    # Carried shared states go after the user's states, as single-tap states kept last-only.
    all_state_phs = [p for phs in state_phs for p in phs] + [carried_phs[s] for s in carried]
    inner_inputs = seq_phs + all_state_phs + free_phs
    taps_all = [tuple(t) for t in state_taps] + [(-1,)] * len(carried)
    last_only = (False,) * len(state_taps) + (True,) * len(carried)
    op = Scan(inner_inputs, inner_outs, n_seqs=len(seq_phs), state_taps=taps_all,
              n_nit=len(nit_out), last_only=last_only, truncate_gradient=truncate_gradient,
              strict=strict, mode=mode, name=name, site=site)
    # Random states advance through their default update; the others must be passed.
    op.returned_updates = tuple(s for s in carried if s not in new_shared)
    res = op(n_steps_v, *outer_seqs, *state_inits, *[s[None] for s in carried], *free)
    res = list(res) if isinstance(res, (list, tuple)) else [res]
    n_states = len(state_taps)
    states_res = res[:n_states]
    shared_res = res[n_states:n_states + len(carried)]
    nit_res = res[n_states + len(carried):]

    updates: "OrderedDict[SharedVariable, Variable]" = OrderedDict()
    for s, r in zip(carried, shared_res):
        final = r[0]
        updates[s] = final
        if s in new_shared and s.default_update is not None:
            s.default_update = final
    results, si, qi = [], 0, 0
    for info in infos:
        if info is None:
            results.append(nit_res[qi]); qi += 1
        else:
            results.append(states_res[si]); si += 1
    for k, r in enumerate(results):
        if name:
            r.name = f"{name}[{k}]" if len(results) > 1 else name
    if len(results) == 1 and not return_list:
        return results[0], updates
    return results, updates


def map(fn: Callable[..., Any], sequences: Any, non_sequences: Any = None,
        truncate_gradient: int = -1, go_backwards: bool = False, mode: Any = None,
        name: str | None = None) -> tuple[Any, OrderedDict]:
    """Apply ``fn`` to every item of the sequences (a scan without recurrent outputs).

    Examples
    --------
    >>> squares, _ = nnthe.map(lambda v: v ** 2, T.vector('v'))
    """
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name)


def reduce(fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None,
           go_backwards: bool = False, mode: Any = None, name: str | None = None) -> tuple[Any, OrderedDict]:
    """Like :func:`scan`, but return only the last step of each output.

    Examples
    --------
    >>> total, _ = nnthe.reduce(lambda v, acc: acc + v, T.vector('v'), T.constant(0.))
    """
    outs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info,
                         non_sequences=non_sequences, go_backwards=go_backwards, mode=mode,
                         name=name, return_list=True)
    last = [o[-1] for o in outs]
    return (last[0] if len(last) == 1 else last), updates


def foldl(fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None,
          mode: Any = None, name: str | None = None) -> tuple[Any, OrderedDict]:
    """:func:`reduce` from the first item to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, mode=mode, name=name)


def foldr(fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None,
          mode: Any = None, name: str | None = None) -> tuple[Any, OrderedDict]:
    """:func:`reduce` from the last item to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, mode=mode, name=name)
