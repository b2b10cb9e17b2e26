"""Max pooling that keeps each window's argmax, and the gradient that reads it.

:class:`~.pool.MaxPoolGrad` recomputes every window's argmax from the pooled input
``x``: it reads ``x`` (full size) and the output gradient, and writes the input
gradient. When the forward :class:`~.pool.Pool` of the same ``x`` is in the graph (a
training step), :class:`MaxPoolArgmax` computes the pooled values and the argmax
positions (one ``uint8`` per window: its offset ``i * ww + j``) in one pass, and
:class:`MaxPoolGradFromArgmax` scatters the output gradient at those positions without
reading ``x``. The rewrite ``pool_argmax`` (:mod:`nnthe.core.rewrite.pooling`)
builds these ops; users keep writing ``pool_2d``.

The results are bitwise those of ``Pool`` and ``MaxPoolGrad``: the pooled value is
NumPy's running ``maximum`` (a NaN wins, a tie takes the later element), the argmax is
each window's first strict maximum, the gradient writes ``g * 1`` there and ``g * 0``
at the window's other elements (a NaN or infinite ``g`` spreads NaN over its window),
overlapping windows add, and elements no window covers are 0. All of Pool's max
geometries are covered (padding, overlapping windows, ``ignore_border=False``), for
windows of at most 256 elements (offsets 0..255 fit a ``uint8``).

The ops close under differentiation (they are built at compile time, after ``grad``,
but stay differentiable like every op):

- ``(y, a) = MaxPoolArgmax(x)``: ``dx = MaxPoolGradFromArgmax(a, gy, x's spatial shape)``;
- ``MaxPoolGradFromArgmax`` is linear in ``gy``: its pullback of ``G`` is
  ``MaxPoolArgmaxGather(a, G)`` (``G`` gathered at the argmax positions), whose pullback
  is ``MaxPoolGradFromArgmax`` again.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply
from ..types import TensorType, disconnected_type
from ..variable import as_tensor_variable
from .conv import _shape2
from .pool import Pool, _PoolBase, _last2, pool_output_shape

#: The argmax dtype: a window offset per pooled element.
ARGMAX_DTYPE = "uint8"
#: The largest window (in elements) whose offsets fit in ``ARGMAX_DTYPE``.
MAX_WINDOW = 256


class _ArgmaxBase(_PoolBase):
    """Max-mode pooling geometry with windows small enough for ``uint8`` offsets."""

    def __init__(self, ws: Sequence[int], stride: Sequence[int] | None = None,
                 pad: Sequence[int] = (0, 0), ignore_border: bool = True, mode: str = "max") -> None:
        super().__init__(ws, stride, pad, ignore_border, mode)
        name = type(self).__name__
        if self.mode != "max":
            raise ValueError(f"{name}: only max pooling keeps an argmax, got mode={self.mode!r}")
        if self.ws[0] * self.ws[1] > MAX_WINDOW:
            raise ValueError(f"{name}: the window {self.ws} has {self.ws[0] * self.ws[1]} elements; "
                             f"at most {MAX_WINDOW} fit the {ARGMAX_DTYPE} argmax")

    def _check_argmax(self, a: Any, what: str = "the argmax") -> Any:
        a = as_tensor_variable(a)
        if a.type.dtype != ARGMAX_DTYPE:
            raise TypeError(f"{type(self).__name__}: {what} must be a {ARGMAX_DTYPE} tensor "
                            f"(window offsets from MaxPoolArgmax), got dtype {a.type.dtype}")
        if a.type.ndim < 2:
            raise TypeError(f"{type(self).__name__}: {what} needs at least 2 dimensions, got {a.type}")
        return a

    def _check_pooled(self, a: np.ndarray, g: np.ndarray, h: int, w: int) -> tuple:
        """The geometry for an input of spatial shape ``(h, w)``, after checking that the
        argmax ``a`` and the pooled-size ``g`` match it (and each other)."""
        geom = self._geometry(h, w)
        if a.shape != g.shape or a.shape[-2:] != geom[:2]:
            raise ValueError(f"{type(self).__name__}: an argmax of shape {a.shape} and a gradient "
                             f"of shape {g.shape} do not match an input of spatial shape "
                             f"{(h, w)} pooled to {geom[:2]}")
        return geom


class MaxPoolArgmax(_ArgmaxBase):
    """Max pooling that also returns each window's argmax.

    Input ``x`` (float, 2 or more dims); outputs the pooled ``x`` (bitwise ``Pool``'s)
    and the ``uint8`` offset ``i * ww + j`` of each window's first strict maximum (the
    element ``MaxPoolGrad`` routes the gradient to).
    """

    def make_node(self, x: Any) -> Apply:
        x = self._check(x, "the input")
        out = pool_output_shape(x.type.shape, self.ws, self.ignore_border, self.stride, self.pad)
        return Apply(self, [x], [TensorType(x.type.dtype, out), TensorType(ARGMAX_DTYPE, out)])

    def perform(self, node: Apply, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        oh, ow, eh, ew = self._geometry(*x.shape[-2:])
        xp = self._padded(x, -np.inf, eh, ew)
        best = idx = m = None
        # The passes of Pool.perform (the pooled values) and of MaxPoolGrad's argmax, in
        # one loop over the offsets: same ufunc calls, same results.
        for k, (r, c) in self._offsets(oh, ow):
            v = xp[..., r, c]
            if best is None:
                best, idx, m = v.copy(), np.zeros(v.shape, ARGMAX_DTYPE), np.empty(v.shape, bool)
                continue
            np.greater(v, best, out=m)
            np.maximum(best, v, out=best)
            # Offsets only grow: "idx = k at a new strict maximum" is max(idx, m * k).
            np.maximum(idx, m.view(np.uint8) * np.uint8(k), out=idx)
        return best, idx

    def L_op(self, node, inputs, outputs, output_grads):
        (x,) = inputs
        return [MaxPoolGradFromArgmax(**self._kwargs())(outputs[1], output_grads[0], _last2(x))]

    def infer_shape(self, node, input_shapes):
        (shape,) = Pool(**self._kwargs()).infer_shape(node, input_shapes)
        return [shape, shape]


class MaxPoolGradFromArgmax(_ArgmaxBase):
    """The gradient of max pooling from a stored argmax: ``gy`` routed to each window's
    argmax offset. Bitwise ``MaxPoolGrad(x, gy)`` when the argmax is
    ``MaxPoolArgmax(x)``'s.

    Inputs: ``argmax`` (``uint8``, shaped like the pooled output), ``gy`` (the output
    gradient, same shape) and ``input_hw`` (the int vector of the input's last two
    dimensions).
    """

    def make_node(self, argmax: Any, gy: Any, input_hw: Any) -> Apply:
        a = self._check_argmax(argmax)
        gy = self._check(gy, "the output gradient")
        if a.type.ndim != gy.type.ndim:
            raise TypeError(f"MaxPoolGradFromArgmax: the argmax {a.type} and the output gradient "
                            f"{gy.type} must have the same number of dimensions")
        hw, static = _shape2(input_hw, "MaxPoolGradFromArgmax")
        lead = []
        for d, (m, n) in enumerate(zip(a.type.shape[:-2], gy.type.shape[:-2])):
            if m is not None and n is not None and m != n:
                raise ValueError(f"MaxPoolGradFromArgmax: the argmax {a.type} and the output "
                                 f"gradient {gy.type} differ along axis {d}")
            lead.append(n if m is None else m)
        return Apply(self, [a, gy, hw], [TensorType(gy.type.dtype, tuple(lead) + static)])

    def perform(self, node: Apply, a: np.ndarray, gy: np.ndarray, hw: np.ndarray) -> np.ndarray:
        h, w = int(hw[0]), int(hw[1])
        geom = self._check_pooled(a, gy, h, w)
        return self._scatter(a, gy, h, w, geom)

    def L_op(self, node, inputs, outputs, output_grads):
        a = inputs[0]
        return [disconnected_type(), MaxPoolArgmaxGather(**self._kwargs())(a, output_grads[0]),
                disconnected_type()]

    def connection_pattern(self, node):
        return [[False], [True], [False]]


class MaxPoolArgmaxGather(_ArgmaxBase):
    """``G`` (shaped like the input of max pooling) gathered at the argmax offsets: the
    pullback of :class:`MaxPoolGradFromArgmax` with respect to its output gradient, and
    bitwise ``MaxPoolGradGrad(x, G)`` when the argmax is ``MaxPoolArgmax(x)``'s."""

    def make_node(self, argmax: Any, G: Any) -> Apply:
        a = self._check_argmax(argmax)
        G = self._check(G, "the gradient")
        if a.type.ndim != G.type.ndim:
            raise TypeError(f"MaxPoolArgmaxGather: the argmax {a.type} and the gradient {G.type} "
                            f"must have the same number of dimensions")
        return Apply(self, [a, G], [TensorType(G.type.dtype, a.type.shape)])

    def perform(self, node: Apply, a: np.ndarray, G: np.ndarray) -> np.ndarray:
        oh, ow, eh, ew = self._check_pooled(a, a, *G.shape[-2:])
        if a.shape[:-2] != G.shape[:-2]:
            raise ValueError(f"MaxPoolArgmaxGather: an argmax of shape {a.shape} does not match a "
                             f"gradient of shape {G.shape}")
        Gp = self._padded(G, 0, eh, ew)
        out = np.zeros(a.shape, dtype=G.dtype)
        for k, (r, c) in self._offsets(oh, ow):
            out += Gp[..., r, c] * (a == k)
        return out

    def L_op(self, node, inputs, outputs, output_grads):
        a, G = inputs
        return [disconnected_type(),
                MaxPoolGradFromArgmax(**self._kwargs())(a, output_grads[0], _last2(G))]

    def connection_pattern(self, node):
        return [[False], [True]]


def max_pool_argmax(x: Any, ws: Sequence[int] | int, stride: Sequence[int] | int | None = None,
                    pad: Sequence[int] | int = (0, 0), ignore_border: bool = True) -> tuple:
    """``(pooled, argmax)`` of max pooling ``x`` over windows ``ws`` (see
    :func:`~.pool.pool_2d` for the geometry): the pooled values and each window's
    ``uint8`` argmax offset ``i * ww + j``.

    Examples
    --------
    >>> x = T.tensor4('x', shape=(None, 32, 24, 24))
    >>> y, a = T.nnet.max_pool_argmax(x, (2, 2))
    >>> a.type
    uint8(?, 32, 12, 12)
    """
    y, a = MaxPoolArgmax(ws, stride, pad, ignore_border)(x)
    return y, a


__all__ = ["ARGMAX_DTYPE", "MAX_WINDOW", "MaxPoolArgmax", "MaxPoolArgmaxGather",
           "MaxPoolGradFromArgmax", "max_pool_argmax"]
