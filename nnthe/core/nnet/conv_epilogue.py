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


#: Bytes of output the NumPy epilogue copies, then adds to and clamps, at a time: blocks
#: that stay in this machine's (2 MB per core) L2 cache between the three passes.
BLOCK_BYTES = 2 << 20


def store_nchw(y: np.ndarray, b: np.ndarray | None, epilogue: str | None) -> np.ndarray:
    """A C-contiguous copy of the (N, K, OH, OW) convolution ``y`` with the epilogue applied.

    ``y`` is typically a transposed view of the GEMM's result. Per block of images, the
    copy comes first, then the bias and the ReLU in place while the block is in the
    cache. Why this way (float32, one thread, load ~1.8, medians; NumPy 2.4):

    - a ufunc reading the transposed view directly is slow: ``np.add(y, b, out=)`` took
      2.4 ms for the MNIST CNN's first layer (128x32x24x24) where the copy takes 0.45;
    - the bias and the zero are operands of one image's size, so both ufuncs run their
      contiguous two-array loops over ``K*OH*OW`` elements: with a (1, K, 1, 1) bias and
      a scalar zero they took 2.3 ms instead of 1.0 (``np.maximum`` with a scalar has no
      fast loop);
    - blocks of 2 MB: the first layer 1.49-1.56 ms against 1.61-1.72 ms in whole passes
      (the unfused ``copy; relu(y + b)``: 2.5-2.6 ms), and for a batch of 500 (37 MB,
      past the L3 cache) 9.2-10.7 against 11.1-12.2 ms (unfused 22.1-22.6 ms); the second
      layer (128x32x8x8) 0.19 against 0.18 ms (unfused 0.26).
    """
    if epilogue is None:
        return np.ascontiguousarray(y)
    n, k = y.shape[:2]
    if b.shape != (k,):
        raise ValueError(f"conv2d: a bias of shape {b.shape} for {k} output channels: "
                         f"expected ({k},)")
    relu = has_relu(epilogue)
    b4 = b.reshape(1, k, 1, 1)
    image = (1,) + y.shape[1:]
    if n == 1:  # operands of an image's size would cost as much as the epilogue itself
        bias, zero = b4, y.dtype.type(0)
    else:
        bias = np.ascontiguousarray(np.broadcast_to(b4, image))
        zero = np.zeros(image, y.dtype) if relu else None
    out = np.empty(y.shape, y.dtype)
    step = max(1, BLOCK_BYTES // max(1, y.itemsize * int(np.prod(image))))
    for i in range(0, n, step):
        dst = out[i:i + step]
        np.copyto(dst, y[i:i + step])
        np.add(dst, bias, out=dst)
        if relu:
            np.maximum(dst, zero, out=dst)
    return out


def epilogue_grads(epilogue: str | None, z: TensorVariable,
                   gz: TensorVariable) -> tuple[TensorVariable, TensorVariable | None]:
    """The gradient of the convolution's own output, and of ``b`` (None without a bias),
    given ``gz``, the gradient of the epilogue's output ``z``: the expressions the
    gradients of ``relu`` and of the broadcast add would build (the ReLU mask reads the
    output, ``z > 0`` exactly where its input is > 0, NaN included)."""
    g = gz * gt(z, 0) if has_relu(epilogue) else gz
    return g, (None if epilogue is None else reduce_sum(g, axis=(0, 2, 3)))
