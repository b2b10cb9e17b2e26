"""Per-coordinate adaptive learning rates: Adagrad, RMSprop, Adadelta (as torch.optim)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ..core.ops.elemwise import cast, sqr, sqrt
from ..core.shared import SharedVariable
from ..core.variable import TensorVariable
from .base import Optimizer, check_kwargs

__all__ = ["Adagrad", "RMSprop", "Adadelta"]


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer, 2011, "Adaptive subgradient methods for online
    learning and stochastic optimization"), as ``torch.optim.Adagrad``.

    .. math::

        s \\leftarrow s + g^2, \\qquad
        p \\leftarrow p - \\frac{\\eta_t\\, g}{\\sqrt{s} + \\epsilon}, \\qquad
        \\eta_t = \\frac{\\eta}{1 + (t - 1)\\,\\text{lr\\_decay}}

    Parameters
    ----------
    learning_rate : float or SharedVariable
        Default 0.01.
    lr_decay : float or SharedVariable
        Default 0.
    weight_decay : float or SharedVariable
        L2 term ``g + wd * p`` (default 0: left out of the graph).
    initial_accumulator_value : float
        Initial value of ``s`` (default 0).
    epsilon : float
        Default 1e-10.
    clip_value, clip_norm : float, optional

    State: ``"step"``, ``"<param>/sum_sq"``.
    """

    uses_step = True

    def __init__(self, learning_rate: Any = 1e-2, lr_decay: Any = 0.0, weight_decay: Any = 0.0,
                 initial_accumulator_value: float = 0.0, epsilon: float = 1e-10, *,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 **kwargs: Any) -> None:
        check_kwargs(kwargs, type(self).__init__, type(self).__name__)
        super().__init__(clip_value=clip_value, clip_norm=clip_norm)
        self._add_hyper("learning_rate", learning_rate)
        self._add_hyper("lr_decay", lr_decay)
        self._init_decay(weight_decay)
        if initial_accumulator_value < 0 or epsilon < 0:
            raise ValueError(f"Adagrad: initial_accumulator_value and epsilon must be >= 0, got "
                             f"{initial_accumulator_value!r}, {epsilon!r}")
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _slots(self) -> list[tuple[str, float]]:
        return [("sum_sq", self.initial_accumulator_value)]

    def _param_updates(self, i: int, p: SharedVariable, g: TensorVariable,
                       updates: OrderedDict, t: Any) -> None:
        dtype = self._dtype(p)
        g = self._coupled_decay(p, g)
        s = self._slot(i, "sum_sq")
        s_new = s + sqr(g)
        clr = self._h("learning_rate", dtype) / (1 + cast(t - 1, dtype) * self._h("lr_decay", dtype))
        updates[s] = s_new
        updates[p] = p - clr * g / (sqrt(s_new) + self.epsilon)


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton, 2012, "Lecture 6.5 - rmsprop", COURSERA: Neural
    Networks for Machine Learning), as ``torch.optim.RMSprop``.

    .. math::

        s \\leftarrow \\alpha s + (1 - \\alpha) g^2, \\qquad
        p \\leftarrow p - \\eta \\frac{g}{\\sqrt{s} + \\epsilon}

    ``centered=True`` (Graves, 2013, "Generating sequences with recurrent neural
    networks") also tracks :math:`\\bar g \\leftarrow \\alpha \\bar g + (1-\\alpha) g`
    and divides by :math:`\\sqrt{s - \\bar g^2} + \\epsilon`. With ``momentum`` > 0:
    :math:`b \\leftarrow \\mu b + g / (\\ldots)`, :math:`p \\leftarrow p - \\eta b`.
    The defaults are torch's (alpha 0.99, eps 1e-8); Lasagne's (rho 0.9, eps 1e-6)
    differ.

    Parameters
    ----------
    learning_rate : float or SharedVariable
        Default 0.01.
    alpha : float or SharedVariable
        Smoothing constant, default 0.99.
    epsilon : float
        Default 1e-8.
    weight_decay : float or SharedVariable
        L2 term ``g + wd * p`` (default 0: left out of the graph).
    momentum : float or SharedVariable
        Default 0 (then left out of the graph and its state).
    centered : bool
    clip_value, clip_norm : float, optional

    State: ``"<param>/square_avg"``, plus ``"<param>/grad_avg"`` (centered) and
    ``"<param>/momentum_buffer"`` (momentum).
    """

    def __init__(self, learning_rate: Any = 1e-2, alpha: Any = 0.99, epsilon: float = 1e-8,
                 weight_decay: Any = 0.0, momentum: Any = 0.0, centered: bool = False, *,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 **kwargs: Any) -> None:
        check_kwargs(kwargs, type(self).__init__, type(self).__name__)
        super().__init__(clip_value=clip_value, clip_norm=clip_norm)
        self._add_hyper("learning_rate", learning_rate)
        self._add_hyper("alpha", alpha, 0.0, None)
        self._add_hyper("momentum", momentum)
        self._init_decay(weight_decay)
        self._use_momentum = isinstance(momentum, SharedVariable) or momentum != 0
        if epsilon < 0:
            raise ValueError(f"RMSprop: epsilon must be >= 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _slots(self) -> list[tuple[str, float]]:
        slots = [("square_avg", 0.0)]
        if self.centered:
            slots.append(("grad_avg", 0.0))
        if self._use_momentum:
            slots.append(("momentum_buffer", 0.0))
        return slots

    def _param_updates(self, i: int, p: SharedVariable, g: TensorVariable,
                       updates: OrderedDict, t: Any) -> None:
        dtype = self._dtype(p)
        g = self._coupled_decay(p, g)
        alpha = self._h("alpha", dtype)
        s = self._slot(i, "square_avg")
        s_new = alpha * s + (1 - alpha) * sqr(g)
        updates[s] = s_new
        if self.centered:
            ga = self._slot(i, "grad_avg")
            ga_new = alpha * ga + (1 - alpha) * g
            updates[ga] = ga_new
            avg = sqrt(s_new - sqr(ga_new)) + self.epsilon
        else:
            avg = sqrt(s_new) + self.epsilon
        lr = self._h("learning_rate", dtype)
        if self._use_momentum:
            buf = self._slot(i, "momentum_buffer")
            buf_new = self._h("momentum", dtype) * buf + g / avg
            updates[buf] = buf_new
            updates[p] = p - lr * buf_new
        else:
            updates[p] = p - lr * g / avg


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012, "ADADELTA: an adaptive learning rate method"), as
    ``torch.optim.Adadelta``.

    .. math::

        s \\leftarrow \\rho s + (1-\\rho) g^2, \\qquad
        \\Delta = \\frac{\\sqrt{u + \\epsilon}}{\\sqrt{s + \\epsilon}}\\, g, \\qquad
        u \\leftarrow \\rho u + (1-\\rho) \\Delta^2, \\qquad
        p \\leftarrow p - \\eta \\Delta

    Parameters
    ----------
    learning_rate : float or SharedVariable
        Default 1.0.
    rho : float or SharedVariable
        Default 0.9.
    epsilon : float
        Default 1e-6.
    weight_decay : float or SharedVariable
        L2 term ``g + wd * p`` (default 0: left out of the graph).
    clip_value, clip_norm : float, optional

    State: ``"<param>/square_avg"``, ``"<param>/acc_delta"``.
    """

    def __init__(self, learning_rate: Any = 1.0, rho: Any = 0.9, epsilon: float = 1e-6,
                 weight_decay: Any = 0.0, *, clip_value: float | None = None,
                 clip_norm: float | None = None, **kwargs: Any) -> None:
        check_kwargs(kwargs, type(self).__init__, type(self).__name__)
        super().__init__(clip_value=clip_value, clip_norm=clip_norm)
        self._add_hyper("learning_rate", learning_rate)
        self._add_hyper("rho", rho, 0.0, None)
        self._init_decay(weight_decay)
        if epsilon < 0:
            raise ValueError(f"Adadelta: epsilon must be >= 0, got {epsilon!r}")
        self.epsilon = float(epsilon)

    def _slots(self) -> list[tuple[str, float]]:
        return [("square_avg", 0.0), ("acc_delta", 0.0)]

    def _param_updates(self, i: int, p: SharedVariable, g: TensorVariable,
                       updates: OrderedDict, t: Any) -> None:
        dtype = self._dtype(p)
        g = self._coupled_decay(p, g)
        rho = self._h("rho", dtype)
        s, u = self._slot(i, "square_avg"), self._slot(i, "acc_delta")
        s_new = rho * s + (1 - rho) * sqr(g)
        delta = sqrt(u + self.epsilon) / sqrt(s_new + self.epsilon) * g
        updates[s] = s_new
        updates[u] = rho * u + (1 - rho) * sqr(delta)
        updates[p] = p - self._h("learning_rate", dtype) * delta
