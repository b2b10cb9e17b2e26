"""Theano's "Loop" tutorial (scan), run with only the import lines changed
(``import nnthe as theano; import nnthe.tensor as T``), each checked against NumPy.

Departures from the tutorial text are marked ``# CHANGED:`` with the reason.
"""
import numpy as np

import nnthe as theano
import nnthe.tensor as T
from nnthe.random import RandomStream as RandomStreams  # CHANGED: nnthe's random streams


def test_power_of_a_vector():
    k = T.iscalar("k")
    A = T.vector("A")
    result, updates = theano.scan(fn=lambda prior_result, A: prior_result * A,
                                  outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
    final_result = result[-1]
    power = theano.function(inputs=[A, k], outputs=final_result, updates=updates)
    np.testing.assert_allclose(power(range(10), 2), np.arange(10) ** 2)


def test_polynomial_from_coefficients():
    coefficients = T.vector("coefficients")
    x = T.scalar("x")
    max_coefficients_supported = 10000
    components, updates = theano.scan(
        fn=lambda coefficient, power, free_variable: coefficient * (free_variable ** power),
        outputs_info=None,
        sequences=[coefficients, T.arange(max_coefficients_supported)],
        non_sequences=x)
    polynomial = components.sum()
    calculate_polynomial = theano.function(inputs=[coefficients, x], outputs=polynomial)
    test_coefficients = np.asarray([1, 0, 2], dtype=np.float32)
    test_value = 3
    assert calculate_polynomial(test_coefficients, test_value) == 19.0


def test_simple_accumulation_into_a_scalar():
    up_to = T.iscalar("up_to")

    def accumulate_by_adding(arange_val, sum_to_date):
        return sum_to_date + arange_val
    seq = T.arange(up_to)
    outputs_info = T.as_tensor_variable(np.asarray(0, seq.dtype))
    scan_result, scan_updates = theano.scan(fn=accumulate_by_adding, outputs_info=outputs_info,
                                            sequences=seq)
    triangular_sequence = theano.function(inputs=[up_to], outputs=scan_result)
    some_num = 15
    np.testing.assert_array_equal(triangular_sequence(some_num),
                                  [n * (n + 1) // 2 for n in range(some_num)])


def test_elementwise_tanh_and_recurrence_with_three_sequences():
    X = T.matrix("X"); W = T.matrix("W"); b_sym = T.vector("b_sym")
    results, updates = theano.scan(lambda v: T.tanh(T.dot(v, W) + b_sym), sequences=X)
    compute_elementwise = theano.function(inputs=[X, W, b_sym], outputs=results)
    x = np.eye(2, dtype="float32"); w = np.ones((2, 2), dtype="float32")
    b = np.ones((2), dtype="float32"); b[1] = 2
    np.testing.assert_allclose(compute_elementwise(x, w, b), np.tanh(x.dot(w) + b), rtol=1e-6)

    X = T.vector("X"); W = T.matrix("W"); b_sym = T.vector("b_sym")
    U, Y, V, P = T.matrices("U", "Y", "V", "P")
    results, updates = theano.scan(lambda y, p, x_tm1: T.tanh(T.dot(x_tm1, W) + T.dot(y, U) + T.dot(p, V)),
                                   sequences=[Y, P[::-1]], outputs_info=[X])
    compute_seq = theano.function(inputs=[X, W, Y, U, P, V], outputs=results)
    x = np.zeros((2), dtype="float32"); x[1] = 1
    w = np.ones((2, 2), dtype="float32")
    y = np.ones((5, 2), dtype="float32"); y[0, :] = -3
    u = np.ones((2, 2), dtype="float32")
    p = np.ones((5, 2), dtype="float32"); p[0, :] = 3
    v = np.ones((2, 2), dtype="float32")
    x_res = np.zeros((5, 2), dtype="float32")
    x_res[0] = np.tanh(x.dot(w) + y[0].dot(u) + p[4].dot(v))
    for i in range(1, 5):
        x_res[i] = np.tanh(x_res[i - 1].dot(w) + y[i].dot(u) + p[4 - i].dot(v))
    np.testing.assert_allclose(compute_seq(x, w, y, u, p, v), x_res, rtol=1e-5)


def test_norms_and_trace():
    X = T.matrix("X")
    results, updates = theano.scan(lambda x_i: T.sqrt((x_i ** 2).sum()), sequences=[X])
    compute_norm_lines = theano.function(inputs=[X], outputs=results)
    x = np.diag(np.arange(1, 6, dtype="float32"), 1)
    np.testing.assert_allclose(compute_norm_lines(x), np.sqrt((x ** 2).sum(1)))
    results, updates = theano.scan(lambda x_i: T.sqrt((x_i ** 2).sum()), sequences=[X.T])
    np.testing.assert_allclose(theano.function(inputs=[X], outputs=results)(x), np.sqrt((x ** 2).sum(0)))

    floatX = "float32"
    X = T.matrix("X")
    results, updates = theano.scan(lambda i, j, t_f: T.cast(X[i, j] + t_f, floatX),
                                   sequences=[T.arange(X.shape[0]), T.arange(X.shape[1])],
                                   outputs_info=np.asarray(0., dtype=floatX))
    result = results[-1]
    compute_trace = theano.function(inputs=[X], outputs=result)
    x = np.eye(5, dtype="float32"); x[0] = np.arange(5, dtype="float32")
    assert compute_trace(x) == np.diagonal(x).sum()


def test_recurrence_with_taps_minus_two_and_minus_one():
    X = T.matrix("X"); W = T.matrix("W"); b_sym = T.vector("b_sym")
    U, V, n_sym = T.matrix("U"), T.matrix("V"), T.iscalar("n_sym")
    results, updates = theano.scan(
        lambda x_tm2, x_tm1: T.dot(x_tm2, U) + T.dot(x_tm1, V) + T.tanh(T.dot(x_tm1, W) + b_sym),
        n_steps=n_sym, outputs_info=[dict(initial=X, taps=[-2, -1])])
    compute_seq2 = theano.function(inputs=[X, U, V, W, b_sym, n_sym], outputs=results)
    x = np.zeros((2, 2), dtype="float32"); x[1, 1] = 1
    w = 0.5 * np.ones((2, 2), dtype="float32"); u = 0.5 * (np.ones((2, 2), dtype="float32") - np.eye(2, dtype="float32"))
    v = 0.5 * np.ones((2, 2), dtype="float32"); n = 10
    b = np.ones((2), dtype="float32")
    x_res = np.zeros((10, 2))
    x_res[0] = x[0].dot(u) + x[1].dot(v) + np.tanh(x[1].dot(w) + b)
    x_res[1] = x[1].dot(u) + x_res[0].dot(v) + np.tanh(x_res[0].dot(w) + b)
    x_res[2] = x_res[0].dot(u) + x_res[1].dot(v) + np.tanh(x_res[1].dot(w) + b)
    for i in range(2, 10):
        x_res[i] = (x_res[i - 2].dot(u) + x_res[i - 1].dot(v) + np.tanh(x_res[i - 1].dot(w) + b))
    np.testing.assert_allclose(compute_seq2(x, u, v, w, b, n), x_res, rtol=1e-5)


def test_jacobian_with_scan():
    v = T.vector()
    A = T.matrix()
    y = T.tanh(T.dot(v, A))
    results, updates = theano.scan(lambda i: T.grad(y[i], v), sequences=[T.arange(y.shape[0])])
    compute_jac_t = theano.function([A, v], results, allow_input_downcast=True)
    x = np.eye(5, dtype="float32")[0]
    w = np.eye(5, 3, dtype="float32"); w[2] = np.ones((3), dtype="float32")
    np.testing.assert_allclose(compute_jac_t(w, x), ((1 - np.tanh(x.dot(w)) ** 2) * w).T, rtol=1e-6)


def test_accumulate_number_of_loops_with_a_shared_variable():
    k = theano.shared(0)
    n_sym = T.iscalar("n_sym")
    results, updates = theano.scan(lambda: {k: (k + 1)}, n_steps=n_sym)
    accumulator = theano.function([n_sym], [], updates=updates, allow_input_downcast=True)
    assert k.get_value() == 0
    accumulator(5)
    assert k.get_value() == 5


def test_tanh_with_random_streams_inside_scan():
    X = T.matrix("X"); W = T.matrix("W"); b_sym = T.vector("b_sym")
    trng = RandomStreams(1234)
    d = trng.binomial(size=W[1].shape)
    results, updates = theano.scan(lambda v: T.tanh(T.dot(v, W) + b_sym) * d, sequences=X)
    compute_with_bnoise = theano.function(inputs=[X, W, b_sym], outputs=results, updates=updates,
                                          allow_input_downcast=True)
    x = np.eye(10, 2, dtype="float32"); w = np.ones((2, 2), dtype="float32"); b = np.ones((2), dtype="float32")
    out = compute_with_bnoise(x, w, b)
    assert out.shape == (10, 2) and set(np.unique(out / np.tanh(x.dot(w) + b))) <= {0.0, 1.0}
    # d is drawn outside fn: the same mask for every row of one call
    mask = (out / np.tanh(x.dot(w) + b))
    assert np.all(mask == mask[0])


def test_random_walk_with_random_streams_drawn_in_fn():
    srng = RandomStreams(seed=7)
    n = T.iscalar("n")
    walk, updates = theano.scan(lambda pos: pos + srng.normal(()), outputs_info=T.constant(np.float32(0)),
                                n_steps=n)
    f = theano.function([n], walk, updates=updates)
    a, b = f(20), f(20)
    assert a.shape == (20,) and not np.allclose(a, b)
    assert len(set(np.round(np.diff(a), 6))) == 19
