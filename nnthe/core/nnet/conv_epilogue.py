"""Epilogues of a convolution: a per-channel bias, and ReLU, applied as the output is stored.

Every convolution layer of a CNN computes ``relu(conv2d(x, w) + b.dimshuffle('x', 0, 'x',
'x'))``. As three ops, the bias add and the activation read and write the whole (N, K,
OH, OW) output again after the convolution wrote it. :class:`~.conv.Conv2d` with an
``epilogue`` computes the same values with the bias (a third input, ``b`` of shape (K,))
and the activation applied while the result is stored: the direct-convolution kernel
(:mod:`nnthe.core.kernels.direct_conv`) adds them in its last store, ``perform`` on the
contiguous copy that turns the GEMM's result into NCHW. The rewrite
:func:`nnthe.core.rewrite.conv.local_conv_epilogue` builds such nodes from the three-op form.

The values are exactly those of the three ops: the convolution's value, rounded, plus
``b`` (one addition), then ``np.maximum(v, 0)`` as :func:`~.activations.relu` computes it
(NaN propagates; ``-0.0`` becomes ``+0.0``, NumPy's second operand on a tie).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ops.elemwise import gt
from ..ops.reduce import sum as reduce_sum
from ..types import fmt_shape
from ..variable import TensorVariable, as_tensor_variable

#: The epilogues a Conv2d can carry (None: the plain convolution).
EPILOGUES = ("bias", "bias_relu")

__all__ = ["EPILOGUES", "bias_input", "check_epilogue", "epilogue_grads", "has_relu", "store_nchw"]


def check_epilogue(epilogue: Any) -> str | None:
    """``epilogue`` if it is None or one of :data:`EPILOGUES`, else a ValueError."""
    if epilogue is not None and epilogue not in EPILOGUES:
        raise ValueError(f"Conv2d: epilogue must be None or one of {EPILOGUES}, got {epilogue!r}")
    return epilogue


def bias_input(op: Any, b: Any, w: TensorVariable) -> list[TensorVariable]:
    """The inputs a Conv2d ``op`` adds after ``x`` and ``w``: ``[b]`` checked against its
    epilogue and the filters ``w``, or ``[]`` for the plain convolution."""
    if op.epilogue is None:
        if b is not None:
            raise TypeError("Conv2d: a bias input needs an epilogue (Conv2d(epilogue='bias'))")
        return []
    if b is None:
        raise TypeError(f"Conv2d(epilogue={op.epilogue!r}) needs the bias b, a vector of one "
                        f"value per output channel")
    b = as_tensor_variable(b)
    if b.type.ndim != 1:
        raise TypeError(f"Conv2d: the bias must be a vector (one value per output channel), "
                        f"got {b!r} of type {b.type}")
    if b.type.dtype != w.type.dtype:
        raise TypeError(f"Conv2d: the filters and the bias must have the same dtype, got "
                        f"{w.type.dtype} and {b.type.dtype}; cast one with T.cast")
    k, kb = w.type.shape[0], b.type.shape[0]
    if k is not None and kb is not None and k != kb:
        raise ValueError(f"Conv2d: the bias has {kb} values, the filters "
                         f"{fmt_shape(w.type.shape)} produce {k} channels")
    return [b]


def has_relu(epilogue: str | None) -> bool:
    """True if the epilogue ends with a ReLU."""
    return epilogue == "bias_relu"


def _per_image(values: np.ndarray, shape: tuple) -> np.ndarray:
    """``values`` of shape (1, K, 1, 1) repeated over one image's (1, K, OH, OW), contiguous."""
    return np.ascontiguousarray(np.broadcast_to(values, shape))


def store_nchw(y: np.ndarray, b: np.ndarray | None, epilogue: str | None) -> np.ndarray:
    """A C-contiguous copy of the (N, K, OH, OW) convolution ``y`` with the epilogue applied.

    ``y`` is typically a transposed view of the GEMM's result; it must not be an input
    of the op (it may be reused in place when it is already contiguous). The copy comes
    first, then the bias and the ReLU in place: a ufunc reading the transposed view
    directly took 2.4 ms for the MNIST CNN's first layer (128x32x24x24 float32) where
    the copy takes 0.45. The bias and the zero are operands of one image's size, so both
    ufuncs run their contiguous two-array loops over ``K*OH*OW`` elements at a time:
    with a (1, K, 1, 1) bias and a scalar zero the same layer took 2.3 ms instead of 1.0
    (the unfused ``copy; relu(y + b)`` took 2.5 ms; one thread, load ~1, medians).
    """
    if epilogue is None:
        return np.ascontiguousarray(y)
    n, k = y.shape[:2]
    if b.shape != (k,):
        raise ValueError(f"conv2d: a bias of shape {b.shape} for {k} output channels: "
                         f"expected ({k},)")
    out = np.ascontiguousarray(y)
    b4 = b.reshape(1, k, 1, 1)
    one = (1,) + out.shape[1:]
    # One image: the operand of an image's size would cost as much as the add itself.
    np.add(out, _per_image(b4, one) if n > 1 else b4, out=out)
    if has_relu(epilogue):
        zero = np.zeros(one, out.dtype) if n > 1 else out.dtype.type(0)
        np.maximum(out, zero, out=out)
    return out


def epilogue_grads(epilogue: str | None, z: TensorVariable,
                   gz: TensorVariable) -> tuple[TensorVariable, TensorVariable | None]:
    """The gradient of the convolution's own output, and of ``b`` (None without a bias),
    given ``gz``, the gradient of the epilogue's output ``z``: the expressions the
    gradients of ``relu`` and of the broadcast add would build (the ReLU mask reads the
    output, ``z > 0`` exactly where its input is > 0, NaN included)."""
    g = gz * gt(z, 0) if has_relu(epilogue) else gz
    return g, (None if epilogue is None else reduce_sum(g, axis=(0, 2, 3)))
