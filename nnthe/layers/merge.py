"""Layers that merge several tensors: :class:`Concatenate` and :class:`Add`."""
from __future__ import annotations

from typing import Sequence

from ..core.ops.elemwise import broadcast_static_shapes
from ..core.ops.join import concatenate
from ..core.types import fmt_shape
from ..core.variable import TensorVariable
from .base import Layer, Shape


class Concatenate(Layer):
    """Concatenate a list of tensors along ``axis`` (default 1: features/channels).

    Examples
    --------
    >>> layers.Concatenate().output_shape([(None, 3), (None, 5)])
    (None, 8)
    """

    multi_input = True

    def __init__(self, axis: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis = int(axis)

    def output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        shapes = [tuple(s) for s in input_shape]
        ndim = len(shapes[0])
        if any(len(s) != ndim for s in shapes):
            raise TypeError(f"{self!r}: inputs have different numbers of dimensions: "
                            f"{', '.join(fmt_shape(s) for s in shapes)}")
        axis = self.axis % ndim
        out = []
        for d in range(ndim):
            col = [s[d] for s in shapes]
            if d == axis:
                out.append(None if None in col else sum(col))
                continue
            known = {c for c in col if c is not None}
            if len(known) > 1:
                raise ValueError(f"{self!r}: inputs differ outside axis {self.axis}: "
                                 f"{', '.join(fmt_shape(s) for s in shapes)}")
            out.append(known.pop() if known else None)
        return tuple(out)

    def call(self, xs: list[TensorVariable], training: bool = False) -> TensorVariable:
        self.output_shape([x.type.shape for x in xs])
        return concatenate(xs, axis=self.axis)


class Add(Layer):
    """The elementwise sum of a list of tensors (broadcasting as NumPy).

    Examples
    --------
    >>> layers.Add().output_shape([(None, 8), (None, 8)])
    (None, 8)
    """

    multi_input = True

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)

    def output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        return tuple(broadcast_static_shapes([tuple(s) for s in input_shape], repr(self)))

    def call(self, xs: list[TensorVariable], training: bool = False) -> TensorVariable:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out
