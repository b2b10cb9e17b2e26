"""Shape operations: shape, reshape, flatten, dimshuffle/transpose/expand_dims/squeeze,
and ``specify_shape``. Joining, splitting and repeating are in :mod:`.join`; undoing
broadcasting in gradients is with broadcasting, in :mod:`.elemwise`."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import DERIVED_FROM, Apply, Constant, Op, Variable
from ..types import disconnected_type, fmt_shape, is_int_dtype, TensorType
from ..variable import TensorVariable, as_tensor_variable, constant
from .elemwise import cast


def _int_scalar(v: Any, what: str) -> TensorVariable:
    v = as_tensor_variable(v)
    if v.type.ndim != 0 or not (is_int_dtype(v.type.dtype)):
        raise TypeError(f"{what}: expected an integer scalar, got {v!r} of type {v.type}")
    if v.type.dtype != "int64":
        v = cast(v, "int64")
    return v


def constant_value(v: Any) -> Any:
    """The value of ``v`` if it is known when the graph is built, else None.

    Constants give their data; a computed variable asks its op (:meth:`Op.static_value`:
    ``shape(x)`` of a known shape, ``x.shape[i]`` of a known dimension, a vector of
    known scalars) without compiling anything.
    """
    if not isinstance(v, Variable):
        return np.asarray(v)
    if isinstance(v, Constant):
        return v.data
    if v.owner is None:
        return None
    return v.owner.op.static_value(v)


# ---------------------------------------------------------------------------------------

class Shape(Op):
    """The shape of a tensor as an int64 vector."""

    def static_value(self, output):
        shp = output.owner.inputs[0].type.shape
        return np.asarray(shp, dtype="int64") if None not in shp else None

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.type.ndim,))])

    def perform(self, node, x):
        return np.array(np.shape(x), dtype=np.int64)

    def L_op(self, node, inputs, outputs, output_grads):
        return [disconnected_type()]

    def connection_pattern(self, node):
        return [[False]]

    def infer_shape(self, node, input_shapes):
        return [(node.inputs[0].type.ndim,)]


_shape_op = Shape()


def shape(x: Any) -> TensorVariable:
    """The symbolic shape of ``x`` (a constant when the static shape is fully known)."""
    x = as_tensor_variable(x)
    if None not in x.type.shape:
        return _derived(constant(np.asarray(x.type.shape, dtype="int64")), x)
    return _shape_op(x)


def shape_i(x: Any, i: int) -> TensorVariable:
    """``x.shape[i]`` (a constant when that dimension is statically known)."""
    x = as_tensor_variable(x)
    d = x.type.shape[i]
    if d is not None:
        return _derived(constant(np.asarray(d, dtype="int64")), x)
    return _shape_op(x)[i]


def _derived(c: Variable, x: Variable) -> Variable:
    """Mark the constant ``c`` as read from ``x``'s static shape: ``function``'s
    unused-input check follows the mark, so an input the user's graph reads is used
    even when its shape was known statically."""
    c.tag[DERIVED_FROM] = (x,)
    return c


class MakeVector(Op):
    """Stack integer scalars into an int64 vector (symbolic shapes)."""

    def static_value(self, output):
        vals = [constant_value(i) for i in output.owner.inputs]
        return None if any(x is None for x in vals) else np.asarray(vals, dtype="int64")

    def make_node(self, *scalars):
        scalars = [_int_scalar(s, "MakeVector") for s in scalars]
        return Apply(self, scalars, [TensorType("int64", (len(scalars),))])

    def perform(self, node, *scalars):
        return np.array(scalars, dtype=np.int64)

    def L_op(self, node, inputs, outputs, output_grads):
        return [disconnected_type() for _ in inputs]

    def connection_pattern(self, node):
        return [[False] for _ in node.inputs]


_make_vector = MakeVector()


def as_shape_vector(shp: Any, what: str) -> tuple[TensorVariable, tuple]:
    """Convert a shape (ints and int scalars, or an int vector) to an int64 vector and
    the static shape it implies (ints where known, None elsewhere: see
    :func:`_shape_entries` for what a vector reveals)."""
    if isinstance(shp, Variable):
        shp = as_tensor_variable(shp)
        if shp.type.ndim == 0:
            shp = [shp]
        else:
            if shp.type.ndim != 1 or not is_int_dtype(shp.type.dtype):
                raise TypeError(f"{what}: a shape must be an integer vector, got {shp.type}")
            if shp.type.shape[0] is None:
                raise ValueError(f"{what}: the length of the shape vector {shp!r} must be known "
                                 "statically; pass ndim= or a tuple")
            return cast(shp, "int64"), _shape_entries(shp, shp.type.shape[0])
    if isinstance(shp, (int, np.integer)):
        shp = [shp]
    try:
        items = list(shp)
    except TypeError:
        raise TypeError(f"{what}: expected a shape (tuple of ints or int scalars), got {shp!r}") from None
    static = []
    for s in items:
        val = constant_value(s)
        if val is not None and np.ndim(val) == 0 and np.asarray(val).dtype.kind in "iu":
            static.append(int(val))
        elif isinstance(s, Variable):
            static.append(None)
        else:
            raise TypeError(f"{what}: shape entries must be ints or integer scalars, got {s!r}")
    if all(v is not None for v in static):
        return constant(np.asarray(static, dtype="int64")), tuple(static)
    return _make_vector(*items), tuple(static)


# ---------------------------------------------------------------------------------------

def _shape_entries(shp: Variable, n: int) -> tuple:
    """The entries of the int vector ``shp`` known while the graph is built: all of a
    constant, ``v``'s static sizes for ``shape(v)``, the known scalars of a MakeVector
    (``x.shape[i]`` of a known dimension among them); None elsewhere."""
    val = constant_value(shp)
    if val is not None:
        return tuple(int(v) for v in np.ravel(val))
    owner = shp.owner
    if owner is not None and isinstance(owner.op, Shape):
        return tuple(owner.inputs[0].type.shape)
    if owner is not None and isinstance(owner.op, MakeVector):
        vals = [constant_value(s) for s in owner.inputs]
        return tuple(None if v is None else int(v) for v in vals)
    return (None,) * n


def _reshaped_static(xshape: tuple, static: tuple) -> tuple:
    """The static output shape of reshaping a tensor of static shape ``xshape`` to the
    shape vector whose known entries are ``static`` (-1: inferred), or ValueError when
    the known sizes show that no run-time value can fit."""
    if static.count(-1) > 1:
        raise ValueError(f"reshape: can only infer one dimension (-1), got {static}")
    out = [None if s is None or s == -1 else s for s in static]
    unknown = [k for k, s in enumerate(out) if s is None]
    rest = int(np.prod([s for s in out if s is not None], dtype=np.int64))
    if None not in xshape:
        size = int(np.prod(xshape, dtype=np.int64))
        if not unknown:
            if size != rest:
                raise ValueError(
                    f"reshape: cannot reshape an array of shape {fmt_shape(xshape)} "
                    f"({size} elements) into shape {fmt_shape(static)} ({rest} elements)")
        elif (rest == 0 and (size or -1 in static)) or (rest and size % rest):
            # NumPy refuses -1 beside a 0, whatever the size.
            raise ValueError(
                f"reshape: cannot reshape an array of shape {fmt_shape(xshape)} ({size} "
                f"elements) into shape {fmt_shape(static)} (a multiple of {rest} elements)")
        elif len(unknown) == 1 and rest:
            # The one unknown entry (-1 or a run-time size) is whatever makes the sizes agree.
            out[unknown[0]] = size // rest
    elif not unknown:
        known = int(np.prod([s for s in xshape if s is not None], dtype=np.int64))
        if (known == 0 and rest) or (known and rest % known):
            raise ValueError(
                f"reshape: cannot reshape an array of shape {fmt_shape(xshape)} (a multiple of "
                f"{known} elements) into shape {fmt_shape(static)} ({rest} elements)")
    return tuple(out)


class Reshape(Op):
    """Reshape to a shape given as an int64 vector (``-1`` infers one dimension).

    The output's static shape takes every entry known while the graph is built: those
    of ``static`` (given by :func:`reshape`) and those the shape vector shows itself (a
    constant, ``shape(v)``, a vector of known scalars), so ``reshape(g, shape(x))``, the
    gradient of a flatten, has ``x``'s static shape; with the input's size known, one
    unknown entry is inferred. Known sizes that cannot agree raise ValueError naming
    both shapes.
    """

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim: int) -> None:
        self.ndim = ndim

    def make_node(self, x, shp, static=None):
        x, shp = as_tensor_variable(x), as_tensor_variable(shp)
        if shp.type.ndim != 1 or not is_int_dtype(shp.type.dtype) \
                or shp.type.shape[0] not in (None, self.ndim):
            raise TypeError(f"Reshape{{ndim={self.ndim}}}: the shape must be an integer vector of "
                            f"length {self.ndim}, got {shp!r} of type {shp.type}")
        static = tuple(static) if static is not None else (None,) * self.ndim
        seen = _shape_entries(shp, self.ndim)
        if len(static) != self.ndim or any(
                a is not None and b is not None and a != b for a, b in zip(static, seen)):
            raise ValueError(f"Reshape{{ndim={self.ndim}}}: the static shape {fmt_shape(static)} "
                             f"contradicts the shape vector {shp!r}, known to be {fmt_shape(seen)}")
        static = tuple(a if a is not None else b for a, b in zip(static, seen))
        return Apply(self, [x, shp], [TensorType(x.type.dtype, _reshaped_static(x.type.shape, static))])

    def make_thunk(self, node):
        return np.reshape

    def perform(self, node, x, shp):
        return np.reshape(x, shp)

    def L_op(self, node, inputs, outputs, output_grads):
        x = inputs[0]
        return [reshape(output_grads[0], shape(x)), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]


def reshape(x: Any, newshape: Any, ndim: int | None = None) -> TensorVariable:
    """``x`` reshaped to ``newshape`` (ints, int scalars or an int vector; -1 once).

    Raises ValueError when the static sizes show the reshape is impossible.
    """
    x = as_tensor_variable(x)
    if isinstance(newshape, Variable) and newshape.type.ndim == 1 and ndim is not None \
            and newshape.type.shape[0] is None:
        vec = newshape
        static = (None,) * ndim
    else:
        vec, static = as_shape_vector(newshape, "reshape")
    if None not in static and static == x.type.shape:
        return x
    return Reshape(len(static)).make_node(x, vec, static).outputs[0]


def flatten(x: Any, ndim: int = 1) -> TensorVariable:
    """Collapse the trailing dimensions so that the result has ``ndim`` dimensions."""
    x = as_tensor_variable(x)
    if not 1 <= ndim <= max(x.type.ndim, 1):
        raise ValueError(f"flatten: ndim must be in [1, {max(x.type.ndim, 1)}], got {ndim}")
    if ndim == x.type.ndim:
        return x
    lead = [shape_i(x, i) for i in range(ndim - 1)]
    trailing = x.type.shape[ndim - 1:]
    # With the trailing sizes known, the flattened size is known even when the
    # batch size is not: (None, 1, 28, 28).flatten(2) is (None, 784).
    last = int(np.prod(trailing, dtype=np.int64)) if None not in trailing else -1
    return reshape(x, lead + [last])


class DimShuffle(Op):
    """Permute dimensions, insert broadcastable ones (``'x'``) and drop size-1 ones.

    ``pattern`` is Theano's: ``x.dimshuffle(1, 'x', 0)`` turns (a, b) into (b, 1, a).
    """

    __props__ = ("input_ndim", "pattern")
    view_map = {0: [0]}

    def __init__(self, input_ndim: int, pattern: tuple) -> None:
        self.input_ndim = input_ndim
        self.pattern = tuple(pattern)
        kept = [p for p in self.pattern if p != "x"]
        self.dropped = tuple(d for d in range(input_ndim) if d not in kept)
        self.perm = tuple(kept) + self.dropped
        self.index = tuple(None if p == "x" else slice(None) for p in self.pattern) + (0,) * len(self.dropped)
        self.is_transpose = "x" not in self.pattern and not self.dropped

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.type.ndim != self.input_ndim:
            raise TypeError(f"dimshuffle{self.pattern}: expected a {self.input_ndim}-d input, got {x.type}")
        for d in self.dropped:
            if x.type.shape[d] not in (1, None):
                raise ValueError(
                    f"dimshuffle{self.pattern} drops dimension {d} of {x!r}, whose size is "
                    f"{x.type.shape[d]}; only dimensions of size 1 can be dropped")
        shp = tuple(1 if p == "x" else x.type.shape[p] for p in self.pattern)
        return Apply(self, [x], [TensorType(x.type.dtype, shp)])

    def make_thunk(self, node):
        perm, index = self.perm, self.index
        check = [d for d in self.dropped if node.inputs[0].type.shape[d] is None]
        if self.is_transpose:
            return lambda x: np.transpose(x, perm)
        if check:
            pattern = self.pattern

            def dimshuffle_checked(x):
                for d in check:
                    if x.shape[d] != 1:
                        raise ValueError(f"dimshuffle{pattern}: dimension {d} to drop has size {x.shape[d]}, not 1")
                return np.transpose(x, perm)[index]
            return dimshuffle_checked
        return lambda x: np.transpose(x, perm)[index]

    def perform(self, node, x):
        return self.make_thunk(node)(x)

    def L_op(self, node, inputs, outputs, output_grads):
        inv = [self.pattern.index(d) if d in self.pattern else "x" for d in range(self.input_ndim)]
        return [dimshuffle(output_grads[0], inv)]

    def infer_shape(self, node, input_shapes):
        return [tuple(1 if p == "x" else input_shapes[0][p] for p in self.pattern)]

    def __str__(self) -> str:
        if self.is_transpose:
            return f"Transpose{{{','.join(map(str, self.pattern))}}}"
        return f"DimShuffle{{{','.join(map(str, self.pattern))}}}"


def dimshuffle(x: Any, pattern: Sequence) -> TensorVariable:
    """Theano's ``dimshuffle``: reorder dimensions and insert (``'x'``) or drop size-1 ones."""
    x = as_tensor_variable(x)
    pattern = tuple(p if p == "x" else int(p) for p in pattern)
    kept = [p for p in pattern if p != "x"]
    if len(set(kept)) != len(kept) or any(not 0 <= p < x.type.ndim for p in kept):
        raise ValueError(f"dimshuffle: invalid pattern {pattern} for a {x.type.ndim}-d input")
    if pattern == tuple(range(x.type.ndim)):
        return x
    return DimShuffle(x.type.ndim, pattern)(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> TensorVariable:
    """Permute the dimensions (reverse them by default), as ``np.transpose``."""
    x = as_tensor_variable(x)
    if axes is None:
        axes = tuple(range(x.type.ndim - 1, -1, -1))
    axes = tuple(int(a) % x.type.ndim if x.type.ndim else int(a) for a in axes)
    if sorted(axes) != list(range(x.type.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {x.type.ndim} dimensions")
    return dimshuffle(x, axes)


def expand_dims(x: Any, axis: int | Sequence[int]) -> TensorVariable:
    """Insert size-1 dimensions at ``axis`` (positions in the result)."""
    x = as_tensor_variable(x)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out_ndim = x.type.ndim + len(axes)
    axes = sorted(a % out_ndim for a in axes)
    pattern: list = []
    src = iter(range(x.type.ndim))
    for d in range(out_ndim):
        pattern.append("x" if d in axes else next(src))
    return dimshuffle(x, pattern)


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> TensorVariable:
    """Drop size-1 dimensions (those statically 1 when ``axis`` is None)."""
    x = as_tensor_variable(x)
    if axis is None:
        drop = [d for d, s in enumerate(x.type.shape) if s == 1]
    else:
        drop = [a % x.type.ndim for a in ([axis] if isinstance(axis, (int, np.integer)) else axis)]
    return dimshuffle(x, [d for d in range(x.type.ndim) if d not in drop])


class SpecifyShape(Op):
    """Identity that declares a more precise static shape (checked when it runs).

    ``grad`` uses it so that the gradient of a variable has that variable's static
    shape even when it was built by broadcasting a value whose shape is known only at
    run time; ops fed by the gradient can then infer their static shapes.
    """

    __props__ = ("shape",)
    view_map = {0: [0]}

    def __init__(self, shape: tuple) -> None:
        self.shape = tuple(shape)

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.type.ndim != len(self.shape) or any(
                a is not None and b is not None and a != b for a, b in zip(x.type.shape, self.shape)):
            raise ValueError(f"specify_shape: {x!r} of static shape {fmt_shape(x.type.shape)} "
                             f"cannot have shape {fmt_shape(self.shape)}")
        return Apply(self, [x], [TensorType(x.type.dtype, self.shape)])

    def perform(self, node, x):
        if not node.outputs[0].type.shape_matches(np.shape(x)):
            raise ValueError(f"specify_shape: expected shape {fmt_shape(self.shape)}, got {np.shape(x)}")
        return x

    def L_op(self, node, inputs, outputs, output_grads):
        return [output_grads[0]]

    def infer_shape(self, node, input_shapes):
        return [tuple(s if s is not None else d for s, d in zip(self.shape, input_shapes[0]))]


def specify_shape(x: Any, shape: Sequence[int | None]) -> TensorVariable:
    """``x`` with the static shape ``shape`` merged into its own (no node if nothing is
    added)."""
    x = as_tensor_variable(x)
    shape = tuple(shape)
    if len(shape) != x.type.ndim or any(
            a is not None and b is not None and a != b for a, b in zip(x.type.shape, shape)):
        raise ValueError(f"specify_shape: {x!r} of static shape {fmt_shape(x.type.shape)} "
                         f"cannot have shape {fmt_shape(shape)}")
    merged = tuple(a if a is not None else b for a, b in zip(x.type.shape, shape))
    return x if merged == x.type.shape else SpecifyShape(merged)(x)

