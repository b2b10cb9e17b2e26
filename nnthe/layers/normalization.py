"""Normalization layers: :class:`BatchNorm` and :class:`LayerNorm`."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.ops.elemwise import cast, sqrt
from ..core.ops.reduce import mean
from ..core.ops.shape import shape_i
from ..core.shared import SharedVariable
from ..core.types import fmt_shape
from ..core.variable import TensorVariable
from .base import Layer, Shape


class BatchNorm(Layer):
    """Batch normalization (Ioffe & Szegedy, 2015) over every axis but ``axis``.

    With ``training=True`` the layer normalizes with the batch mean and (biased)
    variance and sets ``running_mean.default_update`` / ``running_var.default_update``
    to ``(1 - momentum) * running + momentum * batch`` (the variance unbiased, as in
    PyTorch), so any function compiled from that graph updates them. With
    ``training=False`` it normalizes with the running averages; that graph reads them
    through alias variables that share their storage but carry no update, so a
    prediction function never changes the statistics.

    Parameters
    ----------
    axis : int
        The feature/channel axis (1 for (N, C) and (N, C, H, W) inputs).
    momentum : float
        Weight of the current batch in the running averages (PyTorch's convention).
    epsilon : float
    center, scale : bool
        Learn ``beta`` / ``gamma``.
    beta_init, gamma_init : initializer
    name, dtype : see :class:`~nnthe.layers.base.Layer`

    Attributes
    ----------
    gamma, beta : SharedVariable or None
        Trainable, not regularizable.
    running_mean, running_var : SharedVariable
        Tagged ``trainable=False``, listed in ``named_params()``.
    """

    def __init__(self, axis: int = 1, momentum: float = 0.1, epsilon: float = 1e-5,
                 center: bool = True, scale: bool = True, beta_init: Any = "zeros",
                 gamma_init: Any = "ones", name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        if epsilon <= 0:
            raise ValueError(f"BatchNorm: epsilon must be > 0, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_init, self.gamma_init = beta_init, gamma_init

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2:
            raise TypeError(f"{self!r} needs an input of at least 2 dimensions, got shape "
                            f"{fmt_shape(input_shape)}")
        (c,) = self._require(input_shape, [self.axis], "the number of features")
        self.gamma = self.add_param("gamma", (c,), self.gamma_init, regularizable=False) \
            if self.scale else None
        self.beta = self.add_param("beta", (c,), self.beta_init, regularizable=False) \
            if self.center else None
        self.running_mean = self.add_param("running_mean", (c,), "zeros", trainable=False,
                                           regularizable=False)
        self.running_var = self.add_param("running_var", (c,), "ones", trainable=False,
                                          regularizable=False)
        self._infer_mean = _alias(self.running_mean)
        self._infer_var = _alias(self.running_var)

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        ndim = x.type.ndim
        axis = self.axis % ndim
        if ndim != len(self._input_shape):
            raise TypeError(f"{self!r} was built for {len(self._input_shape)}-d inputs, got "
                            f"{x!r} of shape {fmt_shape(x.type.shape)}")
        reduce_axes = tuple(a for a in range(ndim) if a != axis)
        pattern = ["x"] * ndim
        pattern[axis] = 0

        def bc(v: TensorVariable) -> TensorVariable:
            return v.dimshuffle(*pattern)

        if training:
            mu = mean(x, axis=reduce_axes, keepdims=True)
            var = mean((x - mu) ** 2, axis=reduce_axes, keepdims=True)
            n = None
            for a in reduce_axes:
                s = shape_i(x, a)
                n = s if n is None else n * s
            n = cast(n, x.type.dtype)
            m = self.momentum
            flat_mu, flat_var = mu.flatten(), var.flatten()
            self.running_mean.default_update = cast(
                (1 - m) * self.running_mean + m * flat_mu, self.running_mean.type.dtype)
            self.running_var.default_update = cast(
                (1 - m) * self.running_var + m * flat_var * n / (n - 1).clip(1, np.inf),
                self.running_var.type.dtype)
            # The output must reference the running averages, or a compiled function
            # would not see them (and their default updates).
            mu = mu + 0 * (bc(self.running_mean) + bc(self.running_var))
        else:
            mu, var = bc(self._infer_mean), bc(self._infer_var)
        inv = 1 / sqrt(var + self.epsilon)
        if self.gamma is not None:
            inv = inv * bc(self.gamma)
        out = (x - mu) * inv
        if self.beta is not None:
            out = out + bc(self.beta)
        return out


def _alias(var: SharedVariable) -> SharedVariable:
    """A shared variable with the same storage as ``var`` but no default update."""
    alias = SharedVariable(var.type, var.container[0], name=var.name)
    alias.container = var.container
    alias.tag["alias_of"] = var
    return alias


class LayerNorm(Layer):
    """Layer normalization (Ba et al., 2016) over the trailing ``normalized_ndim`` axes,
    with a learned elementwise scale ``gamma`` and shift ``beta``.

    The same computation in training and inference.

    Parameters
    ----------
    normalized_ndim : int
        How many trailing axes are normalized together (default 1: the features).
    epsilon : float
    center, scale : bool
    beta_init, gamma_init : initializer
    name, dtype : see :class:`~nnthe.layers.base.Layer`
    """

    def __init__(self, normalized_ndim: int = 1, epsilon: float = 1e-5, center: bool = True,
                 scale: bool = True, beta_init: Any = "zeros", gamma_init: Any = "ones",
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if not isinstance(normalized_ndim, (int, np.integer)) or normalized_ndim < 1:
            raise ValueError(f"LayerNorm: normalized_ndim must be a positive int, got {normalized_ndim!r}")
        if epsilon <= 0:
            raise ValueError(f"LayerNorm: epsilon must be > 0, got {epsilon!r}")
        self.normalized_ndim, self.epsilon = int(normalized_ndim), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_init, self.gamma_init = beta_init, gamma_init

    def build(self, input_shape: Shape) -> None:
        k = self.normalized_ndim
        if len(input_shape) < k:
            raise TypeError(f"{self!r} needs at least {k} dimensions, got shape {fmt_shape(input_shape)}")
        dims = tuple(self._require(input_shape, range(len(input_shape) - k, len(input_shape)),
                                   "the normalized dimensions"))
        self.gamma = self.add_param("gamma", dims, self.gamma_init, regularizable=False) \
            if self.scale else None
        self.beta = self.add_param("beta", dims, self.beta_init, regularizable=False) \
            if self.center else None

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        axes = tuple(range(x.type.ndim - self.normalized_ndim, x.type.ndim))
        mu = mean(x, axis=axes, keepdims=True)
        centered = x - mu
        var = mean(centered ** 2, axis=axes, keepdims=True)
        out = centered / sqrt(var + self.epsilon)
        if self.gamma is not None:
            out = out * self.gamma
        if self.beta is not None:
            out = out + self.beta
        return out
