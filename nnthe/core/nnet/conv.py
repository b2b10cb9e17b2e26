"""2-d convolution lowered to GEMM, and its two gradient ops.

``conv2d`` is a cross-correlation by default (PyTorch's convention; ``filter_flip=True``
gives Theano's true convolution). The forward pass builds the im2col matrix from a
strided view of the (padded) input, so the only copy is the one BLAS needs, and runs one
GEMM over the whole batch (per group). The gradient with respect to the input (:class:`Conv2dGradInputs`) is a
GEMM followed by a col2im scatter (a loop over the ``kh * kw`` kernel offsets, never over
images or pixels); the gradient with respect to the filters (:class:`Conv2dGradWeights`)
is one GEMM over the batch.

The three ops are each other's gradients, so grad-of-grad (Hessian-vector products
through a CNN) needs nothing else:

- ``y = Conv2d(x, w)``: ``dx = GradInputs(w, gy)``, ``dw = GradWeights(x, gy)``;
- ``dx = GradInputs(w, gy)`` is linear in both: its pullback of ``G`` is
  ``GradWeights(G, gy)`` for ``w`` and ``Conv2d(G, w)`` for ``gy``;
- ``dw = GradWeights(x, gy)``: ``GradInputs(G, gy)`` for ``x``, ``Conv2d(x, G)`` for ``gy``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph import Apply, Op
from ..hints import suggest_keywords
from ..types import disconnected_type, fmt_shape, is_disconnected, is_float_dtype, TensorType
from ..ops.elemwise import switch
from ..ops.shape import as_shape_vector, shape_i, specify_shape
from ..variable import TensorVariable, as_tensor_variable
from .conv_epilogue import bias_input, check_epilogue, epilogue_grads, store_nchw
from .im2col import _im2col, channels_last, channels_last_blocks

BorderMode = Any  # 'valid' | 'full' | 'half' | 'same' | int | (int, int)


# ---------------------------------------------------------------------------------------
# Argument normalisation and static shapes
# ---------------------------------------------------------------------------------------

def _pair(value: Any, what: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be an int or a pair of ints, got {value!r}") from None
    for v in (a, b):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"{what} must be an int or a pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{what} entries must be >= {minimum}, got {value!r}")
    return int(a), int(b)


def normalize_border_mode(border_mode: BorderMode) -> str | tuple[int, int]:
    """``'valid'``, ``'full'``, ``'half'`` (``'same'`` is an alias) or an ``(int, int)``
    padding; ``'valid'`` becomes ``(0, 0)``."""
    if isinstance(border_mode, str):
        mode = border_mode.lower()
        if mode == "valid":
            return (0, 0)
        if mode in ("full", "half"):
            return mode
        if mode == "same":
            return "half"
        raise ValueError(f"border_mode must be 'valid', 'full', 'half', 'same', an int or a "
                         f"pair of ints, got {border_mode!r}")
    return _pair(border_mode, "border_mode", 0)


def _axis_pad(border_mode: str | tuple[int, int], axis: int, k: Any, dil: int) -> Any:
    """The zero padding ``border_mode`` means along spatial ``axis`` for a kernel of size
    ``k`` (an int, or a symbolic scalar in ``infer_shape``)."""
    if border_mode == "full":
        return dil * (k - 1)
    if border_mode == "half":
        return dil * (k // 2)
    return border_mode[axis]  # type: ignore[index]


def conv_output_length(size: Any, k: Any, pad: Any, stride: int, dil: int) -> Any:
    """The output length of a convolution along one axis (< 1 when the window does not
    fit): the one formula behind :func:`conv_output_shape`, ``perform``, the kernels'
    output sizes and ``infer_shape`` (ints or symbolic scalars)."""
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def resolve_padding(border_mode: str | tuple[int, int], kernel: Sequence[int],
                    dilation: Sequence[int]) -> tuple[int, int]:
    """The (top/bottom, left/right) zero padding that ``border_mode`` means for a kernel."""
    return (_axis_pad(border_mode, 0, kernel[0], dilation[0]),
            _axis_pad(border_mode, 1, kernel[1], dilation[1]))


def conv_output_shape(image_shape: Sequence[int | None], kernel_shape: Sequence[int | None],
                      border_mode: BorderMode = "valid", subsample: Sequence[int] = (1, 1),
                      filter_dilation: Sequence[int] = (1, 1)) -> tuple[int | None, ...]:
    """The output shape ``(N, K, OH, OW)`` of :func:`conv2d` (None where unknown).

    Parameters
    ----------
    image_shape : (N, C, H, W), entries int or None
    kernel_shape : (K, C / groups, kh, kw), entries int or None
    border_mode, subsample, filter_dilation
        As for :func:`conv2d`.

    Examples
    --------
    >>> conv_output_shape((128, 1, 28, 28), (32, 1, 5, 5))
    (128, 32, 24, 24)
    """
    if len(image_shape) != 4 or len(kernel_shape) != 4:
        raise ValueError(f"conv_output_shape: expected 4-d image and kernel shapes, got "
                         f"{tuple(image_shape)} and {tuple(kernel_shape)}")
    mode = normalize_border_mode(border_mode)
    stride = _pair(subsample, "subsample", 1)
    dil = _pair(filter_dilation, "filter_dilation", 1)
    out: list[int | None] = [image_shape[0], kernel_shape[0]]
    for d in range(2):
        size, k = image_shape[2 + d], kernel_shape[2 + d]
        if size is None or k is None:
            out.append(None)
            continue
        pad = _axis_pad(mode, d, k, dil[d])
        if conv_output_length(size, k, pad, stride[d], dil[d]) <= 0:
            raise ValueError(
                f"conv2d: the (dilated) kernel of size {dil[d] * (k - 1) + 1} is larger than "
                f"the padded input {size} + 2*{pad} along spatial axis {d} (image "
                f"{fmt_shape(image_shape)}, kernel {fmt_shape(kernel_shape)}, "
                f"border_mode={border_mode!r})")
        out.append(conv_output_length(size, k, pad, stride[d], dil[d]))
    return tuple(out)


# ---------------------------------------------------------------------------------------
# NumPy kernels (group-major layouts: x as (N, G, Cg, H, W), w as (G, Kg, Cg, kh, kw));
# the im2col matrix is built in nnthe.core.nnet.im2col
# ---------------------------------------------------------------------------------------

def _out_hw(h: int, w: int, kh: int, kw: int, pad: tuple, stride: tuple, dil: tuple) -> tuple[int, int]:
    oh = conv_output_length(h, kh, pad[0], stride[0], dil[0])
    ow = conv_output_length(w, kw, pad[1], stride[1], dil[1])
    if oh <= 0 or ow <= 0:
        raise ValueError(f"conv2d: the kernel ({kh}, {kw}) with dilation {dil} does not fit in "
                         f"the input ({h}, {w}) padded by {pad}")
    return oh, ow


class _ConvBase(Op):
    __props__ = ("border_mode", "subsample", "filter_dilation", "num_groups", "filter_flip")

    def __init__(self, border_mode: BorderMode = "valid", subsample: Sequence[int] = (1, 1),
                 filter_dilation: Sequence[int] = (1, 1), num_groups: int = 1,
                 filter_flip: bool = False) -> None:
        self.border_mode = normalize_border_mode(border_mode)
        self.subsample = _pair(subsample, "subsample", 1)
        self.filter_dilation = _pair(filter_dilation, "filter_dilation", 1)
        if not isinstance(num_groups, (int, np.integer)) or isinstance(num_groups, bool) or num_groups < 1:
            raise ValueError(f"num_groups must be a positive int, got {num_groups!r}")
        self.num_groups = int(num_groups)
        self.filter_flip = bool(filter_flip)

    def _kwargs(self) -> dict:
        return dict(border_mode=self.border_mode, subsample=self.subsample,
                    filter_dilation=self.filter_dilation, num_groups=self.num_groups,
                    filter_flip=self.filter_flip)

    def _check4(self, v: Any, what: str) -> TensorVariable:
        v = as_tensor_variable(v)
        if v.type.ndim != 4:
            raise TypeError(f"{type(self).__name__}: {what} must be a 4-d tensor, got {v!r} of "
                            f"type {v.type}")
        if not is_float_dtype(v.type.dtype):
            raise TypeError(f"{type(self).__name__}: {what} must be a float tensor, got dtype "
                            f"{v.type.dtype}")
        return v

    def _same_dtype(self, a: TensorVariable, b: TensorVariable, names: str) -> None:
        if a.type.dtype != b.type.dtype:
            raise TypeError(f"{type(self).__name__}: {names} must have the same dtype, got "
                            f"{a.type.dtype} and {b.type.dtype}; cast one with T.cast")

    def _pads(self, kh: int, kw: int) -> tuple[int, int]:
        return resolve_padding(self.border_mode, (kh, kw), self.filter_dilation)

    def _eff_filters(self, w: np.ndarray) -> np.ndarray:
        return w[:, :, ::-1, ::-1] if self.filter_flip else w


class Conv2d(_ConvBase):
    """``y = conv2d(x, w)``: x (N, C, H, W), w (K, C / groups, kh, kw) -> (N, K, OH, OW).

    A second output holds the im2col matrix (G, C/G*kh*kw, N*OH*OW) of ``x``, so that
    :class:`Conv2dGradWeights` reuses it instead of building it again (one large copy
    saved per layer in training). It is not differentiable; a function that does not
    use it frees it as soon as the op has run. :func:`conv2d` returns the first output.
    Where the direct-convolution kernel runs (few input channels: see
    :mod:`nnthe.core.kernels.direct_conv`), it builds no such matrix and this output is an
    empty ``(G, 0, 0)`` placeholder, which Conv2dGradWeights recognises and never reads.

    ``epilogue='bias'`` adds a third input ``b`` (K,) to every output channel, and
    ``'bias_relu'`` applies ``relu`` after it, while the output is stored (see
    :mod:`.conv_epilogue`; the rewrite ``local_conv_epilogue`` builds these nodes).
    """

    __props__ = _ConvBase.__props__ + ("epilogue",)

    def __init__(self, border_mode: BorderMode = "valid", subsample: Sequence[int] = (1, 1),
                 filter_dilation: Sequence[int] = (1, 1), num_groups: int = 1,
                 filter_flip: bool = False, epilogue: str | None = None) -> None:
        super().__init__(border_mode, subsample, filter_dilation, num_groups, filter_flip)
        self.epilogue = check_epilogue(epilogue)

    def __str__(self) -> str:
        # The plain convolution prints as it did before epilogues existed.
        shown = self.__props__ if self.epilogue else _ConvBase.__props__
        return f"Conv2d{{{', '.join(f'{p}={getattr(self, p)!r}' for p in shown)}}}"

    __repr__ = __str__

    # Output 1 (the im2col matrix) has no gradient of its own: L_op ignores it rather
    # than have grad() allocate zeros of its size.
    handles_disconnected_grads = True

    def make_node(self, x: Any, w: Any, b: Any = None) -> Apply:
        x, w = self._check4(x, "the input"), self._check4(w, "the filters")
        self._same_dtype(x, w, "the input and the filters")
        bias = bias_input(self, b, w)
        g = self.num_groups
        c, k, cg = x.type.shape[1], w.type.shape[0], w.type.shape[1]
        if c is not None and cg is not None and c != cg * g:
            raise ValueError(
                f"conv2d: the input has {c} channels but the filters expect {cg} * "
                f"num_groups={g} = {cg * g} (input {fmt_shape(x.type.shape)}, filters "
                f"{fmt_shape(w.type.shape)})")
        if k is not None and k % g:
            raise ValueError(f"conv2d: the number of filters {k} is not divisible by "
                             f"num_groups={g} (filters {fmt_shape(w.type.shape)})")
        out = conv_output_shape(x.type.shape, w.type.shape, self.border_mode, self.subsample,
                                self.filter_dilation)
        return Apply(self, [x, w] + bias, [TensorType(x.type.dtype, out),
                                    TensorType(x.type.dtype, _cols_shape(out, w.type.shape, g,
                                                                     self.filter_dilation[1]))])

    def perform(self, node: Apply, x: np.ndarray, w: np.ndarray,
                b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        n, c, h, wd = x.shape
        k, cg, kh, kw = w.shape
        g = self.num_groups
        if c != cg * g:
            raise ValueError(f"conv2d: input of shape {x.shape} has {c} channels, the filters "
                             f"{w.shape} with num_groups={g} expect {cg * g}")
        pad = self._pads(kh, kw)
        oh, ow = _out_hw(h, wd, kh, kw, pad, self.subsample, self.filter_dilation)
        kg = k // g
        if channels_last(cg, kw, ow, self.filter_dilation[1]):
            # (B*OH*OW, kh*kw*Cg) @ (kh*kw*Cg, Kg) per group and block of B images, each
            # run on the rows of the im2col matrix just copied (still in the cache): an
            # NHWC result, whose copy to NCHW is a small one (kh*kw times fewer elements).
            wt = self._eff_filters(w).reshape(g, kg, cg, kh, kw).transpose(0, 3, 4, 2, 1)
            wt = np.ascontiguousarray(wt).reshape(g, kh * kw * cg, kg)
            cols = np.empty((g, n * oh * ow, kh * kw * cg), dtype=x.dtype)
            out = np.empty((g, n * oh * ow, kg), dtype=x.dtype)
            for r0, r1 in channels_last_blocks(x, cols, g, kh, kw, pad, self.subsample,
                                               self.filter_dilation, oh, ow):
                for i in range(g):
                    np.dot(cols[i, r0:r1], wt[i], out=out[i, r0:r1])
            y = out.reshape(g, n, oh, ow, kg).transpose(1, 0, 4, 2, 3).reshape(n, k, oh, ow)
            return store_nchw(y, b, self.epilogue), cols
        # im2col, then one large GEMM per group. One big GEMM rather than a batched
        # matmul of N small ones: the latter pays a BLAS thread synchronisation per
        # image, which on a busy machine costs seconds.
        cols = _im2col(x, g, kh, kw, pad, self.subsample, self.filter_dilation, oh, ow)
        if np.may_share_memory(cols, x):  # a 1x1 kernel on one image: reshape gave a view
            cols = cols.copy()
        wm = self._eff_filters(w).reshape(g, kg, cg * kh * kw)
        # (Kg, Ckk) @ cols gives (Kg, N*OH*OW): its rows hold whole OH*OW images, so the
        # copy to NCHW below moves contiguous runs. On an idle machine this is 35% faster
        # for the MNIST CNN's first layer (3.1 vs 4.8 ms) and 6% for its second than the
        # (N*OH*OW, Ckk) @ (Ckk, Kg) orientation, whose copy scatters single elements.
        out = np.empty((g, kg, n * oh * ow), dtype=x.dtype)
        for i in range(g):
            np.dot(wm[i], cols[i], out=out[i])
        # (G, Kg, N, OH, OW) -> a C-contiguous (N, K, OH, OW), so later ops see plain layouts.
        y = out.reshape(g, kg, n, oh, ow).transpose(2, 0, 1, 3, 4).reshape(n, k, oh, ow)
        return store_nchw(y, b, self.epilogue), cols

    def L_op(self, node, inputs, outputs, output_grads):
        x, w = inputs[:2]
        if is_disconnected(output_grads[0]):
            return [disconnected_type() for _ in inputs]
        gy, gb = epilogue_grads(self.epilogue, outputs[0], output_grads[0])
        kw = self._kwargs()
        gx = Conv2dGradInputs(**kw)(w, gy, _hw(x))
        gw = Conv2dGradWeights(**kw)(x, gy, _hw(w), outputs[1])
        return [gx, gw] + ([] if gb is None else [gb])

    def connection_pattern(self, node):
        return [[True, False] for _ in node.inputs]

    def infer_shape(self, node, input_shapes):
        xs, ws = input_shapes[:2]
        out = [xs[0], ws[0]]
        for d in range(2):
            k, dil = ws[2 + d], self.filter_dilation[d]
            pad = _axis_pad(self.border_mode, d, k, dil)
            out.append(conv_output_length(xs[2 + d], k, pad, self.subsample[d], dil))
        g = self.num_groups
        ckk, nohw = ws[1] * ws[2] * ws[3], out[0] * out[2] * out[3]
        last = channels_last(ws[1], ws[3], out[3], self.filter_dilation[1])
        if isinstance(last, (bool, np.bool_)):
            return [tuple(out), (g, nohw, ckk) if last else (g, ckk, nohw)]
        # Symbolic sizes: the layout is chosen when the function runs.
        return [tuple(out), (g, switch(last, nohw, ckk), switch(last, ckk, nohw))]


def _cols_shape(out: tuple, wshape: tuple, g: int, dil_w: int) -> tuple:
    """Static shape of the im2col matrix: (G, Cg*kh*kw, N*OH*OW), or (G, N*OH*OW,
    kh*kw*Cg) channels-last (see :func:`channels_last`); None where unknown."""
    ckk = None if None in wshape[1:] else wshape[1] * wshape[2] * wshape[3]
    nohw = None if None in (out[0], out[2], out[3]) else out[0] * out[2] * out[3]
    cg, kw, ow = wshape[1], wshape[3], out[3]
    if None in (cg, kw, ow):
        return (g, ckk, nohw) if ckk is not None and ckk == nohw else (g, None, None)
    return (g, nohw, ckk) if channels_last(cg, kw, ow, dil_w) else (g, ckk, nohw)


def _hw(v: TensorVariable) -> tuple:
    """The spatial (last two) dimensions of ``v``: constants where statically known."""
    return (shape_i(v, 2), shape_i(v, 3))


def _shape2(shp: Any, what: str) -> tuple[TensorVariable, tuple]:
    vec, static = as_shape_vector(shp, what)
    if len(static) != 2:
        raise ValueError(f"{what}: expected a spatial shape of 2 entries, got {len(static)}")
    return vec, static


class _ConvGradBase(_ConvBase):
    """A gradient op ``(a, gy, spatial_shape) -> out``, linear in ``a`` and in ``gy``;
    subclasses give the pullbacks of ``G`` (the gradient of ``out``) for both."""

    def _pullbacks(self, a, gy, G):
        raise NotImplementedError

    def L_op(self, node, inputs, outputs, output_grads):
        ga, ggy = self._pullbacks(inputs[0], inputs[1], output_grads[0])
        # The spatial shape, and Conv2dGradWeights' optional im2col matrix of its input
        # (whose dependence on that input is already in the first pullback).
        return [ga, ggy] + [disconnected_type() for _ in inputs[2:]]

    def connection_pattern(self, node):
        return [[True], [True]] + [[False] for _ in node.inputs[2:]]


class Conv2dGradInputs(_ConvGradBase):
    """The gradient of :class:`Conv2d` with respect to its input (a transposed convolution).

    Inputs: ``w`` (K, C / groups, kh, kw), ``gy`` (N, K, OH, OW) and ``input_hw``, the
    int vector ``(H, W)`` of the input's spatial shape (needed because strided
    convolutions map several input sizes to one output size). Output: (N, C, H, W).
    """

    def make_node(self, w: Any, gy: Any, input_hw: Any) -> Apply:
        w, gy = self._check4(w, "the filters"), self._check4(gy, "the output gradient")
        self._same_dtype(w, gy, "the filters and the output gradient")
        hw, static = _shape2(input_hw, "Conv2dGradInputs")
        k = w.type.shape[0]
        if k is not None and gy.type.shape[1] is not None and gy.type.shape[1] != k:
            raise ValueError(f"Conv2dGradInputs: the output gradient {fmt_shape(gy.type.shape)} "
                             f"has {gy.type.shape[1]} channels, the filters "
                             f"{fmt_shape(w.type.shape)} produce {k}")
        cg = w.type.shape[1]
        c = None if cg is None else cg * self.num_groups
        expected = conv_output_shape((None, c) + static, w.type.shape, self.border_mode,
                                     self.subsample, self.filter_dilation)[2:]
        for e, got in zip(expected, gy.type.shape[2:]):
            if e is not None and got is not None and e != got:
                raise ValueError(
                    f"Conv2dGradInputs: an output gradient of shape {fmt_shape(gy.type.shape)} "
                    f"does not match an input of spatial shape {static} and filters "
                    f"{fmt_shape(w.type.shape)} (expected spatial {expected})")
        return Apply(self, [w, gy, hw], [TensorType(w.type.dtype, (gy.type.shape[0], c) + static)])

    def perform(self, node, w, gy, hw):
        h, wd = int(hw[0]), int(hw[1])
        k, cg, kh, kw = w.shape
        g = self.num_groups
        n, _, oh, ow = gy.shape
        pad = self._pads(kh, kw)
        if (oh, ow) != _out_hw(h, wd, kh, kw, pad, self.subsample, self.filter_dilation):
            raise ValueError(f"Conv2dGradInputs: an output gradient of spatial shape {(oh, ow)} "
                             f"does not match an input of shape {(h, wd)} and filters {w.shape}")
        kg = k // g
        # Channels-last: one (N*OH*OW, Kg) @ (Kg, Cg) GEMM per group and kernel offset,
        # each added into its strided slab of the padded input gradient. The products
        # stay cache-sized, where the im2col form (one GEMM into a (Cg*kh*kw, N*OH*OW)
        # matrix, then col2im) writes and rereads a large matrix: 9 ms against 14 ms for
        # the MNIST CNN's second layer.
        gyt = np.ascontiguousarray(gy.reshape(n, g, kg, oh, ow).transpose(1, 0, 3, 4, 2))
        gyt = gyt.reshape(g, n * oh * ow, kg)
        wt = np.ascontiguousarray(
            self._eff_filters(w).reshape(g, kg, cg, kh, kw).transpose(0, 3, 4, 1, 2))
        sh, sw = self.subsample
        dh, dw = self.filter_dilation
        hp, wp = h + 2 * pad[0], wd + 2 * pad[1]
        gxp = np.zeros((n, hp, wp, g, cg), dtype=w.dtype)
        tmp = np.empty((n * oh * ow, cg), dtype=w.dtype)
        slab = tmp.reshape(n, oh, ow, cg)
        for gi in range(g):
            for i in range(kh):
                for j in range(kw):
                    np.dot(gyt[gi], wt[gi, i, j], out=tmp)
                    view = gxp[:, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                               j * dw:j * dw + sw * (ow - 1) + 1:sw, gi]
                    np.add(view, slab, out=view)
        gx = gxp[:, pad[0]:pad[0] + h, pad[1]:pad[1] + wd]
        # A C-contiguous NCHW result: the pooling gradient that usually consumes it reads
        # strided slices, which are several times slower on a transposed layout.
        return np.ascontiguousarray(gx.reshape(n, h, wd, g * cg).transpose(0, 3, 1, 2))

    def _pullbacks(self, w, gy, G):
        kw = self._kwargs()
        return Conv2dGradWeights(**kw)(G, gy, _hw(w)), Conv2d(**kw)(G, w)[0]

    def infer_shape(self, node, input_shapes):
        ws, gs, _ = input_shapes
        hw = node.inputs[2]
        return [(gs[0], ws[1] * self.num_groups, hw[0], hw[1])]


class Conv2dGradWeights(_ConvGradBase):
    """The gradient of :class:`Conv2d` with respect to its filters.

    Inputs: ``x`` (N, C, H, W), ``gy`` (N, K, OH, OW) and ``filter_hw``, the int
    vector ``(kh, kw)``. Output: (K, C / groups, kh, kw).
    """

    def make_node(self, x: Any, gy: Any, filter_hw: Any, cols: Any = None) -> Apply:
        x, gy = self._check4(x, "the input"), self._check4(gy, "the output gradient")
        self._same_dtype(x, gy, "the input and the output gradient")
        hw, static = _shape2(filter_hw, "Conv2dGradWeights")
        c = x.type.shape[1]
        cg = None if c is None else c // self.num_groups
        inputs = [x, gy, hw]
        if cols is not None:
            cols = as_tensor_variable(cols)
            if cols.type.ndim != 3 or cols.type.dtype != x.type.dtype:
                raise TypeError(f"Conv2dGradWeights: the im2col matrix must be a 3-d "
                                f"{x.type.dtype} tensor (Conv2d's second output), got {cols.type}")
            inputs.append(cols)
        return Apply(self, inputs, [TensorType(x.type.dtype, (gy.type.shape[1], cg) + static)])

    def perform(self, node, x, gy, hw, cols=None):
        kh, kw = int(hw[0]), int(hw[1])
        n, c, h, wd = x.shape
        k = gy.shape[1]
        g = self.num_groups
        cg, kg = c // g, k // g
        pad = self._pads(kh, kw)
        oh, ow = _out_hw(h, wd, kh, kw, pad, self.subsample, self.filter_dilation)
        if gy.shape[2:] != (oh, ow):
            raise ValueError(f"Conv2dGradWeights: an output gradient of shape {gy.shape} does not "
                             f"match an input {x.shape} and filters of size {(kh, kw)}")
        # One GEMM over the whole batch per group on the im2col matrix, whose layout keeps
        # OW innermost (the input's contiguous axis): several times faster to copy than
        # (N*OH*OW, Cg*kh*kw). Conv2d's forward pass usually hands over the same matrix.
        ckk = cg * kh * kw
        last = channels_last(cg, kw, ow, self.filter_dilation[1])
        if cols is None or cols.shape != ((g, n * oh * ow, ckk) if last else (g, ckk, n * oh * ow)):
            cols = _im2col(x, g, kh, kw, pad, self.subsample, self.filter_dilation, oh, ow)
        gm = gy.reshape(n, g, kg, oh * ow).transpose(1, 2, 0, 3).reshape(g, kg, n * oh * ow)
        if last:
            # (Kg, N*OH*OW) @ (N*OH*OW, kh*kw*Cg): 3.4 ms for the MNIST CNN's second layer,
            # against 3.7 ms for the transposed product.
            gw = np.empty((g, kg, kh, kw, cg), dtype=x.dtype)
            for i in range(g):
                np.dot(gm[i], cols[i], out=gw[i].reshape(kg, ckk))
            gw = gw.transpose(0, 1, 4, 2, 3).reshape(k, cg, kh, kw)
            return np.ascontiguousarray(self._eff_filters(gw))
        # The longer of Kg and Cg*kh*kw goes in BLAS's M dimension: with M = 32 and
        # M = 800 swapped, the 32x8192x800 product of the MNIST CNN measured 10x slower
        # in the median on the busy 2-core machine (and conversely for 32 vs 25).
        if ckk >= kg:
            gwt = np.empty((g, ckk, kg), dtype=x.dtype)
            for i in range(g):
                np.dot(cols[i], gm[i].T, out=gwt[i])
            gw = gwt.transpose(0, 2, 1).reshape(k, cg, kh, kw)
        else:
            gw = np.empty((g, kg, ckk), dtype=x.dtype)
            for i in range(g):
                np.dot(gm[i], cols[i].T, out=gw[i])
            gw = gw.reshape(k, cg, kh, kw)
        return np.ascontiguousarray(self._eff_filters(gw))

    def _pullbacks(self, x, gy, G):
        kw = self._kwargs()
        return Conv2dGradInputs(**kw)(G, gy, _hw(x)), Conv2d(**kw)(x, G)[0]

    def infer_shape(self, node, input_shapes):
        xs, gs = input_shapes[:2]
        hw = node.inputs[2]
        return [(gs[1], xs[1] // self.num_groups, hw[0], hw[1])]


@suggest_keywords
def conv2d(input: Any, filters: Any, input_shape: Sequence[int | None] | None = None,
           filter_shape: Sequence[int | None] | None = None, border_mode: BorderMode = "valid",
           subsample: Sequence[int] = (1, 1), filter_flip: bool = True,
           image_shape: Sequence[int | None] | None = None,
           filter_dilation: Sequence[int] = (1, 1), num_groups: int = 1) -> TensorVariable:
    """2-d convolution of a batch of images, with Theano's signature and default.

    ``filter_flip=True`` (the default, as in Theano) flips the kernels: a true
    convolution. ``filter_flip=False`` is the cross-correlation of PyTorch and Keras;
    :class:`nnthe.layers.Conv2D` passes it, so layer weights interchange with PyTorch's.

    Parameters
    ----------
    input : tensor4
        Images, shape (N, C, H, W).
    filters : tensor4
        Filters, shape (K, C / num_groups, kh, kw) (PyTorch's layout).
    input_shape, filter_shape : tuple of (int or None), optional
        Theano's shape hints. Known entries are merged into the static shapes (and
        checked against them now, and against the data when the function runs).
        ``image_shape`` is the old name of ``input_shape``.
    border_mode : {'valid', 'full', 'half', 'same'} or int or (int, int)
        Zero padding: none, ``dilation * (k - 1)``, ``dilation * (k // 2)`` (``'same'``
        is ``'half'``: the same size for odd kernels at stride 1), or explicit.
    subsample : int or (int, int)
        Strides.
    filter_flip : bool
        Flip the kernels (a true convolution; Theano's default, True).
    filter_dilation : int or (int, int)
        Spacing between kernel taps.
    num_groups : int
        Grouped convolution: input and output channels split into this many groups.

    Returns
    -------
    tensor4 of shape ``conv_output_shape(input.shape, filters.shape, ...)``.

    Examples
    --------
    >>> x = T.tensor4('x', shape=(None, 1, 28, 28)); w = T.tensor4('w', shape=(32, 1, 5, 5))
    >>> T.nnet.conv2d(x, w).type
    float32(?, 32, 24, 24)
    """
    if image_shape is not None:
        if input_shape is not None:
            raise TypeError("conv2d: give input_shape or its old name image_shape, not both")
        input_shape = image_shape
    input = _hinted(input, input_shape, "input_shape")
    filters = _hinted(filters, filter_shape, "filter_shape")
    return Conv2d(border_mode, subsample, filter_dilation, num_groups, filter_flip)(input, filters)[0]


def _hinted(x: Any, hint: Sequence[int | None] | None, what: str) -> TensorVariable:
    """``x`` with the known entries of a Theano shape hint merged into its static shape."""
    x = as_tensor_variable(x)
    if hint is None:
        return x
    hint = tuple(None if h is None else int(h) for h in hint)
    if len(hint) != x.type.ndim:
        raise ValueError(f"conv2d: {what}={hint} has {len(hint)} entries, but {x!r} has "
                         f"{x.type.ndim} dimensions")
    try:
        return specify_shape(x, hint)
    except ValueError:
        raise ValueError(f"conv2d: {what}={hint} does not match the static shape "
                         f"{fmt_shape(x.type.shape)} of {x!r}") from None


__all__ = ["conv2d", "conv_output_shape", "conv_output_length", "Conv2d", "Conv2dGradInputs", "Conv2dGradWeights",
           "normalize_border_mode", "resolve_padding"]
