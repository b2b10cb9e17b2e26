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
    nodes = fused_nodes(f)
    assert len(nodes) == 1 and len(nodes[0].outputs) == 3  # m, v and the parameter
    assert fused_nodes(g) == []
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(w1, w2)


def test_chain_with_scalars_non_contiguous_input_and_a_ragged_last_block():
    n = fusion.MIN_SIZE + 1234  # not a multiple of the block size
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


def test_small_arrays_unknown_shapes_and_shared_intermediates_are_not_fused():
    small = T.vector("a", shape=(10,))
    f = nnthe.function([small], T.exp(small) + 1)
    assert fused_nodes(f) == []
    x = T.matrix("x")  # unknown static shape
    g = nnthe.function([x], T.exp(x) + 1)
    assert fused_nodes(g) == []
    # an intermediate read by a non-elementwise node stays outside the group
    v = T.vector("v", shape=(fusion.MIN_SIZE,))
    e = T.exp(v)
    h = nnthe.function([v], [(e + 1) * 2, e.sum()])
    vals = h(np.zeros(fusion.MIN_SIZE, "float32"))
    np.testing.assert_array_equal(vals[0], 4)
    assert vals[1] == fusion.MIN_SIZE


def test_fusion_can_be_switched_off_and_debug_mode_agrees():
    x = T.vector("x", shape=(fusion.MIN_SIZE,))
    y = T.tanh(x) * 3 - x
    f = nnthe.function([x], y, mode="DEBUG")
    np.testing.assert_allclose(f(np.ones(fusion.MIN_SIZE, "float32")), np.tanh(1) * 3 - 1, rtol=1e-6)
