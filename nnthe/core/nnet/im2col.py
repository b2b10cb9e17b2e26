"""The im2col matrix of a convolution: a strided view of the (padded) input copied once
into the layout its GEMM wants, channels-last or with the output width innermost.

Used by :class:`~nnthe.core.nnet.conv.Conv2d` (whose second output is this matrix) and
:class:`~nnthe.core.nnet.conv.Conv2dGradWeights` (which reuses it). Group-major: ``x``
is seen as (N, G, Cg, H, W).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["COPY_BLOCK_BYTES", "channels_last", "channels_last_blocks", "pad_spatial"]

#: Bytes of the rows of a channels-last im2col matrix that :func:`channels_last_blocks`
#: copies before handing them to their GEMM (8 images of the MNIST CNN's second layer).
COPY_BLOCK_BYTES = 2 << 20



def pad_spatial(x: np.ndarray, ph: int, pw: int, axes: tuple[int, int] = (-2, -1)) -> np.ndarray:
    """``x`` zero-padded by ``ph`` and ``pw`` on both sides of its two spatial ``axes``."""
    if not ph and not pw:
        return x
    shape, index = list(x.shape), [slice(None)] * x.ndim
    for axis, p in zip(axes, (ph, pw)):
        shape[axis] += 2 * p
        index[axis] = slice(p, p + x.shape[axis])
    out = np.zeros(shape, dtype=x.dtype)
    out[tuple(index)] = x
    return out


def _windows(xp: np.ndarray, kh: int, kw: int, stride: tuple, dil: tuple,
             oh: int, ow: int, axes: tuple[int, int] = (-2, -1)) -> np.ndarray:
    """A view (no copy) of the windows of ``xp`` over its two spatial ``axes``: those axes
    become ``(oh, ow)`` and ``(kh, kw)`` is appended."""
    sh, sw = stride
    dh, dw = dil
    v = sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=axes)
    index = [slice(None)] * v.ndim
    a0, a1 = (a % xp.ndim for a in axes)   # positions in xp, before the window axes
    index[a0], index[a1] = slice(None, sh * (oh - 1) + 1, sh), slice(None, sw * (ow - 1) + 1, sw)
    index[-2], index[-1] = slice(None, None, dh), slice(None, None, dw)
    return v[tuple(index)]


def channels_last(cg: int, kw: int, ow: int, dil_w: int) -> bool:
    """Whether the im2col matrix of a convolution is built channels-last.

    The copy that builds it moves contiguous runs of the input: ``OW`` elements along a
    row of an NCHW image (a run per kernel tap), or ``kw * Cg`` elements of an NHWC row
    (every tap of a kernel row and every channel; ``Cg`` with dilation). The longer run
    wins: for the MNIST CNN's second layer (32 channels, 5x5, OW = 8) the NHWC copy took
    1.5 ms against 5.0 ms (26 MB, 2 threads, idle machine), and the whole forward pass
    6.2 ms against 9.9 ms; for its first layer (1 channel, OW = 24) NCHW wins.

    The sizes may be symbolic scalars (``infer_shape``): the result is then symbolic too.
    """
    run = kw * cg if dil_w == 1 else cg
    return run > ow


def _windows_nhwc(x: np.ndarray, g: int, kh: int, kw: int, pad: tuple, stride: tuple, dil: tuple,
                  oh: int, ow: int) -> np.ndarray:
    """A view (G, N, OH, OW, kh, kw, Cg) of the windows of a channels-last copy of ``x``."""
    n, c, h, w = x.shape
    # A channels-last copy of the input first (small): the big copy then moves runs.
    xt = x.reshape(n, g, c // g, h, w).transpose(0, 1, 3, 4, 2)
    xt = pad_spatial(xt, *pad, axes=(2, 3)) if any(pad) else np.ascontiguousarray(xt)
    win = _windows(xt, kh, kw, stride, dil, oh, ow, axes=(2, 3))  # n g oh ow cg kh kw
    return win.transpose(1, 0, 2, 3, 5, 6, 4)


def channels_last_blocks(x: np.ndarray, cols: np.ndarray, g: int, kh: int, kw: int, pad: tuple,
                         stride: tuple, dil: tuple, oh: int, ow: int) -> Iterator[tuple[int, int]]:
    """Fill ``cols`` (G, N*OH*OW, kh*kw*Cg), the channels-last im2col matrix of ``x``
    (N, C, H, W), a block of images at a time, yielding the range ``(r0, r1)`` of the
    rows just written, so that the caller's GEMM reads them while they are in the cache.

    Measured on the MNIST CNN's second layer (batch 128, 2 BLAS threads, medians of 40
    calls, load ~1, fast and slow phases of the machine): copy then GEMM, whole,
    4.6-4.8 ms (9.3-9.6 in a slow phase); in blocks of 8 images 3.7-4.2 (7.5-8.4).
    The matrix is still written whole, for Conv2dGradWeights: building blocks again in
    the filter gradient was faster on an idle machine (6.95 against 7.95 ms for both
    passes) but twice as slow in the slow phases, where every switch from a copy to a
    2-thread GEMM costs far more than the GEMM.
    """
    n = x.shape[0]
    win = _windows_nhwc(x, g, kh, kw, pad, stride, dil, oh, ow)
    view = cols.reshape(win.shape)
    images = max(1, COPY_BLOCK_BYTES // max(1, cols[0, :oh * ow].nbytes * g))
    for n0 in range(0, n, images):
        n1 = min(n, n0 + images)
        np.copyto(view[:, n0:n1], win[:, n0:n1])
        yield n0 * oh * ow, n1 * oh * ow


def _im2col(x: np.ndarray, g: int, kh: int, kw: int, pad: tuple, stride: tuple, dil: tuple,
            oh: int, ow: int) -> np.ndarray:
    """The im2col matrix of ``x`` (N, C, H, W), used by the forward pass and by the filter
    gradient, in the layout :func:`channels_last` chooses: (G, Cg*kh*kw, N*OH*OW) with
    OW innermost, or (G, N*OH*OW, kh*kw*Cg) with the channels innermost. It may be a view
    of ``x`` (a 1x1 kernel on one image)."""
    n, c, h, w = x.shape
    cg = c // g
    if channels_last(cg, kw, ow, dil[1]):
        return _windows_nhwc(x, g, kh, kw, pad, stride, dil, oh, ow).reshape(g, n * oh * ow, kh * kw * cg)
    xp = pad_spatial(x.reshape(n, g, cg, h, w), *pad)
    win = _windows(xp, kh, kw, stride, dil, oh, ow)
    return win.transpose(1, 2, 5, 6, 0, 3, 4).reshape(g, cg * kh * kw, n * oh * ow)
