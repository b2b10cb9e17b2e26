"""A folder of checkpoints named by step: keep the last N and the best, resume from the latest."""
from __future__ import annotations

import math
import numbers
import os
import re
import warnings
from typing import Any, Mapping

from .atomic import remove_stale_temp_files
from .format import CheckpointError
from .load import CheckpointWarning, Metadata, load_checkpoint
from .matching import reject_unknown
from .save import save_checkpoint

_MODES = ("min", "max")


class CheckpointManager:
    """Save checkpoints named by step into a folder, keeping the last ``keep`` and the best.

    Files are named ``<prefix>-<step>.h5`` (the step zero-padded to 8 digits, so they
    sort by name), each written atomically by :func:`save_checkpoint`. The metric of
    ``keep_best`` is stored in each file's metadata, so a new manager on the same folder
    (a resumed run) knows which one is best. One process should write to a folder at a
    time.

    A file that cannot be read (damaged, truncated, not a checkpoint) never makes a save
    fail: it is skipped when the best checkpoint is looked for, reported once with a
    :class:`CheckpointWarning`, and listed in :attr:`unreadable`. Pruning goes by step
    only, so it keeps or removes such a file as it would any other.

    Parameters
    ----------
    directory : str or path-like
        Created if missing.
    keep : int or None
        How many of the most recent checkpoints to keep (None: all).
    keep_best : str, optional
        The name of a metric (``'val_loss'``): the best checkpoint by it is kept too,
        even when older than the last ``keep``.
    mode : {'min', 'max'}
        Whether a lower or higher metric is better.
    prefix : str
        The start of file names.
    compression : optional
        Passed to :func:`save_checkpoint`.

    Examples
    --------
    >>> mgr = CheckpointManager('runs/a', keep=3, keep_best='val_loss')   # doctest: +SKIP
    >>> meta = mgr.restore(model=model, optimizer=opt)                     # doctest: +SKIP
    >>> start = meta['step'] + 1 if meta is not None else 0                # doctest: +SKIP
    >>> for step in range(start, n_steps):                                 # doctest: +SKIP
    ...     ...
    ...     mgr.save(step, model=model, optimizer=opt, metric=val_loss)
    """

    def __init__(self, directory: str | os.PathLike, keep: int | None = 5,
                 keep_best: str | None = None, mode: str = "min", prefix: str = "ckpt",
                 compression: Any = None, **kwargs: Any) -> None:
        reject_unknown(kwargs, ("directory", "keep", "keep_best", "mode", "prefix", "compression"),
                       "CheckpointManager")
        if keep is not None and (not isinstance(keep, numbers.Integral) or isinstance(keep, bool)):
            raise TypeError(f"CheckpointManager: keep must be an int or None, got {keep!r}")
        if keep is not None and keep < 1:
            raise ValueError(f"CheckpointManager: keep must be >= 1 (or None to keep all), got {keep}")
        if keep_best is not None and not isinstance(keep_best, str):
            raise TypeError(f"CheckpointManager: keep_best must be a metric name (str), got {keep_best!r}")
        if mode not in _MODES:
            raise ValueError(f"CheckpointManager: mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(prefix, str) or not prefix or os.sep in prefix or "/" in prefix:
            raise ValueError(f"CheckpointManager: prefix must be a non-empty file name part, got {prefix!r}")
        self.directory = os.path.abspath(os.fspath(directory))
        self.keep = keep
        self.keep_best = keep_best
        self.mode = mode
        self.prefix = prefix
        self.compression = compression
        self._pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)\.h5$")
        self._metrics: dict[str, tuple[tuple[int, int], float | None]] = {}
        #: path -> why it could not be read, for the files skipped so far.
        self.unreadable: dict[str, str] = {}
        os.makedirs(self.directory, exist_ok=True)
        # Saves killed half-way leave temporary files; only dead processes' are removed.
        remove_stale_temp_files(self.directory, prefix + "-")

    def path_for(self, step: int) -> str:
        """The file name used for ``step``."""
        return os.path.join(self.directory, f"{self.prefix}-{step:08d}.h5")

    def checkpoints(self) -> list[tuple[int, str]]:
        """The (step, path) of every checkpoint in the folder, oldest step first."""
        out = []
        for fname in os.listdir(self.directory):
            m = self._pattern.match(fname)
            if m is not None:
                out.append((int(m.group(1)), os.path.join(self.directory, fname)))
        return sorted(out)

    def latest(self) -> str | None:
        """The path of the checkpoint with the highest step, or None if there is none."""
        cps = self.checkpoints()
        return cps[-1][1] if cps else None

    def best(self) -> str | None:
        """The path of the best checkpoint by ``keep_best`` (the earliest among equals)."""
        if self.keep_best is None:
            raise ValueError("CheckpointManager.best() needs keep_best='<metric name>' at construction")
        best_path, best_value = None, None
        for _, path in self.checkpoints():
            value = self._metric(path)
            if value is None or math.isnan(value):
                continue
            if best_value is None or (value < best_value if self.mode == "min" else value > best_value):
                best_path, best_value = path, value
        return best_path

    def _metric(self, path: str) -> float | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._metrics.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            value = load_checkpoint(path).get(self.keep_best)
        except FileNotFoundError:
            return None  # pruned or moved meanwhile
        except (CheckpointError, OSError) as exc:
            value = None
            self.unreadable[path] = str(exc)
            warnings.warn(f"CheckpointManager: skipping {path}, which cannot be read: {exc}",
                          CheckpointWarning, stacklevel=3)
        else:
            self.unreadable.pop(path, None)
        value = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        self._metrics[path] = (stamp, value)
        return value

    def save(self, step: int, model: Any = None, optimizer: Any = None, params: Any = None,
             rng: Any = None, meta: Mapping[str, Any] | None = None, metric: Any = None,
             **kwargs: Any) -> str:
        """Save a checkpoint for ``step``, then delete the ones no longer kept.

        ``meta`` gets ``'step'`` (unless given) and, with ``keep_best``, the metric under
        its name: pass it as ``metric=`` or in ``meta``. Returns the path written.
        """
        reject_unknown(kwargs, ("step", "model", "optimizer", "params", "rng", "meta", "metric"),
                       "CheckpointManager.save")
        if not isinstance(step, numbers.Integral) or isinstance(step, bool):
            raise TypeError(f"CheckpointManager.save: step must be an int, got {step!r}")
        if step < 0:
            raise ValueError(f"CheckpointManager.save: step must be >= 0, got {step}")
        meta = dict(meta or {})
        meta.setdefault("step", int(step))
        if metric is not None:
            if self.keep_best is None:
                raise ValueError("CheckpointManager.save: metric= needs keep_best='<metric name>' "
                                 "at construction; put other values in meta=")
            if not isinstance(metric, numbers.Real) or isinstance(metric, bool):
                raise TypeError(f"CheckpointManager.save: metric must be a number, got {metric!r}")
            meta[self.keep_best] = float(metric)
        elif self.keep_best is not None and self.keep_best not in meta:
            raise ValueError(
                f"CheckpointManager.save: keep_best={self.keep_best!r} needs the metric of "
                f"each checkpoint: pass metric= or meta={{{self.keep_best!r}: ...}}"
            )
        path = save_checkpoint(self.path_for(int(step)), model=model, optimizer=optimizer,
                               params=params, rng=rng, meta=meta, compression=self.compression)
        self._prune()
        return path

    def _prune(self) -> None:
        cps = self.checkpoints()
        if self.keep is None:
            return
        kept = {path for _, path in cps[-self.keep:]}
        if self.keep_best is not None:
            best = self.best()
            if best is not None:
                kept.add(best)
        for _, path in cps:
            if path not in kept:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                except OSError as exc:  # the save itself succeeded: say so, do not fail it
                    warnings.warn(f"CheckpointManager: cannot remove {path}: {exc}",
                                  CheckpointWarning, stacklevel=3)
                self._metrics.pop(path, None)
                self.unreadable.pop(path, None)

    def restore(self, model: Any = None, optimizer: Any = None, params: Any = None,
                rng: Any = None, strict: bool = True, which: str = "latest",
                **kwargs: Any) -> Metadata | None:
        """Load the latest (or ``which='best'``) checkpoint; None if there is none yet.

        Returns the metadata as :func:`load_checkpoint` does.
        """
        reject_unknown(kwargs, ("model", "optimizer", "params", "rng", "strict", "which"),
                       "CheckpointManager.restore")
        if which not in ("latest", "best"):
            raise ValueError(f"CheckpointManager.restore: which must be 'latest' or 'best', got {which!r}")
        path = self.latest() if which == "latest" else self.best()
        if path is None:
            return None
        return load_checkpoint(path, model=model, optimizer=optimizer, params=params, rng=rng,
                               strict=strict)

    def __repr__(self) -> str:
        return (f"CheckpointManager({self.directory!r}, keep={self.keep}, "
                f"keep_best={self.keep_best!r}, mode={self.mode!r})")
