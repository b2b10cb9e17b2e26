"""Loss functions: symbolic per-example losses and :func:`aggregate`.

Every loss returns one value per example (shape ``(N,)`` for a batch of ``N``; losses
on several outputs per example are averaged over the non-batch axes), so weighting and
masking stay possible; reduce with ``.mean()`` or :func:`aggregate`.

Labels for the classification losses are either integer class ids (one dimension
fewer than the scores) or one-hot / probability targets (the same shape).

Examples
--------
>>> logits = model(X, training=True)
>>> loss = losses.softmax_cross_entropy(logits, y).mean()
>>> loss = losses.aggregate(losses.softmax_cross_entropy(logits, y), weights=w)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .core.nnet import softmax_cross_entropy_with_logits
from .core.ops import elemwise as E
from .core.nnet.softmax import OneHot
from .core.ops.reduce import max as _max, mean as _mean, sum as _sum
from .core.types import fmt_shape, is_float_dtype, is_int_dtype, normalize_dtype
from .core.variable import TensorVariable, as_tensor_variable
from .layers.activations import log_softmax


def _float(x: Any, what: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if not is_float_dtype(x.type.dtype):
        raise TypeError(f"{what} must be a float tensor, got {x!r} of dtype {x.type.dtype}")
    return x


def one_hot(labels: TensorVariable, num_classes: int, dtype: str,
            what: str = "one_hot") -> TensorVariable:
    """Integer ``labels`` (shape S) as one-hot rows (shape S + (num_classes,)).

    A label outside ``[0, num_classes)`` raises ValueError when the function runs
    (naming ``what``), rather than giving a row of zeros, i.e. a loss of 0.
    """
    labels = as_tensor_variable(labels)
    if not is_int_dtype(labels.type.dtype):
        raise TypeError(f"{what}: class-id labels must be integers, got {labels!r} of dtype "
                        f"{labels.type.dtype}")
    return OneHot(int(num_classes), normalize_dtype(dtype), what)(labels)


def _targets(scores: TensorVariable, labels: Any, what: str) -> TensorVariable:
    """Labels as a float target distribution shaped like ``scores``."""
    labels = as_tensor_variable(labels)
    if labels.type.ndim == scores.type.ndim - 1:
        if not is_int_dtype(labels.type.dtype):
            raise TypeError(f"{what}: class-id labels must be integers, got {labels!r} of dtype "
                            f"{labels.type.dtype} (one-hot labels have the scores' shape "
                            f"{fmt_shape(scores.type.shape)})")
        k = scores.type.shape[-1]
        if k is None:
            raise ValueError(f"{what}: integer labels need the number of classes, but the "
                             f"scores' static shape {fmt_shape(scores.type.shape)} does not "
                             f"give it; give the scores a static last dimension or pass one-hot labels")
        _check_lead(scores, labels, what)
        return one_hot(labels, k, scores.type.dtype, what)
    if labels.type.ndim == scores.type.ndim:
        _check_lead(scores, labels, what, full=True)
        return labels if labels.type.dtype == scores.type.dtype else E.cast(labels, scores.type.dtype)
    raise TypeError(f"{what}: labels must have {scores.type.ndim - 1} dimensions (class ids) or "
                    f"{scores.type.ndim} (one-hot), got {labels!r} of shape "
                    f"{fmt_shape(labels.type.shape)} for scores of shape {fmt_shape(scores.type.shape)}")


def _check_lead(a: TensorVariable, b: TensorVariable, what: str, full: bool = False) -> None:
    n = a.type.ndim if full else a.type.ndim - 1
    for x, y in zip(a.type.shape[:n], b.type.shape[:n]):
        if x is not None and y is not None and x != y:
            raise ValueError(f"{what}: scores of shape {fmt_shape(a.type.shape)} do not match "
                             f"labels of shape {fmt_shape(b.type.shape)}")


def _per_example(loss: TensorVariable) -> TensorVariable:
    return _mean(loss, axis=tuple(range(1, loss.type.ndim))) if loss.type.ndim > 1 else loss


def softmax_cross_entropy(logits: Any, labels: Any, label_smoothing: float = 0.0) -> TensorVariable:
    """Cross-entropy of ``softmax(logits)`` (over the last axis) with the labels,
    computed stably from the logits.

    Parameters
    ----------
    logits : tensor (N, K)
    labels : int tensor (N,) or float tensor (N, K)
    label_smoothing : float
        Mix the targets with the uniform distribution: ``(1 - s) * t + s / K``.

    Returns
    -------
    tensor (N,)
    """
    logits = _float(logits, "softmax_cross_entropy: logits")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"softmax_cross_entropy: label_smoothing must be in [0, 1), got {label_smoothing!r}")
    t = _targets(logits, labels, "softmax_cross_entropy")
    if logits.type.ndim == 2 and not label_smoothing:
        # One fused op (forward and backward) for the common case.
        lab = as_tensor_variable(labels)
        return softmax_cross_entropy_with_logits(logits, lab if lab.type.ndim == 1 else t)
    if label_smoothing:
        k = logits.type.shape[-1]
        if k is None:
            raise ValueError("softmax_cross_entropy: label_smoothing needs a static number of classes")
        t = t * (1.0 - label_smoothing) + label_smoothing / k
    return -_sum(t * log_softmax(logits), axis=-1)


def categorical_crossentropy(probs: Any, labels: Any, epsilon: float = 1e-7) -> TensorVariable:
    """Cross-entropy of predicted probabilities (rows summing to 1) with the labels:
    ``-sum(t * log(clip(p, epsilon, 1)))``. Prefer :func:`softmax_cross_entropy` on
    logits, which is stable.

    Returns
    -------
    tensor (N,)
    """
    probs = _float(probs, "categorical_crossentropy: probs")
    t = _targets(probs, labels, "categorical_crossentropy")
    return -_sum(t * E.log(E.clip(probs, epsilon, 1.0)), axis=-1)


def binary_crossentropy(pred: Any, targets: Any, from_logits: bool = False,
                        epsilon: float = 1e-7) -> TensorVariable:
    """Binary cross-entropy ``-(t log p + (1 - t) log(1 - p))``.

    Parameters
    ----------
    pred : tensor
        Probabilities, or logits when ``from_logits=True`` (then computed stably as
        ``softplus(x) - t * x``).
    targets : tensor of the same shape, in [0, 1]
    from_logits : bool
    epsilon : float
        Probabilities are clipped to ``[epsilon, 1 - epsilon]``.

    Returns
    -------
    tensor (N,) (the mean over the other axes)
    """
    pred = _float(pred, "binary_crossentropy: pred")
    t = _match(pred, targets, "binary_crossentropy")
    if from_logits:
        loss = E.softplus(pred) - t * pred
    else:
        p = E.clip(pred, epsilon, 1.0 - epsilon)
        loss = -(t * E.log(p) + (1 - t) * E.log(1 - p))
    return _per_example(loss)


def sigmoid_binary_crossentropy(logits: Any, targets: Any) -> TensorVariable:
    """:func:`binary_crossentropy` from logits."""
    return binary_crossentropy(logits, targets, from_logits=True)


def _match(pred: TensorVariable, target: Any, what: str) -> TensorVariable:
    t = as_tensor_variable(target)
    if t.type.ndim != pred.type.ndim:
        raise TypeError(f"{what}: targets must have the predictions' {pred.type.ndim} dimensions, "
                        f"got {t!r} of shape {fmt_shape(t.type.shape)}")
    _check_lead(pred, t, what, full=True)
    if t.type.dtype != pred.type.dtype:
        t = E.cast(t, pred.type.dtype)
    return t


def squared_error(pred: Any, target: Any) -> TensorVariable:
    """``(pred - target) ** 2``, averaged over the non-batch axes."""
    pred = _float(pred, "squared_error: pred")
    return _per_example(E.sqr(pred - _match(pred, target, "squared_error")))


def absolute_error(pred: Any, target: Any) -> TensorVariable:
    """``|pred - target|``, averaged over the non-batch axes."""
    pred = _float(pred, "absolute_error: pred")
    return _per_example(E.abs(pred - _match(pred, target, "absolute_error")))


def huber(pred: Any, target: Any, delta: float = 1.0) -> TensorVariable:
    """The Huber loss: ``0.5 r²`` for ``|r| <= delta``, ``delta (|r| - 0.5 delta)`` beyond
    (``r = pred - target``), averaged over the non-batch axes."""
    if delta <= 0:
        raise ValueError(f"huber: delta must be > 0, got {delta!r}")
    pred = _float(pred, "huber: pred")
    r = E.abs(pred - _match(pred, target, "huber"))
    quad = E.minimum(r, delta)
    return _per_example(0.5 * E.sqr(quad) + delta * (r - quad))


def hinge(scores: Any, labels: Any, delta: float = 1.0) -> TensorVariable:
    """The hinge loss.

    With class-id labels (one dimension fewer than ``scores``): the multi-class hinge
    ``max(0, delta + max_{j != y} s_j - s_y)``. With labels of the scores' shape, taken
    as ±1 (binary): ``max(0, delta - t * s)`` averaged over the non-batch axes.
    """
    scores = _float(scores, "hinge: scores")
    labels = as_tensor_variable(labels)
    if labels.type.ndim == scores.type.ndim - 1:
        t = _targets(scores, labels, "hinge")
        correct = _sum(t * scores, axis=-1)
        # The best wrong class: the true one masked to -inf (scores - t * 1e30 was NaN in
        # float16, where 1e30 is inf and 0 * inf is NaN).
        rest = _max(E.switch(E.gt(t, 0), -np.inf, scores), axis=-1)
        return E.maximum(delta + rest - correct, 0)
    t = _match(scores, labels, "hinge")
    return _per_example(E.maximum(delta - t * scores, 0))


def aggregate(loss: Any, weights: Any = None, mode: str = "mean") -> TensorVariable:
    """Reduce per-example losses to a scalar.

    Parameters
    ----------
    loss : tensor
    weights : tensor, optional
        Broadcastable to ``loss``; multiplies it elementwise.
    mode : {'mean', 'sum', 'normalized_sum'}
        ``'normalized_sum'`` divides the weighted sum by the sum of the weights.

    Examples
    --------
    >>> aggregate(losses.squared_error(pred, y), weights=mask, mode='normalized_sum')
    """
    loss = _float(loss, "aggregate: loss")
    if weights is not None:
        weights = as_tensor_variable(weights)
        if weights.type.dtype != loss.type.dtype:
            weights = E.cast(weights, loss.type.dtype)
        loss = loss * weights
    if mode == "mean":
        return _mean(loss)
    if mode == "sum":
        return _sum(loss)
    if mode == "normalized_sum":
        if weights is None:
            raise ValueError("aggregate: mode='normalized_sum' needs weights")
        return _sum(loss) / _sum(weights)
    raise ValueError(f"aggregate: mode must be 'mean', 'sum' or 'normalized_sum', got {mode!r}")


__all__ = ["softmax_cross_entropy", "categorical_crossentropy", "binary_crossentropy",
           "sigmoid_binary_crossentropy", "squared_error", "absolute_error", "huber", "hinge",
           "aggregate", "one_hot"]
