"""Lasagne-style functions returning update dictionaries, for code that needs no
optimizer object::

    updates = optim.adam(loss, params, learning_rate=1e-3)
    updates = optim.apply_nesterov_momentum(optim.sgd(loss, params, 0.1), momentum=0.9)

``sgd`` ... ``adamax`` follow the rules of the matching classes (PyTorch's); their
state is not reachable afterwards, so use the classes when it must be checkpointed.
``apply_momentum`` and ``apply_nesterov_momentum`` transform any update dictionary as
Lasagne's do.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from ..core.shared import SharedVariable
from ..core.types import TensorType
from ..core.variable import as_tensor_variable
from . import adam as _adam
from . import adaptive as _adaptive
from . import sgd as _sgd
from .base import check_params

__all__ = ["sgd", "momentum", "nesterov_momentum", "adagrad", "rmsprop", "adadelta", "adam",
           "adamw", "adamax", "apply_momentum", "apply_nesterov_momentum"]


def sgd(loss_or_grads: Any, params: Sequence[SharedVariable], learning_rate: Any,
        **kwargs: Any) -> OrderedDict:
    """SGD updates: ``p - lr * g``; see :class:`~nnthe.optim.SGD` for the options."""
    return _sgd.SGD(learning_rate, **kwargs).updates(loss_or_grads, params)


def momentum(loss_or_grads: Any, params: Sequence[SharedVariable], learning_rate: Any,
             momentum: Any = 0.9, **kwargs: Any) -> OrderedDict:
    """SGD with momentum (torch's form); see :class:`~nnthe.optim.Momentum`."""
    return _sgd.Momentum(learning_rate, momentum, **kwargs).updates(loss_or_grads, params)


def nesterov_momentum(loss_or_grads: Any, params: Sequence[SharedVariable], learning_rate: Any,
                      momentum: Any = 0.9, **kwargs: Any) -> OrderedDict:
    """SGD with Nesterov momentum (torch's form); see :class:`~nnthe.optim.Nesterov`."""
    return _sgd.Nesterov(learning_rate, momentum, **kwargs).updates(loss_or_grads, params)


def adagrad(loss_or_grads: Any, params: Sequence[SharedVariable], learning_rate: Any = 1e-2,
            **kwargs: Any) -> OrderedDict:
    """Adagrad updates; see :class:`~nnthe.optim.Adagrad`."""
    return _adaptive.Adagrad(learning_rate, **kwargs).updates(loss_or_grads, params)


def rmsprop(loss_or_grads: Any, params: Sequence[SharedVariable], learning_rate: Any = 1e-2,
            **kwargs: Any) -> OrderedDict:
    """RMSprop updates (torch's defaults); see :class:`~nnthe.optim.RMSprop`."""
    return _adaptive.RMSprop(learning_rate, **kwargs).updates(loss_or_grads, params)


def adadelta(loss_or_grads: Any, params: Sequence[SharedVariable], learning_rate: Any = 1.0,
             **kwargs: Any) -> OrderedDict:
    """Adadelta updates; see :class:`~nnthe.optim.Adadelta`."""
    return _adaptive.Adadelta(learning_rate, **kwargs).updates(loss_or_grads, params)


def adam(loss_or_grads: Any, params: Sequence[SharedVariable], learning_rate: Any = 1e-3,
         **kwargs: Any) -> OrderedDict:
    """Adam updates; see :class:`~nnthe.optim.Adam`."""
    return _adam.Adam(learning_rate, **kwargs).updates(loss_or_grads, params)


def adamw(loss_or_grads: Any, params: Sequence[SharedVariable], learning_rate: Any = 1e-3,
          **kwargs: Any) -> OrderedDict:
    """AdamW updates (decoupled weight decay); see :class:`~nnthe.optim.AdamW`."""
    return _adam.AdamW(learning_rate, **kwargs).updates(loss_or_grads, params)


def adamax(loss_or_grads: Any, params: Sequence[SharedVariable], learning_rate: Any = 2e-3,
           **kwargs: Any) -> OrderedDict:
    """Adamax updates; see :class:`~nnthe.optim.Adamax`."""
    return _adam.Adamax(learning_rate, **kwargs).updates(loss_or_grads, params)


def _momentum_inputs(updates: Any, params: Any, momentum: Any, what: str):
    if not isinstance(updates, dict):
        raise TypeError(f"{what}: updates must be a dict of {{param: new value}}, got "
                        f"{type(updates).__name__}")
    params = check_params(list(updates) if params is None else params, what)
    for p in params:
        if p not in updates:
            raise ValueError(f"{what}: {p!r} has no entry in updates")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.number)):
        raise TypeError(f"{what}: momentum must be a number, got {momentum!r}")
    if not 0 <= momentum < 1:
        raise ValueError(f"{what}: momentum must be in [0, 1), got {momentum!r}")
    return OrderedDict(updates), params


def _velocity(p: SharedVariable) -> SharedVariable:
    value = np.zeros_like(p.get_value(borrow=True))
    name = None if p.name is None else f"{p.name}/velocity"
    return SharedVariable(TensorType(p.type.dtype, p.type.shape), value, name=name)


def apply_momentum(updates: dict, params: Sequence[SharedVariable] | None = None,
                   momentum: float = 0.9) -> OrderedDict:
    """Add classical momentum to an update dictionary (Lasagne's ``apply_momentum``).

    For each parameter with proposed value :math:`u`: :math:`x = \\mu v + u`,
    :math:`v \\leftarrow x - p`, :math:`p \\leftarrow x`. With ``sgd`` this is
    :math:`v \\leftarrow \\mu v - \\eta g;\\ p \\leftarrow p + v`.

    Parameters
    ----------
    updates : dict
        ``{param: new value}``, e.g. from :func:`sgd`.
    params : list of SharedVariable, optional
        The parameters to add momentum to (default: every key of ``updates``).
    momentum : float
        In [0, 1).

    Returns
    -------
    OrderedDict
        A copy of ``updates`` with new parameter values and velocity updates.
    """
    updates, params = _momentum_inputs(updates, params, momentum, "apply_momentum")
    for p in params:
        v = _velocity(p)
        x = momentum * v + as_tensor_variable(updates[p])
        updates[v] = x - p
        updates[p] = x
    return updates


def apply_nesterov_momentum(updates: dict, params: Sequence[SharedVariable] | None = None,
                            momentum: float = 0.9) -> OrderedDict:
    """Add Nesterov momentum to an update dictionary (Lasagne's
    ``apply_nesterov_momentum``).

    For each parameter with proposed value :math:`u`: :math:`x = \\mu v + u - p`,
    :math:`v \\leftarrow x`, :math:`p \\leftarrow \\mu x + u`.

    Parameters and return value as :func:`apply_momentum`.
    """
    updates, params = _momentum_inputs(updates, params, momentum, "apply_nesterov_momentum")
    for p in params:
        v = _velocity(p)
        u = as_tensor_variable(updates[p])
        x = momentum * v + u - p
        updates[v] = x
        updates[p] = momentum * x + u
    return updates
