"""Rewrites of max pooling's gradient that do the work at the pooled size.

The gradient of ``relu`` followed by max pooling is ``gt(r, 0) * MaxPoolGrad(r, gz)``:
a full-resolution mask over a gradient that is zero except at each window's maximum.
:func:`local_pool_mask` moves the mask inside, onto the pooled output gradient, where it
reads the forward pool's output instead of ``r`` (4x fewer elements for a 2x2 window).
Measured on the MNIST CNN's training step (batch 128, one thread, load ~1.7, medians of
interleaved runs): the first layer's mask 1.03 -> 0.17 ms with numba kernels and
1.6 -> 0.32 ms with NumPy; the step 37.3 -> 36.8 ms and 47.4 -> 46.2 ms.

The bias gradient of a convolution followed by a pool is then
``sum(MaxPoolGrad(r, gz'), axis=(0, 2, 3))``; :func:`local_sum_pool_grad` sums ``gz'``
instead, as every window routes its gradient to one element of ``r``. Measured on the
same step (numba kernels, load ~1.6, profiles of interleaved runs): the two bias sums
0.50 -> 0.21 ms and 0.15 -> 0.12 ms; the step, in one process alternating with and
without the rewrite, 0.985-0.998x.

Last, :func:`pool_argmax` makes the forward pool keep each window's argmax
(:class:`~nnthe.core.nnet.pool_argmax.MaxPoolArgmax`) so that the gradient reads it
(one byte per window) instead of recomputing it from ``x``. Measured (numba kernels,
load ~2, one process alternating): the first pool's forward + gradient 2.28 -> 1.59 ms
(0.36 + 1.91 -> 0.48 + 1.12), the second's 0.43 -> 0.35 ms; the MNIST CNN step, median
paired ratio 0.93-0.95 with numba and 0.94 with NumPy.
"""
from __future__ import annotations

from typing import Any

from ..graph import Apply, Variable
from ..nnet.pool import MaxPoolGrad, Pool, _last2, pool_output_shape
from ..nnet.pool_argmax import MAX_WINDOW, MaxPoolArgmax, MaxPoolGradFromArgmax
from ..ops.elemwise import Cast, Elemwise
from ..ops.reduce import CAReduce
from .patterns import node_name
from .registry import register

#: Nodes of a mask expression the rewrite rebuilds at most: masks are a comparison or
#: two, and the bound keeps the rewrite constant-time per node.
MAX_MASK_NODES = 16


def _constant_over_windows(v: Variable, x: Variable) -> bool:
    """True if ``v`` broadcasts against ``x`` without varying over the two pooled axes
    (a scalar, a per-channel threshold) and without enlarging ``x``'s shape."""
    nd, vd = x.type.ndim, v.type.ndim
    if vd > nd:
        return False
    for k, size in enumerate(v.type.shape):
        d = k + nd - vd
        if size != 1 and (d >= nd - 2 or size is None or size != x.type.shape[d]):
            return False
    return True


def _rebuilt_at(m: Variable, x: Variable, px: Variable) -> Variable | None:
    """``m`` computed with ``px`` in place of ``x``, or None if ``m`` is not an
    elementwise function of ``x`` and of inputs constant over the pooled axes."""
    memo: dict[Variable, Variable] = {x: px}
    stack, visits = [m], 0
    while stack:
        v = stack[-1]
        if v in memo:
            stack.pop()
            continue
        if _constant_over_windows(v, x):
            memo[v] = v
            stack.pop()
            continue
        owner = v.owner
        if owner is None or not isinstance(owner.op, (Elemwise, Cast)) or len(owner.outputs) != 1:
            return None
        pending = [i for i in owner.inputs if i not in memo]
        if pending:
            visits += 1
            if visits > MAX_MASK_NODES:
                return None
            stack.extend(pending)
            continue
        memo[v] = owner.op(*[memo[i] for i in owner.inputs])
        stack.pop()
    return memo[m]


def _forward_pool(fgraph: Any, x: Variable, op: MaxPoolGrad) -> Variable | None:
    """The output of a max Pool of ``x`` with ``op``'s window, stride and padding."""
    for reader, _ in fgraph.readers_of(x):
        if isinstance(getattr(reader, "op", None), Pool) and reader.op._kwargs() == op._kwargs():
            return reader.outputs[0]
    return None


@register("specialize", "specialize", "pool_mask", tracks=(Elemwise,))
def local_pool_mask(fgraph: Any, node: Apply):
    """``f(x) * MaxPoolGrad(x, gz)`` -> ``MaxPoolGrad(x, gz * f(pool(x)))`` for a boolean
    elementwise ``f`` of the pool's input ``x`` (and of inputs that do not vary over the
    pooled axes), when the forward ``pool(x)`` is in the graph.

    Why it is valid: ``MaxPoolGrad(x, gz)`` routes each window's ``gz`` to the window's
    argmax, where ``x`` equals the pooled value, and writes ``gz * 0`` everywhere else.
    With ``f`` in {0, 1} both sides compute the same products of the same ``gz`` values,
    so the results are bitwise equal, NaN and inf in ``gz`` included (``inf * 0`` is the
    same NaN on both sides, at the same positions). Padding and ``ignore_border=False``
    only add ``-inf`` elements; a window whose argmax falls on them (it holds nothing
    but ``-inf``) drops its gradient on both sides. Overlapping windows
    (stride < window) sum several ``gz`` at one position; all those windows pool to that
    position's ``x``, so ``f`` is the same for each and ``f * sum == sum of f * gz`` in
    the same order, except that where ``f`` is 0, ``0 * (a negative sum)`` is -0.0
    against the rewritten +0.0, and ``0 * (a sum that overflowed to inf)`` is NaN
    against 0.

    When it is not: where ``x`` at the argmax differs from the pooled value, which
    happens for a window holding a NaN after its first element (the pool returns the
    NaN, the gradient's argmax, a first strict maximum, skips it: the rewritten mask is
    ``f(NaN)`` there) and for a tie of -0.0 and +0.0 (the pool returns the later, the
    argmax is the first; only an ``f`` that tells them apart, such as ``1 / x > 0``,
    differs). A float ``f`` is not rewritten: where it is inf or NaN at a position that
    gets no gradient, ``f * 0`` is NaN and the rewritten graph has 0, and values other
    than 0 and 1 round differently in a sum of overlapping windows. Average pooling is
    never rewritten: its gradient reaches every element of a window, each with its own
    ``f(x)``. Without a forward pool of ``x`` in the graph (a function that returns only
    the gradient) nothing changes rather than adding a pool.
    """
    if node_name(node) != "mul":
        return None
    for k, g in enumerate(node.inputs):
        grad = g.owner
        if grad is not None and isinstance(grad.op, MaxPoolGrad) and grad.op.mode == "max":
            break
    else:
        return None
    m = node.inputs[1 - k]
    x, gz = grad.inputs
    out = node.outputs[0]
    if (m.type.dtype != "bool" or out.type.dtype != x.type.dtype or out.type.ndim != x.type.ndim
            or not fgraph.only_reader(g, node)):
        return None  # another reader of g would keep the full-size gradient alive
    px = _forward_pool(fgraph, x, grad.op)
    pm = None if px is None else _rebuilt_at(m, x, px)
    if pm is None:
        return None
    gy = node.op(*((gz, pm) if k == 0 else (pm, gz)))
    if gy.type.dtype != x.type.dtype:
        return None
    return [grad.op(x, gy)]


def _windows_reach_x(op: MaxPoolGrad, shape: tuple) -> bool:
    """True if every window of ``op`` over an input of static ``shape`` holds an element
    of the input, not only padding. Windows start inside the input unless there is
    padding, and with ``ignore_border`` they also end past the leading padding (which is
    narrower than the window), so only ``ignore_border=False`` with padding needs the
    sizes: its last window can start past the input."""
    if op.ignore_border or op.pad == (0, 0):
        return True
    h, w = shape[-2:]
    if h is None or w is None:
        return False
    oh, ow = pool_output_shape((h, w), op.ws, False, op.stride, op.pad)
    return ((oh - 1) * op.stride[0] < op.pad[0] + h and (ow - 1) * op.stride[1] < op.pad[1] + w)


@register("specialize", "specialize", "pool_grad_sum", tracks=(CAReduce,))
def local_sum_pool_grad(fgraph: Any, node: Apply):
    """``sum(MaxPoolGrad(x, gz), axes)`` -> ``sum(gz, axes)`` when ``axes`` include both
    pooled (last two) axes: the same reduction (keepdims, dtype) over 4x fewer elements
    for a 2x2 window. In a CNN it is the bias gradient of a convolution followed by a
    max pool; the full-size gradient stays only if something else (the weight
    gradient) reads it.

    Why it is valid: ``MaxPoolGrad`` writes each window's ``gz * 1`` at the window's
    argmax (its first strict maximum, starting from its first element) and ``gz * 0``
    at its other elements, adds where windows overlap (stride < window), and writes 0
    where no window reaches (stride > window, rows dropped by ``ignore_border``). Summed
    over the pooled axes, every window's ``gz`` is counted once if its argmax is an
    element of ``x``, which is the sum of ``gz`` up to rounding: the additions are made
    in another order (a partial sum near the dtype's largest value can overflow in one
    order only; a zero total can differ in its sign).

    Without padding the argmax is always in ``x``, whatever ``x`` holds: every window
    starts inside the input, and the ``-inf`` elements a partial window
    (``ignore_border=False``) reads past the border never exceed its first element. A
    window of NaN, of ``-inf`` or of ties routes ``gz`` to its first element, so NaN in
    ``x`` changes nothing. That is the CNN's case (2x2, stride 2, no padding).

    When it is not: with padding, a window that starts in the top or left padding
    keeps its argmax there when its elements of ``x``, in row-major order, are ``-inf``
    up to its first NaN or throughout (``NaN > -inf`` is false, and after a NaN no
    element is greater): ``MaxPoolGrad`` drops that window's ``gz`` and the rewritten sum
    counts it. Such a window pools to ``-inf`` or NaN, so the loss is not finite there
    either way. ``ignore_border=False`` with padding can also make windows of padding
    alone (an axis of size 1, pad 1, window 2, stride 2), which drop ``gz`` for any
    ``x``: rewritten only when ``x``'s static spatial sizes show there are none.
    Second, an infinite ``gz`` (windows of more than one element): ``MaxPoolGrad``
    writes ``inf * 0``, a NaN, at the window's other elements, so the unrewritten sum
    is NaN where the rewritten one is ``±inf``; a NaN ``gz`` is NaN on both sides.
    Average pooling (and a ``MaxPoolGrad`` built with an average mode), sums over fewer
    axes and other reductions are not rewritten.
    """
    op = node.op
    if op.kind != "sum":
        return None
    grad = node.inputs[0].owner
    if grad is None or not isinstance(grad.op, MaxPoolGrad) or grad.op.mode != "max":
        return None
    x, gz = grad.inputs
    nd = x.type.ndim
    if not {nd - 2, nd - 1} <= set(op.axes) or not _windows_reach_x(grad.op, x.type.shape):
        return None
    return [op(gz)]


@register("merge_after", "specialize", "pool_argmax", is_global=True)
def pool_argmax(fgraph: Any) -> int:
    """``Pool(x)`` and ``MaxPoolGrad(x, gz)`` of the same max geometry ->
    ``(y, a) = MaxPoolArgmax(x)`` and ``MaxPoolGradFromArgmax(a, gz, x's spatial shape)``.

    Why: the gradient then reads the argmax (one ``uint8`` per window) and ``gz`` instead
    of ``x`` and ``gz``, and the forward pass writes the argmax besides the pooled
    values, from the same reads of ``x``. For the MNIST CNN's first pool (2x2 over
    128x32x24x24 float32) the gradient reads 3.0 instead of 11.8 MB and the forward pass
    writes 3.0 instead of 2.4 MB; with NumPy the gradient's argmax passes move into the
    forward pass and replace the pool's own. ``x`` is no longer needed by the backward
    pass (after :func:`local_pool_mask` nothing else there reads it), so it can be freed
    after the forward pass.

    Why it is valid: bitwise the same results (see :mod:`nnthe.core.nnet.pool_argmax`),
    for every max geometry, NaN and inf included.

    When it is not applied: without a forward pool of ``x`` with the same geometry in the
    graph (a function returning only the gradient: adding the pool would cost more than
    it saves), average modes, and windows of more than 256 elements (their offsets do not
    fit a ``uint8``). Every ``MaxPoolGrad`` of the same ``x`` and geometry shares the one
    argmax. It runs after the specialize phase, so that :func:`local_pool_mask` and
    :func:`local_sum_pool_grad`, which match ``MaxPoolGrad``, have already applied, and
    after the merge, so that duplicate pools are one node.
    """
    changes = 0
    argmax: dict = {}
    for node in fgraph.toposort():
        op = node.op
        if (node not in fgraph.nodes or type(op) is not MaxPoolGrad or op.mode != "max"
                or op.ws[0] * op.ws[1] > MAX_WINDOW):
            continue
        x, gz = node.inputs
        key = (x, tuple(sorted(op._kwargs().items())))
        a = argmax.get(key)
        if a is None:
            px = _forward_pool(fgraph, x, op)
            if px is None:
                continue
            y, a = MaxPoolArgmax(**op._kwargs())(x)
            fgraph.replace(px, y, reason="pool_argmax")
            argmax[key] = a
        gx = MaxPoolGradFromArgmax(**op._kwargs())(a, gz, _last2(x))
        fgraph.replace(node.outputs[0], gx, reason="pool_argmax")
        changes += 1
    return changes
