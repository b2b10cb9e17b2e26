"""Stochastic gradient descent, with classical or Nesterov momentum (as torch.optim.SGD)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ..core.shared import SharedVariable
from ..core.variable import TensorVariable
from .base import Optimizer, check_kwargs

__all__ = ["SGD", "Momentum", "Nesterov"]


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``p <- p - lr * g``.

    With ``weight_decay`` (L2, coupled as in ``torch.optim.SGD``): ``g <- g + wd * p``
    first. Robbins & Monro (1951), "A stochastic approximation method".

    Parameters
    ----------
    learning_rate : float or SharedVariable
        Required.
    weight_decay : float or SharedVariable
        L2 penalty coefficient (default 0: the term is left out of the graph, so set a
        non-zero value, or pass a shared variable, to change it later).
    clip_value, clip_norm : float, optional
        See :class:`~nnthe.optim.base.Optimizer`.

    Examples
    --------
    >>> opt = optim.SGD(learning_rate=0.1)
    >>> step = nnthe.function([x, y], loss, updates=opt.updates(loss, [W, b]))
    >>> opt.lr = 0.01          # takes effect at the next call, no recompiling
    """

    def __init__(self, learning_rate: Any, weight_decay: Any = 0.0, *,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 **kwargs: Any) -> None:
        check_kwargs(kwargs, type(self).__init__, type(self).__name__)
        super().__init__(clip_value=clip_value, clip_norm=clip_norm)
        self._add_hyper("learning_rate", learning_rate)
        self._init_decay(weight_decay)

    def _param_updates(self, i: int, p: SharedVariable, g: TensorVariable,
                       updates: OrderedDict, t: Any) -> None:
        g = self._coupled_decay(p, g)
        updates[p] = p - self._h("learning_rate", self._dtype(p)) * g


class Momentum(SGD):
    """SGD with (heavy-ball) momentum, as ``torch.optim.SGD(momentum=mu, dampening=0)``.

    .. math::

        v \\leftarrow \\mu v + g, \\qquad p \\leftarrow p - \\eta v

    (with ``g <- g + wd * p`` first when ``weight_decay`` is set). Polyak (1964), "Some
    methods of speeding up the convergence of iteration methods"; Sutskever et al. (2013),
    "On the importance of initialization and momentum in deep learning". Note Lasagne's
    ``momentum`` stores ``-lr * v`` instead: the same trajectory while the learning rate
    is constant, but here a learning-rate change acts on the whole step at once.

    Parameters
    ----------
    learning_rate : float or SharedVariable
    momentum : float or SharedVariable
        ``mu``, default 0.9.
    weight_decay : float or SharedVariable
    clip_value, clip_norm : float, optional

    State: ``"<param>/velocity"``.
    """

    nesterov = False

    def __init__(self, learning_rate: Any, momentum: Any = 0.9, weight_decay: Any = 0.0, *,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 **kwargs: Any) -> None:
        check_kwargs(kwargs, type(self).__init__, type(self).__name__)
        Optimizer.__init__(self, clip_value=clip_value, clip_norm=clip_norm)
        self._add_hyper("learning_rate", learning_rate)
        self._add_hyper("momentum", momentum, 0.0, None)
        self._init_decay(weight_decay)

    def _slots(self) -> list[tuple[str, float]]:
        return [("velocity", 0.0)]

    def _param_updates(self, i: int, p: SharedVariable, g: TensorVariable,
                       updates: OrderedDict, t: Any) -> None:
        dtype = self._dtype(p)
        g = self._coupled_decay(p, g)
        mu = self._h("momentum", dtype)
        v = self._slot(i, "velocity")
        v_new = mu * v + g
        step = g + mu * v_new if self.nesterov else v_new
        updates[v] = v_new
        updates[p] = p - self._h("learning_rate", dtype) * step


class Nesterov(Momentum):
    """SGD with Nesterov momentum, as ``torch.optim.SGD(momentum=mu, nesterov=True)``.

    .. math::

        v \\leftarrow \\mu v + g, \\qquad p \\leftarrow p - \\eta (g + \\mu v)

    Nesterov (1983), "A method for solving the convex programming problem with
    convergence rate O(1/k^2)"; this form is Sutskever et al. (2013), as in torch.

    Parameters and state as :class:`Momentum`.
    """

    nesterov = True
