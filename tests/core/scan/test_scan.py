"""scan: values against Python loops, taps, n_steps, go_backwards, shared variables,
updates, random streams, static shapes and the errors of the builder and of the loop."""
import warnings

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.scan import ScanError, ScanTypeError, foldl, foldr, map as smap, reduce, scan


def test_power_of_a_vector():
    k = T.iscalar('k'); A = T.vector('A')
    result, updates = scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A),
                           non_sequences=A, n_steps=k)
    f = nnthe.function([A, k], result[-1], updates=updates)
    a = np.arange(5, dtype='float32')
    np.testing.assert_allclose(f(a, 3), a ** 3)
    full = nnthe.function([A, k], result)(a, 4)
    assert full.shape == (4, 5)
    np.testing.assert_allclose(full, np.stack([a ** p for p in range(1, 5)]))


def test_sequence_taps_and_output_taps_equal_a_python_loop():
    s = T.vector('s')
    o, _ = scan(lambda a, b, c, h2, h1: a + b * c + 0.5 * h2 - h1, sequences=dict(input=s, taps=[-1, 0, 1]),
                outputs_info=dict(initial=T.constant(np.array([1., 2.], 'float32')), taps=[-2, -1]))
    sv = np.random.default_rng(0).normal(size=7).astype('float32')
    h = [1., 2.]
    for t in range(1, 6):
        h.append(sv[t - 1] + sv[t] * sv[t + 1] + 0.5 * h[-2] - h[-1])
    np.testing.assert_allclose(nnthe.function([s], o)(sv), h[2:], rtol=1e-5)


def test_several_outputs_with_and_without_feedback():
    x = T.matrix('x')
    h0 = T.vector('h0')

    def step(xt, h):
        hn = T.tanh(xt + h)
        return hn, (hn ** 2).sum()

    (hs, sq), _ = scan(step, sequences=x, outputs_info=[h0, None])
    f = nnthe.function([x, h0], [hs, sq])
    rng = np.random.default_rng(1)
    xv, hv = rng.normal(size=(5, 3)).astype('float32'), rng.normal(size=3).astype('float32')
    hs_v, sq_v = f(xv, hv)
    h, ref_h, ref_s = hv, [], []
    for t in range(5):
        h = np.tanh(xv[t] + h)
        ref_h.append(h); ref_s.append((h ** 2).sum())
    np.testing.assert_allclose(hs_v, ref_h, rtol=1e-5)
    np.testing.assert_allclose(sq_v, ref_s, rtol=1e-5)


def test_outputs_info_none_is_a_map_and_map_reduce_folds():
    v = T.vector('v')
    sq, _ = smap(lambda e: e ** 2, v)
    total, _ = reduce(lambda e, acc: acc + e, v, T.constant(np.float32(0)))
    left, _ = foldl(lambda e, acc: acc * 2 + e, v, T.constant(np.float32(0)))
    right, _ = foldr(lambda e, acc: acc * 2 + e, v, T.constant(np.float32(0)))
    f = nnthe.function([v], [sq, total, left, right])
    a = np.array([1, 2, 3], 'float32')
    r = f(a)
    np.testing.assert_allclose(r[0], a ** 2)
    assert float(r[1]) == 6 and float(r[2]) == 11 and float(r[3]) == 17


def test_n_steps_inferred_from_shortest_sequence_and_strict():
    a, b = T.vector('a'), T.vector('b')
    o, _ = scan(lambda x, y: x + y, sequences=[a, b])
    f = nnthe.function([a, b], o)
    np.testing.assert_allclose(f(np.ones(5, 'float32'), np.ones(3, 'float32')), [2, 2, 2])
    o2, _ = scan(lambda x, y: x + y, sequences=[a, b], strict=True, name='pairs')
    g = nnthe.function([a, b], o2)
    with pytest.raises(ScanError, match=r"strict=True but sequence 0 has 5 steps and sequence 1 has 3"):
        g(np.ones(5, 'float32'), np.ones(3, 'float32'))
    n = T.iscalar('n')
    o3, _ = scan(lambda x: x * 2, sequences=a, n_steps=n)
    h = nnthe.function([a, n], o3)
    np.testing.assert_allclose(h(np.ones(5, 'float32'), 2), [2, 2])
    with pytest.raises(ScanError, match="n_steps is 7 but sequence 0 has only 5 steps"):
        h(np.ones(5, 'float32'), 7)


def test_go_backwards():
    a = T.vector('a')
    o, _ = scan(lambda x, acc: acc * 10 + x, sequences=a, outputs_info=T.constant(np.float32(0)),
                go_backwards=True)
    np.testing.assert_allclose(nnthe.function([a], o)(np.array([1, 2, 3], 'float32')), [3, 32, 321])


def test_static_shapes():
    x = T.tensor('float32', shape=(10, 4), name='x')
    h0 = T.tensor('float32', shape=(4,), name='h0')
    hs, _ = scan(lambda xt, h: xt + h, sequences=x, outputs_info=h0)
    assert hs.type.shape == (10, 4)
    ys, _ = scan(lambda xt: xt.sum(), sequences=x)
    assert ys.type.shape == (10,)
    zs, _ = scan(lambda h: h * 2, outputs_info=h0, n_steps=3)
    assert zs.type.shape == (3, 4)
    k = T.iscalar()
    ws, _ = scan(lambda h: h * 2, outputs_info=h0, n_steps=k)
    assert ws.type.shape == (None, 4)


def test_shared_variables_are_found_and_gradients_reach_them():
    W = nnthe.shared(np.eye(3, dtype='float32') * 0.5, name='W')
    x = T.matrix('x')
    hs, _ = scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x,
                 outputs_info=T.zeros((3,)))
    f = nnthe.function([x], hs[-1])
    xv = np.ones((4, 3), 'float32')
    h = np.zeros(3, 'float32')
    for t in range(4):
        h = np.tanh(h @ W.get_value() + xv[t])
    np.testing.assert_allclose(f(xv), h, rtol=1e-5)
    gW = nnthe.grad(hs[-1].sum(), W)
    assert nnthe.function([x], gW)(xv).shape == (3, 3)
    # strict: the shared variable must be listed
    with pytest.raises(ValueError, match="strict=True.*W"):
        scan(lambda xt, h: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=T.zeros((3,)), strict=True)
    scan(lambda xt, h, W: T.tanh(T.dot(h, W) + xt), sequences=x, outputs_info=T.zeros((3,)),
         non_sequences=[W], strict=True)


def test_accumulation_with_updates_returned_by_fn():
    acc = nnthe.shared(np.float32(0), name='acc')
    v = T.vector('v')

    def step(e):
        return {acc: acc + e}

    _, updates = scan(step, sequences=v)
    assert list(updates) == [acc]
    f = nnthe.function([v], [], updates=updates)
    f(np.array([1, 2, 3], 'float32'))
    assert float(acc.get_value()) == 6
    f(np.array([1], 'float32'))
    assert float(acc.get_value()) == 7
    with pytest.warns(UserWarning, match=r"computes new values of \[acc\].*not in updates="):
        nnthe.function([v], updates[acc] * 1)     # the loop runs, its update is forgotten


def test_outer_expression_is_computed_once_outside_the_loop():
    x = T.matrix('x'); W = T.matrix('W')
    proj = T.dot(x, W)            # loop invariant, used inside fn
    hs, _ = scan(lambda h: h + proj.sum(), outputs_info=T.constant(np.float32(0)), n_steps=5)
    node = hs.owner
    inner_ops = {type(n.op).__name__ for n in nnthe.core.graph.toposort(node.op.inner_outputs)}
    assert inner_ops == {"Elemwise"}     # the product and its sum are outer inputs
    assert any(i.owner is not None and i.owner.inputs[0] is proj for i in node.inputs[1:])
    f = nnthe.function([x, W], hs)
    np.testing.assert_allclose(f(np.ones((2, 2), 'float32'), np.ones((2, 2), 'float32')), [8, 16, 24, 32, 40])


def test_random_stream_inside_fn_advances_each_step_and_call():
    srng = nnthe.random.RandomStream(seed=3)
    walk, updates = scan(lambda pos: pos + srng.normal(()), outputs_info=T.constant(np.float32(0)),
                         n_steps=5)
    assert len(updates) == 1
    f = nnthe.function([], walk, updates=updates)
    a, b = f(), f()
    steps = np.diff(np.concatenate([[0], a]))
    assert len(set(np.round(steps, 6))) == 5       # a new draw at every step
    assert not np.allclose(a, b)                   # and on every call
    # forgetting the updates still advances the stream (its default update is the loop's)
    g = nnthe.function([], walk)
    assert not np.allclose(g(), g())
    # the same seed gives the same walk
    srng2 = nnthe.random.RandomStream(seed=3)
    walk2, upd2 = scan(lambda pos: pos + srng2.normal(()), outputs_info=T.constant(np.float32(0)),
                       n_steps=5)
    np.testing.assert_allclose(nnthe.function([], walk2, updates=upd2)(), a)


def test_state_dtype_change_names_the_output_and_line():
    x = T.dvector('x')
    h0 = T.fvector('h0')
    warnings.simplefilter("ignore")   # the float32 + float64 upcast warning
    with pytest.raises(ScanTypeError, match=r"output 0 of the step function .*test_scan.py:\d+.*float64.*float32"):
        scan(lambda xt, h: h + xt, sequences=x, outputs_info=h0)   # float32 + float64 -> float64


def test_state_rank_and_shape_errors():
    x = T.matrix('x')
    with pytest.raises(ScanTypeError, match="dimensions"):
        scan(lambda xt, h: xt.sum() + h.sum(), sequences=x, outputs_info=T.zeros((3,)))
    h0 = T.tensor('float32', shape=(3,))
    with pytest.raises(ValueError, match="keeps its shape"):
        scan(lambda h: T.concatenate([h, h]), outputs_info=h0, n_steps=2)


def test_shape_changing_between_steps_is_caught_at_run_time():
    h0 = T.vector('h0')
    hs, _ = scan(lambda h: T.concatenate([h, h])[:h.shape[0] + 1], outputs_info=h0, n_steps=3,
                 name='grow')
    f = nnthe.function([h0], hs)
    with pytest.raises(ScanError, match=r"scan 'grow'.*step 0.*state 0.*shape \(3,\).*\(2,\)"):
        f(np.ones(2, 'float32'))


def test_a_failing_step_names_the_step_and_node():
    x = T.matrix('x')
    W = T.matrix('W')
    hs, _ = scan(lambda xt: T.dot(xt, W), sequences=x, name='proj')
    f = nnthe.function([x, W], hs)
    with pytest.raises(ValueError, match=r"(?s)step 0 of scan 'proj'"):
        f(np.ones((2, 3), 'float32'), np.ones((4, 2), 'float32'))


def test_builder_errors():
    v = T.vector('v')
    with pytest.raises(ValueError, match="give sequences or n_steps"):
        scan(lambda h: h, outputs_info=v)
    with pytest.raises(TypeError, match="is a scalar"):
        scan(lambda e: e, sequences=T.scalar())
    with pytest.raises(ValueError, match="returned 1 output.*outputs_info has 2"):
        scan(lambda e, h: h + e, sequences=v, outputs_info=[T.constant(np.float32(0)), None])
    with pytest.raises(ValueError, match="taps .* must be negative"):
        scan(lambda e, h: h, sequences=v, outputs_info=dict(initial=v, taps=[0]))
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        scan(lambda h: h, outputs_info=v, n_steps=T.scalar())
    with pytest.raises(ValueError, match="truncate_gradient"):
        scan(lambda e: e, sequences=v, truncate_gradient=0)


def test_zero_steps():
    h0 = T.vector('h0'); n = T.iscalar('n')
    hs, _ = scan(lambda h: h * 2, outputs_info=h0, n_steps=n)
    out = nnthe.function([h0, n], hs)(np.ones(3, 'float32'), 0)
    assert out.shape == (0, 3)


def test_weak_initial_value_takes_the_output_dtype():
    v = T.dvector('v')
    total, _ = reduce(lambda e, acc: acc + e, v, 0.0)
    assert total.type.dtype == 'float64'
    assert float(nnthe.function([v], total)(np.array([0.5, 0.25]))) == 0.75


def test_return_list_and_updates_type():
    v = T.vector('v')
    outs, updates = scan(lambda e: e * 2, sequences=v, return_list=True)
    assert isinstance(outs, list) and len(outs) == 1
    assert len(updates) == 0


def test_theano_style_names():
    from nnthe.scan import scan as scan2
    v = T.vector('v')
    o1, _ = nnthe.scan(lambda e: e + 1, sequences=v)
    o2, _ = scan2(lambda e: e + 1, sequences=v)
    s, _ = nnthe.reduce(lambda e, a: a + e, v, 0.)
    f = nnthe.function([v], [o1, o2, s])
    r = f(np.array([1, 2], 'float32'))
    np.testing.assert_allclose(r[0], [2, 3]); np.testing.assert_allclose(r[1], [2, 3])
    assert float(r[2]) == 3
