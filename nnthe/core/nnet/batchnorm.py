"""Batch normalization: the training form (batch statistics computed inside, with their
gradient) and the inference form (given statistics).

Both are compositions of reductions and elementwise ops: the gradient through the batch
mean and variance then comes from ``grad`` itself, and grad-of-grad works.
"""
from __future__ import annotations

from typing import Any

from ..ops import elemwise as E
from ..ops.reduce import mean as _mean, normalize_axis
from ..ops.shape import dimshuffle
from ..types import fmt_shape, is_float_dtype
from ..variable import TensorVariable, as_tensor_variable


def _axes(x: TensorVariable, axes: Any) -> tuple[int, ...]:
    if axes == "per-activation":
        return (0,)
    if axes == "spatial":
        return (0,) + tuple(range(2, x.type.ndim))
    return normalize_axis(axes, x.type.ndim, "batch_normalization")


def _param(p: Any, x: TensorVariable, axes: tuple, what: str) -> TensorVariable:
    """``p`` broadcastable against ``x``: either already of x's ndim (size 1 on ``axes``)
    or of the shape of the kept axes (``(C,)`` for spatial axes of (N, C, H, W))."""
    p = as_tensor_variable(p)
    kept = [d for d in range(x.type.ndim) if d not in axes]
    if p.type.ndim == x.type.ndim:
        for d in axes:
            if p.type.shape[d] not in (1, None):
                raise ValueError(f"batch_normalization: {what} of shape {fmt_shape(p.type.shape)} "
                                 f"must have size 1 on the normalised axes {axes}")
        out = p
    elif p.type.ndim == len(kept):
        pattern: list = []
        it = iter(range(p.type.ndim))
        for d in range(x.type.ndim):
            pattern.append("x" if d in axes else next(it))
        out = dimshuffle(p, pattern)
    else:
        raise TypeError(f"batch_normalization: {what} must have {len(kept)} dimensions (the "
                        f"kept axes {tuple(kept)} of x {fmt_shape(x.type.shape)}) or "
                        f"{x.type.ndim}, got {p.type}")
    for d in kept:
        a, b = out.type.shape[d], x.type.shape[d]
        if a is not None and b is not None and a not in (1, b):
            raise ValueError(f"batch_normalization: {what} of shape {fmt_shape(p.type.shape)} does "
                             f"not match x of shape {fmt_shape(x.type.shape)} on axis {d}")
    return out


def batch_normalization_test(x: Any, gamma: Any, beta: Any, mean: Any, var: Any,
                             axes: Any = "per-activation", epsilon: float = 1e-5) -> TensorVariable:
    """Inference form: ``(x - mean) * gamma / sqrt(var + epsilon) + beta``.

    ``gamma``, ``beta``, ``mean`` and ``var`` have the shape of the kept axes (e.g.
    ``(C,)`` with ``axes='spatial'`` on (N, C, H, W)) or ``x``'s ndim with size 1 on
    ``axes``.
    """
    x = as_tensor_variable(x)
    if not is_float_dtype(x.type.dtype):
        raise TypeError(f"batch_normalization: x must be a float tensor, got dtype {x.type.dtype}")
    ax = _axes(x, axes)
    g, b = _param(gamma, x, ax, "gamma"), _param(beta, x, ax, "beta")
    m, v = _param(mean, x, ax, "mean"), _param(var, x, ax, "var")
    scale = g / E.sqrt(v + float(epsilon))
    return (x - m) * scale + b


def batch_normalization_train(x: Any, gamma: Any, beta: Any, axes: Any = "per-activation",
                              epsilon: float = 1e-5) -> tuple[TensorVariable, TensorVariable, TensorVariable]:
    """Training form: normalise with the batch statistics over ``axes``.

    Returns
    -------
    (out, batch_mean, batch_var)
        ``batch_mean`` and ``batch_var`` (biased) have the shape of the kept axes, ready
        for running-average updates.
    """
    x = as_tensor_variable(x)
    if not is_float_dtype(x.type.dtype):
        raise TypeError(f"batch_normalization: x must be a float tensor, got dtype {x.type.dtype}")
    ax = _axes(x, axes)
    g, b = _param(gamma, x, ax, "gamma"), _param(beta, x, ax, "beta")
    mu = _mean(x, axis=ax, keepdims=True)
    centered = x - mu
    var = _mean(E.sqr(centered), axis=ax, keepdims=True)
    inv_std = 1.0 / E.sqrt(var + float(epsilon))
    out = centered * (inv_std * g) + b
    kept = [d for d in range(x.type.ndim) if d not in ax]
    return out, dimshuffle(mu, kept), dimshuffle(var, kept)


def batch_normalization(x: Any, gamma: Any, beta: Any, mean: Any = None, var: Any = None,
                        axes: Any = "per-activation", epsilon: float = 1e-5) -> Any:
    """Batch normalization; the training form when ``mean`` and ``var`` are None.

    Parameters
    ----------
    x : tensor
    gamma, beta : tensors
        Scale and shift, shaped like the kept axes (see
        :func:`batch_normalization_test`).
    mean, var : tensors, optional
        Given statistics (inference form). Both or neither.
    axes : 'per-activation', 'spatial', int or tuple of ints
        The axes to normalise over: ``(0,)``, ``(0, 2, 3, ...)``, or explicit.
    epsilon : float

    Returns
    -------
    ``(out, batch_mean, batch_var)`` in training form, ``out`` in inference form.

    Examples
    --------
    >>> out, m, v = T.nnet.batch_normalization(x, gamma, beta, axes='spatial')
    """
    if (mean is None) != (var is None):
        raise ValueError("batch_normalization: give both mean and var (inference form) or "
                         "neither (training form)")
    if mean is None:
        return batch_normalization_train(x, gamma, beta, axes, epsilon)
    return batch_normalization_test(x, gamma, beta, mean, var, axes, epsilon)


__all__ = ["batch_normalization", "batch_normalization_train", "batch_normalization_test"]
