"""2-d pooling over the last two axes: max, average (including or excluding padding),
global pooling, and differentiable gradient ops.

Every pass loops over the few window offsets (4 for a 2x2 window), each step one
strided ufunc call over all windows at once: no window copies, no loop over pixels,
and the same code for overlapping, padded and non-overlapping windows. Max pooling routes
the gradient to one maximal element per window (the first, as PyTorch does), so a window
of equal values (a dead ReLU region) does not multiply the gradient. The gradient ops
close under differentiation:

- ``y = Pool_max(x)``: ``dx = MaxPoolGrad(x, gy)``;
- ``MaxPoolGrad`` is linear in ``gy``: its pullback of ``G`` is ``MaxPoolGradGrad(x, G)``
  (``G`` gathered at the same argmax positions), whose pullback is ``MaxPoolGrad`` again;
- ``y = Pool_avg(x)``: ``dx = AveragePoolGrad(gy)``, whose pullback is ``Pool_avg``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op
from ..hints import suggest_keywords
from ..types import disconnected_type, fmt_shape, is_float_dtype, TensorType
from ..variable import TensorVariable, as_tensor_variable
from ..ops.alloc import zeros_like
from ..ops.elemwise import maximum
from ..ops.reduce import max as _max, mean
from ..ops.shape import shape_i
from .conv import _hw, _pair, _shape2

MODES = ("max", "average_inc_pad", "average_exc_pad")


def _out_len(size: Any, ws: int, stride: int, pad: int, ignore_border: bool,
             max_fn: Any = max) -> Any:
    """The output length of pooling along one axis: the one formula behind
    :func:`pool_output_shape`, the kernels and ``infer_shape`` (which passes a symbolic
    ``size`` and the elementwise ``maximum`` as ``max_fn``)."""
    r = size + 2 * pad
    if ignore_border:
        return (r - ws) // stride + 1
    # Theano's rule: partial windows at the end are kept.
    if stride >= ws:
        return (r - 1) // stride + 1
    return max_fn(0, (r - 1 - ws + stride) // stride) + 1


def pool_output_shape(imgshape: Sequence[int | None], ws: Sequence[int], ignore_border: bool = True,
                      stride: Sequence[int] | None = None,
                      pad: Sequence[int] = (0, 0)) -> tuple[int | None, ...]:
    """The output shape of :func:`pool_2d` on an input of shape ``imgshape``.

    Examples
    --------
    >>> pool_output_shape((128, 32, 24, 24), (2, 2))
    (128, 32, 12, 12)
    """
    ws = _pair(ws, "ws", 1)
    stride = ws if stride is None else _pair(stride, "stride", 1)
    pad = _pair(pad, "pad", 0)
    if len(imgshape) < 2:
        raise ValueError(f"pool_output_shape: the input needs at least 2 dimensions, got {tuple(imgshape)}")
    out = list(imgshape[:-2])
    for d in range(2):
        size = imgshape[-2 + d]
        if size is None:
            out.append(None)
            continue
        if ignore_border and size + 2 * pad[d] < ws[d]:
            raise ValueError(f"pool_2d: the window {ws} is larger than the padded input "
                             f"{fmt_shape(imgshape)} (pad {pad}) along axis {len(out)}")
        out.append(_out_len(size, ws[d], stride[d], pad[d], ignore_border))
    return tuple(out)


class _PoolBase(Op):
    __props__ = ("ws", "stride", "pad", "ignore_border", "mode")

    def __init__(self, ws: Sequence[int], stride: Sequence[int] | None = None,
                 pad: Sequence[int] = (0, 0), ignore_border: bool = True, mode: str = "max") -> None:
        self.ws = _pair(ws, "ws", 1)
        self.stride = self.ws if stride is None else _pair(stride, "stride", 1)
        self.pad = _pair(pad, "pad", 0)
        self.ignore_border = bool(ignore_border)
        if mode == "average":
            mode = "average_inc_pad"
        if mode not in MODES:
            raise ValueError(f"pool_2d: mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        if any(p >= w for p, w in zip(self.pad, self.ws)):
            raise ValueError(f"pool_2d: padding {self.pad} must be smaller than the window {self.ws}")

    def _kwargs(self) -> dict:
        return dict(ws=self.ws, stride=self.stride, pad=self.pad,
                    ignore_border=self.ignore_border, mode=self.mode)

    def _check(self, x: Any, what: str) -> TensorVariable:
        x = as_tensor_variable(x)
        if x.type.ndim < 2:
            raise TypeError(f"pool_2d: {what} needs at least 2 dimensions, got {x!r} of type {x.type}")
        if not is_float_dtype(x.type.dtype):
            raise TypeError(f"pool_2d: {what} must be a float tensor, got dtype {x.type.dtype}")
        return x

    # -- geometry -------------------------------------------------------------------
    def _geometry(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(oh, ow, extra_h, extra_w): output size and padding needed past the border."""
        oh = _out_len(h, self.ws[0], self.stride[0], self.pad[0], self.ignore_border)
        ow = _out_len(w, self.ws[1], self.stride[1], self.pad[1], self.ignore_border)
        if oh <= 0 or ow <= 0:
            raise ValueError(f"pool_2d: the window {self.ws} does not fit in an input of spatial "
                             f"shape {(h, w)} padded by {self.pad}")
        eh = max(0, (oh - 1) * self.stride[0] + self.ws[0] - (h + 2 * self.pad[0]))
        ew = max(0, (ow - 1) * self.stride[1] + self.ws[1] - (w + 2 * self.pad[1]))
        return oh, ow, eh, ew

    def _padded(self, x: np.ndarray, fill: float, eh: int, ew: int) -> np.ndarray:
        ph, pw = self.pad
        if not (ph or pw or eh or ew):
            return x
        h, w = x.shape[-2:]
        out = np.full(x.shape[:-2] + (h + 2 * ph + eh, w + 2 * pw + ew), fill, dtype=x.dtype)
        out[..., ph:ph + h, pw:pw + w] = x
        return out

    def _offsets(self, oh: int, ow: int):
        """``(k, (rows, cols))`` for each window offset ``k = i * ww + j``: the strided
        slices of the padded input that offset reads for all windows at once. Looping
        over the few offsets (4 for 2x2) keeps every step a strided ufunc call, with no
        window copies."""
        (wh, ww), (sh, sw) = self.ws, self.stride
        for i in range(wh):
            for j in range(ww):
                yield i * ww + j, (slice(i, i + sh * (oh - 1) + 1, sh),
                                   slice(j, j + sw * (ow - 1) + 1, sw))

    def _counts(self, h: int, w: int, oh: int, ow: int, dtype: np.dtype) -> np.ndarray:
        """Elements each average window divides by, shape (oh, ow)."""
        per_axis = []
        for size, o, k, s, p in ((h, oh, self.ws[0], self.stride[0], self.pad[0]),
                                 (w, ow, self.ws[1], self.stride[1], self.pad[1])):
            start = np.arange(o) * s
            lo, hi = (p, p + size) if self.mode == "average_exc_pad" else (0, size + 2 * p)
            per_axis.append(np.minimum(start + k, hi) - np.maximum(start, lo))
        return np.outer(per_axis[0], per_axis[1]).astype(dtype)

    def _argmax(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Offset of the first maximum of each window (ties go to the earliest offset)."""
        geom = self._geometry(*x.shape[-2:])
        oh, ow, eh, ew = geom
        xp = self._padded(x, -np.inf, eh, ew)
        n_off = self.ws[0] * self.ws[1]
        itype = np.int8 if n_off <= 127 else np.int32
        best = idx = m = None
        for k, (r, c) in self._offsets(oh, ow):
            v = xp[..., r, c]
            if best is None:
                best, idx, m = v.copy(), np.zeros(v.shape, dtype=itype), np.empty(v.shape, dtype=bool)
                continue
            np.greater(v, best, out=m)
            np.maximum(best, v, out=best)
            # Offsets only grow, so "idx = k where v is a new strict maximum" is
            # max(idx, m * k): a plain ufunc, 4x faster than a masked store.
            np.maximum(idx, m.view(np.int8) * itype(k), out=idx)
        return idx, geom

    def _scatter(self, idx: np.ndarray, gy: np.ndarray, h: int, w: int, geom: tuple) -> np.ndarray:
        """Place ``gy`` at window offsets ``idx``, summing overlaps; shape (..., h, w)."""
        oh, ow, eh, ew = geom
        ph, pw = self.pad
        hp, wp = h + 2 * ph + eh, w + 2 * pw + ew
        disjoint = self.stride[0] >= self.ws[0] and self.stride[1] >= self.ws[1]
        covered = self.stride == self.ws and (hp, wp) == (oh * self.ws[0], ow * self.ws[1])
        # Windows that tile the input exactly write every element once: no zero fill,
        # and assignment instead of accumulation.
        gxp = (np.empty if covered else np.zeros)(gy.shape[:-2] + (hp, wp), dtype=gy.dtype)
        for k, (r, c) in self._offsets(oh, ow):
            if disjoint:
                np.multiply(gy, idx == k, out=gxp[..., r, c])
            else:
                gxp[..., r, c] += gy * (idx == k)
        return gxp[..., ph:ph + h, pw:pw + w] if (ph or pw or eh or ew) else gxp


class Pool(_PoolBase):
    """Max or average pooling over the last two axes of a tensor of 2 or more dims."""

    def make_node(self, x: Any) -> Apply:
        x = self._check(x, "the input")
        out = pool_output_shape(x.type.shape, self.ws, self.ignore_border, self.stride, self.pad)
        return Apply(self, [x], [TensorType(x.type.dtype, out)])

    def perform(self, node: Apply, x: np.ndarray) -> np.ndarray:
        h, w = x.shape[-2:]
        oh, ow, eh, ew = self._geometry(h, w)
        is_max = self.mode == "max"
        xp = self._padded(x, -np.inf if is_max else 0, eh, ew)
        out = None
        for k, (r, c) in self._offsets(oh, ow):
            v = xp[..., r, c]
            if out is None:
                out = v.copy()
            elif is_max:
                np.maximum(out, v, out=out)
            else:
                out += v
        if not is_max:
            if self.pad == (0, 0) and not (eh or ew):
                out *= x.dtype.type(1.0 / (self.ws[0] * self.ws[1]))
            else:
                out /= self._counts(h, w, oh, ow, x.dtype)
        return out

    def L_op(self, node, inputs, outputs, output_grads):
        x, gy = inputs[0], output_grads[0]
        if self.mode == "max":
            return [MaxPoolGrad(**self._kwargs())(x, gy)]
        return [AveragePoolGrad(**self._kwargs())(gy, _hw(x) if x.type.ndim == 4 else _last2(x))]

    def infer_shape(self, node, input_shapes):
        (xs,) = input_shapes
        out = list(xs[:-2])
        for d in range(2):
            out.append(_out_len(xs[-2 + d], self.ws[d], self.stride[d], self.pad[d],
                                self.ignore_border, maximum))
        return [tuple(out)]


def _last2(x: TensorVariable) -> tuple:
    return (shape_i(x, x.type.ndim - 2), shape_i(x, x.type.ndim - 1))


class MaxPoolGrad(_PoolBase):
    """The gradient of max pooling: ``gy`` routed to each window's (first) maximum.

    Inputs: ``x`` (the pooled input) and ``gy`` (shaped like the pooled output).
    """

    def make_node(self, x: Any, gy: Any) -> Apply:
        x, gy = self._check(x, "the input"), self._check(gy, "the output gradient")
        if gy.type.ndim != x.type.ndim or gy.type.dtype != x.type.dtype:
            raise TypeError(f"MaxPoolGrad: the output gradient {gy.type} must have the input's "
                            f"dtype and ndim ({x.type})")
        return Apply(self, [x, gy], [x.type])

    def perform(self, node, x, gy):
        idx, geom = self._argmax(x)
        return self._scatter(idx, gy, x.shape[-2], x.shape[-1], geom)

    def L_op(self, node, inputs, outputs, output_grads):
        x, gy = inputs
        # The routing is piecewise constant in x: zero almost everywhere.
        return [zeros_like(x), MaxPoolGradGrad(**self._kwargs())(x, output_grads[0])]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]


class MaxPoolGradGrad(_PoolBase):
    """``G`` (shaped like the input of max pooling) gathered at each window's maximum of
    ``x``: the pullback of :class:`MaxPoolGrad` with respect to its output gradient."""

    def make_node(self, x: Any, G: Any) -> Apply:
        x, G = self._check(x, "the input"), self._check(G, "the gradient")
        if G.type.ndim != x.type.ndim or G.type.dtype != x.type.dtype:
            raise TypeError(f"MaxPoolGradGrad: {G.type} must have the dtype and ndim of {x.type}")
        out = pool_output_shape(x.type.shape, self.ws, self.ignore_border, self.stride, self.pad)
        return Apply(self, [x, G], [TensorType(x.type.dtype, out)])

    def perform(self, node, x, G):
        idx, (oh, ow, eh, ew) = self._argmax(x)
        Gp = self._padded(G, 0, eh, ew)
        out = np.zeros(idx.shape, dtype=G.dtype)
        for k, (r, c) in self._offsets(oh, ow):
            out += Gp[..., r, c] * (idx == k)
        return out

    def L_op(self, node, inputs, outputs, output_grads):
        x, G = inputs
        return [zeros_like(x), MaxPoolGrad(**self._kwargs())(x, output_grads[0])]


class AveragePoolGrad(_PoolBase):
    """The gradient of average pooling: each output gradient spread evenly over its
    window. Inputs: ``gy`` and ``input_hw``, the int vector of the input's last two
    dimensions."""

    def make_node(self, gy: Any, input_hw: Any) -> Apply:
        if self.mode == "max":
            raise ValueError("AveragePoolGrad needs an average mode, got mode='max' "
                             "(max pooling's gradient is MaxPoolGrad)")
        gy = self._check(gy, "the output gradient")
        hw, static = _shape2(input_hw, "AveragePoolGrad")
        return Apply(self, [gy, hw], [TensorType(gy.type.dtype, gy.type.shape[:-2] + static)])

    def perform(self, node, gy, hw):
        h, w = int(hw[0]), int(hw[1])
        oh, ow, eh, ew = self._geometry(h, w)
        if gy.shape[-2:] != (oh, ow):
            raise ValueError(f"AveragePoolGrad: an output gradient of shape {gy.shape} does not "
                             f"match an input of spatial shape {(h, w)}")
        if self.pad == (0, 0) and not (eh or ew):
            scaled = gy * gy.dtype.type(1.0 / (self.ws[0] * self.ws[1]))
        else:
            scaled = gy / self._counts(h, w, oh, ow, gy.dtype)
        ph, pw = self.pad
        gxp = np.zeros(gy.shape[:-2] + (h + 2 * ph + eh, w + 2 * pw + ew), dtype=gy.dtype)
        for k, (r, c) in self._offsets(oh, ow):
            gxp[..., r, c] += scaled
        return gxp[..., ph:ph + h, pw:pw + w]

    def L_op(self, node, inputs, outputs, output_grads):
        return [Pool(**self._kwargs())(output_grads[0]), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]


@suggest_keywords
def pool_2d(input: Any, ws: Sequence[int] | int | None = None, ignore_border: bool = True,
            stride: Sequence[int] | int | None = None, pad: Sequence[int] | int | None = None,
            mode: str = "max", ds: Sequence[int] | int | None = None,
            st: Sequence[int] | int | None = None, padding: Sequence[int] | int | None = None) -> TensorVariable:
    """Pool the last two axes of ``input`` over windows of size ``ws``.

    Parameters
    ----------
    input : tensor with at least 2 dims, usually (N, C, H, W)
    ws : int or (int, int)
        Window size (``ds`` is Theano's old name).
    ignore_border : bool
        True: drop partial windows at the bottom/right edge (PyTorch's default). False:
        keep them (Theano's ``ignore_border=False``).
    stride : int or (int, int), optional
        Step between windows (default: ``ws``, non-overlapping; ``st`` is the old name).
    pad : int or (int, int)
        Implicit padding (``-inf`` for max, zeros for averages), smaller than ``ws``
        (``padding`` is the old name).
    mode : {'max', 'average_inc_pad', 'average_exc_pad'}
        ``'average_inc_pad'`` divides by the window size including padding,
        ``'average_exc_pad'`` by the number of real elements (``'average'`` is an alias
        of the former).

    Examples
    --------
    >>> x = T.tensor4('x', shape=(None, 32, 24, 24))
    >>> T.nnet.pool_2d(x, (2, 2)).type
    float32(?, 32, 12, 12)
    """
    ws = _new_or_old("ws", ws, "ds", ds)
    if ws is None:
        raise TypeError("pool_2d() missing the window size: ws=(h, w)")
    stride = _new_or_old("stride", stride, "st", st)
    pad = _new_or_old("pad", pad, "padding", padding)
    return Pool(ws, stride, (0, 0) if pad is None else pad, ignore_border, mode)(input)


def _new_or_old(name: str, value: Any, old_name: str, old_value: Any) -> Any:
    """The value of a keyword given under its name or Theano's old name (not both)."""
    if old_value is None:
        return value
    if value is not None:
        raise TypeError(f"pool_2d: give {name} or its old name {old_name}, not both")
    return old_value


def global_pool_2d(input: Any, mode: str = "average") -> TensorVariable:
    """Pool each feature map to one value: (N, C, H, W) -> (N, C).

    ``mode`` is ``'average'`` (or ``'mean'``) or ``'max'``.
    """
    x = as_tensor_variable(input)
    if x.type.ndim < 2:
        raise TypeError(f"global_pool_2d: the input needs at least 2 dimensions, got {x.type}")
    axes = (x.type.ndim - 2, x.type.ndim - 1)
    if mode in ("average", "mean"):
        return mean(x, axis=axes)
    if mode == "max":
        return _max(x, axis=axes)
    raise ValueError(f"global_pool_2d: mode must be 'average' or 'max', got {mode!r}")


def global_average_pool_2d(input: Any) -> TensorVariable:
    """Mean over the last two axes: (N, C, H, W) -> (N, C)."""
    return global_pool_2d(input, "average")


def global_max_pool_2d(input: Any) -> TensorVariable:
    """Maximum over the last two axes: (N, C, H, W) -> (N, C)."""
    return global_pool_2d(input, "max")


__all__ = ["pool_2d", "pool_output_shape", "global_pool_2d", "global_average_pool_2d",
           "global_max_pool_2d", "Pool", "MaxPoolGrad", "MaxPoolGradGrad", "AveragePoolGrad"]
