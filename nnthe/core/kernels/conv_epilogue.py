"""The epilogue of a convolution that ``perform``'s GEMM computes, as one compiled pass.

Where the direct kernels (:mod:`.direct_conv`) do not take a ``Conv2d{epilogue}`` node
(many input channels: the MNIST CNN's second layer), ``perform`` applies the bias and the
ReLU in NumPy, with a copy and two ufunc passes (see
:func:`nnthe.core.nnet.conv_epilogue.store_nchw`). This thunk runs the plain
convolution's ``perform`` instead and then one compiled loop over its (fresh,
contiguous) output, in place: the same values bit for bit (an addition and the relu
formula of the fused elementwise kernels, no multiplication to contract), so it is
marked exact.

Measured on the MNIST CNN's second layer in the training step (batch 128, one thread,
medians of 40 steps interleaved with the unfused graph's in one process, load ~2.4, two
runs): the node took 7.30 / 7.49 ms plain, then 0.07 ms for the fused add and relu;
with the NumPy epilogue 7.77 / 7.68 ms (against 7.52 / 7.35 plain), with this thunk
7.32 / 7.44 ms.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..graph import Apply
from ..nnet.conv import Conv2d
from ..nnet.conv_epilogue import has_relu
from .cache import load_module
from .registry import KernelContext, compile_kernel, numba_array_type, register_kernel

_DTYPES = ("float32", "float64")

SOURCE = """\
import numba


@numba.njit(cache=True, error_model="numpy", fastmath=False, nogil=True)
def bias_inplace(y, b):
    # y: (N, K, OH*OW), b: (K,).
    for n in range(y.shape[0]):
        for k in range(y.shape[1]):
            bk = b[k]
            row = y[n, k]
            for p in range(row.shape[0]):
                row[p] = row[p] + bk


@numba.njit(cache=True, error_model="numpy", fastmath=False, nogil=True)
def bias_relu_inplace(y, b):
    # relu as the fused elementwise kernels compute it: NaN propagates, -0.0 -> +0.0.
    zero = y.dtype.type(0)
    for n in range(y.shape[0]):
        for k in range(y.shape[1]):
            bk = b[k]
            row = y[n, k]
            for p in range(row.shape[0]):
                v = row[p] + bk
                row[p] = v if (v > zero or v != v) else zero
"""


@register_kernel(Conv2d)
def gemm_epilogue_thunk(node: Apply, context: KernelContext) -> Callable | None:
    """The thunk of a ``Conv2d{epilogue}`` node that ``perform``'s GEMM computes (None for
    the plain convolution and for dtypes the loop does not take). Registered after the
    direct kernels (:mod:`.direct_conv`), which take the nodes they apply to first."""
    op = node.op
    dtype = node.outputs[0].type.dtype
    if op.epilogue is None or dtype not in _DTYPES or any(v.type.dtype != dtype for v in node.inputs):
        return None
    dt = np.dtype(dtype)
    name = "bias_relu_inplace" if has_relu(op.epilogue) else "bias_inplace"
    kern = compile_kernel(load_module(SOURCE, "conv_epilogue"), name,
                          (numba_array_type(dt, 3), numba_array_type(dt, 1)), context.report, name)
    plain = Conv2d(**op._kwargs())
    plain_node = plain.make_node(*node.inputs[:2])

    def conv_epilogue(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
        if b.shape != (w.shape[0],) or b.dtype != dt:
            return op.perform(node, x, w, b)  # perform raises the precise error
        y, cols = plain.perform(plain_node, x, w)
        # perform's output is its own fresh C-contiguous array (of x's dtype, which is
        # dt here): written in place; ascontiguousarray only guards that contract.
        y = np.ascontiguousarray(y)
        kern(y.reshape(y.shape[0], y.shape[1], -1), np.ascontiguousarray(b))
        return y, cols

    conv_epilogue.nnthe_kernel = name  # type: ignore[attr-defined]
    conv_epilogue.nnthe_exact = True  # type: ignore[attr-defined]
    return conv_epilogue
