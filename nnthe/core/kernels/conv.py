"""The input gradient of a convolution as one GEMM and a compiled col2im.

NumPy's :class:`~nnthe.core.nnet.conv.Conv2dGradInputs` runs ``kh * kw`` GEMMs (one per
kernel offset, each (N*OH*OW, K) @ (K, C)) and as many strided additions, because a
NumPy col2im over the big column matrix costs more than it saves. With a compiled
col2im the column matrix is cheap to fold back, so the kernel runs one GEMM over the
batch, ``(C*kh*kw, K) @ (K, N*OH*OW)``, and adds its rows into the NCHW gradient in one
pass, offset by offset in ``perform``'s order. Measured on the MNIST CNN's second layer
(batch 128, 32 -> 32 channels, 5x5, 12x12 input, medians of interleaved runs, load ~8 on
2 cores): 836 -> 93 ms with 2 BLAS threads (25 GEMMs pay 25 thread synchronisations,
which is what a busy machine punishes), 16.7 -> 25 ms with 1 BLAS thread in a variant that
folds the whole matrix at once and 16.6 ms in one that folds 8 images at a time. The
products are summed by BLAS over the same K, so the results agreed bit for bit in those
runs; the kernel is still marked inexact (DebugMode compares with a tolerance) since BLAS
does not promise an order of summation. Covered: one group, no dilation; the window,
stride and padding are compiled in as constants.

**Off by default.** Re-measured on the idle machine (load 0.3, the same layer, medians of
15 interleaved calls): NumPy's ``perform`` 6.5 ms against the kernel's 8.7 ms with 2 BLAS
threads, 9.3 against 12.7 ms with 1. The gain above came from contention only, so the
kernel is used only where ``NNTHE_CONV_COL2IM=1`` (or :data:`ENABLED`) asks for it.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ..graph import Apply
from ..nnet.conv import Conv2dGradInputs
from .backend import numba
from .cache import load_module
from .registry import KernelContext, compile_kernel, numba_array_type, register_kernel

#: Use the kernel (default: off, see the module docstring); read when a function is linked.
ENABLED = os.environ.get("NNTHE_CONV_COL2IM", "0") == "1"

TEMPLATE = """\
import numba

KH, KW, SH, SW, PH, PW = {kh}, {kw}, {sh}, {sw}, {ph}, {pw}


@numba.njit(cache=True, error_model="numpy", fastmath=False, nogil=True)
def col2im(cols, gx, oh, ow):
    # cols: (C*KH*KW, N*oh*ow), row (c, i, j); gx: (N, C, H, W), zero on entry. Each
    # element of gx receives its contributions in (i, j) order, as in perform.
    N, C, H, W = gx.shape
    for c in range(C):
        for i in range(KH):
            for j in range(KW):
                r = (c * KH + i) * KW + j
                for n in range(N):
                    for a in range(oh):
                        y = a * SH + i - PH
                        if y < 0 or y >= H:
                            continue
                        base = (n * oh + a) * ow
                        for b in range(ow):
                            x = b * SW + j - PW
                            if 0 <= x < W:
                                gx[n, c, y, x] += cols[r, base + b]
"""


@register_kernel(Conv2dGradInputs)
def conv_grad_inputs_kernel(node: Apply, context: KernelContext) -> Callable | None:
    """One GEMM plus a compiled col2im (None when off, or for groups or dilation: perform)."""
    if not ENABLED:
        return None
    op = node.op
    dtype = node.inputs[0].type.dtype
    if op.num_groups != 1 or op.filter_dilation != (1, 1) or dtype not in ("float32", "float64") \
            or node.inputs[1].type.dtype != dtype:
        return None
    kh, kw = node.inputs[0].type.shape[2:]
    if kh is None or kw is None:
        return None
    ph, pw = op._pads(kh, kw)
    sh, sw = op.subsample
    source = TEMPLATE.format(kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw)
    module = load_module(source, f"col2im{kh}x{kw}")
    dt = np.dtype(dtype)
    kern = compile_kernel(module, "col2im", (numba_array_type(dt, 2), numba_array_type(dt, 4),
                                             numba().types.intp, numba().types.intp), context.report, "col2im")

    def conv_grad_inputs(w: np.ndarray, gy: np.ndarray, hw: Any) -> np.ndarray:
        h, wd = int(hw[0]), int(hw[1])
        k, c = w.shape[:2]
        n, _, oh, ow = gy.shape
        if w.shape[2:] != (kh, kw) or gy.shape[1] != k:
            return op.perform(node, w, gy, hw)  # perform raises the precise error
        out_hw = ((h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1)
        if (oh, ow) != out_hw:
            return op.perform(node, w, gy, hw)
        gyk = np.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(k, n * oh * ow)
        wt = np.ascontiguousarray(op._eff_filters(w).reshape(k, c * kh * kw).T)
        cols = np.dot(wt, gyk)
        gx = np.zeros((n, c, h, wd), w.dtype)
        kern(cols, gx, oh, ow)
        return gx

    conv_grad_inputs.nnthe_kernel = "conv_grad_inputs"  # type: ignore[attr-defined]
    conv_grad_inputs.nnthe_exact = False  # type: ignore[attr-defined]
    return conv_grad_inputs
