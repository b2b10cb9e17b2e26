"""Indexing: basic slicing (views), integer-array and boolean-mask (advanced) indexing,
``set_subtensor`` / ``inc_subtensor`` and ``take``.

An index is described by a static *spec* — one entry per index item — plus the
symbolic inputs it refers to. Spec entries:

- ``('slice', start, stop, step)``: each an int, None, or ``'?'`` for a symbolic scalar;
- ``('int', value_or_'?')``: an integer index (removes the dimension);
- ``('newaxis',)``: ``None`` in the index;
- ``('array', ndim)``: an integer array (advanced indexing);
- ``('bool', ndim)``: a boolean mask (advanced indexing).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Constant, Op, Variable
from ..types import disconnected_type, fmt_shape, is_int_dtype, TensorType, upcast
from ..variable import TensorVariable, as_tensor_variable, is_weak, retype_weak
from .alloc import zeros_like
from .elemwise import broadcast_static_shapes, cast, sum_to
from .shape import Shape, constant_value, flatten

_SYM = "?"


def _parse_key(x: TensorVariable, key: Any) -> tuple[tuple, list[TensorVariable]]:
    """Turn a Python index into (spec, symbolic inputs)."""
    if not isinstance(key, tuple):
        key = (key,)
    spec: list = []
    inputs: list[TensorVariable] = []
    n_ellipsis = sum(1 for k in key if k is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = 0
    for k in key:
        if k is None or k is Ellipsis:
            continue
        if isinstance(k, (np.ndarray, Variable, list)):
            arr_ndim = np.ndim(k) if not isinstance(k, Variable) else k.type.ndim
            is_bool = (k.type.dtype == "bool") if isinstance(k, Variable) else np.asarray(k).dtype == bool
            consumed += arr_ndim if is_bool and arr_ndim else 1
        else:
            consumed += 1
    for k in key:
        if k is Ellipsis:
            spec.extend([("slice", None, None, None)] * (x.type.ndim - consumed))
        elif k is None:
            spec.append(("newaxis",))
        elif isinstance(k, slice):
            parts = []
            for p in (k.start, k.stop, k.step):
                if p is None:
                    parts.append(None)
                elif isinstance(p, (int, np.integer)) and not isinstance(p, bool):
                    parts.append(int(p))
                elif isinstance(p, Variable) and p.type.ndim == 0 and is_int_dtype(p.type.dtype):
                    parts.append(_SYM)
                    inputs.append(p)
                else:
                    raise TypeError(f"slice bounds must be ints or integer scalars, got {p!r}")
            if parts[2] == 0:
                raise ValueError("slice step cannot be zero")
            spec.append(("slice", *parts))
        elif isinstance(k, (bool, np.bool_)):
            raise TypeError("indexing with a Python bool is not supported; use a boolean array")
        elif isinstance(k, (int, np.integer)):
            spec.append(("int", int(k)))
        else:
            v = as_tensor_variable(k) if not isinstance(k, Variable) else k
            if not isinstance(v.type, TensorType):
                raise TypeError(f"cannot index with {k!r}")
            if v.type.dtype == "bool":
                spec.append(("bool", v.type.ndim))
                inputs.append(v)
            elif is_int_dtype(v.type.dtype):
                if v.type.ndim == 0:
                    spec.append(("int", _SYM))
                else:
                    spec.append(("array", v.type.ndim))
                inputs.append(v)
            else:
                raise TypeError(
                    f"index {k!r} has dtype {v.type.dtype}; indices must be integers or booleans "
                    "(cast with T.cast(i, 'int64'))")
    n_dims = sum(e[1] if e[0] == "bool" else 1 for e in spec if e[0] != "newaxis")
    if n_dims > x.type.ndim:
        raise IndexError(f"too many indices for {x!r} of type {x.type}: {n_dims} dimensions indexed")
    spec.extend([("slice", None, None, None)] * (x.type.ndim - n_dims))
    return tuple(spec), inputs


def _is_advanced(spec: tuple) -> bool:
    return any(e[0] in ("array", "bool") for e in spec)


def _index_builder(spec: tuple):
    """A function of the symbolic index values returning the NumPy index tuple."""
    static = all(_SYM not in e for e in spec) and not _is_advanced(spec)
    if static:
        idx = tuple(_static_item(e) for e in spec)
        return lambda *vals: idx

    def build(*vals):
        it = iter(vals)
        out = []
        for e in spec:
            kind = e[0]
            if kind == "slice":
                out.append(slice(*[int(next(it)) if p == _SYM else p for p in e[1:]]))
            elif kind == "int":
                out.append(int(next(it)) if e[1] == _SYM else e[1])
            elif kind == "newaxis":
                out.append(None)
            else:
                out.append(next(it))
        return tuple(out)
    return build


def _static_item(e: tuple):
    if e[0] == "slice":
        return slice(*e[1:])
    if e[0] == "int":
        return e[1]
    return None


def _basic_out_shape(x: TensorVariable, spec: tuple) -> tuple:
    shp = []
    d = 0
    for e in spec:
        if e[0] == "newaxis":
            shp.append(1)
            continue
        dim = x.type.shape[d]
        d += 1
        if e[0] == "int":
            if e[1] != _SYM and dim is not None and not -dim <= e[1] < dim:
                raise IndexError(f"index {e[1]} is out of bounds for dimension {d - 1} of "
                                 f"{x!r} with size {dim} (shape {fmt_shape(x.type.shape)})")
            continue
        shp.append(_slice_length(e, dim))
    return tuple(shp)


def _slice_length(entry: tuple, dim: int | None) -> int | None:
    """The static length of the ``('slice', start, stop, step)`` entry on a dimension of
    static size ``dim`` (None when it depends on run-time values)."""
    start, stop, step = entry[1:]
    if start is None and stop is None and step in (None, 1):
        return dim
    if dim is not None and _SYM not in (start, stop, step):
        return len(range(*slice(start, stop, step).indices(dim)))
    return None


def _advanced_out_shape(x: TensorVariable, spec: tuple, inputs: list[TensorVariable]) -> tuple:
    it = iter(inputs)
    adv_shapes = []
    adv_positions = []
    pieces: list = []  # basic result dims, with a marker where the advanced block goes
    d = 0
    for pos, e in enumerate(spec):
        kind = e[0]
        if kind == "newaxis":
            pieces.append(1)
            continue
        if kind == "slice":
            for p in e[1:]:  # consume this slice's symbolic bounds
                if p == _SYM:
                    next(it)
            pieces.append(_slice_length(e, x.type.shape[d]))
            d += 1
            continue
        adv_positions.append(pos)
        pieces.append("ADV")
        if kind == "int":
            if e[1] == _SYM:
                next(it)
            adv_shapes.append(())
            d += 1
        elif kind == "array":
            adv_shapes.append(next(it).type.shape)
            d += 1
        else:  # bool mask
            m = next(it)
            for k, ms in enumerate(m.type.shape):
                xs = x.type.shape[d + k]
                if ms is not None and xs is not None and ms != xs:
                    raise IndexError(f"boolean index of shape {fmt_shape(m.type.shape)} does not match "
                                     f"dimensions {d}..{d + m.type.ndim - 1} of {x!r} {fmt_shape(x.type.shape)}")
            adv_shapes.append((None,))
            d += m.type.ndim
    block = broadcast_static_shapes(adv_shapes, "advanced indexing")
    adjacent = adv_positions == list(range(adv_positions[0], adv_positions[0] + len(adv_positions)))
    basic = [p for p in pieces if p != "ADV"]
    if adjacent:
        first = pieces.index("ADV")
        n_before = len([p for p in pieces[:first] if p != "ADV"])
        return tuple(basic[:n_before]) + block + tuple(basic[n_before:])
    return block + tuple(basic)


class _IndexingOp(Op):
    """What basic and advanced indexing share: the index spec, evaluation, gradient."""

    __props__ = ("index_spec",)

    def __init__(self, index_spec: tuple) -> None:
        self.index_spec = index_spec

    def _out_shape(self, x: TensorVariable, idx: list) -> tuple:
        raise NotImplementedError

    def make_node(self, x, *idx):
        x = as_tensor_variable(x)
        idx = [as_tensor_variable(i) for i in idx]
        return Apply(self, [x] + idx, [TensorType(x.type.dtype, self._out_shape(x, idx))])

    def make_thunk(self, node):
        build = _index_builder(self.index_spec)
        if len(node.inputs) == 1:
            idx = build()
            return lambda x: x[idx]
        return lambda x, *vals: x[build(*vals)]

    def perform(self, node, x, *vals):
        return x[_index_builder(self.index_spec)(*vals)]

    def L_op(self, node, inputs, outputs, output_grads):

        x, idx = inputs[0], inputs[1:]
        gx = IncSubtensor(self.index_spec, False)(zeros_like(x), output_grads[0], *idx)
        return [gx] + [disconnected_type() for _ in idx]

    def connection_pattern(self, node):
        return [[True]] + [[False] for _ in node.inputs[1:]]

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{_fmt_spec(self.index_spec)}}}"


class Subtensor(_IndexingOp):
    """Basic indexing (slices, ints, newaxis): returns a view."""

    view_map = {0: [0]}

    def static_value(self, output):
        owner = output.owner
        x = owner.inputs[0]
        if isinstance(x, Constant):
            # x.shape[i] of a fully known shape: indexing a constant.
            vals = [constant_value(i) for i in owner.inputs[1:]]
            if all(v is not None for v in vals):
                return np.asarray(x.data[_index_builder(self.index_spec)(*vals)])
            return None
        if x.owner is not None and isinstance(x.owner.op, Shape):
            # x.shape[i] where dimension i is known statically.
            idx = self.index_spec
            if len(idx) == 1 and idx[0][0] == "int":
                # The index is a literal of the op (x.shape[1]) or its one symbolic input.
                i = constant_value(owner.inputs[1]) if idx[0][1] == _SYM else idx[0][1]
                if i is not None:
                    try:
                        d = x.owner.inputs[0].type.shape[int(i)]
                    except IndexError:
                        return None
                    return None if d is None else np.asarray(d, dtype="int64")
        return None

    def _out_shape(self, x, idx):
        return _basic_out_shape(x, self.index_spec)


class AdvancedSubtensor(_IndexingOp):
    """Integer-array and boolean-mask indexing (NumPy's advanced indexing): a copy."""

    def _out_shape(self, x, idx):
        return _advanced_out_shape(x, self.index_spec, idx)


class IncSubtensor(Op):
    """``x`` with ``x[index]`` set to ``y`` (``set_instead_of_inc``) or incremented by
    ``y``; repeated indices accumulate when incrementing (``np.add.at``)."""

    __props__ = ("index_spec", "set_instead_of_inc")

    def __init__(self, index_spec: tuple, set_instead_of_inc: bool) -> None:
        self.index_spec = index_spec
        self.set_instead_of_inc = set_instead_of_inc
        self.advanced = _is_advanced(index_spec)

    def make_node(self, x, y, *idx):
        x = as_tensor_variable(x)
        y = as_tensor_variable(y)
        idx = [as_tensor_variable(i) for i in idx]
        if y.type.dtype != x.type.dtype:
            if is_weak(y):
                y = retype_weak(y, x.type.dtype)
            else:
                if upcast(x.type.dtype, y.type.dtype) != x.type.dtype:
                    raise TypeError(
                        f"{'set' if self.set_instead_of_inc else 'inc'}_subtensor: the value "
                        f"{y!r} of dtype {y.type.dtype} does not fit into {x!r} of dtype "
                        f"{x.type.dtype}; cast it first")
                y = cast(y, x.type.dtype)
        region = (_advanced_out_shape(x, self.index_spec, idx) if self.advanced
                  else _basic_out_shape(x, self.index_spec))
        if y.type.ndim > len(region):
            raise ValueError(f"cannot {'set' if self.set_instead_of_inc else 'increment'} a region of "
                             f"shape {fmt_shape(region)} with a value of shape {fmt_shape(y.type.shape)}")
        broadcast_static_shapes([region, y.type.shape], "set_subtensor/inc_subtensor")
        return Apply(self, [x, y] + idx, [x.type])

    def make_thunk(self, node):
        build = _index_builder(self.index_spec)
        if self.set_instead_of_inc:
            def set_sub(x, y, *vals):
                out = np.array(x, copy=True)
                out[build(*vals)] = y
                return out
            return set_sub
        if self.advanced:
            def inc_adv(x, y, *vals):
                out = np.array(x, copy=True)
                idx = build(*vals)
                idx = tuple(j for i in idx for j in (np.nonzero(i) if getattr(i, "dtype", None) == bool else (i,)))
                np.add.at(out, idx, y)
                return out
            return inc_adv

        def inc_basic(x, y, *vals):
            out = np.array(x, copy=True)
            out[build(*vals)] += y
            return out
        return inc_basic

    def perform(self, node, x, y, *vals):
        return self.make_thunk(node)(x, y, *vals)

    def L_op(self, node, inputs, outputs, output_grads):
        y, idx = inputs[1], inputs[2:]
        g = output_grads[0]
        if self.set_instead_of_inc:
            gx = IncSubtensor(self.index_spec, True)(g, 0, *idx)
        else:
            gx = g
        region_op = AdvancedSubtensor(self.index_spec) if self.advanced else Subtensor(self.index_spec)
        gy = sum_to(region_op(g, *idx), y)
        return [gx, gy] + [disconnected_type() for _ in idx]

    def connection_pattern(self, node):
        return [[True], [True]] + [[False] for _ in node.inputs[2:]]

    def __str__(self) -> str:
        kind = "Set" if self.set_instead_of_inc else "Inc"
        return f"{kind}Subtensor{{{_fmt_spec(self.index_spec)}}}"


def _fmt_spec(spec: tuple) -> str:
    parts = []
    for e in spec:
        if e[0] == "slice":
            s = ":".join("" if p is None else str(p) for p in e[1:3])
            if e[3] is not None:
                s += f":{e[3]}"
            parts.append(s)
        elif e[0] == "int":
            parts.append(str(e[1]))
        elif e[0] == "newaxis":
            parts.append("None")
        else:
            parts.append(f"<{e[0]}>")
    return ", ".join(parts)


def getitem(x: Any, key: Any) -> TensorVariable:
    """``x[key]`` with NumPy semantics: slices (bounds may be symbolic), ints, None,
    ``...``, integer arrays and boolean masks."""
    x = as_tensor_variable(x)
    spec, inputs = _parse_key(x, key)
    if all(e == ("slice", None, None, None) for e in spec):
        return x
    if _is_advanced(spec):
        return AdvancedSubtensor(spec)(x, *inputs)
    return Subtensor(spec)(x, *inputs)


def set_subtensor(target: TensorVariable, value: Any) -> TensorVariable:
    """A copy of the tensor indexed by ``target`` with that region set to ``value``.

    ``target`` must be an indexing expression: ``T.set_subtensor(x[2:, 0], 0)``.
    """
    return _inc_or_set(target, value, True)


def inc_subtensor(target: TensorVariable, value: Any) -> TensorVariable:
    """A copy of the tensor indexed by ``target`` with ``value`` added to that region
    (repeated advanced indices accumulate)."""
    return _inc_or_set(target, value, False)


def _inc_or_set(target: Any, value: Any, set_: bool) -> TensorVariable:
    name = "set_subtensor" if set_ else "inc_subtensor"
    owner = getattr(target, "owner", None)
    if owner is None or not isinstance(owner.op, (Subtensor, AdvancedSubtensor)):
        raise TypeError(
            f"{name} expects an indexing expression such as x[1:3] as its first argument, "
            f"got {target!r}")
    x, idx = owner.inputs[0], owner.inputs[1:]
    return IncSubtensor(owner.op.index_spec, set_)(x, value, *idx)


def take(x: Any, indices: Any, axis: int | None = None) -> TensorVariable:
    """Elements of ``x`` at ``indices`` along ``axis`` (``np.take``; flattened when None)."""
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    axis = axis % x.type.ndim
    key = (slice(None),) * axis + (as_tensor_variable(indices),)
    return getitem(x, key)
