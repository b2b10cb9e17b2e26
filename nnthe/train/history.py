"""The record of a training run: one row of numbers per epoch, written as CSV or JSON lines."""
from __future__ import annotations

import csv
import json
import math
import os
from typing import Any, Iterator

from .callbacks import Callback

__all__ = ["History", "HistoryLogger"]


class History:
    """Per-epoch results of :func:`nnthe.train.fit`.

    Each epoch is a dict (``epoch``, ``loss``, the training metrics, ``val_loss``, the
    validation metrics, ``lr``, ``seconds``, ``samples_per_s``...). ``history['loss']``
    gives one column as a list.

    Attributes
    ----------
    epochs : list of dict
        One dict per finished epoch, in order.
    stopped_early : bool
        True when a callback (:class:`~nnthe.train.EarlyStopping`) ended the run.

    Examples
    --------
    >>> h = History()
    >>> h.append({'epoch': 1, 'loss': 0.5}); h.append({'epoch': 2, 'loss': 0.25})
    >>> h['loss']
    [0.5, 0.25]
    """

    def __init__(self, epochs: list[dict] | None = None) -> None:
        self.epochs: list[dict] = [dict(e) for e in (epochs or [])]
        self.stopped_early = False

    def append(self, row: dict) -> None:
        """Add the results of one epoch."""
        self.epochs.append(dict(row))

    def keys(self) -> list[str]:
        """All column names, in order of first appearance."""
        return list(dict.fromkeys(k for row in self.epochs for k in row))

    def __getitem__(self, key: str) -> list:
        if key not in self.keys():
            raise KeyError(f"History has no column {key!r}; it has {', '.join(self.keys()) or 'none'}")
        return [row.get(key) for row in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.epochs)

    @property
    def last(self) -> dict:
        """The row of the last epoch (an empty dict before the first)."""
        return self.epochs[-1] if self.epochs else {}

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the history as CSV (a header row, then one row per epoch).

        The file is replaced atomically, so a crash never leaves half a file.
        """
        def write(f: Any) -> None:
            w = csv.DictWriter(f, fieldnames=self.keys(), lineterminator="\n")
            w.writeheader()
            for row in self.epochs:
                w.writerow({k: _csv_value(v) for k, v in row.items()})
        _write_atomic(path, write)

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the history as JSON lines: one JSON object per epoch.

        NaN and infinity are written as ``null`` so that every line is strict JSON.
        """
        def write(f: Any) -> None:
            for row in self.epochs:
                f.write(json.dumps({k: _json_value(v) for k, v in row.items()}) + "\n")
        _write_atomic(path, write)

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``path`` as CSV (``.csv``) or JSON lines (``.json``, ``.jsonl``)."""
        ext = os.path.splitext(os.fspath(path))[1].lower()
        if ext == ".csv":
            self.to_csv(path)
        elif ext in (".json", ".jsonl"):
            self.to_json(path)
        else:
            raise ValueError(f"History.save: cannot tell the format of {os.fspath(path)!r}; "
                             f"use a name ending in .csv, .json or .jsonl")

    def __repr__(self) -> str:
        return f"History({len(self.epochs)} epochs: {', '.join(self.keys())})"


class HistoryLogger(Callback):
    """Rewrite the history file after every epoch (Keras's ``CSVLogger``).

    The whole history of the run (with a resumed run, from its first epoch) is written
    atomically: CSV for ``.csv`` (floats by ``repr``, so they read back exactly), JSON
    lines for ``.json`` / ``.jsonl``. ``fit(history_path=...)`` adds one.

    Parameters
    ----------
    path : str or path-like
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = check_history_path(path, "HistoryLogger")

    def on_checkpoint(self, trainer: Any, interrupted: bool) -> None:
        if not interrupted and trainer.state.chief:
            trainer.state.history.save(self.path)

    def __repr__(self) -> str:
        return f"HistoryLogger({self.path!r})"


def _csv_value(v: Any) -> Any:
    return repr(v) if isinstance(v, float) else v  # repr round-trips a float exactly


def _json_value(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _write_atomic(path: str | os.PathLike, write: Any) -> None:
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_history_path(path: Any, what: str) -> str:
    """``path`` as a str, if it ends in .csv, .json or .jsonl; else ValueError."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what}: the history path must be a str or path, got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() not in (".csv", ".json", ".jsonl"):
        raise ValueError(f"{what}: history_path must end in .csv, .json or .jsonl, got {path!r}")
    return path
