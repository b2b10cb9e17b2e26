"""``nnthe.function``: compile inputs -> outputs (+ updates of shared variables) into a
Python callable.

The pipeline: check the arguments, collect updates (explicit and default), clone the
graph applying ``givens``, check that every input is used and every needed input
given, rewrite (see :mod:`nnthe.core.rewrite`), schedule, and link into straight-line
code (:mod:`nnthe.core.compile.linker`).
"""
from __future__ import annotations

import gc
import time
import warnings
from typing import Any, Callable, Sequence

from ..fgraph import FunctionGraph
from ..graph import DERIVED_FROM, Apply, Constant, Variable, ancestors, clone_graph, format_site
from ..hints import did_you_mean
from ..shared import SharedVariable, check_update
from ..types import TensorType
from ..variable import TensorVariable, as_tensor_variable, retype_weak
from .io import _NO_VALUE, In, Out
from .linker import LinkedProgram, link
from .malloc import tune_malloc
from .mode import CheckFailed, get_mode
from .profiling import ProfileStats


class UnusedInputError(ValueError):
    """An input of ``function`` is not needed to compute any output or update."""


class MissingInputError(ValueError):
    """An output depends on a symbolic input that was not given to ``function``."""


def _normalize_updates(updates: Any) -> list[tuple[SharedVariable, TensorVariable]]:
    if updates is None:
        return []
    if isinstance(updates, dict):
        pairs = list(updates.items())
    else:
        try:
            pairs = [tuple(p) for p in updates]
        except TypeError:
            raise TypeError(f"updates must be a dict, an OrderedDict or a list of (shared, "
                            f"new value) pairs, got {type(updates).__name__}") from None
        for p in pairs:
            if len(p) != 2:
                raise TypeError(f"each update must be a (shared variable, new value) pair, got {p!r}")
    seen: set[int] = set()
    out = []
    for var, value in pairs:
        upd = check_update(var, value)
        if id(var) in seen:
            raise ValueError(f"the shared variable {var!r} is updated twice in updates")
        seen.add(id(var))
        out.append((var, upd))
    return out


def _normalize_givens(givens: Any) -> dict[Variable, Variable]:
    if givens is None:
        return {}
    pairs = list(givens.items()) if isinstance(givens, dict) else [tuple(p) for p in givens]
    out: dict[Variable, Variable] = {}
    for old, new in pairs:
        if not isinstance(old, Variable):
            raise TypeError(f"givens keys must be symbolic variables, got {old!r}")
        new_v = as_tensor_variable(new)
        if isinstance(old.type, TensorType):
            if new_v.type.dtype != old.type.dtype and not (isinstance(new_v, Constant) and new_v.weak):
                raise TypeError(f"givens: {old!r} has dtype {old.type.dtype} but its replacement "
                                f"{new_v!r} has dtype {new_v.type.dtype}")
            if new_v.type.ndim != old.type.ndim:
                raise TypeError(f"givens: {old!r} has {old.type.ndim} dimensions but its replacement "
                                f"{new_v!r} has {new_v.type.ndim}")
            if isinstance(new_v, Constant) and new_v.weak and new_v.type.dtype != old.type.dtype:
                new_v = retype_weak(new_v, old.type.dtype)
        out[old] = new_v
    return out


class Function:
    """A compiled function. Call it with NumPy arrays (or numbers) for its inputs.

    Attributes
    ----------
    inputs, outputs : lists of Variables
        As given to ``nnthe.function`` (outputs after rewriting are in ``fgraph``).
    updates : list of (SharedVariable, Variable)
        All updates, explicit and default.
    trust_input : bool
        Skip input checking and conversion (for hot loops that pass exact arrays).
    source : str
        The generated Python code.
    """

    def __init__(self, inputs, outputs, updates, program: LinkedProgram,
                 link_unchecked: Callable[[], LinkedProgram], single_output: bool, name: str | None,
                 fgraph: Any, profile: Any = None) -> None:
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.updates = list(updates)
        self.name = name
        self.fgraph = fgraph
        self.profile = profile
        self._program = program
        self._checked = program.fn
        # The variant without input checks is generated on first use of trust_input.
        self._link_unchecked = link_unchecked
        self._fast_program: LinkedProgram | None = None
        self._single = single_output
        self._fn = program.fn
        self._trust_input = False
        self.input_names: list[str | None] = [v.name for v in self.inputs]
        self.defaults: list[Any] = [_UNSET] * len(self.inputs)
        self._has_defaults = False
        self._compile_args: dict[str, Any] = {}

    @property
    def trust_input(self) -> bool:
        return self._trust_input

    @trust_input.setter
    def trust_input(self, value: bool) -> None:
        self._trust_input = bool(value)
        if value and self._fast_program is None:
            self._fast_program = self._link_unchecked()
        self._fn = self._fast_program.fn if value else self._checked

    @property
    def source(self) -> str:
        return self._program.source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            args = self._bind(args, kwargs)
        try:
            return self._fn(*args)
        except Exception as exc:
            # A positional call that leaves out inputs with defaults (In(value=)) fails
            # at the generated function's own signature; bind and call again. Doing it
            # here keeps the exact positional call as cheap as without defaults.
            if len(args) != len(self.inputs) and self._has_defaults \
                    and exc.__traceback__ is not None and exc.__traceback__.tb_next is None:
                return self(*self._bind(args, {}))
            new = self._explain(exc, args)
            if new is exc:
                raise
            raise new from exc

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        """Positional arguments, keywords (by input name) and defaults (``In(value=)``)
        as one positional tuple, or a TypeError naming what is wrong."""
        n = len(self.inputs)
        if len(args) > n:
            raise TypeError(f"{self._label()} takes {n} input(s), got {len(args)}")
        values = list(args) + [_UNSET] * (n - len(args))
        for key, value in kwargs.items():
            positions = [k for k, name in enumerate(self.input_names) if name == key]
            if not positions:
                known = [nm for nm in self.input_names if nm]
                raise TypeError(f"{self._label()} got an unexpected keyword argument {key!r}"
                                f"{did_you_mean(key, known)} (inputs by name: {', '.join(known)})")
            if len(positions) > 1:
                raise TypeError(f"{self._label()}: the keyword {key!r} is ambiguous: inputs "
                                f"{positions} have that name")
            k = positions[0]
            if values[k] is not _UNSET:
                raise TypeError(f"{self._label()} got multiple values for input {k} ({key!r})")
            values[k] = value
        for k, v in enumerate(values):
            if v is _UNSET:
                if self.defaults[k] is _UNSET:
                    raise TypeError(f"{self._label()}: missing input {k} "
                                    f"({self.input_names[k] or self.inputs[k]!r})")
                values[k] = self.defaults[k]
        return tuple(values)

    @property
    def maker(self) -> "FunctionMaker":
        """Theano's ``f.maker``: ``f.maker.fgraph`` is the compiled graph (``.inputs``,
        ``.outputs`` -- outputs then updates -- and ``.toposort()``)."""
        return FunctionMaker(self)

    def copy(self, share_memory: bool = False, swap: dict | None = None,
             delete_updates: bool = False, name: str | None = None) -> "Function":
        """A new compiled function computing the same thing (Theano's ``copy``).

        Parameters
        ----------
        share_memory : bool
            Theano shares intermediate buffers between the copies when True. nnthe's
            buffers belong to one call, so either way the copy is independent; accepted.
        swap : dict, optional
            ``{old shared variable: new shared variable}``: the copy reads and updates
            the new ones instead (the same type is required).
        delete_updates : bool
            The copy applies no updates (explicit or default).
        name : str, optional
            The copy's name (default: the original's).
        """
        args = dict(self._compile_args)
        swap = dict(swap or {})
        for old, new in swap.items():
            if not isinstance(old, SharedVariable) or not isinstance(new, SharedVariable):
                raise TypeError(f"copy: swap maps shared variables to shared variables, got "
                                f"{old!r} -> {new!r}")
            if old.type != new.type:
                raise TypeError(f"copy: cannot swap {old!r} ({old.type}) for {new!r} ({new.type})")
        givens = list(_normalize_givens(args["givens"]).items()) + list(swap.items())
        args["givens"] = givens
        args["updates"] = [] if delete_updates else [(swap.get(s, s), u) for s, u in self.updates]
        args["no_default_updates"] = True  # self.updates already holds the default ones
        # The copy keeps the original's signature even when its updates read an input.
        args["on_unused_input"] = "ignore"
        if name is not None:
            args["name"] = name
        return function(**args)

    def _explain(self, exc: Exception, args: tuple) -> Exception:
        """Rewrite an exception raised during a call so that it names its cause."""
        if isinstance(exc, CheckFailed):
            return exc
        if len(args) != len(self.inputs) and exc.__traceback__ is not None \
                and exc.__traceback__.tb_next is None:
            names = ", ".join(repr(i) for i in self.inputs)
            return TypeError(f"{self._label()} takes {len(self.inputs)} input(s) ({names}), "
                             f"got {len(args)}")
        tb = exc.__traceback__
        program = self._program if self._fn is self._checked else self._fast_program
        frame_info = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == program.filename:
                frame_info = (tb.tb_lineno, tb.tb_frame.f_locals)
            tb = tb.tb_next
        if frame_info is None:
            return exc
        lineno, local_vals = frame_info
        node = program.line_to_node.get(lineno)
        if node is None:
            return exc  # input checking: already names the input
        return _node_error(exc, node, [local_vals.get(program.var_names.get(i, ""), _MISSING)
                                       if not isinstance(i, Constant) else i.data
                                       for i in node.inputs], self._label())

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "the compiled function"

    def __repr__(self) -> str:
        return (f"<nnthe Function {self.name or ''} inputs={self.inputs} "
                f"outputs={self.outputs} updates={len(self.updates)}>")


_MISSING = object()
_UNSET = _NO_VALUE


class FunctionMaker:
    """What Theano's introspection code reads from ``f.maker``: the compiled ``fgraph``,
    the ``inputs`` (as :class:`In`), the ``outputs`` and the ``mode``."""

    def __init__(self, fn: Function) -> None:
        self.fgraph = fn.fgraph
        self.inputs = [In(v, name=nm, **({} if d is _UNSET else {"value": d}))
                       for v, nm, d in zip(fn.inputs, fn.input_names, fn.defaults)]
        self.outputs = list(fn.outputs)
        self.mode = fn._compile_args.get("mode")
        self.function = fn


def describe_value(v: Any) -> str:
    if v is _MISSING:
        return "?"
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return f"{v.dtype}{tuple(v.shape)}"
    return type(v).__name__


def _node_error(exc: Exception, node: Apply, values: list, label: str) -> Exception:
    described = ", ".join(f"{i!r}: {describe_value(v)}" for i, v in zip(node.inputs, values))
    msg = (f"{exc}\n\nThis happened in {label}, while computing {node.op} with inputs "
           f"{described}.\nThe node was created at {format_site(node.site)}")
    try:
        new = type(exc)(msg)
    except Exception:
        new = RuntimeError(msg)
    new.node = node  # type: ignore[attr-defined]
    return new


def function(inputs: Sequence[Variable], outputs: Any = None, updates: Any = None,
             givens: Any = None, mode: Any = None, name: str | None = None,
             allow_input_downcast: bool | None = None, on_unused_input: str = "raise",
             profile: bool = False, no_default_updates: Any = False) -> Function:
    """Compile a function from ``inputs`` to ``outputs``, optionally updating shared
    variables.

    Parameters
    ----------
    inputs : list of Variables
        The symbolic inputs, in call order. Shared variables are implicit inputs and
        must not be listed.
    outputs : Variable, list of Variables, or None
        A single Variable makes the function return one array; a list returns a list.
    updates : dict, OrderedDict or list of (SharedVariable, expression)
        New values of shared variables, written after all outputs are computed (every
        update sees the old values). ``default_update`` of used shared variables is
        applied unless overridden here.
    givens : dict or list of (Variable, replacement)
        Substitutions made in the graph before compiling (e.g. a slice of a shared
        dataset for an input).
    mode : str or Mode, optional
        ``'FAST_RUN'`` (default), ``'FAST_COMPILE'``, ``'DEBUG'``, ``'NANGUARD'`` or a
        :class:`~nnthe.core.compile.mode.Mode`.
    name : str, optional
        A name for error messages and profiles.
    allow_input_downcast : bool, optional
        Accept inputs that lose precision when converted (float64 data for a float32
        input).
    on_unused_input : {'raise', 'warn', 'ignore'}
        What to do with an input no output depends on.
    profile : bool
        Collect per-op timings in ``f.profile``.
    no_default_updates : bool or list of SharedVariables
        True: apply no ``default_update`` (random draws repeat their numbers); a list:
        skip the default updates of those shared variables only.

    Returns
    -------
    Function

    Examples
    --------
    >>> x = T.vector('x'); s = nnthe.shared(np.float32(0), name='s')
    >>> f = nnthe.function([x], x.sum(), updates={s: s + x.sum()})
    """
    # The cyclic garbage collector scans every live object each time the young
    # generations fill up; compiling creates many objects that live until the end, so
    # with the collector on, compile time grew faster than the graph (measured: 2.5x per
    # doubling of a 4,000-layer chain; 2.1x with it off). Nothing made here is garbage
    # before compilation ends, so pause it.
    tune_malloc()  # once per process, on the first compile (see malloc.py)
    compile_args = dict(inputs=inputs, outputs=outputs, updates=updates, givens=givens,
                        mode=mode, name=name, allow_input_downcast=allow_input_downcast,
                        on_unused_input=on_unused_input, profile=profile,
                        no_default_updates=no_default_updates)
    inputs, names, defaults = _unwrap_inputs(inputs)
    outputs = _unwrap_outputs(outputs)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        fn = _compile(inputs, outputs, updates, givens, mode, name, allow_input_downcast,
                      on_unused_input, profile, no_default_updates)
    finally:
        if was_enabled:
            gc.enable()
    # Set through the mode's wrapper, if any (DebugMode's forwards attributes).
    fn.input_names = names
    fn.defaults = defaults
    fn._has_defaults = any(d is not _UNSET for d in defaults)
    fn._compile_args = compile_args
    return fn


def _unwrap_inputs(inputs: Any) -> tuple[Any, list, list]:
    """Inputs as Variables, with their keyword names and defaults (from :class:`In`)."""
    if not isinstance(inputs, (list, tuple)):
        return inputs, [], []  # _compile refuses it with a clear message
    variables, names, defaults = [], [], []
    for v in inputs:
        if isinstance(v, In):
            variables.append(v.variable)
            names.append(v.name)
            defaults.append(v.value)
        else:
            variables.append(v)
            names.append(getattr(v, "name", None))
            defaults.append(_UNSET)
    return variables, names, defaults


def _unwrap_outputs(outputs: Any) -> Any:
    """Outputs with :class:`Out` wrappers removed (nnthe's outputs are never borrowed)."""
    if isinstance(outputs, Out):
        return outputs.variable
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(o.variable if isinstance(o, Out) else o for o in outputs)
    return outputs


def _written_uses(targets: list[Variable], inputs: list[Variable],
                  givens: dict[Variable, Variable]) -> set[int]:
    """The ids of the ``inputs`` that the graph the user wrote reads.

    Walks the user's graph (not the rewritten one), through ``givens`` replacements and
    through the variables a build-time shortcut read (``x.shape`` of a static shape is a
    constant marked ``DERIVED_FROM`` x), so an input is "unused" only if the user's
    expression never mentions it, as in Theano.
    """
    input_ids = {id(v) for v in inputs}
    given = {id(k): r for k, r in givens.items()}
    seen: set[int] = set()
    used: set[int] = set()
    stack = list(targets)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if id(v) in input_ids:
            used.add(id(v))
            continue
        if id(v) in given:
            stack.append(given[id(v)])
            continue
        if v.owner is not None:
            stack.extend(v.owner.inputs)
        stack.extend(v.tag.get(DERIVED_FROM, ()))
    return used


def _skipped_defaults(no_default_updates: Any) -> Callable[[SharedVariable], bool]:
    """A predicate: is the default update of this shared variable switched off?"""
    if no_default_updates is True:
        return lambda v: True
    if no_default_updates is False or no_default_updates is None:
        return lambda v: False
    if isinstance(no_default_updates, (list, tuple, set)):
        ids = set()
        for v in no_default_updates:
            if not isinstance(v, SharedVariable):
                raise TypeError(f"function: no_default_updates must list shared variables, "
                                f"got {v!r}")
            ids.add(id(v))
        return lambda v: id(v) in ids
    raise TypeError(f"function: no_default_updates must be True, False or a list of shared "
                    f"variables, got {no_default_updates!r}")


def _compile(inputs, outputs, updates, givens, mode, name, allow_input_downcast,
             on_unused_input, profile, no_default_updates=False) -> Function:
    t_start = time.perf_counter()
    mode = get_mode(mode)
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused_input!r}")
    if isinstance(inputs, Variable) or not isinstance(inputs, (list, tuple)):
        raise TypeError(f"function: inputs must be a list of symbolic variables, got {inputs!r}")
    inputs = list(inputs)
    for k, v in enumerate(inputs):
        if not isinstance(v, Variable):
            raise TypeError(f"function: input {k} must be a symbolic variable, got {v!r} ({type(v).__name__})")
        if isinstance(v, SharedVariable):
            raise TypeError(f"function: the shared variable {v!r} cannot be an explicit input; shared "
                            "variables are implicit inputs (use givens= to substitute one)")
        if isinstance(v, Constant):
            raise TypeError(f"function: input {k} is the constant {v!r}; inputs must be symbolic variables")
    if len({id(v) for v in inputs}) != len(inputs):
        dup = next(v for v in inputs if sum(w is v for w in inputs) > 1)
        raise ValueError(f"function: the input {dup!r} is listed more than once")

    single = isinstance(outputs, Variable)
    if outputs is None:
        out_list: list = []
    elif single:
        out_list = [outputs]
    elif isinstance(outputs, (list, tuple)):
        out_list = list(outputs)
    else:
        out_list = [outputs]
        single = True
    out_list = [as_tensor_variable(o) if not isinstance(o, Variable) else o for o in out_list]

    upd = _normalize_updates(updates)
    givens_map = _normalize_givens(givens)
    for k in givens_map:
        if any(k is i for i in inputs):
            raise ValueError(f"function: {k!r} is both an input and replaced by givens")

    # Default updates of the shared variables the graph uses (transitively).
    skipped = _skipped_defaults(no_default_updates)
    explicit = {id(s) for s, _ in upd}
    frontier = out_list + [u for _, u in upd]
    seen: set[int] = set()
    # Ops that compute new values of shared variables and hand them back to the user
    # (scan's updates), to warn when those updates are not passed here.
    returned: list = []
    while frontier:
        new = []
        for v in ancestors(frontier, blockers=inputs):
            if isinstance(v, SharedVariable) and id(v) not in seen:
                seen.add(id(v))
                if v.default_update is not None and id(v) not in explicit and not skipped(v):
                    du = check_update(v, v.default_update)
                    upd.append((v, du))
                    explicit.add(id(v))
                    new.append(du)
            elif v.owner is not None and getattr(v.owner.op, "returned_updates", None):
                returned.append(v.owner.op)
        frontier = new
    for op in dict.fromkeys(returned):
        missing = [s for s in op.returned_updates if id(s) not in explicit]
        if missing:
            warnings.warn(f"function: {op} computes new values of {missing} (the updates it "
                          f"returned, at {format_site(op.site)}), but they are not in updates=, "
                          "so these shared variables will not change; pass the updates "
                          "returned by scan", stacklevel=3)

    # Clone so that rewrites never touch the user's graph.
    targets = out_list + [u for _, u in upd]
    replace = dict(givens_map)
    # The compiled graph starts at root variables: an input that the user computed from
    # others (``function([exp(x)], ...)``) is replaced by a fresh root of its type, so
    # nothing downstream mistakes the caller's array for a buffer the graph allocated.
    roots = [v if v.owner is None else v.clone() for v in inputs]
    for v, r in zip(inputs, roots):
        replace.setdefault(v, r)
    cloned, memo = clone_graph(targets, replace)
    new_outs = cloned[:len(out_list)]
    new_upds = [(s, u) for (s, _), u in zip(upd, cloned[len(out_list):])]

    used = _written_uses(out_list + [u for _, u in upd], inputs, givens_map)
    for k, v in enumerate(inputs):
        if id(v) not in used:
            msg = (f"function: input {k} ({v.describe()}) is not used to compute any output or "
                   "update. Pass on_unused_input='ignore' (or 'warn') if that is intended")
            if on_unused_input == "raise":
                raise UnusedInputError(msg)
            if on_unused_input == "warn":
                warnings.warn(msg, stacklevel=2)
    input_ids = {id(v) for v in roots}
    for v in ancestors(cloned, blockers=roots):
        if v.owner is None and id(v) not in input_ids and not isinstance(v, (Constant, SharedVariable)):
            if isinstance(v.type, TensorType):
                raise MissingInputError(
                    f"function: an output depends on {v.describe()}, which is not among the "
                    f"inputs {inputs}. Add it to the inputs, or replace it with givens=")
            raise MissingInputError(f"function: cannot compute {v!r} (a {v.type} marker); "
                                    "gradient markers cannot be compiled")
    t_clone = time.perf_counter()

    fgraph = FunctionGraph(roots, list(new_outs) + [u for _, u in new_upds])
    mode.rewrite(fgraph)
    t_rewrite = time.perf_counter()
    final = fgraph.outputs
    final_outs = final[:len(new_outs)]
    final_upds = [(s, u) for (s, _), u in zip(new_upds, final[len(new_outs):])]
    nodes = fgraph.toposort()
    labels = [f"input {k} ({v.name})" if v.name else f"input {k}" for k, v in enumerate(inputs)]

    prof = None
    wrapper = mode.thunk_wrapper
    if profile or mode.profile:
        prof = ProfileStats(name or "function")
        wrapper = prof.wrap_thunks(wrapper)
    fname = "nnthe_" + "".join(c if c.isalnum() else "_" for c in (name or "function"))
    program = link(roots, final_outs, final_upds, nodes, check_inputs=True, name=fname,
                   thunk_wrapper=wrapper, input_names=labels, allow_downcast=allow_input_downcast,
                   single_output=single, kernels=mode.kernels)
    t_link = time.perf_counter()

    def link_unchecked() -> LinkedProgram:
        return link(roots, final_outs, final_upds, nodes, check_inputs=False, name=fname,
                    thunk_wrapper=wrapper, input_names=labels, single_output=single,
                    kernels=mode.kernels)

    fn = Function(inputs, out_list, upd, program, link_unchecked, single, name, fgraph, prof)
    if prof is not None:
        prof.compile_times = {"clone and checks": t_clone - t_start, "rewrite": t_rewrite - t_clone,
                              "link": t_link - t_rewrite}
        prof.rewrite_times = getattr(fgraph, "rewrite_times", {})
        prof.kernel_report = program.kernel_report
    fn.kernel_report = program.kernel_report
    fn.compile_time = t_link - t_start
    if mode.wrap_function is not None:
        fn = mode.wrap_function(fn, roots, new_outs, new_upds)
    return fn
