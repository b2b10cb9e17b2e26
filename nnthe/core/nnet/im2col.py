"""The im2col matrix of a convolution: a strided view of the (padded) input copied once
into the layout its GEMM wants, channels-last or with the output width innermost.

Used by :class:`~nnthe.core.nnet.conv.Conv2d` (whose second output is this matrix) and
:class:`~nnthe.core.nnet.conv.Conv2dGradWeights` (which reuses it). Group-major: ``x``
is seen as (N, G, Cg, H, W).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["channels_last", "pad_spatial"]



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


def _im2col(x: np.ndarray, g: int, kh: int, kw: int, pad: tuple, stride: tuple, dil: tuple,
            oh: int, ow: int) -> np.ndarray:
    """The im2col matrix of ``x`` (N, C, H, W), used by the forward pass and by the filter
    gradient, in the layout :func:`channels_last` chooses: (G, Cg*kh*kw, N*OH*OW) with
    OW innermost, or (G, N*OH*OW, kh*kw*Cg) with the channels innermost. It may be a view
    of ``x`` (a 1x1 kernel on one image)."""
    n, c, h, w = x.shape
    cg = c // g
    if channels_last(cg, kw, ow, dil[1]):
        # A channels-last copy of the input first (small): the big copy then moves runs.
        xt = x.reshape(n, g, cg, h, w).transpose(0, 1, 3, 4, 2)
        xt = pad_spatial(xt, *pad, axes=(2, 3)) if any(pad) else np.ascontiguousarray(xt)
        win = _windows(xt, kh, kw, stride, dil, oh, ow, axes=(2, 3))  # n g oh ow cg kh kw
        return win.transpose(1, 0, 2, 3, 5, 6, 4).reshape(g, n * oh * ow, kh * kw * cg)
    xp = pad_spatial(x.reshape(n, g, cg, h, w), *pad)
    win = _windows(xp, kh, kw, stride, dil, oh, ow)
    return win.transpose(1, 2, 5, 6, 0, 3, 4).reshape(g, cg * kh * kw, n * oh * ow)
