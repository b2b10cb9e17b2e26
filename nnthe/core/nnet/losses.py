"""Cross-entropy losses on probabilities (categorical, binary) and the stable binary
form on logits. The fused softmax form lives in :mod:`.softmax`."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..graph import Apply, Op
from ..ops import elemwise as E
from ..types import disconnected_type, is_int_dtype, TensorType
from ..variable import TensorVariable, as_tensor_variable
from .softmax import (Softmax, SoftmaxCrossEntropyWithLogits, _check_targets, _float_input,
                      _OneHotLike, check_labels)


class CategoricalCrossEntropy(Op):
    """Per-example ``-sum(target * log(p), axis=1)`` for probabilities ``p`` (N, C) and
    integer labels (N,) or float targets (N, C).

    Its own op (rather than a composition) so that the stabilising rewrite can find
    ``CategoricalCrossEntropy(Softmax(z), y)`` and substitute
    :class:`~nnthe.core.nnet.softmax.SoftmaxCrossEntropyWithLogits`.
    """

    def make_node(self, p: Any, y: Any) -> Apply:
        p = _float_input(p, "categorical_crossentropy")
        if p.type.ndim != 2:
            raise TypeError(f"categorical_crossentropy: predictions must be a matrix (N, C), got {p.type}")
        y = as_tensor_variable(y)
        _check_targets(p, y, "categorical_crossentropy")
        return Apply(self, [p, y], [TensorType(p.type.dtype, (p.type.shape[0],))])

    def perform(self, node, p, y):
        if y.ndim == 1:
            check_labels(y, p.shape[1], "categorical_crossentropy")
            picked = np.take_along_axis(p, y[:, None].astype(np.intp), axis=1)[:, 0]
            return -np.log(picked)
        return -(y * np.log(p)).sum(axis=1)

    def L_op(self, node, inputs, outputs, output_grads):
        p, y = inputs
        g = output_grads[0].dimshuffle(0, "x")
        if is_int_dtype(y.type.dtype):
            return [-_OneHotLike("categorical_crossentropy")(y, p) / p * g, disconnected_type()]
        return [-y / p * g, -E.log(p) * g]

    def connection_pattern(self, node):
        return [[True], [not is_int_dtype(node.inputs[1].type.dtype)]]

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0],)]


def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> TensorVariable:
    """Cross-entropy of predicted probabilities ``coding_dist`` (N, C) against integer
    labels (N,) or target distributions (N, C); per example, shape (N,).

    For logits use :func:`softmax_cross_entropy_with_logits` (stable);
    ``categorical_crossentropy(softmax(z), y)`` is built as that fused op directly.
    """
    owner = getattr(coding_dist, "owner", None)
    if owner is not None and isinstance(owner.op, Softmax) and owner.inputs[0].type.ndim == 2 \
            and owner.op.axis in (1, -1):
        # The fused op from the logits: finite loss and exact gradient even when a
        # probability underflows to 0 (the rewrite alone would fix only the value).
        return SoftmaxCrossEntropyWithLogits()(owner.inputs[0], true_dist)
    return CategoricalCrossEntropy()(coding_dist, true_dist)


def binary_crossentropy(output: Any, target: Any) -> TensorVariable:
    """Elementwise ``-(t * log(p) + (1 - t) * log(1 - p))`` for probabilities ``p``.

    For logits use :func:`sigmoid_binary_crossentropy`, which stays finite for
    saturated predictions.
    """
    p = _float_input(output, "binary_crossentropy")
    t = as_tensor_variable(target)
    if is_int_dtype(t.type.dtype) or t.type.dtype == "bool":
        t = E.cast(t, p.type.dtype)
    return -(t * E.log(p) + (1.0 - t) * E.log1p(-p))


def sigmoid_binary_crossentropy(logits: Any, targets: Any) -> TensorVariable:
    """``binary_crossentropy(sigmoid(logits), targets)`` computed stably, elementwise:
    ``softplus(z) - t * z``. Its gradient wrt ``z`` is ``sigmoid(z) - t``."""
    z = _float_input(logits, "sigmoid_binary_crossentropy")
    t = as_tensor_variable(targets)
    if is_int_dtype(t.type.dtype) or t.type.dtype == "bool":
        t = E.cast(t, z.type.dtype)
    return E.softplus(z) - t * z


__all__ = ["categorical_crossentropy", "binary_crossentropy", "sigmoid_binary_crossentropy",
           "CategoricalCrossEntropy"]
