"""A callback that writes TensorBoard event files (the extra ``pip install
'nnthe[tensorboard]'``: tensorboardX).

Scalars ``step/<name>`` (the loss and metrics of each step, and the learning rate) are
written against the global step, scalars ``epoch/<name>`` (the epoch means, the
validation values, the learning rate, the throughput) against the epoch, and a histogram
of every parameter (``params/<name>``, by its model name such as ``0/W``) at the end of
each epoch. ``tensorboard --logdir DIR`` shows them.
"""
from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = ["TensorBoard"]


def _learning_rate(optimizer: Any) -> float:
    try:
        return float(optimizer.lr)
    except (AttributeError, KeyError, TypeError, ValueError):
        return math.nan


class TensorBoard(Callback):
    """Write the run's scalars and weight histograms for TensorBoard.

    Parameters
    ----------
    log_dir : str or path-like
        The folder for the event files (created if needed). One run per folder:
        TensorBoard compares runs kept in sibling folders.
    update_freq : 'batch', 'epoch' or int
        Write step scalars after every step (``'batch'``), only epoch scalars
        (``'epoch'``), or every ``n`` steps.
    histogram_freq : int
        Write parameter histograms every ``n`` epochs (0: never).
    flush_secs : int
        How often tensorboardX flushes to disk on its own (every epoch end flushes too).

    Examples
    --------
    >>> from nnthe.train import fit, TensorBoard                            # doctest: +SKIP
    >>> fit(model, (X, y), epochs=5, callbacks=[TensorBoard('runs/mlp')])   # doctest: +SKIP
    """

    def __init__(self, log_dir: str | os.PathLike, update_freq: Any = "batch",
                 histogram_freq: int = 1, flush_secs: int = 30) -> None:
        try:
            from tensorboardX import SummaryWriter  # optional extra: checked when created
        except ImportError:
            raise ImportError("the TensorBoard callback needs tensorboardX: "
                              "pip install 'nnthe[tensorboard]'") from None
        if update_freq not in ("batch", "epoch") and not (
                isinstance(update_freq, int) and not isinstance(update_freq, bool) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'batch', 'epoch' or a positive "
                             f"int, got {update_freq!r}")
        if not isinstance(histogram_freq, int) or isinstance(histogram_freq, bool) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be an int >= 0, got {histogram_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.histogram_freq = histogram_freq
        self._writer_cls = SummaryWriter
        self._flush_secs = flush_secs
        self.writer: Any = None

    def _open(self) -> Any:
        if self.writer is None:
            os.makedirs(self.log_dir, exist_ok=True)
            self.writer = self._writer_cls(self.log_dir, flush_secs=self._flush_secs)
        return self.writer

    def on_train_begin(self, trainer: "Trainer") -> None:
        if trainer.state.chief:  # in a distributed run only rank 0 writes
            self._open()

    def on_batch_end(self, trainer: "Trainer", step: int, logs: dict) -> None:
        if self.update_freq == "epoch" or step % self.update_freq or not trainer.state.chief:
            return
        w = self._open()
        for key, value in logs.items():
            if _scalar(value):
                w.add_scalar(f"step/{key}", float(value), step)
        lr = _learning_rate(getattr(trainer, "optimizer", None))
        if math.isfinite(lr):
            w.add_scalar("step/lr", lr, step)

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict) -> None:
        if not trainer.state.chief:
            return
        w = self._open()
        for key, value in logs.items():
            if key != "epoch" and _scalar(value):
                w.add_scalar(f"epoch/{key}", float(value), epoch)
        model = getattr(trainer, "model", None)
        if self.histogram_freq and epoch % self.histogram_freq == 0 and model is not None:
            for name, var in model.named_params().items():
                value = np.asarray(var.get_value(borrow=True))
                if value.size and np.all(np.isfinite(value)):
                    w.add_histogram(f"params/{name}", value, epoch)
        w.flush()

    def on_train_end(self, trainer: "Trainer") -> None:
        self.close()

    def close(self) -> None:
        """Flush and close the event file (a later hook opens a new one)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) \
        and math.isfinite(float(value))
