"""Activation functions by name: the registry behind every layer's ``activation=``.

The functions come from :mod:`nnthe.nnet` when it provides them (so the graph holds the
fused, stable ops the rewrites know); small fallbacks written with core ops are used
otherwise.

Examples
--------
>>> from nnthe.layers import activations
>>> relu = activations.get('relu')
>>> activations.get(None) is activations.linear
True
"""
from __future__ import annotations

from typing import Callable

from ..core.hints import did_you_mean
from ..core import nnet
from ..core.ops import elemwise as E
from ..core.variable import TensorVariable

Activation = Callable[[TensorVariable], TensorVariable]


def linear(x: TensorVariable) -> TensorVariable:
    """The identity (no activation)."""
    return x


def relu(x: TensorVariable) -> TensorVariable:
    """max(x, 0)."""
    return nnet.relu(x)


def leaky_relu(x: TensorVariable, alpha: float = 0.01) -> TensorVariable:
    """x where x > 0, else alpha * x."""
    return nnet.relu(x, alpha=alpha)


def elu(x: TensorVariable) -> TensorVariable:
    """x where x > 0, else exp(x) - 1."""
    return nnet.elu(x)


def selu(x: TensorVariable) -> TensorVariable:
    """Klambauer et al. (2017): scale * elu(x) with alpha 1.6733, scale 1.0507."""
    return nnet.selu(x)


def gelu(x: TensorVariable) -> TensorVariable:
    """x * Phi(x), the exact (erf) form."""
    return nnet.gelu(x)


def silu(x: TensorVariable) -> TensorVariable:
    """x * sigmoid(x) (a.k.a. swish)."""
    return nnet.silu(x)


def softsign(x: TensorVariable) -> TensorVariable:
    """x / (1 + |x|)."""
    return nnet.softsign(x)


def hard_sigmoid(x: TensorVariable) -> TensorVariable:
    """clip(0.2 * x + 0.5, 0, 1)."""
    return nnet.hard_sigmoid(x)


def sigmoid(x: TensorVariable) -> TensorVariable:
    """1 / (1 + exp(-x))."""
    return E.sigmoid(x)


def tanh(x: TensorVariable) -> TensorVariable:
    """Hyperbolic tangent."""
    return E.tanh(x)


def softplus(x: TensorVariable) -> TensorVariable:
    """log(1 + exp(x))."""
    return E.softplus(x)


def exponential(x: TensorVariable) -> TensorVariable:
    """exp(x)."""
    return E.exp(x)


def softmax(x: TensorVariable) -> TensorVariable:
    """Softmax over the last axis."""
    return nnet.softmax(x, axis=-1)


def log_softmax(x: TensorVariable) -> TensorVariable:
    """log(softmax(x)) over the last axis, computed stably."""
    return nnet.log_softmax(x, axis=-1)


_REGISTRY: dict[str, Activation] = {
    "linear": linear, "identity": linear, "relu": relu, "leaky_relu": leaky_relu,
    "elu": elu, "selu": selu, "gelu": gelu, "silu": silu, "swish": silu,
    "softsign": softsign, "hard_sigmoid": hard_sigmoid, "sigmoid": sigmoid, "tanh": tanh,
    "softplus": softplus, "exponential": exponential, "exp": exponential,
    "softmax": softmax, "log_softmax": log_softmax,
}


def register(name: str, fn: Activation) -> None:
    """Make ``fn`` available as ``activation=name`` in every layer.

    Raises
    ------
    ValueError
        If ``name`` is already registered.
    """
    if name in _REGISTRY:
        raise ValueError(f"activation {name!r} is already registered")
    if not callable(fn):
        raise TypeError(f"activation {name!r} must be callable, got {type(fn).__name__}")
    _REGISTRY[name] = fn


def get(activation: str | Activation | None) -> Activation:
    """The function for ``activation``: a registered name, a callable, or None (linear).

    Raises
    ------
    ValueError
        For an unknown name, with a "did you mean" hint.
    TypeError
        For something that is neither a string nor callable.
    """
    if activation is None:
        return linear
    if isinstance(activation, str):
        key = activation.lower()
        if key not in _REGISTRY:
            raise ValueError(f"unknown activation {activation!r}{did_you_mean(key, _REGISTRY)}"
                             f" Known: {sorted(_REGISTRY)}")
        return _REGISTRY[key]
    if callable(activation):
        return activation
    raise TypeError(f"activation must be a name or a callable, got {type(activation).__name__}: "
                    f"{activation!r}")


def name_of(activation: Activation) -> str:
    """The registered name of ``activation`` (or its ``__name__``)."""
    for k, v in _REGISTRY.items():
        if v is activation:
            return k
    return getattr(activation, "__name__", repr(activation))


__all__ = ["get", "register", "name_of"] + sorted(set(f.__name__ for f in _REGISTRY.values()))
