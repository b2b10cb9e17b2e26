"""grad and what builds on it: structure of results, consider_constant, known_grads,
gradient-altering ops, higher order, jacobian/hessian/Rop/Lop, error paths."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.gradient import DisconnectedInputError, NullTypeGradError, grad_undefined
from nnthe.core.testing import GradientError, verify_grad
from nnthe.core.graph import Apply, Op
from nnthe.core.types import TensorType

from core_testutil import assert_close, check_grad


def test_seed_expression():
    x = T.scalar("x")
    y = x ** 2 + 3 * x + 1
    g = nnthe.grad(y, x)
    out = nnthe.function([x], g)(2)
    assert out.dtype == np.float32 and out.shape == () and out == 7.0


def test_wrt_structure_is_preserved():
    x, y = T.dscalar("x"), T.dscalar("y")
    cost = x * y
    single = nnthe.grad(cost, x)
    as_list = nnthe.grad(cost, [x, y])
    as_tuple = nnthe.grad(cost, (x, y))
    assert isinstance(single, T.TensorVariable)
    assert isinstance(as_list, list) and len(as_list) == 2
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    f = nnthe.function([x, y], list(as_tuple))
    assert_close(f(2.0, 3.0), [3.0, 2.0])


def test_variable_used_many_times_accumulates():
    x = T.dscalar("x")
    y = x * x * x + x
    assert_close(nnthe.function([x], nnthe.grad(y, x))(2.0), 13.0)


def test_consider_constant():
    x = T.dscalar("x")
    h = x ** 2
    y = h * x
    g = nnthe.grad(y, x, consider_constant=[h])
    assert_close(nnthe.function([x], g)(3.0), 9.0)   # h treated as a constant


def test_known_grads():
    x = T.dvector("x")
    h = T.exp(x)
    g = nnthe.grad(None, x, known_grads={h: T.ones_like(h) * 2})
    v = np.array([0.0, 1.0])
    assert_close(nnthe.function([x], g)(v), 2 * np.exp(v))
    # added to the gradient from the cost
    g2 = nnthe.grad(h.sum(), x, known_grads={h: T.ones_like(h)})
    assert_close(nnthe.function([x], g2)(v), 2 * np.exp(v))
    with pytest.raises(ValueError, match="dimensions"):
        nnthe.grad(None, x, known_grads={h: T.dscalar()})
    with pytest.raises(ValueError, match="cost or known_grads"):
        nnthe.grad(None, x)


def test_disconnected_grad_zero_grad_grad_clip():
    x = T.dscalar("x")
    f = lambda e: nnthe.function([x], nnthe.grad(e, x, disconnected_inputs="ignore"))(3.0)  # noqa: E731
    assert_close(f(T.disconnected_grad(x ** 2) * x), 9.0)
    assert_close(f(T.stop_gradient(x) * x), 3.0)
    assert_close(f(T.zero_grad(x ** 2) + x), 1.0)
    # grad_clip clips the gradient arriving at its output (here 2x = 6) before it flows on
    assert_close(f(T.grad_clip(x, -1.0, 1.0) ** 2), 1.0)
    assert_close(f(-(T.grad_clip(x, -1.0, 1.0) ** 2)), -1.0)
    assert_close(f(T.grad_clip(x ** 2, -1.0, 1.0)), 6.0)   # the arriving gradient is 1
    assert_close(nnthe.function([x], T.grad_clip(x * 2, -1, 1))(3.0), 6.0)  # identity forward
    # disconnected_grad disconnects: grad raises unless allowed
    with pytest.raises(DisconnectedInputError):
        nnthe.grad(T.disconnected_grad(x) * 2, x)
    with pytest.raises(ValueError, match="must not exceed"):
        T.grad_clip(x, 1.0, -1.0)


def test_grad_of_grad():
    x = T.dscalar("x")
    y = T.sin(x) * x ** 3
    g1 = nnthe.grad(y, x)
    g2 = nnthe.grad(g1, x)
    g3 = nnthe.grad(g2, x)
    f = nnthe.function([x], [g1, g2, g3])
    v = 0.7
    d1 = np.cos(v) * v ** 3 + 3 * v ** 2 * np.sin(v)
    d2 = -np.sin(v) * v ** 3 + 6 * v ** 2 * np.cos(v) + 6 * v * np.sin(v)
    d3 = (-np.cos(v) * v ** 3 - 3 * v ** 2 * np.sin(v) - 6 * v ** 2 * np.sin(v)
          + 12 * v * np.cos(v) + 6 * np.sin(v) + 6 * v * np.cos(v))
    assert_close(f(v), [d1, d2, d3], rtol=1e-10)


def test_hessian_of_sum_cubes_is_diag_6x():
    x = T.dvector("x", shape=(4,))
    H = nnthe.gradient.hessian((x ** 3).sum(), x)
    v = np.array([1.0, -2.0, 0.5, 3.0])
    assert_close(nnthe.function([x], H)(v), np.diag(6 * v))


def test_hessian_of_quadratic_form(rng):
    x = T.dvector("x", shape=(3,))
    A = rng.normal(size=(3, 3))
    H = T.hessian(T.dot(x, T.dot(A, x)), x)
    # H does not depend on x: the function must be told that x is unused
    f = nnthe.function([x], H, on_unused_input="ignore")
    assert_close(f(rng.normal(size=3)), A + A.T)


def test_jacobian_of_Wx_is_W(rng):
    W = rng.normal(size=(3, 4))
    x = T.dvector("x", shape=(4,))
    J = nnthe.gradient.jacobian(T.dot(W, x), x)
    assert_close(nnthe.function([x], J, on_unused_input="ignore")(rng.normal(size=4)), W)
    # matrix wrt: shape expression.shape + wrt.shape
    Wv = T.dmatrix("W", shape=(3, 4))
    xv = rng.normal(size=4)
    J2 = T.jacobian(T.dot(Wv, T.constant(xv)), Wv)
    got = nnthe.function([Wv], J2, on_unused_input="ignore")(W)
    want = np.zeros((3, 3, 4))
    for i in range(3):
        want[i, i] = xv
    assert_close(got, want)
    # list wrt
    Jl = T.jacobian(T.dot(Wv, x), [Wv, x])
    assert isinstance(Jl, list) and len(Jl) == 2


def test_jacobian_of_run_time_size():
    # Without a static shape the rows are computed by a scan (tests/core/scan/).
    x = T.dvector("x")
    np.testing.assert_allclose(nnthe.function([x], T.jacobian(x * 2, x))([1.0, 2.0]), 2 * np.eye(2))


def test_Lop_and_Rop_against_explicit_jacobian(rng):
    W = rng.normal(size=(3, 4))
    x = T.dvector("x", shape=(4,))
    y = T.tanh(T.dot(W, x))
    J = T.jacobian(y, x)
    u = T.dvector("u", shape=(3,))
    v = T.dvector("v", shape=(4,))
    lop = T.Lop(y, x, u)
    rop = T.Rop(y, x, v)
    f = nnthe.function([x, u, v], [J, lop, rop])
    xv, uv, vv = rng.normal(size=4), rng.normal(size=3), rng.normal(size=4)
    Jv, lv, rv = f(xv, uv, vv)
    assert_close(lv, uv @ Jv)
    assert_close(rv, Jv @ vv)
    assert_close(Jv, (1 - np.tanh(W @ xv) ** 2)[:, None] * W)
    with pytest.raises(ValueError, match="eval points"):
        T.Rop(y, [x], [v, v])
    with pytest.raises(ValueError, match="eval points"):
        T.Lop([y, y], x, [u])


def test_grad_of_nonscalar_cost_raises():
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"cost must be a scalar.*sum\(\)"):
        nnthe.grad(x * 2, x)
    with pytest.raises(TypeError, match="float scalar"):
        nnthe.grad(T.iscalar() * 2, x)


def test_wrt_must_be_variables():
    with pytest.raises(TypeError, match="wrt must be symbolic variables"):
        nnthe.grad(T.dscalar() * 2, np.zeros(2))
    with pytest.raises(ValueError, match="disconnected_inputs"):
        nnthe.grad(T.dscalar(), T.dscalar(), disconnected_inputs="maybe")


def test_disconnected_input_raise_warn_ignore():
    x, y = T.dvector("x"), T.dvector("unused_y")
    cost = x.sum()
    with pytest.raises(DisconnectedInputError, match=r"unused_y.*disconnected_inputs='ignore'"):
        nnthe.grad(cost, [x, y])
    with pytest.raises(ValueError):   # a ValueError subclass
        nnthe.grad(cost, y)
    with pytest.warns(UserWarning, match="unused_y"):
        gx, gy = nnthe.grad(cost, [x, y], disconnected_inputs="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx, gy = nnthe.grad(cost, [x, y], disconnected_inputs="ignore")
    f = nnthe.function([x, y], [gx, gy])
    a, b = f(np.ones(2), np.ones(3))
    assert_close(a, [1.0, 1.0])
    assert_close(b, np.zeros(3))


def test_integer_wrt_gets_zeros():
    i = T.ivector("i")
    x = T.dvector("x")
    cost = (x * i).sum()
    gi = nnthe.grad(cost, i)
    out = nnthe.function([x, i], gi, on_unused_input="ignore")(np.ones(2), np.array([1, 2], dtype="int32"))
    assert_close(out, [0.0, 0.0])
    assert out.dtype == np.float32   # floatX zeros
    # an integer input that is not connected at all: zeros too, no error
    j = T.ivector("j")
    assert nnthe.grad(cost, j).dtype == "float32"


class _NoGradOp(Op):
    """An op with a mathematically undefined gradient."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, x):
        return x.copy()

    def L_op(self, node, inputs, outputs, output_grads):
        return [grad_undefined(self, 0, inputs[0], "it is a test")]


class _NotImplementedOp(_NoGradOp):
    L_op = Op.L_op  # the default: no gradient


def test_undefined_gradient_raises_nulltype_error():
    x = T.dvector("x")
    y = _NoGradOp()(x).sum()
    with pytest.raises(NullTypeGradError, match="undefined: it is a test"):
        nnthe.grad(y, x)
    with pytest.raises(TypeError):   # a TypeError subclass
        nnthe.grad(_NotImplementedOp()(x).sum(), x)
    with pytest.raises(NullTypeGradError, match="does not implement the gradient"):
        nnthe.grad(_NotImplementedOp()(x).sum() + x.sum(), x)
    # a path through an undefined gradient that is not needed does not raise
    z = T.dvector("z")
    cost = _NoGradOp()(x).sum() + (z * 2).sum()
    g = nnthe.grad(cost, z)
    assert_close(nnthe.function([z], g)(np.ones(2)), [2.0, 2.0])


def test_verify_grad_detects_wrong_gradient():
    class BadSquare(Op):
        def make_node(self, x):
            x = T.as_tensor_variable(x)
            return Apply(self, [x], [x.type])

        def perform(self, node, x):
            return x * x

        def L_op(self, node, inputs, outputs, output_grads):
            return [output_grads[0] * inputs[0]]   # missing the factor 2

    with pytest.raises(GradientError, match="disagrees with finite differences"):
        verify_grad(BadSquare(), [np.array([1.0, 2.0])], rng=0)
    with pytest.raises(TypeError, match="only float inputs"):
        verify_grad(lambda t: t, [np.array([1, 2])])
    with pytest.raises(ValueError, match="at least one"):
        verify_grad(lambda: T.constant(1.0), [])


def test_grad_is_symbolic_and_float32_stays_float32():
    x = T.fvector("x")
    g = nnthe.grad((x ** 2 * 0.5).sum() + T.exp(x).mean(), x)
    assert g.dtype == "float32"
    assert nnthe.function([x], g)(np.ones(3, dtype="float32")).dtype == np.float32


def test_grad_through_shared_variable():
    w = nnthe.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    g = nnthe.grad((w * x).sum(), w)
    assert_close(nnthe.function([x], g)(np.array([3.0, 4.0])), [3.0, 4.0])


def test_mixed_precision_gradients_have_input_dtypes():
    x = T.fvector("x")
    d = T.dvector("d")
    y = (T.cast(x, "float64") * d).sum()
    gx, gd = nnthe.grad(y, [x, d])
    assert gx.dtype == "float32" and gd.dtype == "float64"


def test_softmax_like_expression_grad(rng):
    def softmax(z):
        e = T.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    check_grad(softmax, [rng.normal(size=(3, 4))])
    check_grad(lambda z: T.log(softmax(z)), [rng.normal(size=(3, 4))])


def test_gradient_has_the_static_shape_of_its_variable():
    x = T.tensor("float64", shape=(2, 3), name="x")
    y = x * 2
    g = T.matrix("g", dtype="float64")  # static shape unknown
    gx = nnthe.grad(None, x, known_grads={y: g})
    assert gx.type.shape == (2, 3)
    f = nnthe.function([g], gx, on_unused_input="ignore", mode="FAST_COMPILE")
    np.testing.assert_array_equal(f(np.ones((2, 3))), 2 * np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"specify_shape: expected shape \(2, 3\)"):
        f(np.ones((3, 3)))
    with pytest.raises(ValueError, match="cannot have shape"):
        T.specify_shape(x, (3, 3))
