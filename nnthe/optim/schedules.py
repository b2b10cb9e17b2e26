"""Learning-rate schedules: objects that set an optimizer's learning-rate shared variable.

Every schedule computes the rate in closed form from its step count (the formulas of
``torch.optim.lr_scheduler``), writes it into the optimizer's ``learning_rate`` shared
variable, and so changes the next step of every compiled function without recompiling::

    opt = optim.Momentum(learning_rate=0.1)
    train = nnthe.function([X, y], loss, updates=opt.updates(loss, params))
    sched = optim.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(90):
        for xb, yb in batches:
            train(xb, yb)
        sched.step()

As in PyTorch, creating a schedule sets the rate of step 0, and each :meth:`step`
advances by one (call it per epoch or per batch, as the schedule is meant).
:meth:`state_dict` / :meth:`load_state_dict` resume a schedule. A schedule may also
drive any float scalar shared variable instead of an optimizer.
"""
from __future__ import annotations

import bisect
import math
from typing import Any, Sequence

import numpy as np

from ..core.shared import SharedVariable
from .base import Optimizer

__all__ = ["LRSchedule", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "LinearWarmup", "OneCycleLR", "ReduceLROnPlateau"]


def _variable(target: Any, name: str, what: str) -> SharedVariable:
    if isinstance(target, Optimizer):
        hp = target.hyperparams
        if name not in hp:
            raise ValueError(f"{what}: {type(target).__name__} has no hyper-parameter {name!r} "
                             f"(it has {', '.join(hp)})")
        return hp[name]
    if isinstance(target, SharedVariable):
        if target.type.ndim != 0 or target.type.dtype[:5] != "float":
            raise TypeError(f"{what}: expected a float scalar shared variable, got {target!r} "
                            f"of type {target.type}")
        return target
    raise TypeError(f"{what}: expected an optimizer or a float scalar shared variable, got "
                    f"{type(target).__name__}")


def _set(var: SharedVariable, value: float) -> None:
    var.set_value(np.asarray(value, dtype=var.type.dtype))


def _number(value: Any, name: str, what: str, low: float | None = None,
            high: float | None = None, integer: bool = False) -> Any:
    ok_type = (int, np.integer) if integer else (int, float, np.number)
    if isinstance(value, bool) or not isinstance(value, ok_type):
        kind = "an integer" if integer else "a number"
        raise TypeError(f"{what}: {name} must be {kind}, got {value!r} ({type(value).__name__})")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{what}: {name} must be in [{low}, {high}], got {value!r}")
    return int(value) if integer else float(value)


class _Schedule:
    """State handling shared by all schedules."""

    #: Attributes that are not part of the state dict.
    _transient = ("variable", "momentum_variable", "schedule")

    def state_dict(self) -> dict:
        """The schedule's state as a dict of numbers, strings and lists (JSON-able)."""
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items()
               if k not in self._transient}
        if getattr(self, "schedule", None) is not None:
            out["schedule"] = self.schedule.state_dict()
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` and set the learning rate it had.

        Raises
        ------
        ValueError
            If ``state`` is not the state of this kind of schedule (keys differ).
        """
        mine = self.state_dict()
        if not isinstance(state, dict) or set(state) != set(mine):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected keys "
                             f"{sorted(mine)}, got {got}")
        state = dict(state)
        if "schedule" in state:
            self.schedule.load_state_dict(state.pop("schedule"))
        for k, v in state.items():
            setattr(self, k, v)
        self._apply()

    def get_lr(self) -> float:
        """The learning rate set by the last step (a Python float, before rounding to the
        variable's dtype)."""
        return self.last_lr

    def _apply(self) -> None:
        _set(self.variable, self.last_lr)


class LRSchedule(_Schedule):
    """Base class of the closed-form schedules: subclasses implement :meth:`lr_at`.

    Parameters
    ----------
    optimizer : Optimizer or SharedVariable
        Whose ``learning_rate`` to set (or the float scalar shared variable itself).

    Attributes
    ----------
    base_lr : float
        The learning rate when the schedule was created.
    last_epoch : int
        The number of :meth:`step` calls (0 right after creation).
    """

    def __init__(self, optimizer: Any) -> None:
        self.variable = _variable(optimizer, "learning_rate", type(self).__name__)
        self.base_lr = float(self.variable.get_value(borrow=True))
        self.last_epoch = -1
        self.last_lr = self.base_lr
        self.step()

    def lr_at(self, epoch: int) -> float:
        """The learning rate after ``epoch`` steps."""
        raise NotImplementedError

    def step(self) -> float:
        """Advance one step, set the learning rate, and return it."""
        self.last_epoch += 1
        self.last_lr = self.lr_at(self.last_epoch)
        self._apply()
        return self.last_lr

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self.last_lr:.6g})"


class StepLR(LRSchedule):
    """``base_lr * gamma ** (epoch // step_size)`` (torch's ``StepLR``).

    Parameters
    ----------
    optimizer : Optimizer or SharedVariable
    step_size : int
        Steps between decays.
    gamma : float
        Decay factor, default 0.1.
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _number(step_size, "step_size", "StepLR", 1, None, integer=True)
        self.gamma = _number(gamma, "gamma", "StepLR", 0.0)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRSchedule):
    """``base_lr * gamma ** (number of milestones <= epoch)`` (torch's ``MultiStepLR``).

    Parameters
    ----------
    optimizer : Optimizer or SharedVariable
    milestones : sequence of int
        Increasing step counts at which the rate is multiplied by ``gamma``.
    gamma : float
    """

    def __init__(self, optimizer: Any, milestones: Sequence[int], gamma: float = 0.1) -> None:
        ms = [_number(m, "milestones[i]", "MultiStepLR", 0, None, integer=True) for m in milestones]
        if ms != sorted(ms):
            raise ValueError(f"MultiStepLR: milestones must be increasing, got {list(milestones)}")
        self.milestones = ms
        self.gamma = _number(gamma, "gamma", "MultiStepLR", 0.0)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ExponentialLR(LRSchedule):
    """``base_lr * gamma ** epoch`` (torch's ``ExponentialLR``)."""

    def __init__(self, optimizer: Any, gamma: float) -> None:
        self.gamma = _number(gamma, "gamma", "ExponentialLR", 0.0)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** epoch


def _cosine(base: float, eta_min: float, t: float, period: float) -> float:
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / period)) / 2


class CosineAnnealingLR(LRSchedule):
    """Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` steps (Loshchilov &
    Hutter, 2017, "SGDR: stochastic gradient descent with warm restarts"), as torch's
    ``CosineAnnealingLR``:

    .. math:: \\eta_t = \\eta_{min} + (\\eta_{base} - \\eta_{min})
              \\frac{1 + \\cos(\\pi t / T_{max})}{2}

    (past ``T_max`` the cosine continues, rising again, as in torch).
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = _number(T_max, "T_max", "CosineAnnealingLR", 1, None, integer=True)
        self.eta_min = _number(eta_min, "eta_min", "CosineAnnealingLR", 0.0)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return _cosine(self.base_lr, self.eta_min, epoch, self.T_max)


class CosineAnnealingWarmRestarts(LRSchedule):
    """Cosine annealing restarted every ``T_0``, ``T_0 * T_mult``, ... steps (SGDR,
    Loshchilov & Hutter, 2017), as torch's ``CosineAnnealingWarmRestarts``: within a
    period of length :math:`T_i`, at position :math:`T_{cur}`,
    :math:`\\eta = \\eta_{min} + (\\eta_{base} - \\eta_{min})(1 + \\cos(\\pi T_{cur}/T_i))/2`.
    """

    def __init__(self, optimizer: Any, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> None:
        what = "CosineAnnealingWarmRestarts"
        self.T_0 = _number(T_0, "T_0", what, 1, None, integer=True)
        self.T_mult = _number(T_mult, "T_mult", what, 1, None, integer=True)
        self.eta_min = _number(eta_min, "eta_min", what, 0.0)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        if self.T_mult == 1:
            t_cur, t_i = epoch % self.T_0, self.T_0
        else:
            # Periods grow geometrically, so this loop runs O(log epoch) times; integer
            # arithmetic avoids torch's float log at the period boundaries.
            t_cur, t_i = epoch, self.T_0
            while t_cur >= t_i:
                t_cur -= t_i
                t_i *= self.T_mult
        return _cosine(self.base_lr, self.eta_min, t_cur, t_i)


class LinearWarmup(LRSchedule):
    """Linear warm-up, then another schedule.

    For ``t < warmup_steps``: ``base_lr * (start_factor + (1 - start_factor) * t /
    warmup_steps)``; afterwards the wrapped schedule's rate at ``t - warmup_steps``
    (Goyal et al., 2017, "Accurate, large minibatch SGD"). Equals torch's
    ``SequentialLR([LinearLR(start_factor, 1, warmup_steps), schedule],
    milestones=[warmup_steps])``.

    Parameters
    ----------
    schedule : LRSchedule
        The schedule after the warm-up; it must drive the same variable and is stepped
        only through this wrapper.
    warmup_steps : int
    start_factor : float
        Fraction of ``base_lr`` at step 0, in [0, 1]; default 0.

    Examples
    --------
    >>> sched = optim.LinearWarmup(optim.CosineAnnealingLR(opt, T_max=900), warmup_steps=100)
    """

    def __init__(self, schedule: LRSchedule, warmup_steps: int, start_factor: float = 0.0) -> None:
        if not isinstance(schedule, LRSchedule):
            raise TypeError(f"LinearWarmup: expected a schedule (StepLR, CosineAnnealingLR, ...), "
                            f"got {type(schedule).__name__}")
        self.schedule = schedule
        self.warmup_steps = _number(warmup_steps, "warmup_steps", "LinearWarmup", 1, None,
                                    integer=True)
        self.start_factor = _number(start_factor, "start_factor", "LinearWarmup", 0.0, 1.0)
        self.variable = schedule.variable
        self.base_lr = schedule.base_lr
        self.last_epoch = -1
        self.last_lr = self.base_lr
        self.step()

    def lr_at(self, epoch: int) -> float:
        if epoch < self.warmup_steps:
            frac = self.start_factor + (1 - self.start_factor) * epoch / self.warmup_steps
            return self.base_lr * frac
        return self.schedule.lr_at(epoch - self.warmup_steps)

    def step(self) -> float:
        lr = super().step()
        after = self.last_epoch - self.warmup_steps
        if after >= 0:
            # Keep the inner schedule's counters meaningful for inspection and saving.
            self.schedule.last_epoch = after
            self.schedule.last_lr = lr
        return lr


class OneCycleLR(LRSchedule):
    """The 1cycle policy (Smith & Topin, 2019, "Super-convergence"), as torch's
    ``OneCycleLR``, stepped once per batch.

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps``, then falls to ``max_lr / div_factor /
    final_div_factor`` (``three_phase``: back to the initial rate first, then to the
    minimum). With ``cycle_momentum`` the optimizer's ``momentum`` (or ``beta1``) moves
    inversely between ``max_momentum`` and ``base_momentum``.

    Parameters
    ----------
    optimizer : Optimizer or SharedVariable
    max_lr : float
    total_steps : int, optional
        Or give ``epochs`` and ``steps_per_epoch``.
    pct_start : float
    anneal_strategy : {'cos', 'linear'}
    cycle_momentum : bool
        Needs an optimizer with a ``momentum`` or ``beta1`` hyper-parameter.
    base_momentum, max_momentum, div_factor, final_div_factor : float
    three_phase : bool

    Raises
    ------
    ValueError
        When stepped more than ``total_steps - 1`` times, or for inconsistent arguments.
    """

    def __init__(self, optimizer: Any, max_lr: float, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False) -> None:
        what = "OneCycleLR"
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError(f"{what}: give total_steps, or epochs and steps_per_epoch")
            total_steps = _number(epochs, "epochs", what, 1, None, integer=True) * \
                _number(steps_per_epoch, "steps_per_epoch", what, 1, None, integer=True)
        self.total_steps = _number(total_steps, "total_steps", what, 2, None, integer=True)
        self.max_lr = _number(max_lr, "max_lr", what, 0.0)
        pct = _number(pct_start, "pct_start", what, 0.0, 1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{what}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self.initial_lr = self.max_lr / _number(div_factor, "div_factor", what, 0.0)
        self.min_lr = self.initial_lr / _number(final_div_factor, "final_div_factor", what, 0.0)
        self.base_momentum = _number(base_momentum, "base_momentum", what)
        self.max_momentum = _number(max_momentum, "max_momentum", what)
        n = self.total_steps
        if three_phase:
            ends = [pct * n - 1, 2 * pct * n - 2, n - 1]
            lrs = [(self.initial_lr, self.max_lr), (self.max_lr, self.initial_lr),
                   (self.initial_lr, self.min_lr)]
            moms = [(self.max_momentum, self.base_momentum),
                    (self.base_momentum, self.max_momentum),
                    (self.max_momentum, self.max_momentum)]
        else:
            ends = [pct * n - 1, n - 1]
            lrs = [(self.initial_lr, self.max_lr), (self.max_lr, self.min_lr)]
            moms = [(self.max_momentum, self.base_momentum),
                    (self.base_momentum, self.max_momentum)]
        self.phases = [[float(e), a, b, c, d] for e, (a, b), (c, d) in zip(ends, lrs, moms)]
        self.momentum_variable = None
        if cycle_momentum:
            if isinstance(optimizer, Optimizer):
                hp = optimizer.hyperparams
                self.momentum_variable = hp.get("momentum", hp.get("beta1"))
            if self.momentum_variable is None:
                raise ValueError(f"{what}: cycle_momentum=True needs an optimizer with a "
                                 "'momentum' or 'beta1' hyper-parameter; pass "
                                 "cycle_momentum=False")
        self.cycle_momentum = bool(cycle_momentum)
        self.last_momentum = self.max_momentum
        var = _variable(optimizer, "learning_rate", what)
        _set(var, self.initial_lr)
        super().__init__(optimizer)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _at(self, epoch: int) -> tuple[float, float]:
        if epoch > self.total_steps - 1:
            raise ValueError(f"OneCycleLR: stepped {epoch} times, but total_steps is "
                             f"{self.total_steps} (at most {self.total_steps - 1} steps)")
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self.phases):
            if epoch <= end or i == len(self.phases) - 1:
                pct = (epoch - start) / (end - start)
                return self._anneal(lr0, lr1, pct), self._anneal(m0, m1, pct)
            start = end
        raise AssertionError("unreachable")

    def lr_at(self, epoch: int) -> float:
        return self._at(epoch)[0]

    def step(self) -> float:
        lr = super().step()
        self.last_momentum = self._at(self.last_epoch)[1]
        if self.momentum_variable is not None:
            _set(self.momentum_variable, self.last_momentum)
        return lr

    def _apply(self) -> None:
        super()._apply()
        if self.momentum_variable is not None:
            _set(self.momentum_variable, self.last_momentum)


class ReduceLROnPlateau(_Schedule):
    """Multiply the learning rate by ``factor`` when a metric stops improving for more
    than ``patience`` steps (torch's ``ReduceLROnPlateau``). Call :meth:`step` with the
    metric, once per epoch.

    Parameters
    ----------
    optimizer : Optimizer or SharedVariable
    mode : {'min', 'max'}
        Whether lower or higher metrics are better.
    factor : float
        In (0, 1).
    patience : int
        Steps without improvement tolerated.
    threshold : float
        Least change that counts as an improvement.
    threshold_mode : {'rel', 'abs'}
    cooldown : int
        Steps after a reduction during which bad steps are not counted.
    min_lr : float
    eps : float
        Changes smaller than this are skipped.

    Examples
    --------
    >>> sched = optim.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    >>> sched.step(val_loss)
    """

    def __init__(self, optimizer: Any, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8) -> None:
        what = "ReduceLROnPlateau"
        if mode not in ("min", "max"):
            raise ValueError(f"{what}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{what}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.factor = _number(factor, "factor", what, 0.0, 1.0)
        if self.factor >= 1.0:
            raise ValueError(f"{what}: factor must be < 1, got {factor!r}")
        self.mode = mode
        self.threshold_mode = threshold_mode
        self.patience = _number(patience, "patience", what, 0, None, integer=True)
        self.threshold = _number(threshold, "threshold", what, 0.0)
        self.cooldown = _number(cooldown, "cooldown", what, 0, None, integer=True)
        self.min_lr = _number(min_lr, "min_lr", what, 0.0)
        self.eps = _number(eps, "eps", what, 0.0)
        self.variable = _variable(optimizer, "learning_rate", what)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self.last_lr = float(self.variable.get_value(borrow=True))

    def _is_better(self, a: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (self.best * (1 - self.threshold) if rel else self.best - self.threshold)
        return a > (self.best * (1 + self.threshold) if rel else self.best + self.threshold)

    def step(self, metric: Any) -> float:
        """Record ``metric`` (a number); reduce the learning rate if it has plateaued.

        Returns
        -------
        float
            The learning rate now in effect.
        """
        try:
            current = float(np.asarray(metric))
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step: expected a number, got {metric!r}") from None
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            # Start from the variable's value, so a rate set by hand is respected.
            old = float(self.variable.get_value(borrow=True))
            if old == float(np.asarray(self.last_lr, dtype=self.variable.type.dtype)):
                old = self.last_lr  # keep full precision while nobody changed the rate
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.last_lr = new
                self._apply()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.last_lr

    def __repr__(self) -> str:
        return f"ReduceLROnPlateau(best={self.best:.6g}, lr={self.last_lr:.6g})"
