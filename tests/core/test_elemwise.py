"""Elementwise ops: values against NumPy, gradients by finite differences, dtype rules."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.types import UpcastWarning

from core_testutil import assert_close, check_grad, run

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# (name, T function, NumPy reference, domain of the inputs (low, high))
UNARY = [
    ("neg", T.neg, np.negative, (-2, 2)),
    ("abs", T.abs, np.abs, (0.1, 2)),
    ("abs_neg", abs, np.abs, (-2, -0.1)),
    ("exp", T.exp, np.exp, (-2, 2)),
    ("exp2", T.exp2, np.exp2, (-2, 2)),
    ("log", T.log, np.log, (0.1, 3)),
    ("log2", T.log2, np.log2, (0.1, 3)),
    ("log10", T.log10, np.log10, (0.1, 3)),
    ("log1p", T.log1p, np.log1p, (-0.5, 3)),
    ("expm1", T.expm1, np.expm1, (-2, 2)),
    ("sqrt", T.sqrt, np.sqrt, (0.1, 3)),
    ("sqr", T.sqr, np.square, (-2, 2)),
    ("reciprocal", T.reciprocal, np.reciprocal, (0.2, 3)),
    ("sin", T.sin, np.sin, (-3, 3)),
    ("cos", T.cos, np.cos, (-3, 3)),
    ("tan", T.tan, np.tan, (-1.2, 1.2)),
    ("arcsin", T.arcsin, np.arcsin, (-0.9, 0.9)),
    ("arccos", T.arccos, np.arccos, (-0.9, 0.9)),
    ("arctan", T.arctan, np.arctan, (-3, 3)),
    ("sinh", T.sinh, np.sinh, (-2, 2)),
    ("cosh", T.cosh, np.cosh, (-2, 2)),
    ("tanh", T.tanh, np.tanh, (-3, 3)),
    ("sigmoid", T.sigmoid, _sigmoid, (-5, 5)),
    ("softplus", T.softplus, lambda x: np.log1p(np.exp(x)), (-5, 5)),
    ("erf", T.erf, _erf, (-2, 2)),
]

# Piecewise constant: value test, and a gradient that is exactly zero.
PIECEWISE = [
    ("floor", T.floor, np.floor),
    ("ceil", T.ceil, np.ceil),
    ("round", T.round, np.rint),
    ("sign", T.sign, np.sign),
]

BINARY = [
    ("add", lambda a, b: a + b, np.add, (-2, 2), (-2, 2)),
    ("sub", lambda a, b: a - b, np.subtract, (-2, 2), (-2, 2)),
    ("mul", lambda a, b: a * b, np.multiply, (-2, 2), (-2, 2)),
    ("true_div", lambda a, b: a / b, np.true_divide, (-2, 2), (0.5, 2)),
    ("pow", lambda a, b: a ** b, np.power, (0.2, 2), (-2, 2)),
    ("mod", lambda a, b: a % b, np.mod, (0.1, 5), (1.3, 1.7)),
    ("maximum", T.maximum, np.maximum, (-2, 2), (-2, 2)),
    ("minimum", T.minimum, np.minimum, (-2, 2), (-2, 2)),
    ("arctan2", T.arctan2, np.arctan2, (-2, 2), (0.5, 2)),
]

COMPARE = [
    ("lt", lambda a, b: a < b, np.less),
    ("le", lambda a, b: a <= b, np.less_equal),
    ("gt", lambda a, b: a > b, np.greater),
    ("ge", lambda a, b: a >= b, np.greater_equal),
    ("eq", T.eq, np.equal),
    ("neq", T.neq, np.not_equal),
]

LOGICAL = [
    ("and", lambda a, b: a & b, np.logical_and),
    ("or", lambda a, b: a | b, np.logical_or),
    ("xor", lambda a, b: a ^ b, np.logical_xor),
    ("logical_and", T.logical_and, np.logical_and),
]


def _uniform(rng, domain, shape, dtype="float64"):
    return rng.uniform(*domain, size=shape).astype(dtype)


@pytest.mark.parametrize("name,fn,ref,domain", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_value(name, fn, ref, domain, dtype, rng):
    x = _uniform(rng, domain, (3, 4), dtype)
    got = run(fn, x)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert_close(got, ref(x.astype("float64")), dtype=dtype, rtol=tol, atol=tol)


@pytest.mark.parametrize("name,fn,ref,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_grad(name, fn, ref, domain, rng):
    check_grad(fn, [_uniform(rng, domain, (3, 4))])


@pytest.mark.parametrize("name,fn,ref,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_second_derivative(name, fn, ref, domain, rng):
    # Gradients are graphs of differentiable ops, so the gradient has a gradient.
    check_grad(lambda x: nnthe.grad(fn(x).sum(), x), [_uniform(rng, domain, (5,))])


@pytest.mark.parametrize("name,fn,ref", PIECEWISE, ids=[p[0] for p in PIECEWISE])
def test_piecewise_value_and_zero_grad(name, fn, ref, rng):
    x = np.array([-2.7, -1.5, -0.2, 0.0, 0.3, 0.5, 1.5, 2.5], dtype="float32")
    assert_close(run(fn, x), ref(x), dtype="float32")
    xv = T.dvector("x")
    g = nnthe.function([xv], nnthe.grad(fn(xv).sum(), xv))(x.astype("float64"))
    assert_close(g, np.zeros(8), dtype="float64", atol=0)


@pytest.mark.parametrize("name,fn,ref,da,db", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_value(name, fn, ref, da, db, dtype, rng):
    a = _uniform(rng, da, (3, 4), dtype)
    b = _uniform(rng, db, (4,), dtype)   # broadcasts
    tol = 2e-5 if dtype == "float32" else 1e-12
    assert_close(run(fn, a, b), ref(a.astype("float64"), b.astype("float64")),
                 dtype=dtype, rtol=tol, atol=tol)


@pytest.mark.parametrize("name,fn,ref,da,db", BINARY, ids=[b[0] for b in BINARY])
def test_binary_grad(name, fn, ref, da, db, rng):
    a = _uniform(rng, da, (3, 4))
    b = _uniform(rng, db, (3, 4))
    if name in ("maximum", "minimum"):
        b = a + rng.choice([-0.5, 0.5], size=a.shape)   # keep away from the kink
    check_grad(fn, [a, b])
    # and with broadcasting: the gradient of the broadcast operand is summed
    check_grad(fn, [a, b[:1, :]])
    check_grad(fn, [a[0], b])


def test_pow_grad_at_zero_base_is_finite():
    x = T.dvector("x")
    y = T.dvector("y")
    gx, gy = nnthe.grad((x ** y).sum(), [x, y])
    vx, vy = nnthe.function([x, y], [gx, gy])(np.array([0.0, 2.0]), np.array([2.0, 3.0]))
    assert_close(vx, [0.0, 12.0])
    assert_close(vy, [0.0, 8 * np.log(2)])


def test_int_div_value_and_zero_grad(rng):
    a = np.array([7, -7, 9, 2], dtype="int32")
    b = np.array([2, 2, -4, 3], dtype="int32")
    assert_close(run(lambda x, y: x // y, a, b), a // b, dtype="int32")
    x = T.dvector("x")
    g = nnthe.grad((x // 2.0).sum(), x)
    assert_close(nnthe.function([x], g)(np.array([1.5, 3.2])), [0.0, 0.0])
    assert_close(run(lambda x: x // 2.0, np.array([5.0, -5.0])), [2.0, -3.0])


@pytest.mark.parametrize("name,fn,ref", COMPARE, ids=[c[0] for c in COMPARE])
def test_comparison(name, fn, ref, rng):
    a = rng.integers(0, 3, size=(3, 4)).astype("float32")
    b = rng.integers(0, 3, size=(4,)).astype("float32")
    assert_close(run(fn, a, b), ref(a, b), dtype="bool")
    # Comparisons are not differentiable but connected paths through switch are.
    x = T.dvector("x")
    g = nnthe.grad(T.switch(fn(x, 1.0), x, 2 * x).sum(), x)
    xv = np.array([0.0, 1.0, 2.0])
    assert_close(nnthe.function([x], g)(xv), np.where(ref(xv, 1.0), 1.0, 2.0))


@pytest.mark.parametrize("name,fn,ref", LOGICAL, ids=[c[0] for c in LOGICAL])
def test_logical(name, fn, ref, rng):
    a = rng.integers(0, 2, size=(3, 4)).astype(bool)
    b = rng.integers(0, 2, size=(4,)).astype(bool)
    assert_close(run(fn, a, b), ref(a, b), dtype="bool")


def test_logical_not_and_invert(rng):
    a = rng.integers(0, 2, size=(5,)).astype(bool)
    assert_close(run(lambda x: ~x, a), ~a, dtype="bool")
    assert_close(run(T.logical_not, a), ~a, dtype="bool")
    # numbers: logical_not of a float is ``x == 0``
    assert_close(run(T.logical_not, np.array([0.0, 2.0])), [True, False], dtype="bool")


@pytest.mark.parametrize("fn,ref", [(T.isnan, np.isnan), (T.isinf, np.isinf), (T.isfinite, np.isfinite)])
def test_isnan_isinf(fn, ref):
    x = np.array([0.0, np.nan, np.inf, -np.inf, 1.0], dtype="float32")
    assert_close(run(fn, x), ref(x), dtype="bool")


@pytest.mark.parametrize("switch", [T.switch, T.where])
def test_switch_value_and_grad(switch, rng):
    c = rng.integers(0, 2, size=(3, 4)).astype(bool)
    a = rng.normal(size=(3, 4))
    b = rng.normal(size=(4,))
    assert_close(run(switch, c, a, b), np.where(c, a, b), dtype="float64")
    cv = T.bmatrix("c") if False else T.tensor("bool", shape=(None, None), name="c")
    av, bv = T.dmatrix("a"), T.dvector("b")
    ga, gb = nnthe.grad((switch(cv, av, bv) * 3).sum(), [av, bv])
    va, vb = nnthe.function([cv, av, bv], [ga, gb])(c, a, b)
    assert_close(va, 3.0 * c)
    assert_close(vb, 3.0 * (~c).sum(axis=0))
    check_grad(lambda x, y: switch(c, x, y), [a, b])


def test_switch_numeric_condition():
    x = T.dvector("x")
    assert_close(nnthe.function([x], T.switch(x, x, -1.0))(np.array([0.0, 2.0])), [-1.0, 2.0])


def test_clip_value_and_grad(rng):
    x = rng.uniform(-3, 3, size=(10,))
    x = x[np.abs(np.abs(x) - 1) > 0.1]   # away from the kinks
    assert_close(run(lambda v: T.clip(v, -1.0, 1.0), x.astype("float32")),
                 np.clip(x, -1, 1).astype("float32"), dtype="float32")
    assert_close(run(lambda v: v.clip(-1, 1), x), np.clip(x, -1, 1), dtype="float64")
    check_grad(lambda v: T.clip(v, -1.0, 1.0), [x])
    # symbolic bounds get gradients where they are active
    lo, hi = np.full_like(x, -1.0), np.full_like(x, 1.0)
    check_grad(T.clip, [x, lo, hi])


@pytest.mark.parametrize("src,dst", [("float32", "float64"), ("float64", "float32"),
                                     ("float32", "int32"), ("int64", "float32"),
                                     ("bool", "float32"), ("float32", "bool")])
def test_cast_value(src, dst):
    x = np.array([0.0, 1.0, -2.7, 3.5]).astype(src)
    got = run(lambda v: T.cast(v, dst), x)
    assert_close(got, x.astype(dst), dtype=dst)
    assert_close(run(lambda v: v.astype(dst), x), x.astype(dst), dtype=dst)


def test_cast_grad(rng):
    check_grad(lambda v: T.cast(T.cast(v, "float32"), "float64") * 2, [rng.normal(size=4)],
               eps=1e-2, abs_tol=1e-4, rel_tol=1e-4)
    x = T.dvector("x")
    g = nnthe.grad(T.cast(T.cast(x, "int32"), "float64").sum() + x.sum(), x)
    assert_close(nnthe.function([x], g)(np.array([1.2, 3.4])), [1.0, 1.0])


def test_cast_errors():
    with pytest.raises(TypeError, match="dtype"):
        T.cast(T.vector(), "string")
    with pytest.raises(TypeError, match="not supported"):
        T.cast(T.vector(), "datetime64")


def test_elemwise_arity_error():
    with pytest.raises(TypeError, match="add takes 2 inputs, got 3"):
        T.add(T.vector(), T.vector(), T.vector())


def test_python_operators_on_variables(rng):
    a = rng.uniform(1, 2, size=(4,)).astype("float32")
    got = run(lambda x: (2 - x) * 3 / x + 1 ** x - (-x) + abs(x) + 2 ** x + (+x), a)
    want = (2 - a) * 3 / a + 1 ** a - (-a) + abs(a) + 2 ** a + a
    assert_close(got, want, dtype="float32")
    assert_close(run(lambda x: 7 // x + 7 % x, a), 7 // a + 7 % a, dtype="float32", rtol=1e-5)


def test_variable_has_no_truth_value():
    x = T.scalar("x")
    with pytest.raises(TypeError, match="switch"):
        if x > 0:
            pass
    with pytest.raises(TypeError, match="shape"):
        len(T.vector("v"))
    with pytest.raises(TypeError, match="iterated"):
        list(T.vector("v"))


# ---------------------------------------------------------------------------------------
# dtype rules
# ---------------------------------------------------------------------------------------

def test_floatX_default():
    assert T.scalar().dtype == "float32"
    assert T.matrix().dtype == "float32"
    assert nnthe.shared(0.5).dtype == "float32"
    assert T.constant(1.5).dtype == "float32"


def test_weak_python_scalars_keep_float32():
    x = T.fvector("x")
    assert (x * 2.5).dtype == "float32"
    assert (2.5 * x + 1).dtype == "float32"
    assert (x ** 2).dtype == "float32"
    assert (x / 3).dtype == "float32"
    assert T.maximum(x, 0.0).dtype == "float32"
    assert (x * np.float64(2.5)).dtype == "float32"
    out = nnthe.function([x], x * 2.5)(np.ones(3, dtype="float32"))
    assert out.dtype == np.float32


def test_int_tensor_with_python_float_is_floatX(floatX_64):
    assert (T.ivector() * 2.5).dtype == "float64"


def test_int_tensor_with_python_float():
    iv = T.ivector("i")
    assert (iv * 2.5).dtype == "float32"
    assert (iv * 2).dtype == "int32"
    assert (iv / 2).dtype == "float32"   # true division of ints gives floatX
    assert T.exp(iv).dtype == "float32"
    got = nnthe.function([iv], iv * 2.5)(np.array([1, 2], dtype="int32"))
    assert_close(got, [2.5, 5.0], dtype="float32")


@pytest.mark.parametrize("int_dtype", ["int8", "int32", "int64", "uint8"])
def test_int_plus_float32_is_float32(int_dtype):
    a = T.tensor(int_dtype, shape=(None,))
    b = T.fvector()
    assert (a + b).dtype == "float32"
    assert (b * a).dtype == "float32"


def test_bool_arithmetic_counts():
    b = T.tensor("bool", shape=(None,), name="b")
    s = b + b
    assert s.dtype == "int64"
    v = np.array([True, False, True])
    assert_close(nnthe.function([b], s)(v), [2, 0, 2], dtype="int64")
    assert_close(nnthe.function([b], b.sum())(v), 2, dtype="int64")
    assert_close(nnthe.function([b], b.mean())(v), 2 / 3, dtype="float32")
    assert_close(nnthe.function([b], b * 2.5)(v), [2.5, 0, 2.5], dtype="float32")


def test_float64_with_float32_upcasts_and_warns():
    x = T.fvector("x")
    d = T.dvector("d")
    with pytest.warns(UpcastWarning, match="float64"):
        y = x + d  # noqa: F841  (the warning is the point)


def test_upcast_warning_once_per_site():
    import warnings

    x = T.fvector("x")
    d = T.dvector("d")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            y = x * d
    assert y.dtype == "float64"
    assert sum(issubclass(w.category, UpcastWarning) for w in caught) == 1


def test_explicit_cast_does_not_warn():
    import warnings

    x = T.fvector("x")
    d = T.dvector("d")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = T.cast(x, "float64") + d
        z = x + T.cast(d, "float32")
    assert y.dtype == "float64" and z.dtype == "float32"


def test_float32_tensor_and_float64_array_constant_warns():
    x = T.fvector("x")
    with pytest.warns(UpcastWarning):
        y = x * np.ones(3)  # a float64 array is a strong float64 operand
    assert y.dtype == "float64"


def test_list_of_python_floats_is_floatX():
    x = T.fvector("x")
    assert (x * [1.0, 2.0, 3.0]).dtype == "float32"


def test_floatX_env_override_in_subprocess():
    import os
    import subprocess
    import sys

    code = ("import nnthe, nnthe.tensor as T; "
            "print(nnthe.config.floatX, T.scalar().dtype, (T.ivector() * 2.5).dtype)")
    env = dict(os.environ, NNTHE_FLOATX="float64")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["float64", "float64", "float64"]
    env["NNTHE_FLOATX"] = "float128"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0 and "floatX" in bad.stderr


def test_config_floatX_rejects_bad_value():
    with pytest.raises(ValueError, match="float32"):
        nnthe.config.floatX = "int32"


def test_operands_that_numpy_promotes_losslessly_are_not_cast_first():
    x = T.fmatrix("x")
    small = T.bmatrix("b")
    f = nnthe.function([x, small], [x * (x > 0), x + small], mode="FAST_COMPILE")
    assert not any(str(n.op).startswith("Cast") for n in f.fgraph.toposort())
    out = f(np.array([[-1.0, 2.0]], "float32"), np.array([[3, 4]], "int8"))
    assert_close(out[0], [[0.0, 2.0]], dtype="float32")
    assert_close(out[1], [[2.0, 6.0]], dtype="float32")
    # int32 does not fit float32 losslessly: it is cast, and the result stays float32
    y = x + T.imatrix("i")
    assert y.dtype == "float32" and str(y.owner.inputs[1].owner.op) == "Cast{float32}"
