"""Ops that are the identity in the forward pass and change only the gradient:
``disconnected_grad`` (a constant for ``grad``), ``zero_grad`` and ``grad_clip``."""
from __future__ import annotations

from typing import Any

from ..graph import Apply, Op
from ..types import disconnected_type
from ..variable import TensorVariable, as_tensor_variable
from .alloc import zeros_like
from .elemwise import clip


class IdentityGradOp(Op):
    """Identity in the forward pass; subclasses alter the backward pass."""

    view_map = {0: [0]}

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def make_thunk(self, node):
        return _identity

    def perform(self, node, x):
        return x

    def infer_shape(self, node, input_shapes):
        return input_shapes


def _identity(x):
    return x


class DisconnectedGrad(IdentityGradOp):
    """Identity whose input is treated as a constant by ``grad``."""

    def L_op(self, node, inputs, outputs, output_grads):
        return [disconnected_type()]

    def connection_pattern(self, node):
        return [[False]]


class ZeroGrad(IdentityGradOp):
    """Identity whose gradient is zero (connected, unlike ``disconnected_grad``)."""

    def L_op(self, node, inputs, outputs, output_grads):
        return [zeros_like(inputs[0])]


class GradClip(IdentityGradOp):
    """Identity whose gradient is clipped to ``[lower, upper]``."""

    __props__ = ("lower", "upper")

    def __init__(self, lower: float, upper: float) -> None:
        if not lower <= upper:
            raise ValueError(f"grad_clip: lower ({lower}) must not exceed upper ({upper})")
        self.lower = float(lower)
        self.upper = float(upper)

    def L_op(self, node, inputs, outputs, output_grads):
        return [clip(output_grads[0], self.lower, self.upper)]


_disconnected_grad = DisconnectedGrad()
_zero_grad = ZeroGrad()


def disconnected_grad(x: Any) -> TensorVariable:
    """``x``, but ``grad`` treats it as a constant (no gradient flows through it)."""
    return _disconnected_grad(x)


stop_gradient = disconnected_grad


def zero_grad(x: Any) -> TensorVariable:
    """``x``, with a gradient of zero through it."""
    return _zero_grad(x)


def grad_clip(x: Any, lower: float, upper: float) -> TensorVariable:
    """``x``, with the gradient through it clipped to ``[lower, upper]``."""
    return GradClip(lower, upper)(x)
