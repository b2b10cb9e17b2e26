"""Linear algebra: dot, matmul/@, batched_dot, tensordot, outer."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T

from core_testutil import assert_close, check_grad, run

DOT_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)),
              ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (4,))]


@pytest.mark.parametrize("sa,sb", DOT_SHAPES, ids=str)
@pytest.mark.parametrize("static", [False, True])
def test_dot_value(sa, sb, static, rng):
    a = rng.normal(size=sa).astype("float32")
    b = rng.normal(size=sb).astype("float32")
    got = run(T.dot, a, b, static=static)
    assert_close(got, np.dot(a, b), dtype="float32", rtol=1e-4, atol=1e-5)
    assert_close(run(lambda x, y: x.dot(y), a, b), np.dot(a, b), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sa,sb", DOT_SHAPES, ids=str)
def test_dot_grad(sa, sb, rng):
    check_grad(T.dot, [rng.normal(size=sa), rng.normal(size=sb)])


def test_dot_with_scalar(rng):
    assert_close(run(T.dot, np.float64(2.0), np.arange(3.0)), np.arange(3.0) * 2)


MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((2, 3, 4), (2, 4, 5)),
                 ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)),
                 ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (6, 4, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("static", [False, True])
def test_matmul_value(sa, sb, static, rng):
    a = rng.normal(size=sa).astype("float32")
    b = rng.normal(size=sb).astype("float32")
    want = np.matmul(a, b)
    got = run(lambda x, y: x @ y, a, b, static=static)
    assert_close(got, want, dtype="float32", rtol=1e-4, atol=1e-5)
    assert_close(run(T.matmul, a, b), want, rtol=1e-4, atol=1e-5)
    if static:
        assert (T.constant(a) @ T.constant(b)).static_shape == want.shape


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul_grad(sa, sb, rng):
    check_grad(T.matmul, [rng.normal(size=sa), rng.normal(size=sb)])


def test_matmul_runtime_batch_broadcast_grad(rng):
    # A batch dim that is None statically and 1 at run time is summed in the gradient.
    a = T.dtensor3("a")
    b = T.dtensor3("b")
    ga, gb = nnthe.grad((a @ b).sum(), [a, b])
    f = nnthe.function([a, b], [a @ b, ga, gb])
    av = rng.normal(size=(1, 3, 4))
    bv = rng.normal(size=(5, 4, 2))
    out, va, vb = f(av, bv)
    assert_close(out, av @ bv)
    assert va.shape == av.shape and vb.shape == bv.shape
    assert_close(va, (np.ones((5, 3, 2)) @ bv.transpose(0, 2, 1)).sum(0, keepdims=True))


def test_rmatmul_with_numpy_array(rng):
    x = T.dmatrix("x")
    w = rng.normal(size=(3, 3))
    v = rng.normal(size=(3, 3))
    assert_close(nnthe.function([x], x @ w)(v), v @ w)
    assert_close(nnthe.function([x], T.dot(w, x))(v), w @ v)


@pytest.mark.parametrize("sa,sb", [((5, 3, 4), (5, 4, 2)), ((5, 4), (5, 4)),
                                   ((5, 4), (5, 4, 2)), ((5, 3, 4), (5, 4))], ids=str)
def test_batched_dot(sa, sb, rng):
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    if len(sa) == 2 and len(sb) == 2:
        want = np.einsum("bi,bi->b", a, b)
    elif len(sa) == 2:
        want = np.einsum("bi,bij->bj", a, b)
    elif len(sb) == 2:
        want = np.einsum("bij,bj->bi", a, b)
    else:
        want = np.einsum("bij,bjk->bik", a, b)
    assert_close(run(T.batched_dot, a, b), want)
    check_grad(T.batched_dot, [a, b])


@pytest.mark.parametrize("sa,sb,axes", [((2, 3, 4), (3, 4, 5), 2), ((2, 3, 4), (4, 3, 5), [[1, 2], [1, 0]]),
                                        ((3, 4), (4, 5), 1), ((2, 3), (3, 2), [0, 1]),
                                        ((2, 3), (4, 5), 0), ((2, 3, 4), (4, 3), [[-1], [0]])],
                         ids=str)
@pytest.mark.parametrize("static", [False, True])
def test_tensordot(sa, sb, axes, static, rng):
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    assert_close(run(lambda x, y: T.tensordot(x, y, axes), a, b, static=static),
                 np.tensordot(a, b, axes))
    if static:
        check_grad(lambda x, y: T.tensordot(x, y, axes), [a, b])


def test_outer(rng):
    a, b = rng.normal(size=3), rng.normal(size=4)
    assert_close(run(T.outer, a, b), np.outer(a, b))
    assert_close(run(T.outer, a.reshape(3, 1), b), np.outer(a, b))
    check_grad(T.outer, [a, b])


def test_dot_static_shape_error_names_both_shapes():
    x = T.tensor("float32", shape=(None, 784), name="x")
    w = T.tensor("float32", shape=(800, 10), name="W")
    with pytest.raises(ValueError, match=r"\(None, 784\).*\(800, 10\).*784.*800"):
        T.dot(x, w)
    with pytest.raises(ValueError, match=r"\(None, 784\).*\(800, 10\)"):
        x @ w
    with pytest.raises(ValueError, match="not aligned"):
        T.dot(T.tensor("float32", shape=(3,)), T.tensor("float32", shape=(4,)))
    # shared weights carry their static shapes too
    W = nnthe.shared(np.zeros((800, 10), dtype="float32"), name="W")
    with pytest.raises(ValueError, match=r"\(800, 10\)"):
        T.dot(x, W)


def test_linalg_errors():
    with pytest.raises(ValueError, match="batch dimensions"):
        T.matmul(T.tensor("float32", shape=(2, 3, 4)), T.tensor("float32", shape=(3, 4, 5)))
    with pytest.raises(ValueError, match="scalar operands"):
        T.matmul(T.scalar(), T.matrix())
    with pytest.raises(TypeError, match="batch dimension"):
        T.batched_dot(T.vector(), T.matrix())
    with pytest.raises(ValueError, match="different lengths"):
        T.tensordot(T.matrix(), T.matrix(), [[0, 1], [0]])
    with pytest.raises(ValueError, match="shape mismatch"):
        T.tensordot(T.tensor("float32", shape=(2, 3)), T.tensor("float32", shape=(4, 5)), [[1], [0]])
    # a mismatch known only at run time names the op and the shapes
    a, b = T.matrix("a"), T.matrix("b")
    f = nnthe.function([a, b], T.dot(a, b))
    with pytest.raises(ValueError, match=r"Dot.*float32\(2, 3\).*float32\(4, 5\)"):
        f(np.zeros((2, 3), dtype="float32"), np.zeros((4, 5), dtype="float32"))


def test_dot_dtypes():
    assert T.dot(T.fmatrix(), T.fmatrix()).dtype == "float32"
    assert T.dot(T.imatrix(), T.fmatrix()).dtype == "float32"
    assert T.dot(T.imatrix(), T.imatrix()).dtype == "int32"
