"""One call of fit: the steps, the validation and the bookkeeping of where the run is;
everything else happens in the callbacks' hooks (:mod:`nnthe.train.callbacks`)."""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .callbacks import CallbackList
from .history import History
from .progress import Progress
from .state import FitState

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = ["TrainingInterrupted"]


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :meth:`Trainer.fit` after Ctrl-C (or ``trainer.request_stop('step')``): the
    step in progress was finished and a checkpoint saved (when fit had a
    :class:`ModelCheckpoint`, e.g. from ``checkpoint_dir``).

    It is a ``KeyboardInterrupt``, so an uncaught one ends Python with the usual status of
    Ctrl-C (130 in a shell).

    Attributes
    ----------
    checkpoint : str or None
        The checkpoint written, None without a :class:`ModelCheckpoint`.
    history : History
        The epochs finished before the interruption.
    epoch, step : int
        The epoch in progress (1-based) and the steps done in it.
    """

    def __init__(self, message: str, checkpoint: str | None, history: History, epoch: int,
                 step: int) -> None:
        super().__init__(message)
        self.checkpoint, self.history, self.epoch, self.step = checkpoint, history, epoch, step

    def __str__(self) -> str:
        return str(self.args[0])

class Loop:
    """One call of fit: the steps, validation and bookkeeping; everything else is a hook."""

    def __init__(self, trainer: Trainer, state: FitState, callbacks: CallbackList,
                 X: np.ndarray, y: np.ndarray, val: tuple | None, eval_batch_size: int) -> None:
        self.t, self.state, self.cbs = trainer, state, callbacks
        self.X, self.y, self.val, self.eval_batch_size = X, y, val, eval_batch_size
        self._sigints = 0

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self._sigints += 1
        if self._sigints > 1:
            raise KeyboardInterrupt  # a second Ctrl-C: stop at once
        self.t.request_stop("step")
        print("\nCtrl-C: finishing this step, then saving a checkpoint "
              "(press Ctrl-C again to abort at once)", file=sys.stderr, flush=True)

    def run(self) -> History:
        t, state = self.t, self.state
        t.state, t.callbacks, t._stop = state, self.cbs, None
        for cb in self.cbs:  # nnthe.distributed.Distributed puts its all-reduce in the step
            if getattr(cb, "distributed", False):
                cb.setup(t)
        t._compile_for(self.X, self.y, need_train=True)
        if self.val is not None:
            t.compile(self.val[0].shape[1:], str(self.val[1].dtype), self.val[1].shape[1:])
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, self._on_sigint) if main else None
        try:
            self.cbs.call("on_train_begin", t)  # Resume restores the run here
            while state.epoch < state.epochs and not state.stopped:
                self._epoch()
            self._end()
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        state.history.stopped_early = state.stopped
        return state.history

    def _end(self) -> None:
        """The last hooks of a run that ends normally, early or by an interrupt."""
        self.cbs.call("on_train_end", self.t)
        for cb in self.cbs:  # after every file is written: see Distributed.teardown
            if getattr(cb, "distributed", False):
                cb.teardown(self.t)

    def _indices(self, epoch: int) -> np.ndarray:
        # The order of epoch e depends on (seed, e) only: a resumed run sees the same batches.
        indices = np.random.default_rng([self.state.seed, epoch]).permutation(len(self.X))
        for hook in self.cbs.hooks["epoch_indices"]:
            got = hook(self.t, epoch, indices)
            arr = np.asarray(got) if got is not None else None
            if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iu" or not len(arr):
                raise TypeError(f"{type(getattr(hook, '__self__', hook)).__name__}.epoch_indices "
                                f"must return a non-empty 1-d integer array of sample indices, "
                                f"got {_describe(got)}")
            indices = arr
        return indices

    def _epoch(self) -> None:
        t, state, cbs = self.t, self.state, self.cbs
        epoch, bs = state.epoch + 1, state.batch_size
        keys = ["loss"] + t.metric_names
        indices = self._indices(epoch)
        state.n_batches = n_batches = math.ceil(len(indices) / bs)
        if state.step == 0:
            state.sums, state.seen = dict.fromkeys(keys, 0.0), 0
            cbs.call("on_epoch_begin", t, epoch)
        lr = _lr(t.optimizer)
        bar = Progress(state.verbose if state.chief else 0, epoch, state.epochs, n_batches,
                       state.step)
        show = bar.bar is not None
        begin_hooks, end_hooks = cbs.hooks["on_batch_begin"], cbs.hooks["on_batch_end"]
        sums, X, y, train_step = state.sums, self.X, self.y, t.train_step
        start, seen_here = time.perf_counter(), 0
        for b in range(state.step, n_batches):
            idx = indices[b * bs:(b + 1) * bs]
            for hook in begin_hooks:
                hook(t, state.global_step + 1)
            values = train_step(X[idx], y[idx])
            nb = len(idx)
            for k, v in zip(keys, values):
                sums[k] += float(v) * nb
            state.seen += nb
            seen_here += nb
            state.step, state.global_step = b + 1, state.global_step + 1
            if end_hooks:
                logs = {k: float(v) for k, v in zip(keys, values)}
                for hook in end_hooks:
                    hook(t, state.global_step, logs)
            if show:
                bar.update({k: s / state.seen for k, s in sums.items()},
                           seen_here / max(time.perf_counter() - start, 1e-9))
            if t._stop == "step":
                bar.close()
                self._interrupt()
        seconds = time.perf_counter() - start
        logs: dict[str, Any] = {"epoch": epoch}
        logs.update({k: s / state.seen for k, s in sums.items()})
        cbs.call("on_epoch_steps_end", t, epoch, logs)
        if self.val is not None:
            logs.update({f"val_{k}": v for k, v in
                         t.evaluate(*self.val, batch_size=self.eval_batch_size).items()})
        logs.update(lr=lr, seconds=seconds, samples_per_s=seen_here / max(seconds, 1e-9))
        cbs.call("on_epoch_end", t, epoch, logs)
        state.stopped = t._stop == "epoch"
        state.history.append(logs)
        state.epoch, state.step = epoch, 0
        bar.finish(logs)
        cbs.call("on_checkpoint", t, False)
        if t._stop == "step":
            self._interrupt()

    def _interrupt(self) -> None:
        state = self.state
        if state.step:  # mid-epoch; at an epoch's end on_checkpoint was called already
            self.cbs.call("on_checkpoint", self.t, True)
        self._end()
        where = (f"epoch {state.epoch + 1}, after step {state.step} of {state.n_batches}"
                 if state.step else f"the end of epoch {state.epoch}")
        path = state.checkpoint
        if path is not None:
            msg = (f"Training interrupted at {where}. Checkpoint saved to {path}. "
                   f"To resume, run fit again with checkpoint_dir="
                   f"{os.path.dirname(path)!r} and resume=True.")
        else:
            msg = (f"Training interrupted at {where}. No checkpoint was saved (fit had no "
                   f"checkpoint_dir or ModelCheckpoint); pass checkpoint_dir= to make a run "
                   f"resumable.")
        raise TrainingInterrupted(msg, path, state.history,
                                  state.epoch + (1 if state.step else 0), state.step)


def _describe(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape} and dtype {v.dtype}"
    return repr(v) if v is None else type(v).__name__


def _lr(optimizer: Any) -> float:
    try:
        return float(optimizer.lr)
    except (AttributeError, KeyError, TypeError):
        return math.nan
