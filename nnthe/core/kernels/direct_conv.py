"""Direct convolution kernels for convolutions with few input channels (a CNN's first layer).

NumPy's :class:`~nnthe.core.nnet.conv.Conv2d` builds the im2col matrix (``Cg*kh*kw`` rows
of ``N*OH*OW``), runs one GEMM into a (K, N*OH*OW) matrix and transposes that to NCHW;
:class:`~nnthe.core.nnet.conv.Conv2dGradWeights` transposes ``gy`` to (K, N*OH*OW) and
runs one GEMM with the same im2col matrix. When ``Cg*kh*kw`` is small the GEMMs are cheap
and those copies are most of the time: for the MNIST CNN's first layer (1 -> 32
channels, 5x5, 28x28, batch 128) the matrices move ~26 MB for 118 MFLOP. These kernels
read the input where it lies and write NCHW directly:

- forward: for each image, output channel and output row, one loop over the row per
  input channel adds that channel's ``kh*kw`` products (left to right, the filter taps
  held in locals) to every output element. The row's length ``OW`` is a compile-time
  constant: LLVM vectorises the loop for its exact trip count (with ``OW`` known only
  at run time the MNIST layer took 2-4x longer, measured);
- filter gradient: for each output channel, a (taps, OW) array of partial sums,
  updated from ``ROWS`` output rows at a time (fewer stores per product), summed over
  ``OW`` at the end. ``gy`` is read in its NCHW layout.

The window, strides, dilation, channels per group, filters per group, ``OW`` and, where
the input's height is static, ``OH`` are compiled in (one small generated module per geometry, in the disk cache); zero padding
is a copy of the (small) input. Products may be contracted into FMAs (numba's
``fastmath={'contract'}``, nothing else: NaN and Inf propagate as in the GEMM), and the
sums run in another order than BLAS's, so both kernels are inexact: DebugMode compares
them with its tolerance.

**Conv2d's second output.** ``perform`` returns the im2col matrix for the filter
gradient to reuse; the forward kernel does not build it and returns an empty
``(G, 0, 0)`` array of the input's dtype instead. :class:`Conv2dGradWeights` checks the
matrix's shape and builds its own when it does not match, so a gradient that runs
``perform`` stays correct, and one that runs the kernel here never needs the matrix:
in a training graph where both kernels apply it is never built. The thunk lists that
output in ``nnthe_placeholders``, so DebugMode does not compare it with ``perform``'s.

**Where they are used** (:func:`pays`): ``Cg*kh*kw <= MAX_TAPS``, ``OW >= MIN_OW``, a
horizontal stride of 1 and the input's width known statically (it fixes ``OW``); groups,
vertical strides, padding and dilation are handled. Measured with this code (batch 128,
32 filters, 5x5 unless said, medians of 21 interleaved calls with perform (whose copies
evict the caches), one kernel thread, 1 BLAS thread, load ~0.8): perform's time over the
kernels' for forward + filter gradient, the MNIST CNN's first layer (1 channel, OW 24)
4.9 + 4.2 ms -> 1.8 + 2.3 ms (2.2x); 1 channel 3x3, OW 26: 2.1x; 3 channels 3x3
padded, OW 32: 2.0x; 1 channel at OW 16 / 20 / 28 / 32 / 48: 2.2 / 1.2 / 1.4 / 1.9 /
2.2x. They lose at OW 12 (0.4x) and 8 (0.65x), where most of the row is a remainder of
the vector width, and with a horizontal stride of 2 (0.6x: strided loads); past 32 taps
the gradient stops paying (2 channels 5x5: 1.5x overall but 1.16x for the gradient; 4
channels 3x3 1.1x, 4 channels 5x5 1.2x, 3 channels 5x5 0.84x). With 2 BLAS threads the
MNIST layer goes 3.4 + 3.7 -> 1.8 + 2.3 ms. Two kernel threads: 1.2 + 1.6 ms with one
BLAS thread, but with two BLAS threads both sides slow down (5.3 + 7.7 -> 5.0 + 7.4 ms:
the threads contend), which is why kernels default to one thread
(:func:`~.backend.get_num_threads`).

Compiling one geometry costs ~0.7 s for the forward kernel and ~1.4 s for the gradient
(the MNIST layer, cold); the disk cache makes it ~0.1 s afterwards. The benchmark's CNN training
function compiles in 3.5 s instead of 1.5 s on a machine's first run.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..graph import Apply
from ..nnet.conv import Conv2d, Conv2dGradWeights, conv_output_length, conv_output_shape
from ..nnet.conv_epilogue import has_relu
from ..nnet.im2col import pad_spatial
from .backend import get_num_threads, numba
from .cache import load_module
from .registry import KernelContext, compile_kernel, numba_array_type, register_kernel

#: The largest ``Cg*kh*kw`` (products per output element) the kernels take (see above).
MAX_TAPS = 32
#: The shortest output row the kernels take (shorter rows vectorise poorly, see above).
MIN_OW = 16
#: Output rows the filter gradient folds into its partial sums at once (fewer stores of
#: them per product): 2.3 / 1.8 / 2.2 ms for 2 / 4 / 8 rows on the MNIST layer.
ROWS = 4
_DTYPES = ("float32", "float64")

_HEADER = """\
import numpy as np
import numba

# {geometry}
FLAGS = dict(cache=True, error_model="numpy", fastmath={{"contract"}}, nogil=True)
"""

_DRIVERS = """

@numba.njit(cache=True, nogil=True{parallel})
def conv_forward(x, w, bias, out, chunks):
    # Images split into `chunks` runs, one per thread; the body is its own function so
    # that parallel=True does not change its code generation.
    N = out.shape[0]
    for q in {range}(chunks):
        for n in range(q * N // chunks, (q + 1) * N // chunks):
            _forward_image(x, w, bias, out, n)


@numba.njit(cache=True, nogil=True{parallel})
def conv_grad_weights(x, gy, gw, chunks):
    # Output channels split into `chunks` runs; each channel's sums are its own.
    K = gy.shape[1]
    for q in {range}(chunks):
        for k in range(q * K // chunks, (q + 1) * K // chunks):
            _grad_weights_channel(x, gy, gw, k)
"""


def _plus(var: str, const: int, scale: int = 1) -> str:
    """``var * scale + const`` with the trivial parts left out (each operation costs numba
    typing time: the MNIST layer's filter gradient compiled in 2.25 s instead of 2.5 s)."""
    term = var if scale == 1 else f"{var} * {scale}"
    return term if const == 0 else f"{term} + {const}"


def _taps(cg: int, kh: int, kw: int) -> list[tuple[int, int, int]]:
    """The (c, i, j) taps of a filter, in ``perform``'s (row-major) order."""
    return [(c, i, j) for c in range(cg) for i in range(kh) for j in range(kw)]


def kernel_source(cg: int, kg: int, kh: int, kw: int, stride: tuple[int, int],
                  dil: tuple[int, int], ow: int, parallel: bool, oh: int | None = None,
                  epilogue: str | None = None) -> str:
    """The generated module of one geometry (on a padded input: no bounds checks).

    ``x`` is (N, C, Hp, Wp), ``w`` (K, Cg, kh, kw) (already flipped if the op flips),
    ``bias`` (K,) (read only with an ``epilogue``), ``out`` and ``gy`` (N, K, OH, OW),
    ``gw`` (K, Cg*kh*kw); all C-contiguous. ``oh``,
    when given, is compiled in too: the filter gradient then needs no code for a last
    block of fewer than ``ROWS`` rows when ``ROWS`` divides it (a quarter less compile
    time for the MNIST layer: 2.25 -> 1.7 s, measured). ``epilogue`` (see
    :mod:`nnthe.core.nnet.conv_epilogue`) is applied in the last channel's store.
    """
    (sh, sw), (dh, dw) = stride, dil
    taps = _taps(cg, kh, kw)
    window = [(i, j) for i in range(kh) for j in range(kw)]
    geometry = (f"Cg={cg} Kg={kg} kernel={kh}x{kw} stride={stride} dilation={dil} OW={ow} "
                f"OH={oh} rows={ROWS} parallel={parallel} epilogue={epilogue}")
    # One loop over the output row per input channel: its body has kh*kw products (with
    # all Cg*kh*kw in one body, 3 channels 5x5 ran 1.7x (forward) and 3x (gradient)
    # slower, measured). Input rows are 1-d views taken before that loop: one index per
    # load instead of four is less for numba to type (the gradient compiled in 1.4 s
    # instead of 1.7 s for the MNIST layer) and as fast.
    L = [_HEADER.format(geometry=geometry), "",
         "@numba.njit(**FLAGS)",
         "def _forward_image(x, w, bias, out, n):",
         f"    K, OH = out.shape[1], {'out.shape[2]' if oh is None else oh}",
         "    for k in range(K):",
         f"        c0 = (k // {kg}) * {cg}"]
    if has_relu(epilogue):
        L.insert(-2, "    zero = out.dtype.type(0)")
    L += [f"        w{t} = w[k, {c}, {i}, {j}]" for t, (c, i, j) in enumerate(taps)]
    if epilogue is not None:
        L += ["        bk = bias[k]"]
    ch = [_plus("c0", c) for c in range(cg)]
    L += ["        for a in range(OH):",
          f"            y = {_plus('a', 0, sh)}"]
    for c in range(cg):
        L += [f"            r{i} = x[n, {ch[c]}, {_plus('y', i * dh)}]" for i in range(kh)]
        terms = " + ".join(f"w{c * kh * kw + q} * r{i}[{_plus('b', j * dw, sw)}]"
                           for q, (i, j) in enumerate(window))
        L += [f"            for b in range({ow}):"]
        if epilogue is None or c < cg - 1:
            L += [f"                out[n, k, a, b] {'=' if c == 0 else '+='} {terms}"]
            continue
        # The epilogue in the last store: the sum over channels, rounded as the plain
        # kernel stores it (`out += t` is `out + (t)`), plus the bias, then relu as the
        # fused elementwise kernels compute it (NaN propagates, -0.0 becomes +0.0). No
        # multiplication feeds the bias add, so FMA contraction cannot change it.
        total = f"({terms})" if c == 0 else f"(out[n, k, a, b] + ({terms}))"
        L += [f"                v = {total} + bk"]
        store = "v if (v > zero or v != v) else zero" if has_relu(epilogue) else "v"
        L += [f"                out[n, k, a, b] = {store}"]

    def rows_body(rows: int, indent: str) -> list[str]:
        # `rows` output rows: per input channel, one loop over the output columns adding
        # every tap's products (rows in order) to its partial sums.
        body = []
        offsets = sorted({r * sh + i * dh for r in range(rows) for i in range(kh)})
        for c in range(cg):
            body += [f"{indent}r{d} = x[n, {ch[c]}, {_plus('y', d)}]" for d in offsets]
            body += [f"{indent}for b in range({ow}):"]
            body += [f"{indent}    g{r} = gy[n, k, {_plus('a', r)}, b]" for r in range(rows)]
            for q, (i, j) in enumerate(window):
                prods = " + ".join(f"g{r} * r{r * sh + i * dh}[{_plus('b', j * dw, sw)}]"
                                   for r in range(rows))
                body.append(f"{indent}    acc[{c * kh * kw + q}, b] += {prods}")
        return body

    L += ["", "", "@numba.njit(**FLAGS)",
          "def _grad_weights_channel(x, gy, gw, k):",
          f"    N, OH = gy.shape[0], {'gy.shape[2]' if oh is None else oh}",
          f"    c0 = (k // {kg}) * {cg}",
          f"    acc = np.zeros(({len(taps)}, {ow}), gw.dtype)",
          # `for` loops: the same rows in while loops ran 25% slower (measured).
          f"    full = OH - OH % {ROWS}",
          "    for n in range(N):",
          f"        for a in range(0, full, {ROWS}):",
          f"            y = {_plus('a', 0, sh)}"]
    L += rows_body(ROWS, " " * 12)
    if oh is None or oh % ROWS:
        L += ["        for a in range(full, OH):",
              f"            y = {_plus('a', 0, sh)}"]
        L += rows_body(1, " " * 12)
    L += [f"    for t in range({len(taps)}):",
          "        s = gw.dtype.type(0)",
          f"        for b in range({ow}):",
          "            s += acc[t, b]",
          "        gw[k, t] = s"]
    src = "\n".join(L) + "\n"
    return src + _DRIVERS.format(parallel=", parallel=True" if parallel else "",
                                 range="numba.prange" if parallel else "range")


def pays(cg: int, kh: int, kw: int, ow: int | None, sw: int = 1) -> bool:
    """Whether the direct kernels are used for a convolution with ``cg`` input channels
    per group, a ``kh x kw`` window, output rows of ``ow`` (None: unknown, never) and a
    horizontal stride ``sw``."""
    return ow is not None and ow >= MIN_OW and cg * kh * kw <= MAX_TAPS and sw == 1


def _chunks() -> tuple[int, bool]:
    """Threads for the kernels linked now, and whether to compile them parallel."""
    threads = get_num_threads()
    if threads > 1:
        nb = numba()
        threads = min(threads, nb.config.NUMBA_NUM_THREADS)
        nb.set_num_threads(threads)
    return threads, threads > 1


def _padded(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """``x`` zero-padded on its spatial axes, C-contiguous (a view when it already is)."""
    return np.ascontiguousarray(pad_spatial(x, ph, pw))


class _Geometry:
    """What a node's static types fix: channels, window, padding, ``OW`` (and ``OH`` where
    the input's height is static); None from
    :meth:`of` when the kernels do not take the node."""

    def __init__(self, op: Any, c: int, k: int, kh: int, kw: int, h_in: int | None, w_in: int) -> None:
        self.op = op
        self.epilogue = getattr(op, "epilogue", None)  # the gradient ops have none
        self.c, self.k, self.kh, self.kw = c, k, kh, kw
        self.g = op.num_groups
        self.cg, self.kg = c // self.g, k // self.g
        self.pad = op._pads(kh, kw)
        self.h_in, self.w_in = h_in, w_in
        self.oh, self.ow = conv_output_shape((None, c, h_in, w_in), (k, self.cg, kh, kw), op.border_mode,
                                             op.subsample, op.filter_dilation)[2:]

    @classmethod
    def of(cls, op: Any, dtype: str, dtypes: tuple, c: Any, k: Any, kh: Any, kw: Any,
           h_in: Any, w_in: Any) -> "_Geometry | None":
        if dtype not in _DTYPES or any(d != dtype for d in dtypes):
            return None
        if None in (c, k, kh, kw, w_in) or c % op.num_groups or k % op.num_groups:
            return None
        try:
            geo = cls(op, c, k, kh, kw, h_in, w_in)
        except ValueError:
            return None  # a kernel that does not fit: perform raises the precise error
        return geo if pays(geo.cg, kh, kw, geo.ow, op.subsample[1]) else None

    def module(self, parallel: bool) -> Any:
        src = kernel_source(self.cg, self.kg, self.kh, self.kw, self.op.subsample,
                            self.op.filter_dilation, self.ow, parallel, self.oh, self.epilogue)
        return load_module(src, f"dconv{self.kh}x{self.kw}c{self.cg}")

    def out_h(self, h: int) -> int:
        """The output height for an input of height ``h`` (< 1 if the window does not fit)."""
        return conv_output_length(h, self.kh, self.pad[0], self.op.subsample[0],
                                  self.op.filter_dilation[0])

    def matches(self, x: np.ndarray) -> bool:
        """True if the run-time input has the channels and sizes compiled in."""
        return (x.ndim == 4 and x.shape[1] == self.c and x.shape[3] == self.w_in
                and self.h_in in (None, x.shape[2]) and self.out_h(x.shape[2]) >= 1)


@register_kernel(Conv2d)
def conv2d_kernel(node: Apply, context: KernelContext) -> Callable | None:
    """The direct forward convolution, with its epilogue (None where :func:`pays` says
    perform is faster: :mod:`.conv_epilogue`'s factory, registered next, is asked then)."""
    op = node.op
    x_t, w_t = node.inputs[0].type, node.inputs[1].type
    k, cg, kh, kw = w_t.shape
    c = x_t.shape[1]
    geo = None
    if cg is None or c is None or c == cg * op.num_groups:
        geo = _Geometry.of(op, x_t.dtype, tuple(v.type.dtype for v in node.inputs[1:]), c, k, kh,
                           kw, *x_t.shape[2:])
    if geo is None:
        return None
    chunks, parallel = _chunks()
    dt = np.dtype(x_t.dtype)
    a4 = numba_array_type(dt, 4)
    kern = compile_kernel(geo.module(parallel), "conv_forward",
                          (a4, a4, numba_array_type(dt, 1), a4, numba().types.intp),
                          context.report, "conv_forward")
    ph, pw = geo.pad
    wshape = (k, cg, kh, kw)
    no_bias = np.empty(0, dt)  # the plain kernel never reads its bias argument

    def conv_forward(x: np.ndarray, w: np.ndarray, *b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not geo.matches(x) or w.shape != wshape or x.dtype != dt or w.dtype != dt \
                or any(v.shape != (k,) or v.dtype != dt for v in b):
            return op.perform(node, x, w, *b)
        xp = _padded(x, ph, pw)
        wc = np.ascontiguousarray(op._eff_filters(w))
        out = np.empty((x.shape[0], k, geo.out_h(x.shape[2]), geo.ow), dt)
        kern(xp, wc, np.ascontiguousarray(b[0]) if b else no_bias, out, chunks)
        # No im2col matrix: Conv2dGradWeights builds its own if it needs one.
        return out, np.empty((geo.g, 0, 0), dt)

    conv_forward.nnthe_kernel = "conv_forward"  # type: ignore[attr-defined]
    conv_forward.nnthe_exact = False  # type: ignore[attr-defined]
    conv_forward.nnthe_placeholders = frozenset({1})  # type: ignore[attr-defined]
    return conv_forward


@register_kernel(Conv2dGradWeights)
def conv_grad_weights_kernel(node: Apply, context: KernelContext) -> Callable | None:
    """The direct filter gradient (None where :func:`pays` says perform is faster)."""
    op = node.op
    x_t, gy_t = node.inputs[0].type, node.inputs[1].type
    k, cg, kh, kw = node.outputs[0].type.shape
    geo = _Geometry.of(op, x_t.dtype, (gy_t.dtype,), x_t.shape[1], k, kh, kw, *x_t.shape[2:])
    if geo is None:
        return None
    chunks, parallel = _chunks()
    dt = np.dtype(x_t.dtype)
    a4 = numba_array_type(dt, 4)
    kern = compile_kernel(geo.module(parallel), "conv_grad_weights",
                          (a4, a4, numba_array_type(dt, 2), numba().types.intp),
                          context.report, "conv_grad_weights")
    ph, pw = geo.pad

    def conv_grad_weights(x: np.ndarray, gy: np.ndarray, hw: Any, cols: Any = None) -> np.ndarray:
        # The im2col matrix `cols` is not needed (it may be the forward kernel's placeholder).
        if not geo.matches(x) or (int(hw[0]), int(hw[1])) != (kh, kw) or x.dtype != dt \
                or gy.dtype != dt or gy.shape != (x.shape[0], k, geo.out_h(x.shape[2]), geo.ow):
            return op.perform(node, x, gy, hw, *(() if cols is None else (cols,)))
        gw = np.empty((k, geo.cg, kh, kw), dt)
        kern(_padded(x, ph, pw), np.ascontiguousarray(gy), gw.reshape(k, -1), chunks)
        return np.ascontiguousarray(op._eff_filters(gw)) if op.filter_flip else gw

    conv_grad_weights.nnthe_kernel = "conv_grad_weights"  # type: ignore[attr-defined]
    conv_grad_weights.nnthe_exact = False  # type: ignore[attr-defined]
    return conv_grad_weights
