"""The input gradient of a convolution as GEMMs over blocks of images and a compiled col2im.

NumPy's :class:`~nnthe.core.nnet.conv.Conv2dGradInputs` runs ``kh * kw`` GEMMs (one per
kernel offset, each (N*OH*OW, K) @ (K, C)) and as many strided additions, because a
NumPy col2im over the big column matrix costs more than it saves. With a compiled
col2im, the kernel cuts the batch into blocks of images whose column matrix stays in
the shared cache, and for each block runs one GEMM, ``(B*OH*OW, K) @ (K, kh*kw*C)``,
channels last, and folds its rows into a padded NHWC gradient. Channels last makes the fold move
contiguous runs: for one output pixel and one kernel row, the ``kw * C`` values of the
column row land on ``kw * C`` consecutive elements of the gradient (at any stride), so
the inner loop has no bounds check and vectorizes.

Measured on the MNIST CNN's second layer (batch 128, 32 -> 32 channels, 5x5, 12x12
input; medians of 25 interleaved calls, load ~1 on 2 cores): ``perform`` 6.2-6.6 ms,
this kernel 4.6-4.7 ms with 2 BLAS threads (8 MB blocks; 4.8-5.2 ms with 2 MB ones);
8.5-8.8 against 6.7-7.0 ms with 1. In the whole training step (interleaved steps of two
compiled functions, 2 threads, 2 MB blocks): 28.8 -> 27.4 ms.

The GEMM sums over ``K`` as BLAS likes and the fold adds a gradient element's
contributions in another order than ``perform``'s, so the kernel is inexact (DebugMode
compares it with a tolerance). Covered: one group, no dilation (any stride and padding);
the rest calls ``perform``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..graph import Apply
from ..nnet.conv import Conv2dGradInputs, conv_output_length
from .backend import numba
from .cache import load_module
from .registry import KernelContext, compile_kernel, numba_array_type, register_kernel

#: Bytes of a block's column matrix (8 MB: 40 images of the MNIST CNN's second layer, in
#: the shared cache). Smaller blocks fold from a nearer cache but make smaller GEMMs, and
#: OpenBLAS's 2-thread GEMM with few rows is fragile: in the slow phases of this shared
#: machine (pure NumPy shows them too) (640, 32) @ (32, 800) took 8-10 ms
#: per 13 calls instead of 3.5, while 4 calls of (2560, 32) @ (32, 800) took 4.8 instead
#: of 3.0. With 1 BLAS thread 2 MB blocks were 5% faster.
BLOCK_BYTES = 8 << 20

SOURCE = """\
import numba


@numba.njit(cache=True, error_model="numpy", fastmath=False, nogil=True)
def col2im_nhwc(cols, gx, n0, oh, ow, kh, sh, sw, c):
    # cols: (B*oh*ow, kh*kw*c), rows (image n0 + n, a, b), columns (i, j, channel).
    # gx: (N, Hp, Wp*c), a zero-padded NHWC gradient. Per kernel row i, a column row adds
    # kw*c contiguous values into gx[n0 + n, a*sh + i] from (b*sw)*c on.
    run = cols.shape[1] // kh
    for r in range(cols.shape[0]):
        b = r % ow
        a = (r // ow) % oh
        n = n0 + r // (oh * ow)
        start = b * sw * c
        for i in range(kh):
            # Slices that start at 0 let numba vectorize the loop: with the offset in
            # the index instead, the whole kernel took 7.4 ms rather than 4.6 ms.
            dst = gx[n, a * sh + i, start:start + run]
            src = cols[r, i * run:(i + 1) * run]
            for t in range(run):
                dst[t] += src[t]
"""


@register_kernel(Conv2dGradInputs)
def conv_grad_inputs_kernel(node: Apply, context: KernelContext) -> Callable | None:
    """Blocked GEMMs plus a compiled col2im (None for groups or dilation: perform)."""
    op = node.op
    dtype = node.inputs[0].type.dtype
    if op.num_groups != 1 or op.filter_dilation != (1, 1) or dtype not in ("float32", "float64") \
            or node.inputs[1].type.dtype != dtype:
        return None
    dt = np.dtype(dtype)
    intp = numba().types.intp
    kern = compile_kernel(load_module(SOURCE, "col2im"), "col2im_nhwc",
                          (numba_array_type(dt, 2), numba_array_type(dt, 3)) + (intp,) * 7,
                          context.report, "col2im")
    sh, sw = op.subsample

    def conv_grad_inputs(w: np.ndarray, gy: np.ndarray, hw: Any) -> np.ndarray:
        h, wd = int(hw[0]), int(hw[1])
        k, c, kh, kw = w.shape
        n, _, oh, ow = gy.shape
        ph, pw = op._pads(kh, kw)
        if gy.shape[1] != k or min(oh, ow) <= 0 or (oh, ow) != (conv_output_length(h, kh, ph, sh, 1),
                                                               conv_output_length(wd, kw, pw, sw, 1)):
            return op.perform(node, w, gy, hw)  # perform raises the precise error
        ckk = kh * kw * c
        gyt = np.ascontiguousarray(gy.transpose(0, 2, 3, 1)).reshape(n * oh * ow, k)
        wt = np.ascontiguousarray(op._eff_filters(w).transpose(0, 2, 3, 1)).reshape(k, ckk)
        hp, wp = h + 2 * ph, wd + 2 * pw
        gx = np.zeros((n, hp, wp * c), w.dtype)
        per_block = max(1, BLOCK_BYTES // (oh * ow * ckk * w.dtype.itemsize))
        block = np.empty((min(n, per_block) * oh * ow, ckk), w.dtype)
        for n0 in range(0, n, per_block):
            rows = (min(n, n0 + per_block) - n0) * oh * ow
            cols = block[:rows]
            np.dot(gyt[n0 * oh * ow:n0 * oh * ow + rows], wt, out=cols)
            kern(cols, gx, n0, oh, ow, kh, sh, sw, c)
        gx = gx.reshape(n, hp, wp, c)[:, ph:ph + h, pw:pw + wd]
        return np.ascontiguousarray(gx.transpose(0, 3, 1, 2))

    conv_grad_inputs.nnthe_kernel = "conv_grad_inputs"  # type: ignore[attr-defined]
    conv_grad_inputs.nnthe_exact = False  # type: ignore[attr-defined]
    return conv_grad_inputs
