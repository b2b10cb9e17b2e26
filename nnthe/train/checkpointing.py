"""Checkpoints of a fit run as callbacks: :class:`ModelCheckpoint` writes them (keeping the
last N and the best), :class:`Resume` continues a run from the newest one that loads."""
from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checkpoint import (CheckpointError, CheckpointManager, CheckpointMismatchError,
                          load_checkpoint)
from ..checkpoint.format import collect_sections
from .callbacks import Callback, resolve_mode

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = ["ModelCheckpoint", "Resume", "ResumeError"]


class ResumeError(CheckpointError):
    """:class:`Resume` cannot continue the run: no checkpoint in the folder loads, or the
    newest one that loads does not fit this call (another model, seed, batch size, data
    or callbacks). Nothing was changed."""


class ModelCheckpoint(Callback):
    """Save a resumable checkpoint after every epoch and when the run is interrupted.

    Each file (``<directory>/ckpt-<global step>.h5``, through a
    :class:`~nnthe.checkpoint.CheckpointManager`) holds the model, the optimizer, the
    random states, the loop position (:class:`~nnthe.train.FitState`) and the state of
    every callback, so :class:`Resume` continues exactly, even mid-epoch. Saves happen
    in ``on_checkpoint``: after every callback's ``on_epoch_end``.

    Parameters
    ----------
    directory : str or path-like
        Created if missing.
    keep : int or None, default 3
        Keep the last ``keep`` checkpoints (None: all), plus the best.
    keep_best : str, optional
        The epoch log value that picks the best checkpoint: default ``'val_loss'`` with
        validation data, else ``'loss'``.
    mode : {'min', 'max'}, optional
        Whether lower or higher ``keep_best`` is better; by default the direction the
        metric declares (``'min'`` for losses, ``'max'`` for accuracies).
    meta : dict, optional
        Extra JSON-able metadata for every file (e.g. the architecture's name).

    Attributes
    ----------
    manager : CheckpointManager
        Created when fit starts.
    last : str or None
        The last file written.
    """

    def __init__(self, directory: str | os.PathLike, keep: int | None = 3,
                 keep_best: str | None = None, mode: str | None = None,
                 meta: dict | None = None) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"ModelCheckpoint: directory must be a str or path, got "
                            f"{type(directory).__name__}")
        if keep_best is not None and not isinstance(keep_best, str):
            raise TypeError(f"ModelCheckpoint: keep_best must be a metric name, got {keep_best!r}")
        if mode not in (None, "min", "max"):
            raise ValueError(f"ModelCheckpoint: mode must be 'min', 'max' or None, got {mode!r}")
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"ModelCheckpoint: meta must be a dict, got {type(meta).__name__}")
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, (int, np.integer))):
            raise TypeError(f"ModelCheckpoint: keep must be an int or None, got {keep!r}")
        if keep is not None and keep < 1:
            raise ValueError(f"ModelCheckpoint: keep must be >= 1 (or None to keep all), got {keep}")
        self.directory = os.fspath(directory)
        self.keep = None if keep is None else int(keep)
        self.keep_best, self.mode = keep_best, mode
        self.meta = dict(meta or {})
        self.manager: CheckpointManager | None = None
        self.last: str | None = None
        self._saved_step: int | None = None

    def on_train_begin(self, trainer: "Trainer") -> None:
        key = self.keep_best or ("val_loss" if trainer.state.has_validation else "loss")
        mode = resolve_mode(self.mode, key, trainer, "ModelCheckpoint")
        self.manager = CheckpointManager(self.directory, keep=self.keep, keep_best=key, mode=mode)
        self._saved_step = None

    def on_checkpoint(self, trainer: "Trainer", interrupted: bool) -> None:
        state = trainer.state
        if not state.chief or self._saved_step == state.global_step:
            return  # not the writer, or this position is saved already (Ctrl-C at an epoch's end)
        assert self.manager is not None, "on_train_begin comes first"
        key = self.manager.keep_best
        if interrupted:
            metric = math.nan  # a mid-epoch checkpoint is never the best
        else:
            logs = state.history.last
            if key not in logs:
                raise KeyError(f"ModelCheckpoint: keep_best={key!r} is not in the epoch logs "
                               f"({', '.join(logs)}); validation values need validation_data")
            metric = float(logs[key])
        meta = state.to_meta(trainer.callbacks.state_dicts(), interrupted, **self.meta,
                             loss_name=trainer.loss_name)
        path = self.manager.save(state.global_step, model=trainer.model,
                                 optimizer=trainer.optimizer, meta=meta, metric=metric)
        self.last = state.checkpoint = path
        self._saved_step = state.global_step
        trainer.callbacks.on_save(trainer, path)

    def __repr__(self) -> str:
        return f"ModelCheckpoint({self.directory!r}, keep={self.keep}, keep_best={self.keep_best!r})"


class Resume(Callback):
    """Continue a run from the newest checkpoint in ``directory`` that loads (Keras's
    ``BackupAndRestore``, reading what :class:`ModelCheckpoint` writes).

    In ``on_train_begin`` it restores the model, the optimizer, the random states, the loop
    position and the callbacks' states, so the run continues where it stopped, even
    mid-epoch, with the batches, dropout masks and losses of a run never stopped. Put it
    first among the callbacks (``fit(resume=True)`` does). A folder without checkpoints
    starts afresh.

    A checkpoint that cannot be read (truncated, empty, damaged, not an nnthe checkpoint
    or not written by fit) is skipped for the next older one; each skip is reported. A
    checkpoint that reads but does not fit this call (another model, seed, batch size,
    number of samples or set of stateful callbacks) is refused: an older file of the same
    run would not fit better, and falling back would hide the mistake.

    Parameters
    ----------
    directory : str or path-like

    Attributes
    ----------
    path : str or None
        The checkpoint restored (None: started afresh).
    meta : Metadata or None
        Its metadata.
    skipped : list of (str, str)
        The newer checkpoints skipped, with the reason.

    Raises
    ------
    ResumeError
        When there are checkpoints but none loads, or the newest that loads does not fit.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"Resume: directory must be a str or path, got {type(directory).__name__}")
        self.directory = os.fspath(directory)
        self.path: str | None = None
        self.meta: Any = None
        self.skipped: list[tuple[str, str]] = []

    def on_train_begin(self, trainer: "Trainer") -> None:
        state = trainer.state
        self.path, self.meta, self.skipped = None, None, []
        found = CheckpointManager(self.directory, keep=None).checkpoints()
        if not found:
            state.say(f"resume: no checkpoint in {self.directory} yet; starting afresh")
            return
        for _, path in reversed(found):
            try:
                self.meta = self._restore(trainer, path)
            except _Unreadable as exc:
                self.skipped.append((path, str(exc)))
                state.say(f"resume: skipped {os.path.basename(path)}: {exc}")
                continue
            self.path = path
            break
        else:
            lines = "\n".join(f"  {os.path.basename(p)}: {why}" for p, why in self.skipped)
            raise ResumeError(f"resume: none of the {len(found)} checkpoint(s) in "
                              f"{self.directory} can be loaded:\n{lines}\nMove them away to "
                              f"start afresh, or resume from a copy of the run.")
        note = ""
        if self.skipped:
            names = ", ".join(os.path.basename(p) for p, _ in self.skipped)
            note = f" (the newer {names} could not be loaded: see above)"
        state.say(f"resumed from {self.path} at {state.where()}{note}")

    def _restore(self, trainer: "Trainer", path: str) -> Any:
        """Load ``path`` (read once) and continue from it, or change nothing and raise."""
        variables = [v for section in collect_sections(model=trainer.model,
                                                       optimizer=trainer.optimizer).values()
                     for v in section.values()]
        before = [v.get_value(borrow=False) for v in variables]
        try:
            meta = load_checkpoint(path, model=trainer.model, optimizer=trainer.optimizer)
        except CheckpointMismatchError as exc:
            # Only on this error path is the header read a second time: a file that fit
            # did not write is skipped, one of this run that does not fit is refused.
            try:
                trainer.state.parse_meta(load_checkpoint(path), path)
            except (CheckpointError, ValueError) as why:
                raise _Unreadable(_reason(why, path)) from None
            raise ResumeError(f"resume: {exc}") from None
        except CheckpointError as exc:  # load_checkpoint changes nothing when it fails
            raise _Unreadable(_reason(exc, path)) from None
        try:
            loop = trainer.state.parse_meta(meta, path)
        except ValueError as exc:
            _put_back(variables, before)
            raise _Unreadable(_reason(exc, path)) from None
        try:
            trainer.state.check_meta(meta, path)
            trainer.callbacks.check_state_dicts(loop.get("callbacks", []), path)
        except ValueError as exc:
            _put_back(variables, before)
            raise ResumeError(str(exc)) from None
        trainer.state.load_meta(meta, loop)
        trainer.callbacks.load_state_dicts(loop.get("callbacks", []))
        return meta

    def __repr__(self) -> str:
        return f"Resume({self.directory!r})"


class _Unreadable(Exception):
    """A checkpoint that cannot be resumed from, for a reason of the file (skip it)."""


def _reason(exc: Exception, path: str) -> str:
    text = str(exc).strip()
    # The messages of the checkpoint package start with the path: say it once.
    for prefix in (path + ": ", path + " "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def _put_back(variables: list, values: list) -> None:
    for v, value in zip(variables, values):
        v.set_value(value, borrow=True)
