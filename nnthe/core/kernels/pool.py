"""Max-pooling kernels: the forward pass and its gradient in one pass over the windows.

NumPy's max pooling (:mod:`nnthe.core.nnet.pool`) loops over the window offsets, one
strided ufunc call each; its gradient computes the argmax in three passes per offset and
scatters it in as many more. These kernels visit each window once, with the window and
stride compiled in as constants (one small generated module per geometry, in the disk
cache). Measured on the MNIST CNN's pools (batch 128, 2x2, load ~8 on 2 cores, medians
of interleaved runs): forward 1.28 -> 0.36 ms (32x24x24) and 0.25 -> 0.08 ms (32x8x8),
gradient 21-30 -> 1.9 ms and 0.73 -> 0.32 ms.

They reproduce ``perform`` bit for bit: the running maximum is NumPy's ``maximum`` (a
NaN wins, a tie takes the later element); the gradient goes to the first strict maximum,
and ``g * 1`` / ``g * 0`` are written, so a NaN or infinite ``g`` spreads over its window
as in ``perform``. Covered: windows that do not overlap (stride >= window), no padding,
and at run time windows inside the input; anything else calls ``perform``. The argmax
is recomputed from ``x`` by :class:`MaxPoolGrad`; the rewrite ``pool_argmax``
replaces a graph's ``Pool(x)`` and ``MaxPoolGrad(x, gz)`` by
:class:`~nnthe.core.nnet.pool_argmax.MaxPoolArgmax` (pooled values and a ``uint8``
argmax offset per window, one pass) and
:class:`~nnthe.core.nnet.pool_argmax.MaxPoolGradFromArgmax` (the scatter, which reads
the argmax and ``gz`` instead of ``x`` and ``gz``: 3.0 instead of 11.8 MB for the
CNN's first pool). The four kernels share the window scan and the scatter (inlined
numba functions) in one generated module per geometry.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..graph import Apply
from ..nnet.pool import MaxPoolGrad, Pool
from ..nnet.pool_argmax import MaxPoolArgmax, MaxPoolGradFromArgmax
from .cache import load_module
from .registry import KernelContext, compile_kernel, numba_array_type, register_kernel

TEMPLATE = """\
import numpy as np
import numba

FLAGS = dict(cache=True, error_model="numpy", fastmath=False, nogil=True)
WH, WW, SH, SW = {wh}, {ww}, {sh}, {sw}


@numba.njit(inline="always", **FLAGS)
def _window(x, p, a, b):
    # The window's running maximum, offsets in perform's order, with NumPy's maximum (a
    # NaN wins, a tie takes the later element), and the offset of its first strict
    # maximum (where the gradient goes). Inlined: the forward kernel, which drops the
    # offset, compiles to the loop without it.
    m = x[p, a * SH, b * SW]
    k = 0
    for i in range(WH):
        for j in range(WW):
            v = x[p, a * SH + i, b * SW + j]
            if v > m:
                k = i * WW + j
            m = m if (m > v or m != m) else v
    return m, k


@numba.njit(inline="always", **FLAGS)
def _scatter(gx, p, a, b, g, k):
    # g * 1 at offset k, g * 0 at the rest of the window (so a NaN or infinite g spreads
    # over its window as in perform).
    one = gx.dtype.type(1)
    zero = gx.dtype.type(0)
    for i in range(WH):
        for j in range(WW):
            gx[p, a * SH + i, b * SW + j] = g * (one if i * WW + j == k else zero)


@numba.njit(**FLAGS)
def max_pool(x, out):
    for p in range(x.shape[0]):
        for a in range(out.shape[1]):
            for b in range(out.shape[2]):
                out[p, a, b] = _window(x, p, a, b)[0]


@numba.njit(**FLAGS)
def max_pool_grad(x, gy, gx):
    # Windows do not overlap; elements no window covers must be zero in gx already.
    for p in range(x.shape[0]):
        for a in range(gy.shape[1]):
            for b in range(gy.shape[2]):
                _scatter(gx, p, a, b, gy[p, a, b], _window(x, p, a, b)[1])


@numba.njit(**FLAGS)
def max_pool_argmax(x, out, idx):
    # max_pool's maximum and max_pool_grad's offset, in one pass.
    for p in range(x.shape[0]):
        for a in range(out.shape[1]):
            for b in range(out.shape[2]):
                out[p, a, b], idx[p, a, b] = _window(x, p, a, b)


@numba.njit(**FLAGS)
def max_pool_grad_from_argmax(idx, gy, gx):
    # max_pool_grad's scatter with the offset read instead of recomputed.
    for p in range(gy.shape[0]):
        for a in range(gy.shape[1]):
            for b in range(gy.shape[2]):
                _scatter(gx, p, a, b, gy[p, a, b], idx[p, a, b])
"""


def _module(op: Any) -> Any:
    """The kernels for ``op``'s window and stride, as constants so that numba unrolls the
    window loops (4x faster than the same loops with run-time bounds, measured)."""
    (wh, ww), (sh, sw) = op.ws, op.stride
    return load_module(TEMPLATE.format(wh=wh, ww=ww, sh=sh, sw=sw), f"pool{wh}x{ww}s{sh}x{sw}")


def _supported(op: Any, dtype: str) -> bool:
    """Windows that do not overlap and no padding: the kernels' case (the others keep
    perform)."""
    return (dtype in ("float32", "float64") and op.pad == (0, 0)
            and op.stride[0] >= op.ws[0] and op.stride[1] >= op.ws[1])


def _inside(op: Any, h: int, w: int, oh: int, ow: int) -> bool:
    """True if every window lies inside the input (no partial window at the border)."""
    (wh, ww), (sh, sw) = op.ws, op.stride
    return (oh - 1) * sh + wh <= h and (ow - 1) * sw + ww <= w


def _gradient_buffer(op: Any, planes: int, h: int, w: int, oh: int, ow: int, dtype: Any) -> np.ndarray:
    """The (planes, h, w) array a gradient kernel scatters into: zeros, unless the
    windows tile the input exactly and so write every element."""
    (wh, ww), (sh, sw) = op.ws, op.stride
    covered = (oh * sh, ow * sw) == (h, w) and (sh, sw) == (wh, ww)
    return (np.empty if covered else np.zeros)((planes, h, w), dtype)


def _planes(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous (planes, H, W) array (a view when it already is one)."""
    x = np.ascontiguousarray(x)
    return x.reshape((-1,) + x.shape[-2:])


@register_kernel(Pool)
def max_pool_kernel(node: Apply, context: KernelContext) -> Callable | None:
    """The compiled forward pass of max pooling (average modes keep ``perform``)."""
    op = node.op
    dtype = node.inputs[0].type.dtype
    if op.mode != "max" or not _supported(op, dtype):
        return None
    arr3 = numba_array_type(np.dtype(dtype), 3)
    kern = compile_kernel(_module(op), "max_pool", (arr3, arr3), context.report, "max_pool")

    def max_pool(x: np.ndarray) -> np.ndarray:
        h, w = x.shape[-2:]
        oh, ow, _, _ = op._geometry(h, w)
        if not _inside(op, h, w, oh, ow):
            return op.perform(node, x)
        xp = _planes(x)
        out = np.empty((xp.shape[0], oh, ow), x.dtype)
        kern(xp, out)
        return out.reshape(x.shape[:-2] + (oh, ow))

    max_pool.nnthe_kernel = "max_pool"  # type: ignore[attr-defined]
    max_pool.nnthe_exact = True  # type: ignore[attr-defined]
    return max_pool


@register_kernel(MaxPoolGrad)
def max_pool_grad_kernel(node: Apply, context: KernelContext) -> Callable | None:
    """The compiled gradient of max pooling: argmax and scatter in one pass."""
    op = node.op
    dtype = node.inputs[0].type.dtype
    if not _supported(op, dtype):
        return None
    arr3 = numba_array_type(np.dtype(dtype), 3)
    kern = compile_kernel(_module(op), "max_pool_grad", (arr3, arr3, arr3), context.report,
                          "max_pool_grad")

    def max_pool_grad(x: np.ndarray, gy: np.ndarray) -> np.ndarray:
        h, w = x.shape[-2:]
        oh, ow, _, _ = op._geometry(h, w)
        if gy.shape != x.shape[:-2] + (oh, ow):
            raise ValueError(f"MaxPoolGrad: an output gradient of shape {gy.shape} does not match "
                             f"an input of shape {x.shape} pooled to {(oh, ow)}")
        if not _inside(op, h, w, oh, ow):
            return op.perform(node, x, gy)
        xp = _planes(x)
        gyp = np.ascontiguousarray(gy, dtype=x.dtype).reshape(xp.shape[0], oh, ow)
        gx = _gradient_buffer(op, xp.shape[0], h, w, oh, ow, x.dtype)
        kern(xp, gyp, gx)
        return gx.reshape(x.shape)

    max_pool_grad.nnthe_kernel = "max_pool_grad"  # type: ignore[attr-defined]
    max_pool_grad.nnthe_exact = True  # type: ignore[attr-defined]
    return max_pool_grad


@register_kernel(MaxPoolArgmax)
def max_pool_argmax_kernel(node: Apply, context: KernelContext) -> Callable | None:
    """The compiled max pooling that also writes each window's argmax offset."""
    op = node.op
    dtype = node.inputs[0].type.dtype
    if not _supported(op, dtype):
        return None
    arr3 = numba_array_type(np.dtype(dtype), 3)
    u8 = numba_array_type(np.dtype("uint8"), 3)
    kern = compile_kernel(_module(op), "max_pool_argmax",
                          (arr3, arr3, u8), context.report, "max_pool_argmax")

    def max_pool_argmax(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = x.shape[-2:]
        oh, ow, _, _ = op._geometry(h, w)
        if not _inside(op, h, w, oh, ow):
            return op.perform(node, x)
        xp = _planes(x)
        out = np.empty((xp.shape[0], oh, ow), x.dtype)
        idx = np.empty((xp.shape[0], oh, ow), np.uint8)
        kern(xp, out, idx)
        shape = x.shape[:-2] + (oh, ow)
        return out.reshape(shape), idx.reshape(shape)

    max_pool_argmax.nnthe_kernel = "max_pool_argmax"  # type: ignore[attr-defined]
    max_pool_argmax.nnthe_exact = True  # type: ignore[attr-defined]
    return max_pool_argmax


@register_kernel(MaxPoolGradFromArgmax)
def max_pool_grad_from_argmax_kernel(node: Apply, context: KernelContext) -> Callable | None:
    """The compiled gradient of max pooling from a stored argmax: one scatter pass."""
    op = node.op
    dtype = node.inputs[1].type.dtype
    if not _supported(op, dtype):
        return None
    arr3 = numba_array_type(np.dtype(dtype), 3)
    u8 = numba_array_type(np.dtype("uint8"), 3)
    kern = compile_kernel(_module(op), "max_pool_grad_from_argmax",
                          (u8, arr3, arr3), context.report, "max_pool_grad_from_argmax")

    def max_pool_grad_from_argmax(a: np.ndarray, gy: np.ndarray, hw: np.ndarray) -> np.ndarray:
        h, w = int(hw[0]), int(hw[1])
        oh, ow, _, _ = op._check_pooled(a, gy, h, w)
        if not _inside(op, h, w, oh, ow):
            return op.perform(node, a, gy, hw)
        ap = _planes(a)
        gyp = np.ascontiguousarray(gy).reshape(ap.shape)
        gx = _gradient_buffer(op, ap.shape[0], h, w, oh, ow, gy.dtype)
        kern(ap, gyp, gx)
        return gx.reshape(gy.shape[:-2] + (h, w))

    max_pool_grad_from_argmax.nnthe_kernel = "max_pool_grad_from_argmax"  # type: ignore[attr-defined]
    max_pool_grad_from_argmax.nnthe_exact = True  # type: ignore[attr-defined]
    return max_pool_grad_from_argmax
