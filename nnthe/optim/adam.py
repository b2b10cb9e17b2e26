"""Adam and its variants: AdamW (decoupled weight decay), Adamax, AMSGrad (as torch.optim)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ..core.ops.elemwise import abs as _abs
from ..core.ops.elemwise import cast, maximum, sqr, sqrt
from ..core.shared import SharedVariable
from ..core.variable import TensorVariable
from .base import Optimizer, check_kwargs

__all__ = ["Adam", "AdamW", "Adamax", "AMSGrad"]


def _init_adam_hypers(opt: Optimizer, learning_rate: Any, beta1: Any, beta2: Any,
                      epsilon: float, weight_decay: Any) -> None:
    opt._add_hyper("learning_rate", learning_rate)
    opt._add_hyper("beta1", beta1, 0.0, 1.0)
    opt._add_hyper("beta2", beta2, 0.0, 1.0)
    opt._init_decay(weight_decay)
    if epsilon < 0:
        raise ValueError(f"{type(opt).__name__}: epsilon must be >= 0, got {epsilon!r}")
    opt.epsilon = float(epsilon)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015, "Adam: a method for stochastic optimization"), as
    ``torch.optim.Adam``.

    With the step count :math:`t` (starting at 1):

    .. math::

        m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\qquad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2,

        p \\leftarrow p - \\frac{\\eta}{1-\\beta_1^t}\\,
        \\frac{m}{\\sqrt{v}/\\sqrt{1-\\beta_2^t} + \\epsilon}

    ``amsgrad=True`` (Reddi, Kale & Kumar, 2018, "On the convergence of Adam and
    beyond") uses :math:`\\hat v \\leftarrow \\max(\\hat v, v)` in place of :math:`v` in
    the denominator. ``weight_decay`` adds ``wd * p`` to the gradient (L2, coupled; see
    :class:`AdamW` for the decoupled form).

    Parameters
    ----------
    learning_rate : float or SharedVariable
        Default 1e-3.
    beta1, beta2 : float or SharedVariable
        Default 0.9 and 0.999 (torch's ``betas``).
    epsilon : float
        Default 1e-8.
    weight_decay : float or SharedVariable
        Default 0 (then left out of the graph: set a non-zero value, or pass a shared
        variable, to change it later).
    amsgrad : bool
    clip_value, clip_norm : float, optional

    State: ``"step"`` (int64), ``"<param>/m"``, ``"<param>/v"``, and
    ``"<param>/max_v"`` with amsgrad.

    Examples
    --------
    >>> opt = optim.Adam(learning_rate=1e-3)
    >>> train = nnthe.function([X, y], loss, updates=opt.updates(loss, params))
    >>> list(opt.state)[:3]
    ['step', '0/W/m', '0/W/v']
    """

    uses_step = True
    decoupled = False

    def __init__(self, learning_rate: Any = 1e-3, beta1: Any = 0.9, beta2: Any = 0.999,
                 epsilon: float = 1e-8, weight_decay: Any = 0.0, amsgrad: bool = False, *,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 **kwargs: Any) -> None:
        check_kwargs(kwargs, type(self).__init__, type(self).__name__)
        super().__init__(clip_value=clip_value, clip_norm=clip_norm)
        _init_adam_hypers(self, learning_rate, beta1, beta2, epsilon, weight_decay)
        self.amsgrad = bool(amsgrad)

    def _slots(self) -> list[tuple[str, float]]:
        return [("m", 0.0), ("v", 0.0)] + ([("max_v", 0.0)] if self.amsgrad else [])

    def _param_updates(self, i: int, p: SharedVariable, g: TensorVariable,
                       updates: OrderedDict, t: Any) -> None:
        dtype = self._dtype(p)
        lr = self._h("learning_rate", dtype)
        if self.decoupled:
            p_in = p * (1 - lr * self._h("weight_decay", dtype)) if self._decay_in_graph else p
        else:
            g = self._coupled_decay(p, g)
            p_in = p
        b1, b2 = self._h("beta1", dtype), self._h("beta2", dtype)
        tf = cast(t, dtype)
        m, v = self._slot(i, "m"), self._slot(i, "v")
        m_new = b1 * m + (1 - b1) * g
        v_new = b2 * v + (1 - b2) * sqr(g)
        updates[m] = m_new
        updates[v] = v_new
        if self.amsgrad:
            vmax = self._slot(i, "max_v")
            v_den = maximum(vmax, v_new)
            updates[vmax] = v_den
        else:
            v_den = v_new
        step_size = lr / (1 - b1 ** tf)
        denom = sqrt(v_den) / sqrt(1 - b2 ** tf) + self.epsilon
        updates[p] = p_in - step_size * (m_new / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019, "Decoupled weight
    decay regularization"), as ``torch.optim.AdamW``.

    Before the Adam step: :math:`p \\leftarrow p\\,(1 - \\eta\\,\\lambda)`; the gradient
    itself is not changed. ``weight_decay`` (:math:`\\lambda`) defaults to 1e-2.

    Parameters and state as :class:`Adam`.
    """

    decoupled = True

    def __init__(self, learning_rate: Any = 1e-3, beta1: Any = 0.9, beta2: Any = 0.999,
                 epsilon: float = 1e-8, weight_decay: Any = 1e-2, amsgrad: bool = False, *,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 **kwargs: Any) -> None:
        check_kwargs(kwargs, type(self).__init__, type(self).__name__)
        super().__init__(learning_rate, beta1, beta2, epsilon, weight_decay, amsgrad,
                         clip_value=clip_value, clip_norm=clip_norm)


class AMSGrad(Adam):
    """Adam with the AMSGrad maximum (Reddi, Kale & Kumar, 2018): ``Adam(amsgrad=True)``,
    as ``torch.optim.Adam(amsgrad=True)``.

    Parameters and state as :class:`Adam` (``amsgrad`` is always on).
    """

    def __init__(self, learning_rate: Any = 1e-3, beta1: Any = 0.9, beta2: Any = 0.999,
                 epsilon: float = 1e-8, weight_decay: Any = 0.0, *,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 **kwargs: Any) -> None:
        check_kwargs(kwargs, type(self).__init__, type(self).__name__)
        super().__init__(learning_rate, beta1, beta2, epsilon, weight_decay, True,
                         clip_value=clip_value, clip_norm=clip_norm)


class Adamax(Optimizer):
    """Adamax, Adam with the infinity norm (Kingma & Ba, 2015, sec. 7.1), as
    ``torch.optim.Adamax``.

    .. math::

        m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\qquad
        u \\leftarrow \\max(\\beta_2 u, |g| + \\epsilon), \\qquad
        p \\leftarrow p - \\frac{\\eta}{1 - \\beta_1^t} \\frac{m}{u}

    Parameters
    ----------
    learning_rate : float or SharedVariable
        Default 2e-3.
    beta1, beta2 : float or SharedVariable
        Default 0.9 and 0.999.
    epsilon : float
        Default 1e-8.
    weight_decay : float or SharedVariable
        L2 term ``g + wd * p`` (default 0: left out of the graph).
    clip_value, clip_norm : float, optional

    State: ``"step"``, ``"<param>/m"``, ``"<param>/u"``.
    """

    uses_step = True

    def __init__(self, learning_rate: Any = 2e-3, beta1: Any = 0.9, beta2: Any = 0.999,
                 epsilon: float = 1e-8, weight_decay: Any = 0.0, *,
                 clip_value: float | None = None, clip_norm: float | None = None,
                 **kwargs: Any) -> None:
        check_kwargs(kwargs, type(self).__init__, type(self).__name__)
        super().__init__(clip_value=clip_value, clip_norm=clip_norm)
        _init_adam_hypers(self, learning_rate, beta1, beta2, epsilon, weight_decay)

    def _slots(self) -> list[tuple[str, float]]:
        return [("m", 0.0), ("u", 0.0)]

    def _param_updates(self, i: int, p: SharedVariable, g: TensorVariable,
                       updates: OrderedDict, t: Any) -> None:
        dtype = self._dtype(p)
        g = self._coupled_decay(p, g)
        b1, b2 = self._h("beta1", dtype), self._h("beta2", dtype)
        m, u = self._slot(i, "m"), self._slot(i, "u")
        m_new = b1 * m + (1 - b1) * g
        u_new = maximum(b2 * u, _abs(g) + self.epsilon)
        updates[m] = m_new
        updates[u] = u_new
        clr = self._h("learning_rate", dtype) / (1 - b1 ** cast(t, dtype))
        updates[p] = p - clr * (m_new / u_new)
