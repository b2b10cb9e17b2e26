"""Joining, splitting and repeating tensors: concatenate, stack, split, repeat, tile."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op, Variable
from ..types import disconnected_type, fmt_shape, is_disconnected, is_int_dtype, TensorType
from ..variable import TensorVariable, as_tensor_variable
from .alloc import zeros_like
from .elemwise import resolve_dtypes
from .shape import (_make_vector, as_shape_vector, constant_value, dimshuffle, expand_dims,
                    flatten, shape, shape_i)


# ---------------------------------------------------------------------------------------

class Concatenate(Op):
    """Join tensors along an existing axis."""

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def make_node(self, *tensors):
        tensors = [as_tensor_variable(t) for t in tensors]
        if not tensors:
            raise ValueError("concatenate needs at least one tensor")
        ndim = tensors[0].type.ndim
        if ndim == 0:
            raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
        for t in tensors:
            if t.type.ndim != ndim:
                raise ValueError(
                    "concatenate: all tensors must have the same number of dimensions, got "
                    + ", ".join(fmt_shape(t.type.shape) for t in tensors))
        tensors = resolve_dtypes(tensors, "same", "concatenate")
        axis = self.axis
        shp: list = []
        for d in range(ndim):
            dims = [t.type.shape[d] for t in tensors]
            if d == axis:
                shp.append(None if None in dims else sum(dims))
            else:
                known = {s for s in dims if s is not None}
                if len(known) > 1:
                    raise ValueError(
                        f"concatenate along axis {axis}: dimension {d} differs: "
                        + ", ".join(fmt_shape(t.type.shape) for t in tensors))
                shp.append(known.pop() if known else None)
        return Apply(self, tensors, [TensorType(tensors[0].type.dtype, tuple(shp))])

    def make_thunk(self, node):
        axis = self.axis
        return lambda *xs: np.concatenate(xs, axis=axis)

    def perform(self, node, *xs):
        return np.concatenate(xs, axis=self.axis)

    def L_op(self, node, inputs, outputs, output_grads):
        sizes = _make_vector(*[shape_i(t, self.axis) for t in inputs])
        static = [t.type.shape[self.axis] for t in inputs]
        parts = Split(len(inputs), self.axis, tuple(static))(output_grads[0], sizes)
        return list(parts) if len(inputs) > 1 else [parts]


def concatenate(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    """Join ``tensors`` along ``axis`` (static shapes are checked when written)."""
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    ndim = tensors[0].type.ndim
    if ndim and not -ndim <= axis < ndim:
        raise ValueError(f"concatenate: axis {axis} is out of range for {ndim}-d tensors")
    if len(tensors) == 1:
        return tensors[0]
    return Concatenate(axis % ndim if ndim else axis)(*tensors)


def stack(tensors: Sequence[Any], axis: int = 0) -> TensorVariable:
    """Join ``tensors`` along a new axis."""
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    ndim = tensors[0].type.ndim
    if not -(ndim + 1) <= axis <= ndim:
        raise ValueError(f"stack: axis {axis} is out of range for {ndim}-d tensors")
    axis = axis % (ndim + 1)
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


class Split(Op):
    """Split along ``axis`` into pieces of the given sizes (an int vector input)."""

    __props__ = ("n_splits", "axis", "static_sizes")

    def __init__(self, n_splits: int, axis: int, static_sizes: tuple | None = None) -> None:
        self.view_map = {k: [0] for k in range(n_splits)}  # np.split returns views
        self.n_splits = n_splits
        self.axis = axis
        self.static_sizes = tuple(static_sizes) if static_sizes is not None else (None,) * n_splits

    def make_node(self, x, sizes):
        x = as_tensor_variable(x)
        sizes = as_tensor_variable(sizes)
        if x.type.ndim == 0 or not -x.type.ndim <= self.axis < x.type.ndim:
            raise ValueError(f"split: axis {self.axis} is out of range for {x.type}")
        known = [s for s in self.static_sizes if s is not None]
        total = x.type.shape[self.axis]
        if total is not None and len(known) == self.n_splits and sum(known) != total:
            raise ValueError(f"split: sizes {self.static_sizes} do not add up to dimension {self.axis} "
                             f"of {fmt_shape(x.type.shape)}")
        outs = []
        for s in self.static_sizes:
            shp = list(x.type.shape)
            shp[self.axis] = s
            outs.append(TensorType(x.type.dtype, tuple(shp)))
        return Apply(self, [x, sizes], outs)

    def perform(self, node, x, sizes):
        sizes = np.asarray(sizes)
        if sizes.sum() != x.shape[self.axis]:
            raise ValueError(f"split: sizes {sizes.tolist()} do not add up to {x.shape[self.axis]}, "
                             f"the size of dimension {self.axis} of the input {x.shape}")
        parts = np.split(x, np.cumsum(sizes)[:-1], axis=self.axis)
        return tuple(parts)

    def L_op(self, node, inputs, outputs, output_grads):
        gs = [zeros_like(o) if is_disconnected(g) else g for o, g in zip(outputs, output_grads)]
        return [concatenate(gs, axis=self.axis), disconnected_type()]

    def connection_pattern(self, node):
        return [[True] * self.n_splits, [False] * self.n_splits]


def split(x: Any, sizes: Sequence[Any] | Any, n_splits: int | None = None, axis: int = 0) -> list[TensorVariable]:
    """Split ``x`` along ``axis`` into pieces of ``sizes`` (ints, or an int vector with
    ``n_splits`` entries)."""
    x = as_tensor_variable(x)
    if isinstance(sizes, Variable):
        if n_splits is None:
            n_splits = sizes.type.shape[0]
        if n_splits is None:
            raise ValueError("split: pass n_splits when sizes is a vector of unknown length")
        vec, static = sizes, tuple(int(v) for v in constant_value(sizes)) if constant_value(sizes) is not None else (None,) * n_splits
    else:
        vec, static = as_shape_vector(list(sizes), "split")
        n_splits = len(static)
    axis = axis % x.type.ndim
    out = Split(n_splits, axis, static)(x, vec)
    return list(out) if isinstance(out, list) else [out]


class Repeat(Op):
    """Repeat elements along ``axis`` (``np.repeat``); repeats is an int scalar or vector."""

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def make_node(self, x, repeats):
        x = as_tensor_variable(x)
        repeats = as_tensor_variable(repeats)
        if not is_int_dtype(repeats.type.dtype) or repeats.type.ndim > 1:
            raise TypeError(f"repeat: repeats must be an integer scalar or vector, got {repeats.type}")
        shp = list(x.type.shape)
        r = constant_value(repeats)
        if r is not None and np.ndim(r) == 0 and shp[self.axis] is not None:
            shp[self.axis] *= int(r)
        elif r is not None and np.ndim(r) == 1:
            shp[self.axis] = int(np.sum(r))
        else:
            shp[self.axis] = None
        return Apply(self, [x, repeats], [TensorType(x.type.dtype, tuple(shp))])

    def perform(self, node, x, repeats):
        return np.repeat(x, repeats, axis=self.axis)

    def L_op(self, node, inputs, outputs, output_grads):
        return [RepeatGrad(self.axis, inputs[0].type.shape)(output_grads[0], inputs[1]),
                disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]


class RepeatGrad(Op):
    """The gradient of :class:`Repeat`: sum each run of repeated elements."""

    __props__ = ("axis", "out_shape")

    def __init__(self, axis: int, out_shape: tuple) -> None:
        self.axis = axis
        self.out_shape = tuple(out_shape)

    def make_node(self, g, repeats):
        g = as_tensor_variable(g)
        return Apply(self, [g, as_tensor_variable(repeats)], [TensorType(g.type.dtype, self.out_shape)])

    def perform(self, node, g, repeats):
        axis = self.axis
        repeats = np.asarray(repeats)
        if repeats.ndim == 0:
            r = int(repeats)
            shp = g.shape[:axis] + (g.shape[axis] // max(r, 1), r) + g.shape[axis + 1:]
            if r == 0:
                shp = g.shape[:axis] + (0,) + g.shape[axis + 1:]
                return np.zeros(shp, dtype=g.dtype)
            return g.reshape(shp).sum(axis=axis + 1)
        starts = np.concatenate([[0], np.cumsum(repeats)[:-1]])
        out_shape = g.shape[:axis] + (len(repeats),) + g.shape[axis + 1:]
        out = np.zeros(out_shape, dtype=g.dtype)
        nz = repeats > 0
        if nz.any():
            sums = np.add.reduceat(g, starts[nz], axis=axis)
            idx = [slice(None)] * g.ndim
            idx[axis] = np.nonzero(nz)[0]
            out[tuple(idx)] = sums
        return out

    def L_op(self, node, inputs, outputs, output_grads):
        return [Repeat(self.axis)(output_grads[0], inputs[1]), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]


def repeat(x: Any, repeats: Any, axis: int | None = None) -> TensorVariable:
    """Repeat elements of ``x`` (``np.repeat``); ``axis=None`` flattens first."""
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    return Repeat(axis % x.type.ndim)(x, repeats)


class Tile(Op):
    """Tile ``x`` by static ``reps`` (``np.tile``, with ``len(reps) == x.ndim``)."""

    __props__ = ("reps",)

    def __init__(self, reps: tuple) -> None:
        self.reps = tuple(int(r) for r in reps)

    def make_node(self, x):
        x = as_tensor_variable(x)
        if len(self.reps) != x.type.ndim:
            raise ValueError(f"tile: reps {self.reps} must have one entry per dimension of {x.type}")
        shp = tuple(None if s is None else s * r for s, r in zip(x.type.shape, self.reps))
        return Apply(self, [x], [TensorType(x.type.dtype, shp)])

    def perform(self, node, x):
        return np.tile(x, self.reps)

    def L_op(self, node, inputs, outputs, output_grads):
        return [TileGrad(self.reps, inputs[0].type.shape)(output_grads[0], shape(inputs[0]))]


class TileGrad(Op):
    """The gradient of :class:`Tile`: sum the tiles."""

    __props__ = ("reps", "out_shape")

    def __init__(self, reps: tuple, out_shape: tuple) -> None:
        self.reps = tuple(reps)
        self.out_shape = tuple(out_shape)

    def make_node(self, g, shp):
        g = as_tensor_variable(g)
        return Apply(self, [g, shp], [TensorType(g.type.dtype, self.out_shape)])

    def perform(self, node, g, shp):
        inter = []
        for r, s in zip(self.reps, shp.tolist()):
            inter += [r, s]
        return g.reshape(inter).sum(axis=tuple(range(0, 2 * len(self.reps), 2)))

    def L_op(self, node, inputs, outputs, output_grads):
        return [Tile(self.reps)(output_grads[0]), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]


def tile(x: Any, reps: Sequence[int]) -> TensorVariable:
    """Tile ``x`` (``np.tile``); ``reps`` are ints known when the graph is built."""
    x = as_tensor_variable(x)
    reps = tuple(int(r) for r in ([reps] if isinstance(reps, (int, np.integer)) else reps))
    if len(reps) > x.type.ndim:
        x = dimshuffle(x, ["x"] * (len(reps) - x.type.ndim) + list(range(x.type.ndim)))
    elif len(reps) < x.type.ndim:
        reps = (1,) * (x.type.ndim - len(reps)) + reps
    return Tile(reps)(x)
