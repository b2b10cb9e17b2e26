"""Pooling layers: :class:`MaxPool2D`, :class:`AvgPool2D`, :class:`GlobalAvgPool2D`."""
from __future__ import annotations

from typing import Any

from ..core.nnet import pool_2d
from ..core.nnet.conv import _pair
from ..core.ops.reduce import mean
from ..core.variable import TensorVariable
from .base import Layer


class _Pool2D(Layer):
    mode = "max"

    def __init__(self, pool_size: Any = 2, stride: Any = None, padding: Any = 0,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.pool_size = _pair(pool_size, f"{type(self).__name__} pool_size", 1)
        self.stride = self.pool_size if stride is None else _pair(stride, f"{type(self).__name__} stride", 1)
        self.padding = _pair(padding, f"{type(self).__name__} padding", 0)
        if any(p >= k for p, k in zip(self.padding, self.pool_size)):
            raise ValueError(f"{type(self).__name__}: padding {self.padding} must be smaller than "
                             f"pool_size {self.pool_size}")

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        self._check_ndim(x.type.shape, 4, " (N, C, H, W)")
        return pool_2d(x, self.pool_size, ignore_border=True, stride=self.stride,
                       pad=self.padding, mode=self.mode)


class MaxPool2D(_Pool2D):
    """The maximum over windows of ``pool_size`` (stride defaults to ``pool_size``;
    borders that do not fill a window are dropped).

    Examples
    --------
    >>> layers.MaxPool2D(2).output_shape((None, 32, 24, 24))
    (None, 32, 12, 12)
    """

    mode = "max"

    def __init__(self, pool_size: Any = 2, stride: Any = None, padding: Any = 0,
                 name: str | None = None) -> None:
        super().__init__(pool_size, stride, padding, name)


class AvgPool2D(_Pool2D):
    """The mean over windows of ``pool_size``; padded zeros are not counted
    (``count_include_pad=False``, PyTorch's option) unless asked for.
    """

    def __init__(self, pool_size: Any = 2, stride: Any = None, padding: Any = 0,
                 count_include_pad: bool = False, name: str | None = None) -> None:
        super().__init__(pool_size, stride, padding, name)
        self.mode = "average_inc_pad" if count_include_pad else "average_exc_pad"


class GlobalAvgPool2D(Layer):
    """The mean over the spatial axes: (N, C, H, W) -> (N, C)."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        self._check_ndim(x.type.shape, 4, " (N, C, H, W)")
        return mean(x, axis=(2, 3))
