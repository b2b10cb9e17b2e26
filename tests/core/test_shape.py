"""Shape ops: reshape, flatten, dimshuffle, transpose, expand_dims, squeeze, concatenate,
stack, split, repeat, tile, symbolic shapes, and SumToShape."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.ops.elemwise import SumToShape
from nnthe.core.ops.shape import MakeVector, Reshape, shape_i

from core_testutil import assert_close, check_grad, run

X = np.arange(24, dtype="float32").reshape(2, 3, 4)

# (id, function of the symbolic tensor, NumPy reference)
CASES = [
    ("reshape", lambda x: x.reshape((4, 6)), lambda x: x.reshape(4, 6)),
    ("reshape_args", lambda x: x.reshape(6, 4), lambda x: x.reshape(6, 4)),
    ("reshape_-1", lambda x: T.reshape(x, (-1, 4)), lambda x: x.reshape(-1, 4)),
    ("reshape_sym", lambda x: x.reshape((x.shape[0], -1)), lambda x: x.reshape(2, -1)),
    ("flatten", lambda x: x.flatten(), lambda x: x.ravel()),
    ("flatten2", lambda x: T.flatten(x, 2), lambda x: x.reshape(2, -1)),
    ("flatten3", lambda x: x.flatten(3), lambda x: x),
    ("dimshuffle", lambda x: x.dimshuffle(2, "x", 0, 1), lambda x: x.transpose(2, 0, 1)[:, None]),
    ("dimshuffle_list", lambda x: x.dimshuffle([1, 0, 2]), lambda x: x.transpose(1, 0, 2)),
    ("transpose", lambda x: x.transpose(), lambda x: x.T),
    ("T", lambda x: x.T, lambda x: x.T),
    ("transpose_axes", lambda x: T.transpose(x, (1, 2, 0)), lambda x: x.transpose(1, 2, 0)),
    ("expand_dims", lambda x: T.expand_dims(x, 1), lambda x: np.expand_dims(x, 1)),
    ("expand_dims_neg", lambda x: T.expand_dims(x, -1), lambda x: np.expand_dims(x, -1)),
    ("expand_dims_tuple", lambda x: T.expand_dims(x, (0, 3)), lambda x: np.expand_dims(x, (0, 3))),
    ("squeeze", lambda x: T.squeeze(T.expand_dims(x, 1), 1), lambda x: x),
    ("concat0", lambda x: T.concatenate([x, 2 * x], axis=0), lambda x: np.concatenate([x, 2 * x], 0)),
    ("concat_neg", lambda x: T.concatenate([x, x[:, :, :1]], axis=-1),
     lambda x: np.concatenate([x, x[:, :, :1]], -1)),
    ("join", lambda x: T.join(1, x, x[:, :1]), lambda x: np.concatenate([x, x[:, :1]], 1)),
    ("stack", lambda x: T.stack([x, 3 * x]), lambda x: np.stack([x, 3 * x])),
    ("stack_axis", lambda x: T.stack([x, 3 * x], axis=2), lambda x: np.stack([x, 3 * x], axis=2)),
    ("stack_neg", lambda x: T.stack([x, x], axis=-1), lambda x: np.stack([x, x], axis=-1)),
    ("split", lambda x: T.split(x, [1, 3], axis=2)[1], lambda x: np.split(x, [1], axis=2)[1]),
    ("repeat", lambda x: T.repeat(x, 2, axis=1), lambda x: np.repeat(x, 2, axis=1)),
    ("repeat_vec", lambda x: x.repeat(np.array([1, 0, 2]), axis=1),
     lambda x: np.repeat(x, [1, 0, 2], axis=1)),
    ("repeat_flat", lambda x: T.repeat(x, 2), lambda x: np.repeat(x, 2)),
    ("tile", lambda x: T.tile(x, (1, 2, 3)), lambda x: np.tile(x, (1, 2, 3))),
    ("tile_more", lambda x: T.tile(x, (2, 1, 1, 2)), lambda x: np.tile(x, (2, 1, 1, 2))),
    ("tile_fewer", lambda x: T.tile(x, (2,)), lambda x: np.tile(x, (2,))),
]


@pytest.mark.parametrize("static", [False, True], ids=["dyn", "static"])
@pytest.mark.parametrize("name,fn,ref", CASES, ids=[c[0] for c in CASES])
def test_shape_op_value(name, fn, ref, static):
    got = run(fn, X, static=static)
    assert_close(got, ref(X), dtype="float32")


@pytest.mark.parametrize("name,fn,ref", CASES, ids=[c[0] for c in CASES])
def test_shape_op_grad(name, fn, ref, rng):
    check_grad(fn, [rng.normal(size=X.shape)])


@pytest.mark.parametrize("name,fn,ref", CASES, ids=[c[0] for c in CASES])
def test_static_shape_matches_value(name, fn, ref):
    x = T.tensor("float32", shape=X.shape)
    out = fn(x)
    assert out.static_shape == ref(X).shape


def test_split_all_outputs_and_grad(rng):
    x = T.dmatrix("x")
    a, b, c = T.split(x, [1, 2, 1], axis=0)
    f = nnthe.function([x], [a, b, c])
    v = rng.normal(size=(4, 3))
    for got, want in zip(f(v), np.split(v, [1, 3], axis=0)):
        assert_close(got, want)
    # only one piece used: the others get zero gradient
    g = nnthe.function([x], nnthe.grad((b ** 2).sum(), x))(v)
    assert_close(g, np.concatenate([np.zeros((1, 3)), 2 * v[1:3], np.zeros((1, 3))]))
    check_grad(lambda t: T.split(t, [2, 2], axis=1)[0] * T.split(t, [2, 2], axis=1)[1],
               [rng.normal(size=(3, 4))])


def test_split_symbolic_sizes(rng):
    x = T.dvector("x")
    n = T.lscalar("n")
    a, b = T.split(x, T.stack([n, x.shape[0] - n]), n_splits=2)
    f = nnthe.function([x, n], [a, b])
    v = rng.normal(size=5)
    got = f(v, 2)
    assert_close(got[0], v[:2])
    assert_close(got[1], v[2:])
    with pytest.raises(ValueError, match="do not add up"):
        nnthe.function([x], T.split(x, T.constant(np.array([2, 2])), n_splits=2))(v)


def test_symbolic_shape_size_ndim(rng):
    x = T.matrix("x")
    f = nnthe.function([x], [x.shape, x.shape[0], x.shape[-1], x.size])
    v = rng.normal(size=(3, 5)).astype("float32")
    shp, s0, s1, size = f(v)
    assert_close(shp, [3, 5], dtype="int64")
    assert_close(s0, 3, dtype="int64")
    assert_close(s1, 5, dtype="int64")
    assert_close(size, 15, dtype="int64")
    assert x.ndim == 2
    assert T.tensor3().ndim == 3
    assert T.tensor("float32", shape=(2, 3)).shape.owner is None   # a constant when known
    assert_close(nnthe.function([x], T.shape(x))(v), [3, 5])


def test_shape_in_arithmetic(rng):
    x = T.matrix("x")
    y = x.sum() / T.cast(x.shape[0], "float32")
    assert y.dtype == "float32"
    v = rng.normal(size=(4, 2)).astype("float32")
    assert_close(nnthe.function([x], y)(v), v.sum() / 4, dtype="float32", rtol=1e-5)


def test_runtime_broadcast_of_unknown_dim_sums_gradient():
    # b's first dim is None statically but 1 at run time: the result broadcasts, and the
    # gradient must be summed back to (1, 3) by SumToShape.
    a = T.dmatrix("a")
    b = T.dmatrix("b")
    ga, gb = nnthe.grad((a * b).sum(), [a, b])
    f = nnthe.function([a, b], [a * b, ga, gb])
    av = np.arange(6.0).reshape(2, 3)
    bv = np.array([[1.0, 2.0, 3.0]])
    out, va, vb = f(av, bv)
    assert_close(out, av * bv)
    assert_close(va, np.broadcast_to(bv, (2, 3)))
    assert_close(vb, av.sum(axis=0, keepdims=True))
    # and the other way around (a is the one broadcast)
    out, va, vb = f(bv, av)
    assert_close(va, av.sum(axis=0, keepdims=True))
    assert any(isinstance(n.op, SumToShape) for n in nnthe.core.toposort([gb]))


def test_sum_to_shape_value_and_grad(rng):
    g = T.dmatrix("g")
    x = T.dmatrix("x")
    out = SumToShape((None, None))(g, T.shape(x))
    f = nnthe.function([g, x], out)
    gv = rng.normal(size=(4, 3))
    assert_close(f(gv, np.zeros((1, 3))), gv.sum(0, keepdims=True))
    assert_close(f(gv, np.zeros((4, 1))), gv.sum(1, keepdims=True))
    assert_close(f(gv, np.zeros((4, 3))), gv)
    xv = np.zeros((1, 3))
    check_grad(lambda t: SumToShape((None, None))(t, T.shape(T.constant(xv))), [gv])


def test_reshape_errors():
    x = T.tensor("float32", shape=(None, 784), name="x")
    with pytest.raises(ValueError, match=r"cannot reshape.*\(3, 5\).*15 elements.*\(4, 4\)"):
        T.reshape(T.tensor("float32", shape=(3, 5)), (4, 4))
    with pytest.raises(ValueError, match="only infer one dimension"):
        T.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="cannot reshape"):
        T.reshape(T.tensor("float32", shape=(3, 5)), (-1, 4))
    with pytest.raises(TypeError, match="shape entries must be ints"):
        T.reshape(x, (2.5, 3))
    with pytest.raises(TypeError, match="integer vector"):
        T.reshape(x, T.fvector())
    # a wrong size known only at run time: the error names the op
    f = nnthe.function([x], T.reshape(x, (5, -1)))
    with pytest.raises(ValueError, match="Reshape"):
        f(np.zeros((3, 784), dtype="float32"))


def test_reshape_takes_the_static_entries_of_its_shape_vector():
    x = T.tensor("float32", shape=(None, 32, 4, 4), name="x")
    g = T.tensor("float32", shape=(None, 512), name="g")
    # The gradient of flatten(2) is reshape(g, shape(x)): x's static shape.
    assert T.reshape(g, T.shape(x)).type.shape == (None, 32, 4, 4)
    (gx,) = nnthe.grad((T.flatten(x, 2) * g).sum(), [x])
    f = nnthe.function([x, g], gx, mode="DEBUG")  # checks the declared shape at run time
    (node,) = [n for n in f.fgraph.toposort() if isinstance(n.op, Reshape) and n.op.ndim == 4]
    assert node.outputs[0].type.shape == (None, 32, 4, 4)
    gv = np.arange(3 * 512, dtype="float32").reshape(3, 512)
    assert_close(f(np.zeros((3, 32, 4, 4), "float32"), gv), gv.reshape(3, 32, 4, 4))
    # A vector of scalars, some known (shape_i of a known dimension is a constant); -1
    # stays unknown unless the input's size is known.
    v = MakeVector()(shape_i(x, 0), shape_i(x, 1), T.constant(np.int64(-1)))
    assert T.reshape(g, v).type.shape == (None, 32, None)
    # Two unknown entries (x's batch and -1): neither follows from the size 6 * 512.
    assert T.reshape(T.tensor("float32", shape=(6, 512)), v).type.shape == (None, 32, None)
    w = MakeVector()(shape_i(x, 1), T.constant(np.int64(-1)), shape_i(x, 2))
    assert T.reshape(T.tensor("float32", shape=(6, 512)), w).type.shape == (32, 24, 4)
    # With the input's size known, the one unknown entry is inferred (-1 or not).
    n = T.lscalar("n")
    assert T.reshape(T.tensor("float32", shape=(8, 512)), T.shape(x)).type.shape == (8, 32, 4, 4)
    assert T.reshape(T.tensor("float32", shape=(6, 4)), (n, 8)).type.shape == (3, 8)
    y = T.tensor("float32", shape=(6, 4), name="y")
    assert T.reshape(y, (-1, n)).type.shape == (None, None)
    out = nnthe.function([y, n], T.reshape(y, (-1, n)), mode="DEBUG")(np.ones((6, 4), "float32"), 8)
    assert out.shape == (3, 8)
    # An op built without the static argument (as a rewrite does) reads the vector too.
    assert Reshape(4)(g, T.shape(x)).type.shape == (None, 32, 4, 4)


def test_reshape_of_a_known_shape_vector_lets_the_relu_mask_fuse():
    # relu -> pool -> flatten -> dense: the relu's mask, moved onto the pooled gradient,
    # multiplies the reshaped gradient of flatten; with the reshape's static shape the
    # two agree up to the batch and fuse into one node.
    rng = np.random.default_rng(0)
    X = T.tensor("float64", shape=(None, 2, 8, 8), name="X")
    W = nnthe.shared(rng.normal(size=(32, 3)), name="W")
    p = T.nnet.pool_2d(T.nnet.relu(X), (2, 2))
    loss = (T.dot(T.flatten(p, 2), W) ** 2).sum()
    f = nnthe.function([X], nnthe.grad(loss, X))
    ref = nnthe.function([X], nnthe.grad(loss, X), mode=nnthe.Mode(exclude=["fusion"]))
    (node,) = [n for n in f.fgraph.toposort() if isinstance(n.op, Reshape) and n.op.ndim == 4]
    assert node.outputs[0].type.shape == (None, 2, 4, 4)
    readers = [r for r, _ in f.fgraph.readers_of(node.outputs[0])]
    assert [type(r.op).__name__ for r in readers] == ["FusedElemwise"]
    assert not any(getattr(n.op, "scalar_op", None) is not None and n.op.scalar_op.name == "gt"
                   for n in f.fgraph.toposort())
    xv = rng.normal(size=(5, 2, 8, 8))
    assert_close(f(xv), ref(xv))


def test_reshape_static_entries_errors():
    x = T.tensor("float32", shape=(None, 32, 4, 5), name="x")
    # Sizes that cannot agree, whichever side is only partly known: both shapes named.
    with pytest.raises(ValueError, match=r"shape \(8, 512\) \(4096 elements\) into shape "
                                         r"\(None, 32, 4, 5\) \(a multiple of 640 elements\)"):
        T.reshape(T.tensor("float32", shape=(8, 512)), T.shape(x))
    with pytest.raises(ValueError, match=r"\(None, 3\) \(a multiple of 3 elements\) into "
                                         r"shape \(4,\) \(4 elements\)"):
        T.reshape(T.tensor("float32", shape=(None, 3)), (4,))
    with pytest.raises(ValueError, match=r"into shape \(0, -1\)"):
        T.reshape(T.tensor("float32", shape=(0, 3)), (0, -1))
    # A static shape that contradicts the vector's known entries.
    g = T.tensor("float32", shape=(None, 640), name="g")
    with pytest.raises(ValueError, match=r"static shape \(None, 16, 4, 5\) contradicts the "
                                         r"shape vector .*known to be \(None, 32, 4, 5\)"):
        Reshape(4).make_node(g, T.shape(x), (None, 16, 4, 5))
    # A shape vector of the wrong length or dtype.
    with pytest.raises(TypeError, match=r"integer vector of length 3"):
        Reshape(3)(g, T.shape(x))
    with pytest.raises(TypeError, match=r"integer vector of length 2"):
        Reshape(2)(g, T.fvector())


def test_flatten_error():
    with pytest.raises(ValueError, match="flatten: ndim must be in"):
        T.flatten(T.matrix(), 3)


def test_dimshuffle_errors():
    with pytest.raises(ValueError, match="invalid pattern"):
        T.matrix().dimshuffle(0, 0)
    with pytest.raises(ValueError, match="invalid pattern"):
        T.matrix().dimshuffle(0, 2)
    with pytest.raises(ValueError, match="drops dimension 1.*size is 3"):
        T.tensor("float32", shape=(2, 3)).dimshuffle(0)
    x = T.matrix("x")
    f = nnthe.function([x], x.dimshuffle(0))
    assert_close(f(np.ones((3, 1), dtype="float32")), np.ones(3))
    with pytest.raises(ValueError, match="to drop has size 4, not 1"):
        f(np.ones((3, 4), dtype="float32"))
    with pytest.raises(ValueError, match="not a permutation"):
        T.transpose(T.matrix(), (0, 0))


def test_concatenate_errors():
    a = T.tensor("float32", shape=(None, 3), name="a")
    b = T.tensor("float32", shape=(None, 4), name="b")
    with pytest.raises(ValueError, match=r"dimension 1 differs: \(None, 3\), \(None, 4\)"):
        T.concatenate([a, b], axis=0)
    assert T.concatenate([a, b], axis=1).static_shape == (None, 7)
    with pytest.raises(ValueError, match="same number of dimensions"):
        T.concatenate([a, T.vector()])
    with pytest.raises(ValueError, match="at least one"):
        T.concatenate([])
    with pytest.raises(ValueError, match="out of range"):
        T.concatenate([a, a], axis=2)
    with pytest.raises(ValueError, match="zero-dimensional"):
        T.concatenate([T.scalar(), T.scalar()])
    with pytest.raises(ValueError, match="out of range"):
        T.stack([a, a], axis=3)
    # a mismatch known only at run time names the op
    c, d = T.matrix("c"), T.matrix("d")
    f = nnthe.function([c, d], T.concatenate([c, d]))
    with pytest.raises(ValueError, match="Concatenate"):
        f(np.zeros((2, 3), dtype="float32"), np.zeros((2, 4), dtype="float32"))


def test_concatenate_mixed_dtypes():
    out = T.concatenate([T.ivector(), T.fvector()])
    assert out.dtype == "float32"


def test_split_errors():
    with pytest.raises(ValueError, match="do not add up"):
        T.split(T.tensor("float32", shape=(5,)), [2, 2])
    with pytest.raises(ValueError, match="n_splits"):
        T.split(T.vector(), T.lvector())


def test_repeat_tile_errors():
    with pytest.raises(TypeError, match="repeats must be an integer"):
        T.repeat(T.vector(), 1.5)
    with pytest.raises(ValueError, match="tile: reps"):
        from nnthe.core.ops.join import Tile
        Tile((1, 2))(T.vector())


def test_repeat_static_shapes():
    x = T.tensor("float32", shape=(2, 3))
    assert T.repeat(x, 2, axis=1).static_shape == (2, 6)
    assert T.repeat(x, np.array([1, 2]), axis=0).static_shape == (3, 3)
    assert T.repeat(x, T.lscalar(), axis=0).static_shape == (None, 3)
    assert T.tile(x, (2, 2)).static_shape == (4, 6)
