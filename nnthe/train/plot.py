"""Training curves as a PNG (the extra ``pip install 'nnthe[plot]'``: matplotlib).

:func:`plot_history` draws one panel per quantity (the loss, then each metric), training
and validation on the same axes against the epoch; step-level values, when the history
has them, are drawn as a thin line under the epoch means; the learning rate goes on a
second y axis of the loss panel. matplotlib is used through its non-interactive Agg
backend (an ``Figure`` object, never ``pyplot``), so it works without a display and does
not change the backend of the user's own plots.
"""
from __future__ import annotations

import csv
import json
import math
import os
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["plot_history", "read_history"]

#: Columns that are bookkeeping, not curves.
_NOT_CURVES = {"epoch", "step", "lr", "seconds", "samples_per_s"}

#: Size of one panel in inches, and the resolution: a figure of ``c`` columns and ``r``
#: rows is ``c * 500`` by ``r * 360`` pixels.
PANEL_INCHES = (5.0, 3.6)
DPI = 100


def _number(text: str) -> Any:
    if text == "" or text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_history(source: Any) -> tuple[list[dict], list[dict]]:
    """``(epoch rows, step rows)`` from a History, a list of dicts or a CSV / JSON-lines file.

    A History (or any object) with a ``steps`` attribute, or a dict ``{'epochs': [...],
    'steps': [...]}``, also gives per-step rows (dicts with ``step`` and values).
    """
    steps: list[dict] = []
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"plot_history: no history file at {path}")
        with open(path, encoding="utf-8", newline="") as f:
            if path.lower().endswith((".json", ".jsonl")):
                rows = [json.loads(line) for line in f if line.strip()]
            else:
                rows = [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(f)]
        return rows, steps
    if isinstance(source, Mapping) and "epochs" in source:
        return [dict(r) for r in source["epochs"]], [dict(r) for r in source.get("steps", [])]
    steps = [dict(r) for r in getattr(source, "steps", None) or []]
    rows = getattr(source, "epochs", source)
    if not isinstance(rows, Iterable) or isinstance(rows, (str, bytes, Mapping)):
        raise TypeError(f"plot_history: expected a History, a list of per-epoch dicts or a "
                        f"path to history.csv, got {type(source).__name__}")
    rows = [dict(r) for r in rows]
    return rows, steps


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _curves(rows: Sequence[dict]) -> list[str]:
    """Base names to plot: 'loss' first, then metrics in order of appearance."""
    names: list[str] = []
    for row in rows:
        for k, v in row.items():
            base = k[4:] if k.startswith("val_") else k
            if base in _NOT_CURVES or base in names or not _is_number(v):
                continue
            names.append(base)
    if "loss" in names:
        names.remove("loss")
        names.insert(0, "loss")
    return names


def _series(rows: Sequence[dict], key: str, x_key: str) -> tuple[list, list]:
    xs, ys = [], []
    for i, row in enumerate(rows):
        v = row.get(key)
        if _is_number(v):
            xs.append(row.get(x_key, i + 1))
            ys.append(float(v))
    return xs, ys


def plot_history(history: Any, path: str | os.PathLike, title: str | None = None,
                 steps: Sequence[dict] | None = None, columns: int = 3) -> str:
    """Draw the training curves of ``history`` into the PNG file ``path``.

    Parameters
    ----------
    history : History, list of dicts, or path to a ``history.csv`` / ``.jsonl``
        Per-epoch rows (``epoch``, ``loss``, metrics, ``val_*``, ``lr``, ...), as
        :func:`nnthe.train.fit` returns and writes them.
    path : str or path-like
        The PNG to write (replaced atomically).
    title : str, optional
        A title above the panels.
    steps : list of dicts, optional
        Per-step rows (``step`` and values such as ``loss``); also read from
        ``history.steps`` when present.
    columns : int
        Panels per row.

    Returns
    -------
    str
        The path written. The image is ``min(n, columns) * 500`` by ``rows * 360``
        pixels for ``n`` panels.

    Raises
    ------
    ImportError
        Without matplotlib (``pip install 'nnthe[plot]'``).
    ValueError
        When the history has no numeric column to draw.

    Examples
    --------
    >>> history = train.fit(model, (X, y), ...)            # doctest: +SKIP
    >>> train.plot_history(history, 'runs/history.png')     # doctest: +SKIP
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError("plot_history needs matplotlib: pip install 'nnthe[plot]'") from None
    rows, step_rows = read_history(history)
    if steps is not None:
        step_rows = [dict(r) for r in steps]
    names = _curves(rows) or _curves(step_rows)
    if not names:
        raise ValueError("plot_history: the history has no numeric column to draw (expected "
                         "'loss', metrics or 'val_*' values per epoch)")
    if not isinstance(columns, int) or columns < 1:
        raise ValueError(f"plot_history: columns must be a positive int, got {columns!r}")
    ncols = min(columns, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(PANEL_INCHES[0] * ncols, PANEL_INCHES[1] * nrows), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    # Steps are drawn in epoch units: step s of a run of S steps over E epochs is at s*E/S.
    n_epochs = max((r.get("epoch", i + 1) for i, r in enumerate(rows)), default=0)
    max_step = max((r.get("step", i + 1) for i, r in enumerate(step_rows)), default=0)
    per_epoch = (max_step / n_epochs) if n_epochs and max_step else None
    for ax, name in zip(axes, names):
        if step_rows:
            sx, sy = _series(step_rows, name, "step")
            if sy:
                scale = per_epoch or 1.0
                ax.plot([s / scale for s in sx], sy, color="tab:blue", alpha=0.3, linewidth=0.8,
                        label=f"{name} (per step)")
        for key, color, style in ((name, "tab:blue", "-"), (f"val_{name}", "tab:orange", "-")):
            xs, ys = _series(rows, key, "epoch")
            if ys:
                ax.plot(xs, ys, style, color=color, marker="o", markersize=3,
                        label="validation" if key.startswith("val_") else "train")
        ax.set_title(name)
        ax.set_xlabel("epoch" if rows or per_epoch else "step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if name == "loss":
            lx, ly = _series(rows, "lr", "epoch")
            if ly:
                lr_ax = ax.twinx()
                lr_ax.plot(lx, ly, "--", color="tab:green", linewidth=1.2, label="learning rate")
                lr_ax.set_ylabel("learning rate", color="tab:green")
                lr_ax.tick_params(axis="y", colors="tab:green")
                if min(ly) > 0 and max(ly) / min(ly) > 10:
                    lr_ax.set_yscale("log")
                h2, l2 = lr_ax.get_legend_handles_labels()
                handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, fontsize=8, loc="best")
    for ax in axes[len(names):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}.png"
    try:
        fig.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
