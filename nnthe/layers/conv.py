"""The 2-d convolution layer."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.nnet import conv2d
from ..core.nnet.conv import _pair
from ..core.variable import TensorVariable
from . import activations as _act
from .base import Layer, Shape


class Conv2D(Layer):
    """2-d convolution (cross-correlation, as PyTorch and Keras) of NCHW images.

    The kernel ``W`` has PyTorch's layout ``(filters, in_channels / groups, kh, kw)``.

    Parameters
    ----------
    filters : int
        The number of output channels.
    kernel_size : int or (int, int)
    stride : int or (int, int)
    padding : 'valid', 'same', 'full', int or (int, int)
        ``'same'`` keeps the spatial size at stride 1 (odd kernel sizes only).
    dilation : int or (int, int)
    groups : int
        Grouped convolution; ``in_channels`` and ``filters`` must be divisible by it.
    activation, use_bias, W_init, b_init, name, dtype
        As for :class:`~nnthe.layers.Dense`.

    Examples
    --------
    >>> conv = layers.Conv2D(32, 5, activation='relu')
    >>> conv.output_shape((None, 1, 28, 28))
    (None, 32, 24, 24)
    """

    def __init__(self, filters: int, kernel_size: Any, stride: Any = 1, padding: Any = "valid",
                 dilation: Any = 1, groups: int = 1, activation: Any = None,
                 use_bias: bool = True, W_init: Any = "glorot_uniform", b_init: Any = "zeros",
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"Conv2D: filters must be a positive int, got {filters!r}")
        if not isinstance(groups, (int, np.integer)) or groups <= 0 or filters % groups:
            raise ValueError(f"Conv2D: groups must be a positive int dividing filters={filters}, "
                             f"got {groups!r}")
        self.filters, self.groups = int(filters), int(groups)
        self.kernel_size = _pair(kernel_size, "Conv2D kernel_size", 1)
        self.stride = _pair(stride, "Conv2D stride", 1)
        self.dilation = _pair(dilation, "Conv2D dilation", 1)
        if isinstance(padding, str):
            padding = padding.lower()
            if padding not in ("valid", "same", "full"):
                raise ValueError(f"Conv2D: padding must be 'valid', 'same', 'full', an int or a "
                                 f"pair of ints, got {padding!r}")
            if padding == "same" and any(k % 2 == 0 for k in self.kernel_size):
                raise ValueError(f"Conv2D: padding='same' needs odd kernel sizes, got "
                                 f"kernel_size={self.kernel_size}; pad explicitly instead")
            self.padding: Any = padding
        else:
            self.padding = _pair(padding, "Conv2D padding", 0)
        self.activation = _act.get(activation)
        self.use_bias = bool(use_bias)
        self.W_init, self.b_init = W_init, b_init

    def build(self, input_shape: Shape) -> None:
        self._check_ndim(input_shape, 4, " (N, C, H, W)")
        (channels,) = self._require(input_shape, [1], "the number of input channels")
        if channels % self.groups:
            raise ValueError(f"{self!r}: {channels} input channels are not divisible by "
                             f"groups={self.groups}")
        kh, kw = self.kernel_size
        self.W = self.add_param("W", (self.filters, channels // self.groups, kh, kw), self.W_init)
        self.b = self.add_param("b", (self.filters,), self.b_init, regularizable=False) \
            if self.use_bias else None

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        self._check_ndim(x.type.shape, 4, " (N, C, H, W)")
        mode = "half" if self.padding == "same" else self.padding
        out = conv2d(x, self.W, border_mode=mode, subsample=self.stride,
                     filter_dilation=self.dilation, num_groups=self.groups,
                     filter_flip=False)  # cross-correlation: PyTorch's weights as they are
        if self.b is not None:
            out = out + self.b.dimshuffle("x", 0, "x", "x")
        return self.activation(out)
