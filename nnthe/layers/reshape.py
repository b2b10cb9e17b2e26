"""Layers that only change the shape: :class:`Flatten` and :class:`Reshape`."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core.ops.shape import flatten, reshape, shape_i
from ..core.types import fmt_shape
from ..core.variable import TensorVariable
from .base import Layer, Shape


def _size(dims: Sequence[int | None]) -> int | None:
    return None if None in dims else int(np.prod(dims, dtype=np.int64))


class Flatten(Layer):
    """Collapse every axis after the first ``outdim - 1`` into one.

    The static size of the flattened axis is kept when the trailing dimensions are
    known (as ``x.flatten(outdim)`` does), so a following Dense layer can build itself.

    Parameters
    ----------
    outdim : int
        The number of output dimensions (default 2: (batch, features)).
    name : str, optional
    """

    def __init__(self, outdim: int = 2, name: str | None = None) -> None:
        super().__init__(name=name)
        if not isinstance(outdim, (int, np.integer)) or outdim < 1:
            raise ValueError(f"Flatten: outdim must be a positive int, got {outdim!r}")
        self.outdim = int(outdim)

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        if x.type.ndim < self.outdim:
            raise TypeError(f"{self!r} needs an input of at least {self.outdim} dimensions, "
                            f"got shape {fmt_shape(x.type.shape)}")
        return flatten(x, self.outdim)


class Reshape(Layer):
    """Reshape every example: ``(batch, ...) -> (batch, *shape)``.

    Parameters
    ----------
    shape : tuple of int
        The shape of one example; one entry may be -1 (inferred).
    name : str, optional

    Examples
    --------
    >>> layers.Reshape((1, 28, 28)).output_shape((None, 784))
    (None, 1, 28, 28)
    """

    def __init__(self, shape: Sequence[int], name: str | None = None) -> None:
        super().__init__(name=name)
        shape = tuple(shape)
        if not all(isinstance(s, (int, np.integer)) and (s > 0 or s == -1) for s in shape) \
                or list(shape).count(-1) > 1:
            raise ValueError(f"Reshape: shape must be positive ints with at most one -1, got {shape}")
        self.shape = tuple(int(s) for s in shape)

    def _target(self, input_shape: Shape) -> Shape:
        """The static output shape: ``shape`` with -1 resolved when the example size is
        known (the reshape op cannot check a symbolic batch against the element count)."""
        n = _size(input_shape[1:])
        known = int(np.prod([s for s in self.shape if s != -1], dtype=np.int64))
        if n is None:
            return (input_shape[0],) + tuple(None if s == -1 else s for s in self.shape)
        if (-1 in self.shape and (known == 0 or n % known)) or (-1 not in self.shape and n != known):
            raise ValueError(f"{self!r}: cannot reshape examples of shape "
                             f"{fmt_shape(input_shape[1:])} ({n} elements) into {self.shape}")
        return (input_shape[0],) + tuple(n // known if s == -1 else s for s in self.shape)

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        out = self._target(x.type.shape)
        batch = shape_i(x, 0) if out[0] is None else out[0]
        dims = [-1 if s is None else s for s in out[1:]]
        return reshape(x, [batch] + dims)
