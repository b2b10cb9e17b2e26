"""Callbacks: code that :func:`nnthe.train.fit` runs at the start and end of epochs and steps.

A callback keeps its state in :meth:`Callback.state_dict`, which fit stores in every
checkpoint, so a resumed run continues with the same schedule position and the same
early-stopping counters.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.hints import did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = ["Callback", "LearningRateScheduler", "EarlyStopping", "LambdaCallback"]


class Callback:
    """Base class: override the hooks you need; all do nothing by default.

    Hooks get the :class:`~nnthe.train.Trainer` (``trainer.stop_training = True`` ends the
    run after the current epoch) and ``logs``, a dict of the numbers known so far.
    """

    def on_train_begin(self, trainer: "Trainer") -> None:
        """Called once when fit starts (after a resume has restored everything)."""

    def on_epoch_begin(self, trainer: "Trainer", epoch: int) -> None:
        """Called before the first step of ``epoch`` (1-based)."""

    def on_batch_end(self, trainer: "Trainer", step: int, logs: dict) -> None:
        """Called after each training step; ``step`` counts steps since the start of the run."""

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict) -> None:
        """Called after validation, before the epoch's checkpoint is written."""

    def on_train_end(self, trainer: "Trainer") -> None:
        """Called once when fit ends normally or by early stopping."""

    def state_dict(self) -> dict:
        """The callback's state as JSON-able values (saved in checkpoints)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`."""


class LearningRateScheduler(Callback):
    """Step a learning-rate schedule from :mod:`nnthe.optim` every epoch or every step.

    Parameters
    ----------
    schedule : nnthe.optim.LRSchedule or nnthe.optim.ReduceLROnPlateau
        Already attached to the optimizer.
    per : {'epoch', 'step'}
        When to call ``schedule.step()``.
    monitor : str, default 'val_loss'
        For :class:`~nnthe.optim.ReduceLROnPlateau` only: the epoch log value passed to
        ``step`` (falls back to ``'loss'`` without validation data).

    Examples
    --------
    >>> opt = optim.Adam(1e-3)                                          # doctest: +SKIP
    >>> sched = LearningRateScheduler(optim.ExponentialLR(opt, 0.9))   # doctest: +SKIP
    >>> fit(model, (X, y), optimizer=opt, callbacks=[sched])           # doctest: +SKIP
    """

    def __init__(self, schedule: Any, per: str = "epoch", monitor: str = "val_loss") -> None:
        if not callable(getattr(schedule, "step", None)) or not callable(
                getattr(schedule, "state_dict", None)):
            raise TypeError(f"LearningRateScheduler: expected a schedule from nnthe.optim (with "
                            f"step() and state_dict()), got {type(schedule).__name__}")
        if per not in ("epoch", "step"):
            raise ValueError(f"LearningRateScheduler: per must be 'epoch' or 'step', got {per!r}")
        self.schedule, self.per, self.monitor = schedule, per, monitor
        self._plateau = type(schedule).__name__ == "ReduceLROnPlateau"
        if self._plateau and per != "epoch":
            raise ValueError("LearningRateScheduler: ReduceLROnPlateau steps once per epoch "
                             "with a metric; use per='epoch'")

    def on_batch_end(self, trainer: "Trainer", step: int, logs: dict) -> None:
        if self.per == "step":
            self.schedule.step()

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict) -> None:
        if self.per != "epoch":
            return
        if self._plateau:
            key = self.monitor if self.monitor in logs else "loss"
            self.schedule.step(logs[key])
        else:
            self.schedule.step()

    def state_dict(self) -> dict:
        return {"schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.schedule.load_state_dict(state["schedule"])


class EarlyStopping(Callback):
    """Stop training when a monitored value has stopped improving.

    Parameters
    ----------
    monitor : str, default 'val_loss'
        A key of the epoch logs (``'val_loss'``, ``'val_accuracy'``, ``'loss'``...).
    patience : int, default 3
        Epochs without improvement before stopping.
    min_delta : float, default 0
        The smallest change that counts as an improvement.
    mode : {'auto', 'min', 'max'}
        Whether lower or higher is better; ``'auto'`` picks ``'max'`` for names containing
        ``acc`` and ``'min'`` otherwise.

    Attributes
    ----------
    best : float
        The best value seen.
    best_epoch : int
        The epoch it was seen at (0 before the first).
    stopped_epoch : int
        The epoch training stopped after (0 if it did not stop early).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0,
                 mode: str = "auto") -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be a str, got {type(monitor).__name__}")
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)):
            raise TypeError(f"EarlyStopping: patience must be an int, got {patience!r}")
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.patience, self.min_delta, self.mode = monitor, int(patience), float(min_delta), mode
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict) -> None:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: monitor={self.monitor!r} is not in the epoch logs "
                           f"({', '.join(logs)}); validation metrics need validation_data")
        value = float(logs[self.monitor])
        better = (value < self.best - self.min_delta if self.mode == "min"
                  else value > self.best + self.min_delta)
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict) -> None:
        for k in ("best", "best_epoch", "wait", "stopped_epoch"):
            setattr(self, k, state[k])


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda t, e, logs: ...)``.

    Each argument takes the signature of the hook of the same name in :class:`Callback`.
    """

    _HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")

    def __init__(self, **hooks: Any) -> None:
        for name, fn in hooks.items():
            if name not in self._HOOKS:
                raise TypeError(f"LambdaCallback: unknown hook {name!r} (hooks: "
                                f"{', '.join(self._HOOKS)}){did_you_mean(name, self._HOOKS)}")
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {type(fn).__name__}")
            setattr(self, name, fn)
