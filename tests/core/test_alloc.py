"""Tensor creation: zeros/ones/full/alloc/fill and their *_like forms, arange, eye,
identity_like."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.ops.shape import MakeVector

from core_testutil import assert_close, check_grad, run


def test_zeros_ones_full():
    n = T.lscalar("n")
    f = nnthe.function([n], [T.zeros((n, 3)), T.ones((2, n), dtype="int32"),
                             T.full((n,), 2.5), T.zeros(4), T.ones((2, 2), dtype="float64")])
    z, o, fu, z4, o2 = f(2)
    assert_close(z, np.zeros((2, 3)), dtype="float32")
    assert_close(o, np.ones((2, 2)), dtype="int32")
    assert_close(fu, [2.5, 2.5], dtype="float32")
    assert_close(z4, np.zeros(4), dtype="float32")
    assert_close(o2, np.ones((2, 2)), dtype="float64")
    assert T.zeros((n, 3)).static_shape == (None, 3)
    assert T.full((2, 3), 7, dtype="int8").dtype == "int8"


@pytest.mark.parametrize("name,fn,ref", [
    ("zeros_like", T.zeros_like, np.zeros_like),
    ("ones_like", T.ones_like, np.ones_like),
    ("full_like", lambda x: T.full_like(x, 3.5), lambda x: np.full_like(x, 3.5)),
    ("zeros_like_dtype", lambda x: T.zeros_like(x, dtype="int32"), lambda x: np.zeros_like(x, dtype="int32")),
    ("fill", lambda x: T.fill(x, 2.0), lambda x: np.full_like(x, 2.0)),
])
@pytest.mark.parametrize("static", [False, True])
def test_like_constructors(name, fn, ref, static, rng):
    x = rng.normal(size=(2, 3)).astype("float32")
    assert_close(run(fn, x, static=static), ref(x), dtype=ref(x).dtype.name)


def test_alloc_value_and_grad(rng):
    v = T.dvector("v")
    n = T.lscalar("n")
    out = T.alloc(v, n, 3)
    f = nnthe.function([v, n], [out, nnthe.grad((out * out).sum(), v)])
    vv = np.array([1.0, 2.0, 3.0])
    a, g = f(vv, 4)
    assert_close(a, np.broadcast_to(vv, (4, 3)))
    assert_close(g, 2 * 4 * vv)
    assert out.static_shape == (None, 3)
    check_grad(lambda t: T.alloc(t, 2, 3, 4), [rng.normal(size=(3, 1))])
    check_grad(lambda t: T.alloc(t, 2, 3), [rng.normal(size=())])
    # shape vector form
    assert_close(nnthe.function([v], T.alloc(v, T.shape(T.zeros((2, 3)))))(vv),
                 np.broadcast_to(vv, (2, 3)))


def test_fill_grad_goes_to_value(rng):
    x, s = T.dmatrix("x"), T.dscalar("s")
    g = nnthe.grad(T.fill(x, s).sum(), s)
    assert_close(nnthe.function([x, s], g)(np.zeros((2, 3)), 1.0), 6.0)


def test_alloc_errors():
    with pytest.raises(ValueError, match=r"cannot broadcast a value of shape \(3,\) to shape \(2, 4\)"):
        T.alloc(T.tensor("float32", shape=(3,)), 2, 4)
    with pytest.raises(ValueError, match="cannot be broadcast to 1 dimensions"):
        T.alloc(T.matrix(), 3)
    with pytest.raises(TypeError, match="shape entries must be ints"):
        T.zeros((2.5, 3))
    with pytest.raises(TypeError, match="integer vector"):
        T.zeros(T.fvector())


@pytest.mark.parametrize("args,kw", [((5,), {}), ((2, 9, 3), {}), ((1.5,), {}),
                                     ((0, 1, 0.25), {}), ((5,), {"dtype": "float32"}),
                                     ((3, 0, -1), {})])
def test_arange_constant(args, kw):
    got = T.arange(*args, **kw).eval()
    want = np.arange(*args, **kw)
    assert_close(got, want)
    if "dtype" not in kw and want.dtype.kind == "f":
        assert got.dtype == np.float32   # floatX, not float64
    assert T.arange(*args, **kw).static_shape == want.shape


def test_arange_symbolic():
    n = T.lscalar("n")
    f = nnthe.function([n], T.arange(n))
    assert_close(f(4), np.arange(4), dtype="int64")
    i = T.iscalar("i")
    assert T.arange(i).dtype == "int32"
    assert T.arange(i).static_shape == (None,)
    assert_close(nnthe.function([i], T.arange(1, i, 2))(np.int32(8)), np.arange(1, 8, 2))


def test_arange_error():
    with pytest.raises(TypeError, match="must be scalars"):
        T.arange(T.lvector())


def test_eye_identity_like(rng):
    assert_close(T.eye(3).eval(), np.eye(3), dtype="float32")
    assert_close(T.eye(3, 4, 1, dtype="int64").eval(), np.eye(3, 4, 1, dtype="int64"))
    assert T.eye(3).static_shape == (3, 3)
    n = T.lscalar("n")
    assert_close(nnthe.function([n], T.eye(n))(2), np.eye(2))
    x = T.dmatrix("x")
    f = nnthe.function([x], T.identity_like(x))
    assert_close(f(np.zeros((2, 3))), np.eye(2, 3), dtype="float64")
    with pytest.raises(TypeError, match="integer scalar"):
        T.eye(2.5)
    with pytest.raises(TypeError, match="2-d"):
        T.identity_like(T.vector())


def test_constructors_are_not_differentiable_wrt_shape():
    n = T.dscalar("n")
    x = T.dvector("x")
    y = (T.zeros_like(x) + x * n).sum()
    g = nnthe.grad(y, n)
    assert_close(nnthe.function([x, n], g)(np.array([1.0, 2.0]), 3.0), 3.0)


def test_a_shape_vector_gives_alloc_the_static_entries_it_knows():
    # shape(x) of a partly known x, and a vector of scalars some of which are known.
    x = T.tensor("float32", shape=(None, 32, 4, 4), name="x")
    assert T.alloc(np.float32(0), T.shape(x)).type.shape == (None, 32, 4, 4)
    assert T.zeros(MakeVector()(x.shape[0], x.shape[1])).type.shape == (None, 32)
    out = nnthe.function([x], T.alloc(np.float32(1), T.shape(x)), mode="DEBUG")(
        np.zeros((2, 32, 4, 4), "float32"))
    assert out.shape == (2, 32, 4, 4) and (out == 1).all()
