"""Elementwise fusion: graph, bitwise-equal values, and what must not fuse."""
import numpy as np

import nnthe
import nnthe.tensor as T
from nnthe import optim
from nnthe.core.compile.mode import Mode
from nnthe.core.rewrite import fusion
from nnthe.core.rewrite.fusion import FusedElemwise


def fused_nodes(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, FusedElemwise)]


SIZE = 4 * fusion.BLOCK


def adam_run(mode, steps=3):
    rng = np.random.default_rng(0)
    W = nnthe.shared(rng.normal(size=(600, 500)).astype("float32"), name="W")
    X = T.matrix("X", shape=(None, 600))
    loss = (T.tanh(T.dot(X, W)) ** 2).mean()
    f = nnthe.function([X], loss, updates=optim.Adam(1e-2).updates(loss, [W]), mode=mode)
    x = rng.normal(size=(8, 600)).astype("float32")
    losses = [f(x) for _ in range(steps)]
    return f, losses, W.get_value()


def test_adam_update_is_one_fused_node_with_bitwise_equal_results():
    f, l1, w1 = adam_run(None)
    g, l2, w2 = adam_run(Mode(exclude=["fusion"]))
    nodes = [n for n in fused_nodes(f) if len(n.outputs) == 3]
    assert len(nodes) == 1  # m, v and the parameter in one node
    assert fused_nodes(g) == []
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(w1, w2)


def test_chain_with_scalars_non_contiguous_input_and_a_ragged_last_block():
    n = SIZE + 1234  # not a multiple of the block size
    x = T.vector("x", shape=(n,))
    s = T.scalar("s")
    y = T.exp(x * s) + 1
    z = T.sqrt(y) - x
    f = nnthe.function([x, s], [y, z])
    assert len(fused_nodes(f)) == 1
    v = np.linspace(-1, 1, 2 * n).astype("float32")[::2]  # a strided view
    a, b = f(v, np.float32(0.5))
    ey = np.exp(v * np.float32(0.5)) + np.float32(1)
    np.testing.assert_array_equal(a, ey)
    np.testing.assert_array_equal(b, np.sqrt(ey) - v)


def test_small_arrays_and_unknown_shapes_fuse_scalars_and_shared_intermediates_do_not():
    small = T.vector("a", shape=(10,))
    f = nnthe.function([small], T.exp(small) + 1)
    assert len(fused_nodes(f)) == 1
    x = T.matrix("x")  # unknown static shape
    g = nnthe.function([x], T.exp(x) + 1)
    assert len(fused_nodes(g)) == 1
    np.testing.assert_array_equal(g(np.zeros((2, 3), "float32")), 2)
    sc = T.scalar("s")
    assert fused_nodes(nnthe.function([sc], T.exp(sc) + 1)) == []
    # an intermediate read by a non-elementwise node stays outside the group
    v = T.vector("v", shape=(SIZE,))
    e = T.exp(v)
    h = nnthe.function([v], [(e + 1) * 2, e.sum()])
    vals = h(np.zeros(SIZE, "float32"))
    np.testing.assert_array_equal(vals[0], 4)
    assert vals[1] == SIZE


def test_fusion_can_be_switched_off_and_debug_mode_agrees():
    x = T.vector("x", shape=(SIZE,))
    y = T.tanh(x) * 3 - x
    f = nnthe.function([x], y, mode="DEBUG")
    np.testing.assert_allclose(f(np.ones(SIZE, "float32")), np.tanh(1) * 3 - 1, rtol=1e-6)


def test_batch_dimension_bias_and_relu_fuse_with_bitwise_equal_results():
    X = T.matrix("X", shape=(None, 300))
    b = T.vector("b", shape=(300,))
    g = T.matrix("g", shape=(None, 300))
    h = T.nnet.relu(X + b)
    outs = [h, g * (h > 0)]
    f = nnthe.function([X, b, g], outs, mode=Mode(kernels="numpy"))
    ref = nnthe.function([X, b, g], outs, mode=Mode(exclude=["fusion"], kernels="numpy"))
    assert len(fused_nodes(f)) == 1
    rng = np.random.default_rng(0)
    for n in (1, 7, 500):  # one row, a few, several blocks of rows
        xv = rng.normal(size=(n, 300)).astype("float32")
        xv[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
        args = (xv, rng.normal(size=300).astype("float32"), rng.normal(size=(n, 300)).astype("float32"))
        for a, e in zip(f(*args), ref(*args)):
            np.testing.assert_array_equal(a, e)
            np.testing.assert_array_equal(np.signbit(a), np.signbit(e))


def test_shapes_that_broadcast_only_at_run_time_fall_back_to_numpy_broadcasting():
    x, y = T.matrix("x"), T.matrix("y")
    f = nnthe.function([x, y], T.exp(x) * T.exp(y) + 1, mode=Mode(kernels="numpy"))
    assert len(fused_nodes(f)) == 1
    a, b = np.zeros((1, 3), "float32"), np.zeros((2, 3), "float32")
    np.testing.assert_array_equal(f(a, b), np.full((2, 3), 2))
    np.testing.assert_array_equal(f(b, a), np.full((2, 3), 2))
    c = T.tensor4("c", shape=(None, 4, 5, 5))
    bias = T.tensor4("bias", shape=(1, 4, 1, 1))
    k = nnthe.function([c, bias], T.nnet.relu(c + bias) * 2, mode=Mode(kernels="numpy"))
    cv, bv = np.ones((3, 4, 5, 5), "float32"), -np.arange(4, dtype="float32").reshape(1, 4, 1, 1)
    np.testing.assert_array_equal(k(cv, bv), np.maximum(cv + bv, 0) * 2)
