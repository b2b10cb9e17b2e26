"""The symbolic graph: Variables, Apply nodes, Ops, and iterative graph walks.

A graph is bipartite: a :class:`Variable` is produced by at most one :class:`Apply`
node (its ``owner``), and an Apply node applies an :class:`Op` to input Variables to
produce output Variables. Variables without an owner are the graph's roots: inputs
created by the user (``T.matrix('x')``), :class:`Constant` values and shared variables.

Every walk in this module is iterative, so a graph of any depth can be traversed without
reaching Python's recursion limit.
"""
from __future__ import annotations

import os
import sys
import warnings
from functools import partial
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..config import config

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


#: While rewrites run, new nodes take the site of the node they replace (so run-time
#: errors still point at the user's line) instead of walking the stack.
_site_override: list = []


def _creation_site() -> tuple[str, int] | None:
    """Return ``(filename, lineno)`` of the first stack frame outside nnthe.

    Walking frames is cheap (no source lines are read); the line text is fetched only
    when an error message needs it.
    """
    if _site_override:
        return _site_override[-1]
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR) and not filename.startswith("<frozen"):
            return filename, frame.f_lineno
        frame = frame.f_back
    return None


def format_site(site: tuple[str, int] | None) -> str:
    """Format a creation site as ``file:line: source text``."""
    if site is None:
        return "<unknown location>"
    import linecache

    filename, lineno = site
    text = linecache.getline(filename, lineno).strip()
    return f"{filename}:{lineno}" + (f": {text}" if text else "")


#: Tag key of a Variable that a build-time shortcut computed from other variables without
#: a node (``x.shape`` of a static shape is a Constant): the tuple of those variables, so
#: that walks of "the graph the user wrote" (``function``'s unused-input check) see them.
DERIVED_FROM = "derived_from"


class Tag(dict):
    """A variable's scratchpad: a dict whose keys are also attributes, so Theano's
    ``x.tag.test_value = ...`` and nnthe's ``x.tag["trainable"]`` both work."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the tag has no {name!r} (keys: {sorted(self)})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


class Type:
    """The type of a Variable: what values it may hold at run time.

    ``variable_type`` is the Variable class that :meth:`make_variable` creates (a
    TensorType's variables are TensorVariables, with the tensor operators).
    """

    variable_type: type = None  # type: ignore[assignment]  # Variable, set below

    def filter(self, value: Any, allow_downcast: bool = False, name: str = "value") -> Any:
        """Return ``value`` converted to this type, or raise TypeError/ValueError."""
        raise NotImplementedError

    def make_variable(self, name: str | None = None) -> "Variable":
        """A new root Variable of this type."""
        return self.variable_type(self, name=name)


class Variable:
    """A symbolic value in a graph.

    Attributes
    ----------
    type : Type
        What the variable holds at run time (dtype and static shape for tensors).
    owner : Apply or None
        The node that computes it; None for inputs, constants and shared variables.
    index : int
        Which output of ``owner`` this is.
    name : str or None
        A name for printing and error messages.
    site : (str, int) or None
        The user's file and line where the variable was created.
    """

    __slots__ = ("type", "owner", "index", "name", "site", "tag", "__weakref__")

    def __init__(self, type: Type, owner: "Apply | None" = None, index: int = 0,
                 name: str | None = None) -> None:
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.site = _creation_site()
        self.tag: Tag = Tag()

    def clone(self) -> "Variable":
        """A new root Variable of the same type and name (no owner)."""
        v = type(self).__new__(type(self))
        Variable.__init__(v, self.type, None, 0, self.name)
        v.site = self.site
        return v

    def __repr__(self) -> str:
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            if len(self.owner.outputs) > 1:
                return f"{op}.{self.index}"
            return f"{op}.out"
        return f"<{self.type}>"

    def describe(self) -> str:
        """A one-line description for error messages: name, type, where created."""
        what = repr(self)
        return f"{what} ({self.type}, created at {format_site(self.site)})"

    def eval(self, inputs_to_values: dict | None = None) -> Any:
        """Compile and evaluate this variable (for quick interactive checks).

        Compiled functions are cached per set of inputs on the variable, so calling
        ``eval`` repeatedly in a loop is cheap after the first call.
        """
        if _compiler is None:
            raise RuntimeError("eval needs the compiler: import nnthe (it loads nnthe.core.compile)")
        inputs_to_values = inputs_to_values or {}
        keys = tuple(inputs_to_values)
        cache = self.tag.setdefault("_eval_cache", {})
        fn = cache.get(keys)
        if fn is None:
            fn = cache[keys] = _compiler(list(keys), self, on_unused_input="ignore")
        return fn(*[inputs_to_values[k] for k in keys])


Type.variable_type = Variable

#: ``nnthe.function``, installed by :mod:`nnthe.core.compile` when it is imported, for
#: :meth:`Variable.eval` (the compiler is built on this module, so it cannot be imported
#: here).
_compiler: Callable[..., Any] | None = None


def set_compiler(function: Callable[..., Any]) -> None:
    """Install the function that :meth:`Variable.eval` compiles with."""
    global _compiler
    _compiler = function


class Constant(Variable):
    """A Variable with a fixed value, stored in ``.data``.

    ``weak`` marks constants made from Python numbers: their dtype adapts to the other
    operands of an expression (``fvector * 2.5`` stays float32).
    """

    __slots__ = ("data", "weak", "_signature")

    def __init__(self, type: Type, data: Any, name: str | None = None, weak: bool = False) -> None:
        super().__init__(type, None, 0, name)
        self.data = data
        self.weak = weak
        self._signature = None

    def signature(self) -> tuple:
        """A hashable key that is equal for constants of equal type and value."""
        if self._signature is None:
            data = self.data
            if isinstance(data, np.ndarray):
                self._signature = (self.type, data.shape, data.tobytes())
            else:
                self._signature = (self.type, id(data))
        return self._signature

    def clone(self) -> "Constant":
        return self

    def __repr__(self) -> str:
        if self.name is not None:
            return self.name
        data = self.data
        if isinstance(data, np.ndarray) and data.size <= 6:
            return str(data.tolist())
        return f"Constant{{{getattr(data, 'shape', '')}}}"


class Apply:
    """An application of an Op to input Variables, producing output Variables."""

    __slots__ = ("op", "inputs", "outputs", "site", "__weakref__")

    def __init__(self, op: "Op", inputs: Sequence[Variable], output_types: Sequence[Type]) -> None:
        self.op = op
        self.inputs = list(inputs)
        self.site = _creation_site()
        self.outputs = []
        for i, t in enumerate(output_types):
            v = t.make_variable()
            v.owner = self
            v.index = i
            v.site = self.site
            self.outputs.append(v)

    @property
    def out(self) -> Variable:
        """The single output of a one-output node."""
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    def clone_with_new_inputs(self, inputs: Sequence[Variable]) -> "Apply":
        """A copy of this node applied to other inputs of the same types."""
        node = Apply.__new__(Apply)
        node.op = self.op
        node.inputs = list(inputs)
        node.site = self.site
        node.outputs = []
        for i, old in enumerate(self.outputs):
            v = old.type.make_variable(old.name)
            v.owner = node
            v.index = i
            v.site = old.site
            v.tag = Tag(old.tag)
            v.tag.pop("_eval_cache", None)
            node.outputs.append(v)
        return node

    def __repr__(self) -> str:
        return f"{self.op}({', '.join(map(repr, self.inputs))})"


class Op:
    """An operation: the unit of computation in a graph.

    This class is the whole contract between an op and the machinery (``grad``, the
    rewrites, the linker). A subclass declares ``__props__`` (the names of the attributes
    that define the op: ops with equal props are equal and interchangeable) and
    implements :meth:`make_node` and :meth:`perform`; every other hook has a default.
    """

    __props__: tuple[str, ...] = ()
    #: ``{output: [input]}``: outputs that are views of an input (they share its memory
    #: and the input stays readable). See :mod:`nnthe.core.aliasing`.
    view_map: dict[int, list[int]] = {}
    #: ``{output: [input]}``: outputs written into an input's buffer (the input must not
    #: be read after the node runs). See :mod:`nnthe.core.aliasing`.
    destroy_map: dict[int, list[int]] = {}
    #: False: ``grad`` gives the op zeros in place of disconnected output gradients. True:
    #: :meth:`L_op` receives the disconnected markers and handles them itself (an op with
    #: several outputs can then skip work for the ones nobody differentiates).
    handles_disconnected_grads: bool = False
    #: Set by ops that can write their result into a buffer kept between calls; see
    #: :meth:`make_buffered_thunk`.
    make_buffered_thunk: Callable[[Apply], Callable[..., Any]] | None = None

    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._props() == other._props()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._props()))

    def __str__(self) -> str:
        name = type(self).__name__
        if self.__props__:
            args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.__props__)
            return f"{name}{{{args}}}"
        return name

    __repr__ = __str__

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        node = self.make_node(*inputs, **kwargs)
        if config.compute_test_value != "off":
            compute_test_values(node, config.compute_test_value)
        if len(node.outputs) == 1:
            return node.outputs[0]
        return node.outputs

    def make_node(self, *inputs: Any) -> Apply:
        """Check the input types and return the Apply node with the static output types
        (a TypeError/ValueError naming both shapes when they cannot work together)."""
        raise NotImplementedError(f"{type(self).__name__}.make_node")

    def perform(self, node: Apply, *inputs: Any) -> Any:
        """Compute the outputs with NumPy: one value, or a tuple for several outputs.
        This is the op's reference implementation; kernels are checked against it."""
        raise NotImplementedError(f"{type(self).__name__}.perform")

    def make_thunk(self, node: Apply) -> Callable[..., Any]:
        """Return a callable ``f(*input_values) -> output value(s)`` for the linker.

        The default binds ``perform`` to the node; ops override it to hand the linker a
        NumPy function directly and so avoid a Python call per evaluation.

        ``make_buffered_thunk(node)``, where an op defines it, is the same but may write
        its result into memory kept between calls; the linker uses it only for results
        that cannot reach an output or a shared variable.
        """
        return partial(self.perform, node)

    def L_op(self, node: Apply, inputs: list[Variable], outputs: list[Variable],
             output_grads: list[Variable]) -> list[Variable]:
        """The vector-Jacobian product: one gradient expression per input, built from
        ``output_grads`` (new graph nodes, so gradients of gradients work).

        An input without a gradient gets a marker from :mod:`nnthe.core.types`
        (``disconnected_type()``, ``grad_undefined(...)``). The default returns
        ``NotImplemented``: ``grad`` then marks every input's gradient as not
        implemented, an error only if a cost actually needs it.
        """
        return NotImplemented

    def connection_pattern(self, node: Apply) -> list[list[bool]] | None:
        """``[input][output]`` booleans: which outputs depend on which inputs.

        None (the default) means every output depends on every input.
        """
        return None

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        """Symbolic output shapes from symbolic input shapes (used to compute ``x.shape``
        without computing ``x``). Optional."""
        raise NotImplementedError(f"{type(self).__name__}.infer_shape")

    def static_value(self, output: Variable) -> Any:
        """The value of ``output`` if it is known while the graph is built (e.g. a known
        entry of a shape), else None (the default). Read by ``constant_value``."""
        return None

    def pretty(self, inputs: list[str]) -> str | None:
        """An infix form for ``nnthe.pp`` (None: use ``op(inputs)``)."""
        return None


# ---------------------------------------------------------------------------------------
# Graph walks (all iterative).
# ---------------------------------------------------------------------------------------

_NO_TEST_VALUE = object()


def test_value_of(v: Variable) -> Any:
    """The test value of ``v`` (Theano's ``x.tag.test_value``; a constant's data, a shared
    variable's value), or ``_NO_TEST_VALUE``."""
    if isinstance(v, Constant):
        return v.data
    tv = v.tag.get("test_value", _NO_TEST_VALUE)
    if tv is _NO_TEST_VALUE:
        container = getattr(v, "container", None)  # a shared variable
        if container is not None:
            return container[0]
        return tv
    return v.type.filter(tv, allow_downcast=True, name=f"the test value of {v!r}")


def compute_test_values(node: Apply, mode: str) -> None:
    """Compute the outputs' ``tag.test_value`` from the inputs' (Theano's
    ``config.compute_test_value``): ``'raise'`` (or ``'pdb'``) raises at the line that
    builds a node whose computation fails or whose input has no test value, ``'warn'``
    warns, ``'ignore'`` skips such nodes."""
    values = []
    for i in node.inputs:
        try:
            tv = test_value_of(i)
        except (TypeError, ValueError) as exc:
            _test_value_problem(mode, type(exc), str(exc), node)
            return
        if tv is _NO_TEST_VALUE:
            _test_value_problem(mode, ValueError, (
                f"compute_test_value: {i.describe()} has no test value; set "
                f"{i.name or 'it'}.tag.test_value = <array>, or config.compute_test_value = 'off'"),
                node)
            return
        values.append(tv)
    try:
        out = node.op.make_thunk(node)(*values)
    except Exception as exc:
        shapes = ", ".join(f"{i!r}: {getattr(v, 'dtype', type(v).__name__)}{tuple(np.shape(v))}"
                           for i, v in zip(node.inputs, values))
        _test_value_problem(mode, type(exc), f"{exc}\n\ncompute_test_value: {node.op} failed "
                            f"on the test values ({shapes})", node, exc)
        return
    outs = [out] if len(node.outputs) == 1 else list(out)
    for o, v in zip(node.outputs, outs):
        o.tag["test_value"] = v


def _test_value_problem(mode: str, kind: type, msg: str, node: Apply,
                        cause: BaseException | None = None) -> None:
    if mode == "ignore":
        return
    msg = f"{msg}\nThe node was built at {format_site(node.site)}"
    if mode == "warn":
        warnings.warn(msg, stacklevel=4)
        return
    try:
        err = kind(msg)
    except Exception:
        err = ValueError(msg)
    raise err from cause


def ancestors(outputs: Iterable[Variable], blockers: Iterable[Variable] = ()) -> list[Variable]:
    """All variables that ``outputs`` depend on (including themselves), outputs first."""
    blockers = set(map(id, blockers))
    seen: set[int] = set()
    result = []
    stack = list(outputs)[::-1]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        result.append(v)
        if v.owner is not None and id(v) not in blockers:
            stack.extend(reversed(v.owner.inputs))
    return result


def graph_inputs(outputs: Iterable[Variable], blockers: Iterable[Variable] = ()) -> list[Variable]:
    """The root variables (no owner, or blocked) that ``outputs`` depend on."""
    blockers_l = list(blockers)
    block = set(map(id, blockers_l))
    return [v for v in ancestors(outputs, blockers_l) if v.owner is None or id(v) in block]


def toposort(outputs: Iterable[Variable], blockers: Iterable[Variable] = ()) -> list[Apply]:
    """Apply nodes needed to compute ``outputs``, each after the nodes it depends on.

    Variables in ``blockers`` are treated as roots: their owners are not visited.
    """
    block = set(map(id, blockers))
    order: list[Apply] = []
    done: set[int] = set()
    # Iterative depth-first post-order: (node, expanded?) pairs on an explicit stack.
    stack: list[tuple[Apply, bool]] = []
    for out in outputs:
        if out.owner is not None and id(out) not in block:
            stack.append((out.owner, False))
        while stack:
            node, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                continue
            stack.append((node, True))
            for inp in reversed(node.inputs):
                owner = inp.owner
                if owner is not None and id(owner) not in done and id(inp) not in block:
                    stack.append((owner, False))
    return order


def clone_graph(outputs: Sequence[Variable], replace: dict[Variable, Variable] | None = None) -> tuple[list[Variable], dict[Variable, Variable]]:
    """Copy the graph that computes ``outputs``, substituting ``replace`` on the way.

    Returns the new outputs and the map from old variables to new ones. Roots
    (inputs, constants, shared variables) are kept as they are unless replaced.
    """
    memo: dict[Variable, Variable] = dict(replace or {})
    for node in toposort(outputs, blockers=list(memo)):
        new_node = node.clone_with_new_inputs([memo.get(i, i) for i in node.inputs])
        for old, new in zip(node.outputs, new_node.outputs):
            memo.setdefault(old, new)
    new_outputs = [memo.get(o, o) for o in outputs]
    return new_outputs, memo
