"""Softmax, log-softmax and the fused, stable softmax cross-entropy.

All three shift by the maximum before exponentiating, so logits of +-1e4 in float32
give finite values and gradients. Their gradients are built from these same ops and
elementwise ones, so gradients of gradients work.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..ops import elemwise as _E
from ..types import disconnected_type, fmt_shape, is_float_dtype, is_int_dtype, normalize_dtype, TensorType
from ..variable import TensorVariable, as_tensor_variable
from ..ops.reduce import normalize_axis, sum as _sum
from ..ops.reduce import logsumexp  # noqa: F401  (re-exported by nnthe.nnet)


def check_labels(labels: np.ndarray, n_classes: int, what: str) -> None:
    """Raise ValueError if an integer label is outside ``[0, n_classes)``.

    Two reductions over the labels (min and max), nothing over the scores; the slow
    search for the culprit runs only on the error path.
    """
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        flat = labels.ravel()
        pos = int(np.flatnonzero((flat < 0) | (flat >= n_classes))[0])
        where = tuple(int(i) for i in np.unravel_index(pos, labels.shape))
        raise ValueError(f"{what}: a label is outside [0, {n_classes}): label {flat[pos]} at "
                         f"index {where if labels.ndim > 1 else pos}")


def _float_input(x: Any, what: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if not is_float_dtype(x.type.dtype):
        raise TypeError(f"{what}: expected a float tensor, got {x!r} of dtype {x.type.dtype}; "
                        "cast it with T.cast(x, 'float32')")
    if x.type.ndim == 0:
        raise TypeError(f"{what}: expected a tensor with at least 1 dimension, got a scalar {x!r}")
    return x


class _AxisOp(Op):
    """An op on a float tensor along one axis, with an output of the input's type."""

    __props__ = ("axis",)
    _what = ""

    def __init__(self, axis: int = -1) -> None:
        self.axis = int(axis)

    def make_node(self, x: Any) -> Apply:
        x = _float_input(x, self._what)
        normalize_axis(self.axis, x.type.ndim, self._what)
        return Apply(self, [x], [x.type])

    def infer_shape(self, node, input_shapes):
        return input_shapes


class Softmax(_AxisOp):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``."""

    _what = "softmax"

    def perform(self, node, x):
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def L_op(self, node, inputs, outputs, output_grads):
        sm, g = outputs[0], output_grads[0]
        return [sm * (g - _sum(g * sm, axis=self.axis, keepdims=True))]


class LogSoftmax(_AxisOp):
    """``x - logsumexp(x)`` along ``axis``, computed stably."""

    _what = "log_softmax"

    def perform(self, node, x):
        z = x - x.max(axis=self.axis, keepdims=True)
        z -= np.log(np.exp(z).sum(axis=self.axis, keepdims=True))
        return z

    def L_op(self, node, inputs, outputs, output_grads):
        g = output_grads[0]
        return [g - softmax(inputs[0], self.axis) * _sum(g, axis=self.axis, keepdims=True)]


def softmax(x: Any, axis: int = -1) -> TensorVariable:
    """The softmax of ``x`` along ``axis`` (stable for large logits).

    Examples
    --------
    >>> p = T.nnet.softmax(T.matrix('z'))          # rows sum to 1
    """
    x = _float_input(x, "softmax")
    (ax,) = normalize_axis(axis, x.type.ndim, "softmax")
    return Softmax(ax)(x)


def log_softmax(x: Any, axis: int = -1) -> TensorVariable:
    """``log(softmax(x))`` along ``axis``, without the underflow of composing them."""
    x = _float_input(x, "log_softmax")
    (ax,) = normalize_axis(axis, x.type.ndim, "log_softmax")
    return LogSoftmax(ax)(x)


# ---------------------------------------------------------------------------------------
# One-hot encoding
# ---------------------------------------------------------------------------------------

class OneHot(Op):
    """Integer labels of any shape -> ``labels.shape + (n_classes,)`` of ``dtype``.

    A label outside ``[0, n_classes)`` raises ValueError at run time, named after
    ``what`` (the function the user called: ``one_hot``, a loss).
    """

    __props__ = ("n_classes", "dtype", "what")

    def __init__(self, n_classes: int, dtype: str, what: str = "one_hot") -> None:
        self.n_classes = int(n_classes)
        self.dtype = dtype
        self.what = what

    def make_node(self, labels: Any) -> Apply:
        labels = as_tensor_variable(labels)
        if not is_int_dtype(labels.type.dtype):
            raise TypeError(f"one_hot: labels must be integers, got {labels!r} of dtype "
                            f"{labels.type.dtype}")
        return Apply(self, [labels], [TensorType(self.dtype, labels.type.shape + (self.n_classes,))])

    def perform(self, node, labels):
        check_labels(labels, self.n_classes, self.what)
        out = np.zeros(labels.shape + (self.n_classes,), dtype=self.dtype)
        np.put_along_axis(out, labels[..., None].astype(np.intp), 1, axis=-1)
        return out

    def L_op(self, node, inputs, outputs, output_grads):
        return [disconnected_type()]

    def connection_pattern(self, node):
        return [[False]]


def one_hot(labels: Any, n_classes: int, dtype: Any = None) -> TensorVariable:
    """One-hot encode integer ``labels``: ``labels.shape + (n_classes,)``.

    ``dtype`` defaults to ``config.floatX``. A label outside ``[0, n_classes)`` raises
    ValueError when the function runs.
    """
    if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 1:
        raise ValueError(f"one_hot: n_classes must be a positive int, got {n_classes!r}")
    return OneHot(int(n_classes), normalize_dtype(dtype))(labels)


# ---------------------------------------------------------------------------------------
# Fused softmax cross-entropy
# ---------------------------------------------------------------------------------------

def _check_targets(logits: TensorVariable, labels: TensorVariable, what: str) -> None:
    if is_int_dtype(labels.type.dtype):
        if labels.type.ndim != 1:
            raise TypeError(f"{what}: integer labels must be a vector (N,), got {labels.type}")
        n1, n2 = logits.type.shape[0], labels.type.shape[0]
    elif is_float_dtype(labels.type.dtype):
        if labels.type.ndim != 2:
            raise TypeError(f"{what}: one-hot / probability targets must be a matrix (N, C), "
                            f"got {labels.type}")
        for d in range(2):
            a, b = logits.type.shape[d], labels.type.shape[d]
            if a is not None and b is not None and a != b:
                raise ValueError(f"{what}: targets of shape {fmt_shape(labels.type.shape)} do not "
                                 f"match predictions of shape {fmt_shape(logits.type.shape)}")
        if labels.type.dtype != logits.type.dtype:
            raise TypeError(f"{what}: targets have dtype {labels.type.dtype}, predictions "
                            f"{logits.type.dtype}; cast one of them")
        return
    else:
        raise TypeError(f"{what}: labels must be integers or floats, got dtype {labels.type.dtype}")
    if n1 is not None and n2 is not None and n1 != n2:
        raise ValueError(f"{what}: {n2} labels for {n1} rows of predictions "
                         f"{fmt_shape(logits.type.shape)}")


class SoftmaxCrossEntropyWithLogits(Op):
    """Per-example ``-sum(target * log_softmax(logits), axis=1)``, fused and stable.

    Inputs
    ------
    logits : float matrix (N, C)
        Unnormalised scores.
    labels : int vector (N,) of class indices, or float matrix (N, C) of targets
        (one-hot or any distribution, same dtype as ``logits``).

    Output: float vector (N,). The gradient wrt ``logits`` is
    ``(softmax(logits) - target) * g[:, None]``; wrt float targets it is
    ``-log_softmax(logits) * g[:, None]``; integer labels are not differentiable.

    This is the op the stabilising rewrite substitutes for
    ``categorical_crossentropy(softmax(z), y)``.
    """

    def make_node(self, logits: Any, labels: Any) -> Apply:
        logits = _float_input(logits, "softmax_cross_entropy_with_logits")
        if logits.type.ndim != 2:
            raise TypeError(f"softmax_cross_entropy_with_logits: logits must be a matrix (N, C), "
                            f"got {logits.type}")
        labels = as_tensor_variable(labels)
        _check_targets(logits, labels, "softmax_cross_entropy_with_logits")
        return Apply(self, [logits, labels], [TensorType(logits.type.dtype, (logits.type.shape[0],))])

    def perform(self, node, z, y):
        out_dtype = z.dtype
        if y.ndim == 1:
            check_labels(y, z.shape[1], "softmax_cross_entropy_with_logits")
            if y.shape[0] != z.shape[0]:
                raise ValueError(f"softmax_cross_entropy_with_logits: {y.shape[0]} labels for "
                                 f"logits of shape {z.shape}")
        if z.dtype == np.float16:
            # float16 sums of C exponentials overflow past 65504: accumulate in float32.
            z = z.astype(np.float32)
        # (max - z_y) + log(sum(exp(z - max))): adding the max back before subtracting
        # z_y would round the log-sum to the spacing of the max (1e-3 at 1e4 in float32).
        shifted = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(shifted).sum(axis=1))
        if y.ndim == 1:
            picked = np.take_along_axis(shifted, y[:, None].astype(np.intp), axis=1)[:, 0]
            return (lse - picked).astype(out_dtype, copy=False)
        return (lse * y.sum(axis=1) - (y * shifted).sum(axis=1)).astype(out_dtype, copy=False)

    def L_op(self, node, inputs, outputs, output_grads):
        z, y = inputs
        g = output_grads[0].dimshuffle(0, "x")
        if is_int_dtype(y.type.dtype):
            target = _OneHotLike("softmax_cross_entropy_with_logits")(y, z)
            return [(softmax(z, 1) - target) * g, disconnected_type()]
        # Targets need not sum to 1: d/dz = softmax * sum(y) - y.
        return [(softmax(z, 1) * _sum(y, axis=1, keepdims=True) - y) * g,
                -log_softmax(z, 1) * g]

    def connection_pattern(self, node):
        return [[True], [not is_int_dtype(node.inputs[1].type.dtype)]]

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0],)]


class _OneHotLike(Op):
    """One-hot rows of ``labels`` shaped and typed like the matrix ``like`` (whose
    number of columns may be known only at run time). ``what`` names the loss in the
    error for a label out of range."""

    __props__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def make_node(self, labels, like):
        return Apply(self, [labels, like], [like.type])

    def perform(self, node, labels, like):
        # The gradient may run without the forward op (which checks too): a label -1
        # would silently mark the last class.
        check_labels(labels, like.shape[1], self.what)
        out = np.zeros(like.shape, dtype=like.dtype)
        np.put_along_axis(out, labels[:, None].astype(np.intp), 1, axis=1)
        return out

    def L_op(self, node, inputs, outputs, output_grads):
        return [disconnected_type(), disconnected_type()]

    def connection_pattern(self, node):
        return [[False], [False]]


def softmax_cross_entropy_with_logits(logits: Any, labels: Any) -> TensorVariable:
    """Cross-entropy between ``softmax(logits)`` and the labels, per example, stably.

    Parameters
    ----------
    logits : float matrix (N, C)
    labels : int vector (N,) of class indices, or float matrix (N, C) of targets

    Returns
    -------
    float vector (N,); take ``.mean()`` for a loss.

    Examples
    --------
    >>> z = T.matrix('z', shape=(None, 10)); y = T.ivector('y')
    >>> loss = T.nnet.softmax_cross_entropy_with_logits(z, y).mean()
    """
    return SoftmaxCrossEntropyWithLogits()(logits, labels)


__all__ = ["softmax", "log_softmax", "logsumexp", "one_hot", "softmax_cross_entropy_with_logits",
           "Softmax", "LogSoftmax", "OneHot", "SoftmaxCrossEntropyWithLogits"]


@_E.stable_form("log")
def _log_of_softmax(x: Any) -> TensorVariable | None:
    """``log(softmax(x))`` is built as ``log_softmax(x)`` (see
    :data:`nnthe.core.ops.elemwise.STABLE_FORMS`)."""
    owner = getattr(x, "owner", None)
    if owner is not None and isinstance(owner.op, Softmax):
        return LogSoftmax(owner.op.axis)(owner.inputs[0])
    return None
