"""Progress output of fit: a tqdm bar per epoch on a terminal, one plain line per epoch otherwise."""
from __future__ import annotations

import sys
from typing import Any

__all__ = ["Progress", "resolve_verbose", "format_logs"]

_SHORT = {"accuracy": "acc", "val_accuracy": "val_acc"}


def resolve_verbose(verbose: Any) -> int:
    """0 (silent), 1 (progress bar) or 2 (a line per epoch); ``'auto'`` picks 1 on a terminal."""
    if verbose == "auto":
        isatty = getattr(sys.stdout, "isatty", None)
        return 1 if isatty is not None and isatty() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"fit: verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def format_logs(logs: dict) -> str:
    """``loss 0.1234 - acc 0.9876 - ...`` for the numbers of an epoch."""
    parts = []
    for k, v in logs.items():
        if k in ("epoch", "seconds", "samples_per_s", "lr"):
            continue
        parts.append(f"{_SHORT.get(k, k)} {v:.4f}")
    return " - ".join(parts)


class Progress:
    """The output of one epoch."""

    def __init__(self, verbose: int, epoch: int, epochs: int, total: int, initial: int) -> None:
        self.verbose, self.epoch, self.epochs = verbose, epoch, epochs
        self.bar = None
        self._n = 0
        if verbose == 1:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=initial, desc=f"epoch {epoch}/{epochs}",
                            unit="batch", file=sys.stdout, dynamic_ncols=True, leave=True)

    def update(self, running: dict, samples_per_s: float) -> None:
        if self.bar is None:
            return
        self._n += 1
        self.bar.update(1)
        # Formatting the postfix costs more than a step of a small model: do it sometimes.
        if self._n % 10 == 1 or self.bar.n == self.bar.total:
            post = {_SHORT.get(k, k): f"{v:.4f}" for k, v in running.items()}
            post["samples/s"] = f"{samples_per_s:.0f}"
            self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def finish(self, logs: dict) -> None:
        """Show the epoch's results: in the bar, or as one plain line."""
        if self.bar is not None:
            post = {_SHORT.get(k, k): f"{v:.4f}" for k, v in logs.items()
                    if k not in ("epoch", "seconds", "samples_per_s", "lr")}
            post["samples/s"] = f"{logs['samples_per_s']:.0f}"
            self.bar.set_postfix(post, refresh=True)
            self.close()
        elif self.verbose == 2:
            print(f"epoch {self.epoch}/{self.epochs}: {format_logs(logs)} - "
                  f"{logs['seconds']:.1f} s ({logs['samples_per_s']:.0f} samples/s) - "
                  f"lr {logs['lr']:.3g}", flush=True)
