"""Gradients through scan (back-propagation through time as a reverse scan): verify_grad
in float64 for several step functions, grad of grad, truncate_gradient, Rop."""
import numpy as np

import nnthe
import nnthe.tensor as T
from nnthe.gradient import verify_grad
from nnthe.core.scan import scan

rng = np.random.default_rng(42)


def r(*shape):
    return rng.normal(size=shape) * 0.5


def test_rnn_grad_wrt_sequence_initial_state_and_non_sequence():
    def f(x, h0, W):
        hs, _ = scan(lambda xt, h, W: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=h0,
                     non_sequences=W)
        return hs
    verify_grad(f, [r(5, 3), r(3), r(3, 3)])


def test_grad_with_sequence_and_output_taps():
    def f(s, h0):
        o, _ = scan(lambda a, b, c, h2, h1: T.sin(a * h2) + b * c * h1,
                    sequences=dict(input=s, taps=[-1, 0, 2]),
                    outputs_info=dict(initial=h0, taps=[-2, -1]))
        return o
    verify_grad(f, [r(8), r(2)])


def test_grad_with_gapped_output_taps():
    def f(h0, w):
        o, _ = scan(lambda h3, h1, w: T.tanh(h3 * w + h1), outputs_info=dict(initial=h0, taps=[-3, -1]),
                    non_sequences=w, n_steps=6)
        return o
    verify_grad(f, [r(3, 2), r(2)])


def test_grad_with_several_outputs():
    def f(x, h0, c0):
        def step(xt, h, c):
            c_new = T.tanh(c + xt * h)
            h_new = T.sigmoid(c_new) * h
            return h_new, c_new, (h_new * xt).sum()
        (hs, cs, ys), _ = scan(step, sequences=x, outputs_info=[h0, c0, None])
        return hs.sum() + (cs ** 2).sum() + (ys * 3).sum()
    verify_grad(f, [r(4, 3), r(3), r(3)])


def test_grad_with_go_backwards_and_only_the_last_state():
    def f(x, W):
        hs, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x,
                     outputs_info=T.zeros((3,), dtype='float64'), go_backwards=True)
        return hs[-1]
    verify_grad(f, [r(5, 3), r(3, 3)])


def test_grad_through_a_map_of_matrices():
    def f(x, W):
        ys, _ = scan(lambda xt: T.dot(xt, W) ** 2, sequences=x)
        return ys
    verify_grad(f, [r(4, 2, 3), r(3, 2)])


def test_gradient_values_equal_a_python_bptt():
    x = T.dmatrix('x'); W = T.dmatrix('W'); h0 = T.dvector('h0')
    hs, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=h0)
    cost = hs.sum()
    gx, gW, gh0 = nnthe.grad(cost, [x, W, h0])
    f = nnthe.function([x, W, h0], [gx, gW, gh0])
    xv, Wv, hv = r(6, 3), r(3, 3), r(3)
    hs_v = [hv]
    for t in range(6):
        hs_v.append(np.tanh(hs_v[-1] @ Wv + xv[t]))
    gh = np.zeros(3); gWr = np.zeros((3, 3)); gxr = np.zeros((6, 3))
    for t in reversed(range(6)):
        gh = gh + 1
        dz = gh * (1 - hs_v[t + 1] ** 2)
        gxr[t] = dz; gWr += np.outer(hs_v[t], dz); gh = dz @ Wv.T
    for a, b in zip(f(xv, Wv, hv), [gxr, gWr, gh]):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_truncate_gradient():
    x = T.dmatrix('x'); W = T.dmatrix('W'); h0 = T.dvector('h0')
    hs, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=h0,
                 truncate_gradient=2)
    gx, gh0, gW = nnthe.grad(hs[-1].sum(), [x, h0, W])
    f = nnthe.function([x, W, h0], [gx, gh0, gW])
    xv, Wv, hv = r(5, 3), r(3, 3), r(3)
    gxv, gh0v, gWv = f(xv, Wv, hv)
    assert np.all(gxv[:3] == 0) and np.all(gxv[3:] != 0)
    assert np.all(gh0v == 0)
    # with a truncation longer than the loop, it is the full gradient
    hs2, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=h0,
                  truncate_gradient=10)
    hs3, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=h0)
    a = nnthe.function([x, W, h0], nnthe.grad(hs2[-1].sum(), [x, h0, W]))(xv, Wv, hv)
    b = nnthe.function([x, W, h0], nnthe.grad(hs3[-1].sum(), [x, h0, W]))(xv, Wv, hv)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v)


def test_grad_of_grad_hessian_vector_product():
    x = T.dmatrix('x'); W = T.dmatrix('W'); h0 = T.dvector('h0'); V = T.dmatrix('V')
    hs, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=h0)
    cost = (hs ** 2).sum()
    gW = nnthe.grad(cost, W)
    hv = nnthe.grad((gW * V).sum(), W)
    f_hv = nnthe.function([x, W, h0, V], hv)
    f_g = nnthe.function([x, W, h0], gW)
    xv, Wv, h0v, Vv = r(4, 3), r(3, 3), r(3), r(3, 3)
    eps = 1e-6
    numeric = (f_g(xv, Wv + eps * Vv, h0v) - f_g(xv, Wv - eps * Vv, h0v)) / (2 * eps)
    np.testing.assert_allclose(f_hv(xv, Wv, h0v, Vv), numeric, rtol=1e-5, atol=1e-8)


def test_verify_grad_of_a_gradient_through_scan():
    def f(x, W):
        hs, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x,
                     outputs_info=T.zeros((2,), dtype='float64'))
        return nnthe.grad((hs ** 2).sum(), W)
    verify_grad(f, [r(3, 2), r(2, 2)])


def test_rop_through_scan():
    x = T.dmatrix('x'); W = T.dmatrix('W'); V = T.dmatrix('V')
    hs, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x,
                 outputs_info=T.zeros((3,), dtype='float64'))
    jv = nnthe.gradient.Rop(hs, W, V)
    f = nnthe.function([x, W, V], jv)
    g = nnthe.function([x, W], hs)
    xv, Wv, Vv = r(4, 3), r(3, 3), r(3, 3)
    eps = 1e-6
    numeric = (g(xv, Wv + eps * Vv) - g(xv, Wv - eps * Vv)) / (2 * eps)
    np.testing.assert_allclose(f(xv, Wv, Vv), numeric, rtol=1e-5, atol=1e-8)


def test_integer_sequence_and_disconnected_outputs():
    idx = T.lvector('idx'); E = T.dmatrix('E')
    hs, _ = scan(lambda i, h: h + E[i], sequences=idx, outputs_info=T.zeros((3,), dtype='float64'))
    gE = nnthe.grad(hs[-1].sum(), E)
    out = nnthe.function([idx, E], gE)(np.array([0, 2, 2]), np.zeros((4, 3)))
    np.testing.assert_allclose(out.sum(axis=1), [3, 0, 6, 0])


def test_training_graph_runs_the_forward_loop_once():
    x = T.matrix('x'); W = T.matrix('W')
    hs, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x,
                 outputs_info=T.zeros((3,)), name='fwd')
    cost = hs.sum()
    f = nnthe.function([x, W], [cost, nnthe.grad(cost, W)])
    loops = [n.op.name for n in f.fgraph.toposort() if type(n.op).__name__ == "Scan"]
    assert sorted(loops) == ["fwd", "grad_of_fwd"]
    # the reverse step reads the saved tanh and matrix product instead of recomputing them
    back = next(n for n in f.fgraph.toposort() if getattr(n.op, "name", "") == "grad_of_fwd")
    inner = [type(m.op).__name__ + str(m.op) for m in nnthe.core.graph.toposort(back.op.inner_outputs)]
    assert not any("tanh" in s for s in inner)
    xv, Wv = r(4, 3).astype('float32'), r(3, 3).astype('float32')
    c, g = f(xv, Wv)
    assert np.isclose(c, nnthe.function([x, W], cost)(xv, Wv))


def test_nested_scan_values_and_gradient():
    def f(X, w):
        def outer(row, acc):
            s, _ = scan(lambda e, a: a * w + e, sequences=row,
                        outputs_info=T.constant(0.0, dtype='float64'))
            return acc + s[-1]
        out, _ = scan(outer, sequences=X, outputs_info=T.constant(0.0, dtype='float64'))
        return out
    X, w = T.dmatrix('X'), T.dscalar('w')
    Xv = r(3, 4)
    got = nnthe.function([X, w], f(X, w))(Xv, 0.7)
    ref, acc = [], 0.0
    for row in Xv:
        a = 0.0
        for e in row:
            a = a * 0.7 + e
        acc += a
        ref.append(acc)
    np.testing.assert_allclose(got, ref)
    verify_grad(f, [Xv, np.array(0.7)])
