"""The naive convolution both conv test files check against (tests/core/nnet/test_nnet_conv.py
for the op, tests/layers/test_conv.py for the layer). Imported as a plain module: tests/ is
on sys.path because tests/conftest.py lives there."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def naive_conv2d(x: np.ndarray, w: np.ndarray, pad: Sequence[int] = (0, 0),
                 stride: Sequence[int] = (1, 1), dil: Sequence[int] = (1, 1), groups: int = 1,
                 flip: bool = False) -> np.ndarray:
    """Direct loops, in float64:
    ``out[n, k, i, j] = sum_{c, a, b} xpad[n, g(k)*Cg + c, i*s + a*d, j*s + b*d] w[k, c, a, b]``
    with ``g(k) = k // (K / groups)`` and ``w`` flipped spatially when ``flip``."""
    if flip:
        w = w[:, :, ::-1, ::-1]
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * pad[0], wd + 2 * pad[1]), x.dtype)
    xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, k, oh, ow))
    kg = k // groups
    for f in range(k):
        grp = f // kg
        for i in range(oh):
            for j in range(ow):
                for a in range(kh):
                    for b in range(kw):
                        patch = xp[:, grp * cg:(grp + 1) * cg, i * stride[0] + a * dil[0],
                                   j * stride[1] + b * dil[1]]
                        out[:, f, i, j] += patch @ w[f, :, a, b]
    return out
