"""The embedding (lookup table) layer."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.types import is_int_dtype
from ..core.variable import TensorVariable
from .base import Layer, Shape


class Embedding(Layer):
    """Map integer ids in ``[0, input_dim)`` to learned vectors: ``W[x]``.

    Parameters
    ----------
    input_dim : int
        The vocabulary size.
    output_dim : int
        The vector size.
    W_init : initializer
        Default ``Normal(1.0)`` (as PyTorch).
    name, dtype : see :class:`~nnthe.layers.base.Layer` (parameters are
        ``config.floatX`` unless ``dtype`` is given).

    Examples
    --------
    >>> emb = layers.Embedding(1000, 64)
    >>> emb.output_shape((None, 20))
    (None, 20, 64)
    """

    trace_dtype = "int64"  # output_shape() traces with integer ids

    def __init__(self, input_dim: int, output_dim: int, W_init: Any = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        for what, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"Embedding: {what} must be a positive int, got {v!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.W_init = W_init

    def build(self, input_shape: Shape) -> None:
        from .. import init

        self.W = self.add_param("W", (self.input_dim, self.output_dim),
                                self.W_init if self.W_init is not None else init.Normal(1.0))

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        if not is_int_dtype(x.type.dtype):
            raise TypeError(f"{self!r} takes integer ids, got {x!r} of dtype {x.type.dtype}")
        return self.W[x]
