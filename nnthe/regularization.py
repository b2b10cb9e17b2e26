"""Weight penalties: :func:`l1`, :func:`l2` and :func:`apply_penalty`.

Only parameters tagged ``regularizable`` (weights, not biases or normalization scales)
are penalized by default.

Examples
--------
>>> loss = losses.softmax_cross_entropy(logits, y).mean() \\
...     + regularization.apply_penalty(model, regularization.l2, 1e-4)
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .core.ops import elemwise as E
from .core.ops.reduce import sum as _sum
from .core.shared import SharedVariable
from .core.variable import TensorVariable, as_tensor_variable


def l1(x: Any) -> TensorVariable:
    """The sum of absolute values of ``x``."""
    return _sum(E.abs(as_tensor_variable(x)))


def l2(x: Any) -> TensorVariable:
    """The sum of squares of ``x`` (no factor 1/2, as Lasagne)."""
    return _sum(E.sqr(as_tensor_variable(x)))


def regularizable_params(model_or_params: Any, only_tagged: bool = True) -> list:
    """The parameters of a layer/model (or a list) that are tagged regularizable.

    Raises
    ------
    TypeError
        If the argument is neither a layer nor an iterable of shared variables.
    """
    from .layers.base import Layer

    if isinstance(model_or_params, Layer):
        params: Iterable = model_or_params.params
    elif isinstance(model_or_params, dict):
        params = model_or_params.values()
    elif isinstance(model_or_params, (list, tuple)):
        params = model_or_params
    else:
        raise TypeError(f"expected a layer/model or a list of parameters, got "
                        f"{type(model_or_params).__name__}")
    out = []
    for p in params:
        if not isinstance(p, TensorVariable):
            raise TypeError(f"expected parameters (shared variables), got {p!r}")
        if only_tagged and isinstance(p, SharedVariable) and not p.tag.get("regularizable", True):
            continue
        out.append(p)
    return out


def apply_penalty(model_or_params: Any, penalty: Callable[[Any], TensorVariable] = l2,
                  weight: float = 1.0, only_regularizable: bool = True) -> TensorVariable:
    """``weight * sum(penalty(p))`` over the regularizable parameters.

    Parameters
    ----------
    model_or_params : Layer, list of SharedVariable or dict name -> SharedVariable
    penalty : callable
        :func:`l2` (weight decay), :func:`l1`, or any ``tensor -> scalar``.
    weight : float
        The coefficient (a Python float keeps the loss's dtype).
    only_regularizable : bool
        Skip parameters tagged ``regularizable=False`` (biases, norm scales).

    Raises
    ------
    ValueError
        If there is no parameter to penalize.
    """
    if not callable(penalty):
        raise TypeError(f"apply_penalty: penalty must be callable (l1, l2, ...), got {penalty!r}")
    params = regularizable_params(model_or_params, only_regularizable)
    if not params:
        raise ValueError("apply_penalty: no regularizable parameter (has the model been called, "
                         "so that its parameters exist?)")
    total = penalty(params[0])
    for p in params[1:]:
        total = total + penalty(p)
    return weight * total


__all__ = ["l1", "l2", "apply_penalty", "regularizable_params"]
