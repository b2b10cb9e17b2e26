"""The gradient of a Scan: back-propagation through time as another Scan, in reverse.

For a state with lag ``L`` (``L = -min(taps)``), the reverse loop carries a window of
the ``L`` most recent gradient contributions, ``W`` (shape ``(L, ...)``): at forward
step ``t`` (visited in reverse), the total gradient of the state written at step ``t``
is its output gradient plus the contributions of the later steps that read it
(``W[-1]``); the step's vector-Jacobian product (the inner graph differentiated
symbolically, recomputing the forward step from its inputs) then gives the gradients
of the values read at ``t + tap``, which are added to the shifted window. After step 0,
``W`` is the gradient of the initial value. Gradients of the non-sequences are summed in
accumulators whose history is never stored (``last_only``), and gradients of the
sequences are per-step outputs.

The reverse loop is itself a Scan, so its gradient (a Hessian-vector product through a
loop) is a third one. A forward node whose states are ``last_only`` does not have the
histories the reverse loop reads; they are recomputed by the same loop with the
histories kept.
"""
from __future__ import annotations

from typing import Any

from ..graph import Constant, Variable, clone_graph, toposort
from ..gradient import grad
from ..ops.alloc import zeros_like
from ..ops.elemwise import cast, le, minimum
from ..ops.join import concatenate, stack
from ..ops.linalg import dot
from ..ops.shape import reshape
from ..ops.subtensor import set_subtensor
from ..types import TensorType, disconnected_type, is_disconnected, is_float_dtype
from ..variable import TensorVariable


def _is_float(v: Variable) -> bool:
    return isinstance(v.type, TensorType) and is_float_dtype(v.type.dtype)


def _placeholder(t: TensorType, name: str) -> TensorVariable:
    return TensorVariable(t, name=name)


def _item_type(v: Variable) -> TensorType:
    return TensorType(v.type.dtype, tuple(v.type.shape[1:]))


def _pad_front(full_like: Variable, part: Variable, start: Any, stop: Any) -> Variable:
    """``zeros_like(full_like)`` with ``part`` written at rows ``start:stop`` (skipped when
    the static shapes say ``part`` already covers ``full_like``)."""
    a, b = full_like.type.shape[0], part.type.shape[0]
    if a is not None and a == b and isinstance(start, int) and start == 0:
        return part
    return set_subtensor(zeros_like(full_like)[start:stop], part)


#: Elementwise ops whose pullback reads their output: worth saving rather than recomputing.
_SAVED_ELEMWISE = {"sigmoid", "tanh", "exp"}


def _saved_intermediates(op: Any) -> list:
    """The step's matrix products and sigmoid/tanh/exp outputs that depend on the step's
    inputs (loop invariants were moved out by the builder)."""
    varying = {id(v) for v in op.inner_inputs}
    outputs = {id(o) for o in op.inner_outputs}
    out = []
    for node in toposort(op.inner_outputs, blockers=op.inner_inputs):
        if not any(id(i) in varying for i in node.inputs):
            continue
        for o in node.outputs:
            varying.add(id(o))
        if _worth_saving(node) and id(node.outputs[0]) not in outputs:
            out.append(node.outputs[0])
    return out


def _worth_saving(node: Any) -> bool:
    return len(node.outputs) == 1 and (type(node.op).__name__ == "Dot"
                                       or str(node.op) in _SAVED_ELEMWISE)


def _outer_terms(g: Variable) -> tuple | None:
    """``(a, b)`` when ``g`` is ``dot(a.T, b)`` of two matrices, else None."""
    node = g.owner
    if node is None or type(node.op).__name__ != "Dot" or g.type.ndim != 2:
        return None
    at, b = node.inputs
    t = at.owner
    if t is None or type(t.op).__name__ != "DimShuffle" or tuple(t.op.pattern) != (1, 0) \
            or b.type.ndim != 2:
        return None
    return t.inputs[0], b


def scan_L_op(op: Any, node: Any, inputs: list, outputs: list, output_grads: list) -> list:
    """The pullback of a Scan node (``op`` is the Scan op of ``node``)."""
    Scan = type(op)
    S, M, Q, N = op.n_seqs, op.n_states, op.n_nit, op.n_nonseqs
    n_req, seqs, inits, nonseqs = op.split_outer(inputs)
    lags = op.lags()

    # The forward loop again, keeping every state's history and the step's expensive
    # intermediates (matrix products, sigmoid/tanh/exp, whose pullbacks read their
    # outputs), so the reverse loop reads them instead of recomputing them. At compile
    # time, the rewrite in scan/rewrite.py makes this loop replace the original one,
    # so the forward work is done once.
    saved = _saved_intermediates(op)
    ext = Scan.clone_with(op, inner_outputs=op.inner_outputs + saved, n_nit=Q + len(saved),
                          last_only=(False,) * M)
    ext.extends = op
    full = ext(*inputs)
    full = list(full) if isinstance(full, (list, tuple)) else [full]
    hists, nit_outs, saved_hist = list(full[:M]), list(full[M:M + Q]), list(full[M + Q:])
    ref = (hists + nit_outs)[0] if (hists or nit_outs) else None
    if ref is None:
        return [disconnected_type() for _ in inputs]
    n = ref.shape[0]

    # Output gradients, as full histories (zeros where disconnected).
    g_hist = []
    for m in range(M):
        g = output_grads[m]
        if not _is_float(hists[m]):
            g_hist.append(None)
            continue
        if g is None or is_disconnected(g):
            g_hist.append(zeros_like(hists[m]))
        elif op.last_only[m]:
            g_hist.append(set_subtensor(zeros_like(hists[m])[-1:], g))
        else:
            g_hist.append(g)
    g_nit = []
    for q in range(Q):
        g = output_grads[M + q]
        if not _is_float(nit_outs[q]) or g is None or is_disconnected(g):
            g_nit.append(None)
        else:
            g_nit.append(g)

    # The reverse loop's sequences (all reversed): forward sequence items, the values of
    # every state tap at each step, the output gradients.
    i_seqs, i_taps, i_nons = op.inner_groups()
    rev = lambda x: x[:n][::-1]  # noqa: E731
    r_seq_outer, r_seq_inner = [], []
    for k, s in enumerate(seqs):
        r_seq_outer.append(rev(s))
        r_seq_inner.append(_placeholder(i_seqs[k].type, f"{i_seqs[k].name or 'x'}"))
    tap_inner: list[list] = []
    for m in range(M):
        L = lags[m]
        whole = concatenate([inits[m][:L], hists[m]], axis=0)
        row = []
        for tap, v in zip(op.state_taps[m], i_taps[m]):
            r_seq_outer.append(whole[L + tap:L + tap + n][::-1])
            ph = _placeholder(v.type, f"{v.name or 'h'}")
            r_seq_inner.append(ph)
            row.append(ph)
        tap_inner.append(row)
    def reversed_grads(grads: list, outs: list, label: str) -> list:
        """Feed each present output gradient to the reverse loop as a reversed sequence;
        its per-step placeholder (None where there is no gradient)."""
        inner: list = []
        for k, (g, out) in enumerate(zip(grads, outs)):
            if g is None:
                inner.append(None)
                continue
            r_seq_outer.append(rev(g))
            ph = _placeholder(_item_type(out), f"{label}{k}")
            r_seq_inner.append(ph)
            inner.append(ph)
        return inner

    g_hist_inner = reversed_grads(g_hist, hists, "g_state")
    g_nit_inner = reversed_grads(g_nit, nit_outs, "g_out")
    non_inner = [_placeholder(v.type, v.name or f"ns{k}") for k, v in enumerate(i_nons)]

    # The forward step on the reverse loop's placeholders.
    replace = dict(zip(i_seqs, r_seq_inner[:S]))
    for m in range(M):
        replace.update(zip(i_taps[m], tap_inner[m]))
    replace.update(zip(i_nons, non_inner))
    step_outs, memo = clone_graph(op.inner_outputs, replace)
    saved_inner = {}
    for v, h in zip(saved, saved_hist):
        r_seq_outer.append(rev(h))
        ph = _placeholder(v.type, f"saved_{v.name or 'v'}")
        r_seq_inner.append(ph)
        saved_inner[memo[v]] = ph
    # The step's outputs are saved already, as the loop's outputs.
    for v, h in zip(op.inner_outputs, hists + nit_outs):
        if v.owner is not None and _worth_saving(v.owner) and memo.get(v) not in saved_inner:
            r_seq_outer.append(rev(h))
            ph = _placeholder(v.type, f"saved_{v.name or 'out'}")
            r_seq_inner.append(ph)
            saved_inner[memo[v]] = ph

    # Carried windows (one per float state) and non-sequence accumulators.
    w_inner, w_init = [], []
    float_states = [m for m in range(M) if g_hist[m] is not None]
    for m in float_states:
        t = TensorType(hists[m].type.dtype, (lags[m],) + tuple(hists[m].type.shape[1:]))
        ph = _placeholder(t, f"W{m}")
        w_inner.append(ph)
        w_init.append(zeros_like(inits[m][:lags[m]])[None])
    float_nons = [k for k in range(N) if _is_float(nonseqs[k])]
    acc_inner = [_placeholder(non_inner[k].type, f"acc{k}") for k in float_nons]
    acc_init = [zeros_like(nonseqs[k])[None] for k in float_nons]

    known: dict = {}

    def seed(v: Variable, g: Variable) -> None:
        if isinstance(v, Constant):
            return
        known[v] = known[v] + g if v in known else g

    for j, m in enumerate(float_states):
        total = g_hist_inner[m] + w_inner[j][-1]
        seed(step_outs[m], cast(total, step_outs[m].type.dtype))
    for q in range(Q):
        if g_nit_inner[q] is not None:
            seed(step_outs[M + q], g_nit_inner[q])

    float_seq_idx = [k for k in range(S) if _is_float(seqs[k])]
    wrt = [r_seq_inner[k] for k in float_seq_idx]
    for m in float_states:
        wrt += tap_inner[m]
    wrt += [non_inner[k] for k in float_nons]
    if known and wrt:
        d = grad(None, wrt, known_grads=known, disconnected_inputs="ignore")
    else:
        d = [zeros_like(w) for w in wrt]
    d_seq = d[:len(float_seq_idx)]
    pos = len(float_seq_idx)
    new_w = []
    for j, m in enumerate(float_states):
        L = lags[m]
        d_taps = d[pos:pos + len(op.state_taps[m])]
        pos += len(op.state_taps[m])
        prev = w_inner[j]
        rows = []
        for r in range(L):
            val = prev[r - 1] if r >= 1 else None
            for tap, dt in zip(op.state_taps[m], d_taps):
                if L + tap == r:
                    val = dt if val is None else val + dt
            rows.append(zeros_like(prev[0]) if val is None else cast(val, prev.type.dtype))
        new_w.append(stack(rows) if L > 1 else rows[0][None])
    d_non = d[pos:]
    # A non-sequence's gradient that is one matrix product per step, dot(a.T, b) (the
    # recurrent weights of an RNN), is summed outside the loop as one product of the
    # stacked a's and b's: the loop stores a and b instead of accumulating.
    pushed = {j: _outer_terms(g) for j, g in enumerate(d_non)}
    pushed = {j: ab for j, ab in pushed.items() if ab is not None}
    kept = [j for j in range(len(d_non)) if j not in pushed]
    acc_inner = [acc_inner[j] for j in kept]
    acc_init = [acc_init[j] for j in kept]
    new_acc = [a + cast(d_non[j], a.type.dtype) for a, j in zip(acc_inner, kept)]
    pushed_outs = [v for j in sorted(pushed) for v in pushed[j]]

    r_inner_inputs = r_seq_inner + w_inner + acc_inner + non_inner
    r_inner_outputs = new_w + new_acc + [cast(g, r_seq_inner[k].type.dtype) for k, g in zip(float_seq_idx, d_seq)] \
        + pushed_outs
    if saved_inner:
        # The recomputed intermediates become the saved values: their nodes drop out.
        r_inner_outputs, _ = clone_graph(r_inner_outputs, saved_inner)
    n_carried = len(new_w) + len(new_acc)
    trunc = op.truncate_gradient
    n_back = n if trunc < 0 else minimum(n, trunc)
    r_op = Scan(r_inner_inputs, r_inner_outputs, n_seqs=len(r_seq_inner),
                state_taps=[(-1,)] * n_carried, n_nit=len(float_seq_idx) + len(pushed_outs),
                last_only=(True,) * n_carried, truncate_gradient=-1, mode=op.mode,
                name=f"grad_of_{op.name}", site=op.site)
    r_outs = r_op(cast(n_back, "int64"), *(r_seq_outer + w_init + acc_init + nonseqs))
    r_outs = list(r_outs) if isinstance(r_outs, (list, tuple)) else [r_outs]

    result: list = [disconnected_type()]  # n_steps
    seq_grads = dict(zip(float_seq_idx, r_outs[n_carried:n_carried + len(float_seq_idx)]))
    stacked = r_outs[n_carried + len(float_seq_idx):]
    for k, s in enumerate(seqs):
        if k not in seq_grads:
            result.append(disconnected_type())
            continue
        g = seq_grads[k][::-1]
        if trunc < 0:
            result.append(_pad_front(s, g, 0, n))
        else:
            result.append(set_subtensor(zeros_like(s)[n - n_back:n], g))
    w_final = dict(zip(float_states, r_outs[:len(new_w)]))
    for m in range(M):
        if m not in w_final:
            result.append(disconnected_type())
            continue
        g = w_final[m][0]
        if trunc >= 0:
            g = g * cast(le(n, trunc), g.type.dtype)
        L = lags[m]
        result.append(_pad_front(inits[m], g, 0, L))
    acc_final = {float_nons[j]: r[0] for j, r in zip(kept, r_outs[len(new_w):n_carried])}
    for q, j in enumerate(sorted(pushed)):
        a_all, b_all = stacked[2 * q], stacked[2 * q + 1]
        a2 = reshape(a_all, (-1, a_all.type.shape[2] if a_all.type.shape[2] is not None else a_all.shape[2]))
        b2 = reshape(b_all, (-1, b_all.type.shape[2] if b_all.type.shape[2] is not None else b_all.shape[2]))
        g = dot(a2.T, b2)
        target = nonseqs[float_nons[j]]
        acc_final[float_nons[j]] = cast(g, target.type.dtype) if g.type.dtype != target.type.dtype else g
    for k in range(N):
        result.append(acc_final[k] if k in acc_final else disconnected_type())
    return result
