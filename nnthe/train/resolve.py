"""Turning loss and metric names into functions, with "did you mean" hints."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import ModuleType

from ..core.hints import did_you_mean
from typing import Any

# Helpers in nnthe.losses that are not losses of (outputs, targets).
_NOT_LOSSES = ("aggregate", "one_hot")
_METRIC_ALIASES = {"acc": "accuracy"}


def _hint(name: str, choices: Iterable[str]) -> str:
    return did_you_mean(name, choices, cutoff=0.5)


def check_kwargs(kwargs: dict, allowed: Sequence[str], what: str) -> None:
    """Refuse unknown keyword arguments with a "did you mean" hint."""
    for key in kwargs:
        raise TypeError(f"{what}() got an unexpected keyword argument {key!r}"
                        f"{_hint(key, allowed)}")


def resolve_loss(loss: Any, module: ModuleType) -> tuple[str, Callable]:
    """Return (name, function) for a loss name in ``module`` or a callable."""
    if isinstance(loss, str):
        names = [n for n in module.__all__ if n not in _NOT_LOSSES]
        if loss not in names:
            raise ValueError(f"unknown loss {loss!r}{_hint(loss, names)} "
                             f"(losses: {', '.join(names)}; or pass a function f(outputs, targets))")
        return loss, getattr(module, loss)
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    raise TypeError(f"loss must be a name in nnthe.losses or a function f(outputs, targets), "
                    f"got {type(loss).__name__}")


def resolve_metrics(metrics: Any, module: ModuleType) -> tuple[list[str], list[Callable]]:
    """Return the names and functions of metrics given by name (in ``module``) or callable."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    if not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be a list of names or functions, got {type(metrics).__name__}")
    names, fns = [], []
    for m in metrics:
        if isinstance(m, str):
            key = _METRIC_ALIASES.get(m, m)
            if key not in module.__all__:
                raise ValueError(f"unknown metric {m!r}{_hint(m, module.__all__)} (metrics: "
                                 f"{', '.join(module.__all__)}; or pass a function f(outputs, targets))")
            names.append(key)
            fns.append(getattr(module, key))
        elif callable(m):
            names.append(getattr(m, "__name__", type(m).__name__))
            fns.append(m)
        else:
            raise TypeError(f"each metric must be a name or a function, got {type(m).__name__}")
    if len(set(names)) != len(names) or "loss" in names:
        raise ValueError(f"metric names must be distinct and not 'loss', got {names}")
    return names, fns
