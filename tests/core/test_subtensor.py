"""Indexing: basic slices (symbolic bounds), ints, newaxis, integer-array and boolean
indexing, set_subtensor / inc_subtensor, take."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.ops.shape import MakeVector, constant_value

from core_testutil import assert_close, check_grad, run

X = np.arange(60, dtype="float64").reshape(3, 4, 5)
IDX = np.array([2, 0, 2])          # repeated on purpose
MASK = np.array([True, False, True, True])

# (id, index applied to a symbolic or NumPy array)
INDEXES = [
    ("int", lambda x: x[1]),
    ("neg_int", lambda x: x[-1, 2]),
    ("slice", lambda x: x[1:3]),
    ("slice_step", lambda x: x[::2, 1::2]),
    ("neg_step", lambda x: x[::-1, :, ::-2]),
    ("mixed", lambda x: x[0, 1:, -1]),
    ("newaxis", lambda x: x[:, None, 1]),
    ("ellipsis", lambda x: x[..., 2]),
    ("ellipsis_mid", lambda x: x[1, ..., 1:3]),
    ("int_array", lambda x: x[IDX]),
    ("int_array_axis1", lambda x: x[:, IDX]),
    ("int_array_2d", lambda x: x[np.array([[0, 1], [2, 2]])]),
    ("two_arrays", lambda x: x[np.array([0, 2]), np.array([1, 3])]),
    ("arrays_apart", lambda x: x[np.array([0, 2]), :, np.array([1, 3])]),
    ("array_and_int", lambda x: x[np.array([0, 2]), 1]),
    ("array_and_slice", lambda x: x[1:, np.array([0, 3])]),
    ("bool_mask", lambda x: x[:, MASK]),
    ("bool_mask_2d", lambda x: x[X[..., 0] > 20]),
    ("list", lambda x: x[[0, 2]]),
]


@pytest.mark.parametrize("static", [False, True], ids=["dyn", "static"])
@pytest.mark.parametrize("name,index", INDEXES, ids=[i[0] for i in INDEXES])
def test_index_value(name, index, static):
    got = run(index, X, static=static)
    assert_close(got, index(X), dtype="float64")


@pytest.mark.parametrize("name,index", INDEXES, ids=[i[0] for i in INDEXES])
def test_index_static_shape(name, index):
    out = index(T.tensor("float64", shape=X.shape))
    want = index(X).shape
    assert len(out.static_shape) == len(want)
    assert all(s is None or s == w for s, w in zip(out.static_shape, want))
    if "bool" not in name:
        assert out.static_shape == want


@pytest.mark.parametrize("name,index", INDEXES, ids=[i[0] for i in INDEXES])
def test_index_grad(name, index, rng):
    check_grad(index, [rng.normal(size=X.shape)])


def test_repeated_index_gradient_accumulates():
    x = T.dvector("x")
    g = nnthe.grad(x[np.array([0, 0, 2, 0])].sum(), x)
    assert_close(nnthe.function([x], g)(np.zeros(3)), [3.0, 0.0, 1.0])


def test_symbolic_slice_bounds(rng):
    x = T.dmatrix("x")
    i, j = T.lscalar("i"), T.iscalar("j")
    f = nnthe.function([x, i, j], [x[i:j], x[i], x[:, i::j], x[-j:]])
    v = rng.normal(size=(6, 4))
    a, b, c, d = f(v, 1, np.int32(4))
    assert_close(a, v[1:4])
    assert_close(b, v[1])
    assert_close(c, v[:, 1::4])
    assert_close(d, v[-4:])
    g = nnthe.grad((x[i:j] ** 2).sum(), x)
    gv = nnthe.function([x, i, j], g)(v, 1, np.int32(3))
    want = np.zeros_like(v)
    want[1:3] = 2 * v[1:3]
    assert_close(gv, want)


def test_arange_and_label_indexing(rng):
    # the classic negative log-likelihood: p[T.arange(n), y]
    p = T.dmatrix("p")
    y = T.ivector("y")
    nll = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    f = nnthe.function([p, y], [nll, nnthe.grad(nll, p)])
    pv = rng.uniform(0.1, 1, size=(4, 3))
    yv = np.array([0, 2, 2, 1], dtype="int32")
    val, g = f(pv, yv)
    assert_close(val, -np.mean(np.log(pv[np.arange(4), yv])))
    want = np.zeros_like(pv)
    want[np.arange(4), yv] = -1 / (4 * pv[np.arange(4), yv])
    assert_close(g, want)


def test_symbolic_int_array_and_mask(rng):
    x = T.dmatrix("x")
    idx = T.lvector("idx")
    m = T.tensor("bool", shape=(None,), name="m")
    f = nnthe.function([x, idx, m], [x[idx], x[m], x[x > 0], x.nonzero_values()])
    v = rng.normal(size=(4, 3))
    iv = np.array([3, 3, 0])
    mv = np.array([True, False, False, True])
    a, b, c, d = f(v, iv, mv)
    assert_close(a, v[iv])
    assert_close(b, v[mv])
    assert_close(c, v[v > 0])
    assert_close(d, v[v != 0])
    g = nnthe.grad((x[x > 0] ** 2).sum(), x)
    assert_close(nnthe.function([x], g)(v), np.where(v > 0, 2 * v, 0))


SET_INC = [
    ("slice", lambda x: x[1:3], (2, 4, 5)),
    ("int", lambda x: x[0, 2], (5,)),
    ("broadcast", lambda x: x[:, 1], (5,)),
    ("array", lambda x: x[np.array([0, 2])], (2, 4, 5)),
    ("mask", lambda x: x[:, MASK], (3, 3, 5)),
    ("pairs", lambda x: x[np.array([0, 1]), np.array([3, 3])], (2, 5)),
]


@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
@pytest.mark.parametrize("name,index,yshape", SET_INC, ids=[s[0] for s in SET_INC])
def test_set_inc_subtensor_value_and_grads(name, index, yshape, set_, rng):
    fn = T.set_subtensor if set_ else T.inc_subtensor
    y = rng.normal(size=yshape)
    want = X.copy()
    if set_:
        index(want)[...] = y if name in ("slice", "int", "broadcast") else 0
        if name not in ("slice", "int", "broadcast"):
            want = X.copy()
            key = {"array": (np.array([0, 2]),), "mask": (slice(None), MASK),
                   "pairs": (np.array([0, 1]), np.array([3, 3]))}[name]
            want[key] = y
    else:
        key = {"slice": (slice(1, 3),), "int": (0, 2), "broadcast": (slice(None), 1),
               "array": (np.array([0, 2]),), "mask": (slice(None), MASK),
               "pairs": (np.array([0, 1]), np.array([3, 3]))}[name]
        want[key] += y
    got = run(lambda a, b: fn(index(a), b), X, y)
    assert_close(got, want)
    # gradients to both operands
    check_grad(lambda a, b: fn(index(a), b) ** 2, [rng.normal(size=X.shape), y])


def test_inc_subtensor_repeated_indices_accumulate():
    x = T.dvector("x")
    y = T.dvector("y")
    idx = np.array([0, 0, 2])
    out = T.inc_subtensor(x[idx], y)
    f = nnthe.function([x, y], [out, nnthe.grad((out * np.arange(1.0, 4.0)).sum(), y)])
    o, gy = f(np.zeros(3), np.array([1.0, 2.0, 5.0]))
    assert_close(o, [3.0, 0.0, 5.0])
    assert_close(gy, [1.0, 1.0, 3.0])


def test_set_subtensor_gradient_to_x_excludes_region():
    x, y = T.dvector("x"), T.dscalar("y")
    out = T.set_subtensor(x[1:3], y)
    gx, gy = nnthe.grad((out * np.array([1.0, 2.0, 3.0, 4.0])).sum(), [x, y])
    vx, vy = nnthe.function([x, y], [gx, gy])(np.zeros(4), 1.0)
    assert_close(vx, [1.0, 0.0, 0.0, 4.0])
    assert_close(vy, 5.0)


def test_set_subtensor_does_not_modify_input():
    x = T.dvector("x")
    f = nnthe.function([x], T.set_subtensor(x[0], 5.0))
    v = np.zeros(3)
    assert_close(f(v), [5.0, 0.0, 0.0])
    assert_close(v, np.zeros(3))


def test_set_subtensor_dtypes():
    x = T.fvector("x")
    out = T.set_subtensor(x[0], 2.5)
    assert out.dtype == "float32"
    assert T.inc_subtensor(x[0], T.iscalar()).dtype == "float32"
    with pytest.raises(TypeError, match="does not fit"):
        T.set_subtensor(T.ivector()[0], T.fscalar())


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_take(axis, rng):
    v = rng.normal(size=(3, 4))
    idx = np.array([2, 0, 2])
    assert_close(run(lambda x: T.take(x, idx, axis=axis), v), np.take(v, idx, axis=axis))
    check_grad(lambda x: T.take(x, idx, axis=axis), [v])


def test_indexing_errors():
    x = T.tensor("float32", shape=(3, 4), name="x")
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1.*size 4"):
        x[0, 5]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(TypeError, match="indices must be integers or booleans"):
        x[T.fscalar()]
    with pytest.raises(TypeError, match="slice bounds must be ints"):
        x[1.5:]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[::0]
    with pytest.raises(TypeError, match="Python bool"):
        x[True]
    with pytest.raises(IndexError, match="boolean index of shape"):
        x[np.array([True, False])]
    with pytest.raises(TypeError, match="indexing expression"):
        T.set_subtensor(x, 1.0)
    with pytest.raises(ValueError, match="cannot set a region of shape"):
        T.set_subtensor(x[0], T.matrix())
    with pytest.raises(ValueError, match="cannot be broadcast"):
        T.set_subtensor(x[0], T.tensor("float32", shape=(3,)))
    # out of bounds known only at run time: the error names the op and the shapes
    y = T.matrix("y")
    f = nnthe.function([y], y[5])
    with pytest.raises(IndexError, match=r"Subtensor.*float32\(2, 3\)"):
        f(np.zeros((2, 3), dtype="float32"))


def test_a_literal_index_of_a_known_dimension_is_a_static_value():
    # x.shape[i] with i a Python int (stored in the op, not an input) is known at build
    # time when dimension i is: the reshape after it gets the static entry.
    x = T.tensor("float32", shape=(None, 5, 3), name="x")
    assert constant_value(x.shape[1]) == 5 and constant_value(x.shape[-1]) == 3
    assert constant_value(x.shape[0]) is None
    assert constant_value(x.shape[T.lscalar("i")]) is None
    g = T.tensor("float32", shape=(None, 15), name="g")
    assert T.reshape(g, MakeVector()(x.shape[0], x.shape[1], x.shape[2])).type.shape == (None, 5, 3)
