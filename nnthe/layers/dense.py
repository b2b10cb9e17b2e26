"""The fully connected layer."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.ops.linalg import dot
from ..core.ops.shape import reshape, shape_i
from ..core.types import fmt_shape
from ..core.variable import TensorVariable
from . import activations as _act
from .base import Layer, Shape


class Dense(Layer):
    """``activation(x @ W + b)`` with ``W`` of shape ``(in, units)``.

    Parameters
    ----------
    units : int
        The number of outputs.
    activation : str or callable, optional
        See :mod:`nnthe.layers.activations` (default: linear).
    use_bias : bool
    W_init, b_init : initializer
        See :func:`nnthe.init.get` (default Glorot uniform and zeros).
    num_leading_axes : int
        How many leading axes are kept (batch axes, default 1); the remaining axes are
        flattened into the ``in`` dimension. Negative counts from the end: ``-1`` applies
        the layer to the last axis only (every position of a sequence, say).
    name, dtype : see :class:`~nnthe.layers.base.Layer`

    Examples
    --------
    >>> h = layers.Dense(800, activation='relu')(T.matrix('X', shape=(None, 784)))
    >>> h.type
    float32(?, 800)
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 W_init: Any = "glorot_uniform", b_init: Any = "zeros",
                 num_leading_axes: int = 1, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        if not isinstance(num_leading_axes, (int, np.integer)) or num_leading_axes == 0:
            raise ValueError(f"Dense: num_leading_axes must be a non-zero int, got {num_leading_axes!r}")
        self.units = int(units)
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.W_init, self.b_init = W_init, b_init
        self.num_leading_axes = int(num_leading_axes)

    def _leading(self, ndim: int) -> int:
        k = self.num_leading_axes if self.num_leading_axes > 0 else ndim + self.num_leading_axes
        if not 0 <= k < ndim:
            raise ValueError(f"{self!r}: num_leading_axes={self.num_leading_axes} leaves no "
                             f"feature axis for a {ndim}-d input")
        return k

    def build(self, input_shape: Shape) -> None:
        k = self._leading(len(input_shape))
        dims = self._require(input_shape, range(k, len(input_shape)), "the number of input features")
        n_in = int(np.prod(dims))
        self.W = self.add_param("W", (n_in, self.units), self.W_init)
        self.b = self.add_param("b", (self.units,), self.b_init, regularizable=False) \
            if self.use_bias else None

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        k = self._leading(x.type.ndim)
        n_in = self.W.type.shape[0]
        feat = x.type.shape[k:]
        if None not in feat and int(np.prod(feat)) != n_in:
            raise ValueError(f"{self!r} was built for {n_in} input features, got an input of "
                             f"shape {fmt_shape(x.type.shape)}")
        if x.type.ndim != k + 1:
            x = reshape(x, [shape_i(x, i) if s is None else s for i, s in enumerate(x.type.shape[:k])]
                        + [n_in])
        if k == 1:
            out = dot(x, self.W)
        else:
            lead = [shape_i(x, i) if s is None else s for i, s in enumerate(x.type.shape[:k])]
            out = reshape(dot(reshape(x, [-1, n_in]), self.W), lead + [self.units])
        if self.b is not None:
            out = out + self.b
        return self.activation(out)
