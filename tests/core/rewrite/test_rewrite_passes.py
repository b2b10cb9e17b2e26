"""Each rewrite alone: the graph before/after, values unchanged, and stability where the
naive graph gives inf/NaN."""
import warnings

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.mode import Mode


def op_names(f):
    """Op names in order; a fused node counts as the functions of its program."""
    names = []
    for n in (f.fgraph if hasattr(f, "fgraph") else f).toposort():
        program = getattr(n.op, "program", None)
        names += [ins[0] for ins in program] if program else [str(n.op).split("{")[0]]
    return names


def both(inputs, out, rewrite):
    return (nnthe.function(inputs, out), nnthe.function(inputs, out, mode=Mode(exclude=[rewrite])))


def test_merge_computes_common_subexpressions_once():
    x = T.vector("x")
    a = T.exp(x) + T.exp(x)
    f, g = both([x], a, "merge")
    assert op_names(f).count("exp") == 1
    assert op_names(g).count("exp") == 2
    v = np.arange(3, dtype="float32")
    np.testing.assert_allclose(f(v), g(v))


def test_merge_merges_equal_constants():
    x = T.vector("x")
    y = (x + np.float32(2)) * (x + np.full((), 2, "float32"))
    f = nnthe.function([x], y)
    assert op_names(f).count("add") == 1


@pytest.mark.parametrize("expr", [
    lambda x: x + 0, lambda x: 0 + x, lambda x: x - 0, lambda x: x * 1, lambda x: 1 * x,
    lambda x: x / 1, lambda x: x ** 1, lambda x: -(-x),
])
def test_useless_arithmetic_disappears(expr):
    x = T.vector("x")
    f = nnthe.function([x], expr(x))
    assert op_names(f) == []
    v = np.array([1.5, -2], "float32")
    out = f(v)
    np.testing.assert_array_equal(out, v)
    out[0] = 99  # the result is a copy, never the input itself
    assert v[0] == 1.5


def test_neutral_operand_that_broadcasts_is_kept():
    x = T.vector("x", shape=(1,))
    y = x + np.zeros(3, "float32")
    f = nnthe.function([x], y)
    np.testing.assert_array_equal(f(np.ones(1, "float32")), np.ones(3))


def test_useless_shape_ops_and_identity_grad_ops():
    x = T.matrix("x", shape=(2, 3))
    y = nnthe.gradient.disconnected_grad(x.reshape((2, 3)).dimshuffle(1, 0).dimshuffle(1, 0))
    f = nnthe.function([x], y)
    assert op_names(f) == []


def test_constant_folding_before_and_after():
    x = T.scalar("x")
    y = x * (T.constant(np.float32(2)) * 3 + T.exp(T.constant(np.float32(0))))
    f, g = both([x], y, "constant_folding")
    assert op_names(f) == ["mul"]
    assert len(op_names(g)) > 1
    assert f(2) == g(2) == 14


def test_seed_gradient_is_two_ops():
    x = T.scalar("x")
    y = x ** 2 + 3 * x + 1
    f = nnthe.function([x], nnthe.grad(y, x))
    assert sorted(op_names(f)) == ["add", "mul"]
    assert f(2) == 7


def test_log1p_is_stable():
    x = T.vector("x")
    y = T.log(1 + x)
    f, g = both([x], y, "local_log1p")
    v = np.array([1e-10, 1e-3], "float32")
    assert "log1p" in op_names(f)
    np.testing.assert_allclose(f(v), np.log1p(v), rtol=1e-6)
    assert g(v)[0] == 0  # the naive graph loses tiny x entirely


def test_expm1_is_stable():
    x = T.vector("x")
    y = T.exp(x) - 1
    f, g = both([x], y, "local_expm1")
    v = np.array([1e-10, 0.5], "float32")
    np.testing.assert_allclose(f(v), np.expm1(v), rtol=1e-6)
    assert g(v)[0] == 0


raw_log = nnthe.core.ops.elemwise.log.op  # the log op itself, without the stable forms


@pytest.mark.parametrize("expr,ref", [
    (lambda x: raw_log(T.sigmoid(x)), lambda v: -np.logaddexp(0, -v)),
    (lambda x: raw_log(1 - T.sigmoid(x)), lambda v: -np.logaddexp(0, v)),
])
def test_log_sigmoid_rewrite_is_finite(expr, ref):
    x = T.vector("x")
    f, g = both([x], expr(x), "local_log_sigmoid")
    v = np.array([-200, -5, 0, 5, 200], "float32")
    with np.errstate(all="ignore"):
        naive = g(v)
    assert not np.all(np.isfinite(naive))
    out = f(v)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, ref(v.astype("float64")), rtol=1e-5, atol=1e-30)


@pytest.mark.parametrize("expr,ref", [
    (lambda x: T.log(T.sigmoid(x)), lambda v: -np.logaddexp(0, -v)),
    (lambda x: T.log(1 - T.sigmoid(x)), lambda v: -np.logaddexp(0, v)),
])
def test_log_sigmoid_as_written_has_finite_values_and_gradients(expr, ref):
    x = T.vector("x")
    v = np.array([-200, -5, 0, 5, 200], "float32")
    f = nnthe.function([x], [expr(x), nnthe.grad(expr(x).sum(), x)], mode="FAST_COMPILE")
    out, gr = f(v)
    np.testing.assert_allclose(out, ref(v.astype("float64")), rtol=1e-5, atol=1e-30)
    assert np.all(np.isfinite(gr))


def test_log_sum_exp_becomes_logsumexp():
    x = T.matrix("x")
    y = T.log(T.exp(x).sum(axis=1))
    f, g = both([x], y, "local_logsumexp")
    v = np.array([[1e4, 0], [-1e4, -1e4 + 1]], "float32")
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(g(v)))
    out = f(v)
    ref = np.logaddexp.reduce(v.astype("float64"), axis=1)
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_logsumexp_rewrite_does_not_loop_on_its_own_output():
    x = T.matrix("x")
    f = nnthe.function([x], T.logsumexp(x, axis=1))
    assert op_names(f).count("log") == 1


@pytest.mark.parametrize("power,op", [(2, "sqr"), (0.5, "sqrt"), (-1, "reciprocal")])
def test_pow_specialization(power, op):
    x = T.vector("x")
    f, g = both([x], x ** power, "local_pow_specialize")
    assert op in op_names(f) and "pow" not in op_names(f)
    v = np.array([0.5, 2.0], "float32")
    np.testing.assert_allclose(f(v), g(v), rtol=1e-6)


def test_pow_three_is_a_multiply():
    x = T.vector("x")
    f = nnthe.function([x], x ** 3)
    assert "pow" not in op_names(f)
    np.testing.assert_allclose(f(np.array([2.0, -1], "float32")), [8, -1])


def test_mul_minus_one_and_square():
    x = T.vector("x")
    f = nnthe.function([x], [x * -1, x * x])
    names = op_names(f)
    assert "neg" in names and "sqr" in names and "mul" not in names
    a, b = f(np.array([2.0, 3], "float32"))
    np.testing.assert_array_equal(a, [-2, -3])
    np.testing.assert_array_equal(b, [4, 9])


def test_log_softmax_rewrite():
    x = T.matrix("x")
    f, g = both([x], raw_log(T.nnet.softmax(x)), "local_log_softmax")
    assert "LogSoftmax" in op_names(f)
    v = np.array([[1e4, 0.0]], "float32")
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(g(v)))
    np.testing.assert_allclose(f(v), [[0.0, -1e4]])


def test_crossentropy_of_softmax_becomes_the_fused_op():
    z = T.matrix("z")
    y = T.ivector("y")
    from nnthe.core.nnet.losses import CategoricalCrossEntropy

    # The raw op: categorical_crossentropy() itself already builds the fused op.
    loss = CategoricalCrossEntropy()(T.nnet.softmax(z), y)
    f, g = both([z, y], loss, "local_softmax_crossentropy")
    assert "SoftmaxCrossEntropyWithLogits" in op_names(f)
    v = np.array([[1e4, 0.0], [0.0, 1.0]], "float32")
    labels = np.array([1, 0], "int32")
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(g(v, labels)))
    np.testing.assert_allclose(f(v, labels), [1e4, np.log1p(np.e)], rtol=1e-6)


def test_exp_over_sum_exp_becomes_softmax():
    x = T.matrix("x")
    e = T.exp(x)
    for expr in (e / e.sum(axis=1, keepdims=True), e / e.sum(axis=1).dimshuffle(0, "x")):
        f, g = both([x], expr, "local_exp_over_sum_exp")
        assert "Softmax" in op_names(f)
        v = np.array([[1e3, 0.0], [1.0, 2.0]], "float32")
        with np.errstate(all="ignore"):
            assert not np.all(np.isfinite(g(v)))
        ref = np.exp(v - v.max(1, keepdims=True))
        np.testing.assert_allclose(f(v), ref / ref.sum(1, keepdims=True), rtol=1e-6)


def test_crossentropy_of_softmax_as_written_has_exact_finite_gradients():
    z = T.matrix("z")
    y = T.ivector("y")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y).sum()
    logp = T.log(T.nnet.softmax(z)).sum()
    f = nnthe.function([z, y], [loss, nnthe.grad(loss, z), nnthe.grad(logp, z)], mode="FAST_COMPILE")
    v = np.array([[1e4, 0.0]], "float32")
    value, g1, g2 = f(v, np.array([1], "int32"))
    assert value == 1e4
    np.testing.assert_array_equal(g1, [[1, -1]])
    np.testing.assert_array_equal(g2, [[-1, 1]])


def test_sum_of_squares_is_one_dot_product():
    x = T.matrix("x")
    f, g = both([x], (x ** 2).sum(), "local_sum_of_squares")
    assert op_names(f) == ["SumOfSquares"]
    v = np.arange(6, dtype="float32").reshape(2, 3)
    assert f(v) == g(v) == 55
    # partial sums and keepdims are left alone
    h = nnthe.function([x], (x ** 2).sum(axis=0))
    assert "SumOfSquares" not in op_names(h)


def test_shape_of_needs_no_computation_of_the_value():
    x = T.matrix("x")
    W = T.matrix("W")
    e = T.exp(x) * 2
    f = nnthe.function([x], e.shape, on_unused_input="ignore")
    assert "exp" not in op_names(f) and "mul" not in op_names(f)
    np.testing.assert_array_equal(f(np.zeros((2, 5), "float32")), [2, 5])
    g = nnthe.function([x, W], T.dot(x, W).shape)
    assert "Dot" not in op_names(g)
    np.testing.assert_array_equal(g(np.zeros((2, 3), "float32"), np.zeros((3, 4), "float32")), [2, 4])
    # broadcasting: the shape comes from the input that has it
    b = T.row("b")
    h = nnthe.function([x, b], (x + b).shape)
    np.testing.assert_array_equal(h(np.zeros((3, 4), "float32"), np.zeros((1, 4), "float32")), [3, 4])
