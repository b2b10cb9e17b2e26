"""Symbolic evaluation metrics: :func:`accuracy` and :func:`top_k_accuracy`.

Each metric declares its direction in a ``direction`` attribute: ``'max'`` when a higher
value is better (accuracies), ``'min'`` when a lower one is (errors). The training loop
reads it to decide which checkpoint is best and when early stopping should count an
improvement; give a metric function of your own the attribute too
(``my_metric.direction = 'max'``), or pass ``mode=`` to the callback.

Examples
--------
>>> acc = metrics.accuracy(model(X), y)
>>> evaluate = nnthe.function([X, y], acc)
>>> metrics.accuracy.direction
'max'
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .config import config
from .core.ops import elemwise as E
from .core.ops.reduce import argmax, mean, sum as _sum
from .core.types import fmt_shape, is_float_dtype
from .core.variable import TensorVariable, as_tensor_variable

F = TypeVar("F", bound=Callable[..., Any])


DIRECTIONS = ("min", "max")


def direction(which: str) -> Callable[[F], F]:
    """Declare whether a lower (``'min'``) or a higher (``'max'``) value of a metric is better.

    Sets the function's ``direction`` attribute, which :mod:`nnthe.train` reads.

    Examples
    --------
    >>> @direction('min')
    ... def error_rate(scores, labels): ...
    >>> error_rate.direction
    'min'
    """
    if which not in DIRECTIONS:
        raise ValueError(f"direction: expected 'min' or 'max', got {which!r}")

    def mark(fn: F) -> F:
        fn.direction = which  # type: ignore[attr-defined]
        return fn
    return mark


def _class_ids(scores: TensorVariable, labels: Any, what: str) -> TensorVariable:
    labels = as_tensor_variable(labels)
    if labels.type.ndim == scores.type.ndim:
        return argmax(labels, axis=-1)  # one-hot
    if labels.type.ndim != scores.type.ndim - 1:
        raise TypeError(f"{what}: labels must have {scores.type.ndim - 1} dimensions (class ids) or "
                        f"{scores.type.ndim} (one-hot), got shape {fmt_shape(labels.type.shape)}")
    if is_float_dtype(labels.type.dtype):
        raise TypeError(f"{what}: class-id labels must be integers, got dtype {labels.type.dtype}")
    return labels


def _scores(scores: Any, what: str) -> TensorVariable:
    scores = as_tensor_variable(scores)
    if scores.type.ndim < 1:
        raise TypeError(f"{what}: scores must have a class axis, got {scores!r} (0-d)")
    return scores


@direction("max")
def accuracy(scores: Any, labels: Any) -> TensorVariable:
    """The fraction of rows whose highest score is the label (a ``floatX`` scalar).

    Parameters
    ----------
    scores : tensor (N, K)
        Logits or probabilities.
    labels : int tensor (N,) or one-hot (N, K)
    """
    scores = _scores(scores, "accuracy")
    labels = _class_ids(scores, labels, "accuracy")
    hit = E.eq(argmax(scores, axis=-1), labels)
    return mean(E.cast(hit, _dtype(scores)))


@direction("max")
def top_k_accuracy(scores: Any, labels: Any, k: int = 5) -> TensorVariable:
    """The fraction of rows whose label is among the ``k`` highest scores.

    A label tied with the k-th score counts as a hit.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"top_k_accuracy: k must be a positive int, got {k!r}")
    scores = _scores(scores, "top_k_accuracy")
    labels = _class_ids(scores, labels, "top_k_accuracy")
    from .losses import one_hot

    n_classes = scores.type.shape[-1]
    if n_classes is None:
        raise ValueError(f"top_k_accuracy needs a static number of classes, got scores of shape "
                         f"{fmt_shape(scores.type.shape)}")
    true_score = _sum(scores * one_hot(labels, n_classes, scores.type.dtype if
                                       is_float_dtype(scores.type.dtype) else config.floatX),
                      axis=-1, keepdims=True)
    rank = _sum(E.cast(E.gt(scores, true_score), "int64"), axis=-1)
    return mean(E.cast(E.lt(rank, k), _dtype(scores)))


def _dtype(scores: TensorVariable) -> str:
    return scores.type.dtype if is_float_dtype(scores.type.dtype) else config.floatX


__all__ = ["accuracy", "top_k_accuracy"]
