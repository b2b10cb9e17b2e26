"""Stabilization: replace expressions that overflow or lose precision with stable forms.

Each rewrite here turns a graph that can produce inf/NaN (or round to 0) for ordinary
inputs into one that cannot: ``log(1 + x)`` loses all digits of tiny ``x`` while
``log1p(x)`` keeps them; ``log(sigmoid(x))`` is ``-inf`` for ``x < -88`` in float32
while ``-softplus(-x)`` is exact.
"""
from __future__ import annotations

from typing import Any

from ..graph import Apply
from ..ops import elemwise as E
from ..ops.elemwise import Elemwise
from ..nnet.losses import CategoricalCrossEntropy
from ..nnet.softmax import LogSoftmax, Softmax, SoftmaxCrossEntropyWithLogits
from ..ops.reduce import CAReduce, logsumexp
from ..ops.shape import DimShuffle
from .patterns import elemwise_name, is_constant_value, node_name
from .registry import register


def _fits(new, old):
    """``new`` may replace ``old``: same dtype and rank (static shapes compatible)."""
    return new.type.dtype == old.type.dtype and new.type.ndim == old.type.ndim


@register("stabilize", "stabilize", tracks=(Elemwise,))
def local_log1p(fgraph: Any, node: Apply):
    """``log(1 + x)`` -> ``log1p(x)``."""
    if node_name(node) != "log" or elemwise_name(node.inputs[0]) != "add":
        return None
    a, b = node.inputs[0].owner.inputs
    x = b if is_constant_value(a, 1) else a if is_constant_value(b, 1) else None
    if x is None:
        return None
    new = E.log1p(x)
    return [new] if _fits(new, node.outputs[0]) else None


@register("stabilize", "stabilize", tracks=(Elemwise,))
def local_expm1(fgraph: Any, node: Apply):
    """``exp(x) - 1`` -> ``expm1(x)``."""
    if node_name(node) != "sub" or not is_constant_value(node.inputs[1], 1):
        return None
    if elemwise_name(node.inputs[0]) != "exp":
        return None
    new = E.expm1(node.inputs[0].owner.inputs[0])
    return [new] if _fits(new, node.outputs[0]) else None


@register("stabilize", "stabilize", tracks=(Elemwise,))
def local_log_sigmoid(fgraph: Any, node: Apply):
    """``log(sigmoid(x))`` -> ``-softplus(-x)``; ``log(1 - sigmoid(x))`` -> ``-softplus(x)``."""
    if node_name(node) != "log":
        return None
    inner = node.inputs[0]
    if elemwise_name(inner) == "sigmoid":
        x = inner.owner.inputs[0]
        new = -E.softplus(-x)
    elif elemwise_name(inner) == "sub" and is_constant_value(inner.owner.inputs[0], 1) \
            and elemwise_name(inner.owner.inputs[1]) == "sigmoid":
        x = inner.owner.inputs[1].owner.inputs[0]
        new = -E.softplus(x)
    else:
        return None
    return [new] if _fits(new, node.outputs[0]) else None


@register("stabilize", "stabilize", tracks=(Elemwise,))
def local_logsumexp(fgraph: Any, node: Apply):
    """``log(sum(exp(x), axis))`` -> the max-shifted ``logsumexp(x, axis)``."""
    if node_name(node) != "log" or node.outputs[0].tag.get("stable"):
        return None
    s = node.inputs[0]
    if s.owner is None or not isinstance(s.owner.op, CAReduce) or s.owner.op.kind != "sum":
        return None
    if elemwise_name(s.owner.inputs[0]) != "exp":
        return None
    x = s.owner.inputs[0].owner.inputs[0]
    if x.tag.get("stable_shifted"):
        return None
    op = s.owner.op
    new = logsumexp(x, axis=op.axes, keepdims=op.keepdims)
    return [new] if _fits(new, node.outputs[0]) else None


# -- softmax family ----------------------------------------------------------------------

@register("stabilize", "stabilize", tracks=(Elemwise,))
def local_log_softmax(fgraph: Any, node: Apply):
    """``log(softmax(x))`` -> ``log_softmax(x)`` (no log of an underflowed 0)."""
    if node_name(node) != "log":
        return None
    sm = node.inputs[0]
    if sm.owner is None or not isinstance(sm.owner.op, Softmax):
        return None
    new = LogSoftmax(sm.owner.op.axis)(sm.owner.inputs[0])
    return [new] if _fits(new, node.outputs[0]) else None


@register("stabilize", "stabilize", tracks=(CategoricalCrossEntropy,))
def local_softmax_crossentropy(fgraph: Any, node: Apply):
    """``categorical_crossentropy(softmax(z), y)`` -> the fused, stable
    ``softmax_cross_entropy_with_logits(z, y)`` (integer or one-hot targets)."""
    p, y = node.inputs
    if p.owner is None or not isinstance(p.owner.op, Softmax) or p.owner.op.axis not in (1, -1):
        return None
    new = SoftmaxCrossEntropyWithLogits()(p.owner.inputs[0], y)
    return [new] if _fits(new, node.outputs[0]) else None


@register("stabilize", "stabilize", tracks=(Elemwise,))
def local_exp_over_sum_exp(fgraph: Any, node: Apply):
    """``exp(x) / sum(exp(x), axis, keepdims=True)`` -> ``softmax(x, axis)``."""
    if node_name(node) != "true_div":
        return None
    num, den = node.inputs
    if elemwise_name(num) != "exp":
        return None
    d = den
    # sum(..., keepdims=False) followed by a dimshuffle that puts the axis back
    if d.owner is not None and isinstance(d.owner.op, DimShuffle):
        d = d.owner.inputs[0]
    if d.owner is None or not isinstance(d.owner.op, CAReduce) or d.owner.op.kind != "sum":
        return None
    if d.owner.inputs[0] is not num or len(d.owner.op.axes) != 1:
        return None
    x = num.owner.inputs[0]
    new = Softmax(d.owner.op.axes[0])(x)
    out = node.outputs[0]
    if new.type.ndim != out.type.ndim or new.type.dtype != out.type.dtype:
        return None
    return [new]
