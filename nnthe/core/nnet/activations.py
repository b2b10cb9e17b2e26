"""Activation functions: relu (leaky), elu, selu, gelu, silu/swish, hard_sigmoid,
softsign, and the stable sigmoid/softplus of the elementwise module (re-exported).

``relu`` is one elementwise op (``np.maximum(x, 0)``, gradient 0 at 0 as in PyTorch);
the others are compositions of elementwise ops written so that no branch overflows.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import elemwise as E
from ..ops.elemwise import sigmoid, softplus, tanh  # noqa: F401  (re-exported)
from ..types import is_float_dtype
from ..variable import TensorVariable, as_tensor_variable

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _relu_impl(x):
    return np.maximum(x, x.dtype.type(0)) if isinstance(x, np.ndarray) else np.maximum(x, 0)


# The gradient mask reads the output (z > 0 exactly where x > 0, NaN included), so the
# pre-activation is read by relu alone and fuses with the bias add before it.
_relu = E._register("relu", 1, _relu_impl, "same", lambda i, z, g: [g * E.gt(z, 0)])


def _float(x: Any, what: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if not is_float_dtype(x.type.dtype):
        raise TypeError(f"{what}: expected a float tensor, got {x!r} of dtype {x.type.dtype}")
    return x


def relu(x: Any, alpha: float = 0.0) -> TensorVariable:
    """Rectified linear unit ``max(x, 0)``; with ``alpha``, leaky: ``x`` if ``x > 0`` else
    ``alpha * x``.

    Examples
    --------
    >>> h = T.nnet.relu(T.matrix('x'), alpha=0.01)
    """
    x = _float(x, "relu")
    if not isinstance(alpha, (int, float, np.floating, np.integer)):
        raise TypeError(f"relu: alpha must be a number, got {alpha!r}")
    if alpha == 0:
        return _relu(x)
    return E.switch(E.gt(x, 0), x, x * float(alpha))


def leaky_relu(x: Any, alpha: float = 0.01) -> TensorVariable:
    """``relu(x, alpha)``."""
    return relu(x, alpha)


def elu(x: Any, alpha: float = 1.0) -> TensorVariable:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    x = _float(x, "elu")
    # expm1 of min(x, 0): the unused branch never overflows, so its gradient stays finite.
    return E.switch(E.gt(x, 0), x, float(alpha) * E.expm1(E.minimum(x, 0)))


def selu(x: Any) -> TensorVariable:
    """Scaled ELU with the self-normalising constants of Klambauer et al. (2017)."""
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def gelu(x: Any, approximate: str = "none") -> TensorVariable:
    """Gaussian error linear unit ``x * Phi(x)``.

    ``approximate='none'`` uses erf (exact); ``'tanh'`` the tanh approximation of
    Hendrycks & Gimpel.
    """
    x = _float(x, "gelu")
    if approximate == "none":
        return 0.5 * x * (1.0 + E.erf(x * (1.0 / math.sqrt(2.0))))
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + E.tanh(inner))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Any) -> TensorVariable:
    """Sigmoid-weighted linear unit ``x * sigmoid(x)`` (also called swish)."""
    x = _float(x, "silu")
    return x * sigmoid(x)


swish = silu


def hard_sigmoid(x: Any) -> TensorVariable:
    """Piecewise-linear sigmoid ``clip(0.2 * x + 0.5, 0, 1)`` (Theano's constants)."""
    x = _float(x, "hard_sigmoid")
    return E.clip(x * 0.2 + 0.5, 0.0, 1.0)


def softsign(x: Any) -> TensorVariable:
    """``x / (1 + |x|)``."""
    x = _float(x, "softsign")
    return x / (1.0 + E.abs(x))


__all__ = ["relu", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "hard_sigmoid",
           "softsign", "sigmoid", "softplus", "tanh"]
