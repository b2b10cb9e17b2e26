"""Callbacks: the code :meth:`nnthe.train.Trainer.fit` runs around epochs and steps.

The loop of ``fit`` does the steps, the validation and the bookkeeping of where the run
is (:class:`~nnthe.train.FitState`); everything else is a callback: checkpoints
(:class:`~nnthe.train.ModelCheckpoint`), resuming (:class:`~nnthe.train.Resume`), the
history file (:class:`~nnthe.train.HistoryLogger`), schedules, early stopping, and the
callbacks of other modules (TensorBoard, distributed training).

The hooks, in the order fit calls them
---------------------------------------
::

    on_train_begin(trainer)                       once; Resume restores the run here
    for each epoch (1-based) not finished yet:
        epoch_indices(trainer, epoch, indices)    -> the sample indices of the epoch
        on_epoch_begin(trainer, epoch)            not repeated when resuming mid-epoch
        for each step:
            on_batch_begin(trainer, step)
            ... trainer.train_step(Xb, yb) ...
            on_batch_end(trainer, step, logs)
        on_epoch_steps_end(trainer, epoch, logs)  the training averages, before validation
        ... validation ...
        on_epoch_end(trainer, epoch, logs)        everything of the epoch
        on_checkpoint(trainer, interrupted=False) a point the run can resume from
    on_train_end(trainer)                         once, when fit ends: normally, by an
                                                  early stop, or after an interrupt

After Ctrl-C (or ``trainer.request_stop('step')``) the loop finishes the step, calls
``on_checkpoint(trainer, interrupted=True)`` and ``on_train_end(trainer)``, and raises
:class:`~nnthe.train.TrainingInterrupted`. ``on_save(trainer, path)`` is called by
:class:`~nnthe.train.ModelCheckpoint` on every callback after it wrote a file.

``step`` counts steps from the start of the run (1 for the first; it continues across
epochs and resumes). ``trainer.state`` (a :class:`~nnthe.train.FitState`) tells where
the run is: ``epoch`` (epochs finished), ``step`` (steps done in the current epoch),
``global_step``, ``n_batches``, ``history``, ``chief``. Hooks return nothing, except
``epoch_indices``.

The loop calls a hook only on the callbacks that override it (decided once per fit), so
a callback costs nothing at the steps it does not watch.

Writing a callback
------------------
* State that a resumed run needs goes in :meth:`Callback.state_dict` (JSON-able values);
  :class:`~nnthe.train.ModelCheckpoint` stores the state of every callback that has any,
  and :class:`~nnthe.train.Resume` gives it back through :meth:`Callback.load_state_dict`
  before the callbacks after it see ``on_train_begin``.
* To stop: ``trainer.request_stop()`` ends the run after the current epoch (early
  stopping); ``trainer.request_stop('step')`` after the current step, saving a checkpoint.
  ``trainer.stop_requested`` tells whether one is pending.
* Processes that must not write files (the ranks other than 0 of a distributed run) set
  ``trainer.state.chief = False`` in ``on_train_begin``: ModelCheckpoint, HistoryLogger and
  the progress output then do nothing there. Writers of files should do the same.
* Order: the callbacks run in the order given. ``fit``'s shorthands put
  ``Resume`` first and ``ModelCheckpoint`` and ``HistoryLogger`` last; the writers act in
  ``on_checkpoint``, after every ``on_epoch_end``, so they see what the other callbacks
  added to the logs wherever they stand.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from ..core.hints import did_you_mean
from ..optim import ReduceLROnPlateau

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = ["Callback", "CallbackList", "LearningRateScheduler", "EarlyStopping",
           "LambdaCallback", "HOOKS"]

#: Every hook of :class:`Callback`, in the order of a run.
HOOKS = ("on_train_begin", "epoch_indices", "on_epoch_begin", "on_batch_begin", "on_batch_end",
         "on_epoch_steps_end", "on_epoch_end", "on_checkpoint", "on_save", "on_train_end")


class Callback:
    """Base class: override the hooks you need; all do nothing by default.

    See :mod:`nnthe.train.callbacks` for the order in which :meth:`Trainer.fit
    <nnthe.train.Trainer.fit>` calls them. Every hook gets the
    :class:`~nnthe.train.Trainer`; ``trainer.state`` is where the run is.
    """

    def on_train_begin(self, trainer: "Trainer") -> None:
        """Called once when fit starts, after compiling.

        :class:`~nnthe.train.Resume` restores the run here (the model, optimizer,
        ``trainer.state`` and the callbacks' states), so callbacks after it see the
        restored run. A distributed callback broadcasts the parameters here.
        """

    def epoch_indices(self, trainer: "Trainer", epoch: int, indices: np.ndarray) -> np.ndarray:
        """Return the indices of the training samples of ``epoch``, in the order trained.

        ``indices`` is the shuffled order (a permutation drawn from ``(seed, epoch)``) or
        what the callbacks before this one returned; return it, a subset of it (a
        distributed callback returns its rank's shard) or another order. It must depend
        on ``epoch`` and ``indices`` only: a run resumed mid-epoch calls it again and
        must get the same batches. Called before :meth:`on_epoch_begin`, also for an epoch
        resumed mid-way. ``trainer.state.n_batches`` is set from the result.
        """
        return indices

    def on_epoch_begin(self, trainer: "Trainer", epoch: int) -> None:
        """Called before the first step of ``epoch`` (1-based); not again for an epoch
        resumed mid-way."""

    def on_batch_begin(self, trainer: "Trainer", step: int) -> None:
        """Called before training step ``step`` (counted from the start of the run)."""

    def on_batch_end(self, trainer: "Trainer", step: int, logs: dict) -> None:
        """Called after each training step with that step's ``{'loss': ..., <metric>: ...}``
        (Python floats); ``step`` counts steps since the start of the run."""

    def on_epoch_steps_end(self, trainer: "Trainer", epoch: int, logs: dict) -> None:
        """Called after the last step of ``epoch``, before validation.

        ``logs`` holds ``epoch`` and the epoch's training averages (``loss``, metrics);
        a callback may change them (a distributed callback averages them over the ranks,
        and the BatchNorm statistics, so that validation and checkpoints see one model).
        """

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict) -> None:
        """Called after validation with the epoch's logs: ``epoch``, ``loss``, metrics,
        ``val_loss``, ``val_<metric>``, ``lr``, ``seconds``, ``samples_per_s``.

        Values added to ``logs`` here go into the history and the checkpoint. Call
        ``trainer.request_stop()`` to end the run after this epoch.
        """

    def on_checkpoint(self, trainer: "Trainer", interrupted: bool) -> None:
        """Called when the run is at a point it can be resumed from.

        After every epoch (``interrupted=False``): the epoch is recorded in
        ``trainer.state`` (``epoch`` counts it, ``step`` is 0, ``history`` has its row).
        After the step at which an interrupt stopped the run (``interrupted=True``;
        ``trainer.state.step`` steps of the epoch are done): then only ``on_train_end``
        follows, and fit raises TrainingInterrupted. Writers of files act here.
        """

    def on_save(self, trainer: "Trainer", path: str) -> None:
        """Called on every callback after :class:`~nnthe.train.ModelCheckpoint` wrote
        the checkpoint ``path``."""

    def on_train_end(self, trainer: "Trainer") -> None:
        """Called once when fit ends: normally, by a stop request at an epoch's end, or
        after an interrupt (then after ``on_checkpoint(trainer, interrupted=True)`` and
        before fit raises TrainingInterrupted). Not called when a step or a hook raised.
        Close files here."""

    def state_dict(self) -> dict:
        """The callback's state as JSON-able values (saved in checkpoints); ``{}`` if it
        has none."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`."""


def _overrides(cb: Callback, name: str) -> bool:
    fn = getattr(cb, name)
    return getattr(fn, "__func__", fn) is not getattr(Callback, name)


class CallbackList:
    """The callbacks of one fit: calls each hook on the callbacks that override it.

    ``trainer.callbacks`` during (and after) a fit. Iterating gives the callbacks.

    Parameters
    ----------
    callbacks : sequence of Callback
    """

    def __init__(self, callbacks: Sequence[Callback] = ()) -> None:
        if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple, CallbackList)):
            raise TypeError(f"fit: callbacks must be a list of nnthe.train.Callback instances, "
                            f"got {type(callbacks).__name__}")
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"fit: callbacks must be nnthe.train.Callback instances, got "
                                f"{type(cb).__name__}")
        # Bound once: the loop calls these lists, so a callback that does not watch a hook
        # costs nothing there (the per-step hooks run thousands of times per epoch).
        self.hooks: dict[str, list[Callable]] = {
            name: [getattr(cb, name) for cb in self.callbacks if _overrides(cb, name)]
            for name in HOOKS}

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def __getitem__(self, i: int) -> Callback:
        return self.callbacks[i]

    def __repr__(self) -> str:
        return f"CallbackList([{', '.join(type(cb).__name__ for cb in self.callbacks)}])"

    def call(self, name: str, *args: Any) -> None:
        """Call hook ``name`` with ``args`` on every callback that overrides it."""
        for fn in self.hooks[name]:
            fn(*args)

    def on_save(self, trainer: "Trainer", path: str) -> None:
        """Tell every callback that the checkpoint ``path`` was written."""
        self.call("on_save", trainer, path)

    # -- state in checkpoints ---------------------------------------------------------------
    def state_dicts(self) -> list[dict]:
        """``[{'class': name, 'state': ...}]`` for each callback that has state."""
        out = []
        for cb in self.callbacks:
            state = cb.state_dict()
            if state:
                out.append({"class": type(cb).__name__, "state": state})
        return out

    def check_state_dicts(self, saved: list[dict], where: str) -> None:
        """Raise ValueError unless ``saved`` fits the callbacks that have state, in order."""
        mine = [type(cb).__name__ for cb in self.callbacks if cb.state_dict()]
        theirs = [s["class"] for s in saved if s.get("state")]
        if mine != theirs:
            raise ValueError(f"{where} was written with the stateful callbacks {theirs}, this "
                             f"call has {mine}; pass the same callbacks to resume")

    def load_state_dicts(self, saved: list[dict]) -> None:
        """Give each stateful callback its state from :meth:`state_dicts` (checked first)."""
        saved = [s for s in saved if s.get("state")]
        stateful = [cb for cb in self.callbacks if cb.state_dict()]
        for cb, s in zip(stateful, saved):
            cb.load_state_dict(s["state"])


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
        self._plateau = isinstance(schedule, ReduceLROnPlateau)
        if self._plateau and per != "epoch":
            raise ValueError("LearningRateScheduler: ReduceLROnPlateau steps once per epoch "
                             "with a metric; use per='epoch'")
        # Watch only the hook of `per`: a per-epoch schedule costs nothing per step.
        if per == "epoch":
            self.on_batch_end = Callback.on_batch_end.__get__(self)  # type: ignore[method-assign]
        else:
            self.on_epoch_end = Callback.on_epoch_end.__get__(self)  # type: ignore[method-assign]

    def on_batch_end(self, trainer: "Trainer", step: int, logs: dict) -> None:
        self.schedule.step()

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict) -> None:
        if self._plateau:
            key = self.monitor if self.monitor in logs else "loss"
            self.schedule.step(logs[key])
        else:
            self.schedule.step()

    def state_dict(self) -> dict:
        return {"schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.schedule.load_state_dict(state["schedule"])


def resolve_mode(mode: str | None, monitor: str, trainer: "Trainer", what: str) -> str:
    """``mode`` if given, else the direction the trainer knows for ``monitor``."""
    if mode is not None:
        return mode
    found = trainer.metric_mode(monitor)
    if found is None:
        raise ValueError(f"{what}: cannot tell whether a higher {monitor!r} is better (it is "
                         f"neither the loss nor a metric that declares a direction); pass "
                         f"mode='min' or mode='max'")
    return found


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
        Whether lower or higher is better; ``'auto'`` asks the trainer when fit starts:
        ``'min'`` for losses, the declared ``direction`` of a metric
        (:mod:`nnthe.metrics`), and an error for a value it does not know.

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
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = mode
        self.best: float | None = None if mode == "auto" else self._worst()
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0

    def _worst(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    def on_train_begin(self, trainer: "Trainer") -> None:
        if self.mode == "auto":
            self.mode = resolve_mode(None, self.monitor, trainer, "EarlyStopping")
        if self.best is None:  # not restored from a checkpoint
            self.best = self._worst()

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict) -> None:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: monitor={self.monitor!r} is not in the epoch logs "
                           f"({', '.join(logs)}); validation metrics need validation_data")
        value = float(logs[self.monitor])
        best = self._worst() if self.best is None else self.best
        better = (value < best - self.min_delta if self.mode == "min"
                  else value > best + self.min_delta)
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            trainer.request_stop()

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

    _HOOKS = HOOKS

    def __init__(self, **hooks: Any) -> None:
        for name, fn in hooks.items():
            if name not in self._HOOKS:
                raise TypeError(f"LambdaCallback: unknown hook {name!r} (hooks: "
                                f"{', '.join(self._HOOKS)}){did_you_mean(name, self._HOOKS)}")
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {type(fn).__name__}")
            setattr(self, name, fn)


def __getattr__(name: str) -> Any:
    # The callbacks that live in modules of their own, under Keras's path too
    # (callbacks.TensorBoard, callbacks.ModelCheckpoint, ...). Imported on use because
    # those modules subclass Callback from this one.
    if name == "TensorBoard":
        from .tensorboard import TensorBoard

        return TensorBoard
    if name in ("ModelCheckpoint", "Resume", "ResumeError"):
        from . import checkpointing

        return getattr(checkpointing, name)
    if name == "HistoryLogger":
        from .history import HistoryLogger

        return HistoryLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
