"""Layers that merge several tensors: :class:`Concatenate` and :class:`Add`."""
from __future__ import annotations

from ..core.ops.join import concatenate
from ..core.variable import TensorVariable
from .base import Layer


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

    def call(self, xs: list[TensorVariable], training: bool = False) -> TensorVariable:
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

    def call(self, xs: list[TensorVariable], training: bool = False) -> TensorVariable:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out
