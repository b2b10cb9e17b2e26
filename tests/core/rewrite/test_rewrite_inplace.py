"""In-place elementwise rewrites and the destroy-handler's refusals."""
import numpy as np

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.mode import Mode
from nnthe.core.rewrite.inplace import InplaceElemwise


def inplace_nodes(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, InplaceElemwise)]


def test_dot_plus_bias_relu_reuses_the_dot_buffer():
    X = T.matrix("X", shape=(None, 4))
    W = nnthe.shared(np.ones((4, 3), "float32"), name="W")
    b = nnthe.shared(np.arange(3, dtype="float32"), name="b")
    y = T.maximum(T.dot(X, W) + b, 0)
    f = nnthe.function([X], y, mode=Mode(exclude=["fusion"]))  # fused, it is one node
    assert len(inplace_nodes(f)) == 2
    x = np.ones((2, 4), "float32")
    np.testing.assert_array_equal(f(x), np.maximum(x @ W.get_value() + b.get_value(), 0))
    # inputs and shared values are never clobbered
    np.testing.assert_array_equal(x, np.ones((2, 4)))
    np.testing.assert_array_equal(b.get_value(), [0, 1, 2])


def test_inputs_shared_and_constants_are_never_destroyed():
    x = T.vector("x")
    s = nnthe.shared(np.ones(3, "float32"))
    f = nnthe.function([x], [x + 1, s * 2, T.exp(x) + s])
    v = np.zeros(3, "float32")
    f(v)
    f(v)
    np.testing.assert_array_equal(v, 0)
    np.testing.assert_array_equal(s.get_value(), 1)
    for node in inplace_nodes(f):
        destroyed = node.inputs[node.op.target]
        assert destroyed.owner is not None


def test_a_buffer_with_two_readers_is_not_destroyed():
    x = T.vector("x")
    e = T.exp(x)
    f = nnthe.function([x], [e + 1, e * 2])
    assert inplace_nodes(f) == []
    a, b = f(np.zeros(2, "float32"))
    np.testing.assert_array_equal(a, 2)
    np.testing.assert_array_equal(b, 2)


def test_a_view_is_not_destroyed():
    x = T.matrix("x")
    e = T.exp(x)
    y = e.T + 1  # e.T is a view of e
    f = nnthe.function([x], [y, e])
    v = np.zeros((2, 3), "float32")
    out, e_val = f(v)
    np.testing.assert_array_equal(e_val, 1)
    np.testing.assert_array_equal(out, 2)


def test_an_output_is_not_destroyed():
    x = T.vector("x")
    e = T.exp(x)
    f = nnthe.function([x], [e, T.log(e)])
    e_val, l_val = f(np.zeros(2, "float32"))
    np.testing.assert_array_equal(e_val, 1)
    np.testing.assert_array_equal(l_val, 0)


def test_runtime_broadcast_falls_back_to_a_fresh_result():
    x = T.matrix("x")
    y = T.matrix("y")
    z = T.exp(x) * T.exp(y)  # both (None, None): shapes known only at run time
    f = nnthe.function([x, y], z, mode=Mode(exclude=["fusion"]))
    assert inplace_nodes(f)
    a = np.zeros((1, 3), "float32")
    b = np.zeros((2, 3), "float32")
    np.testing.assert_array_equal(f(a, b), np.ones((2, 3)))
    np.testing.assert_array_equal(f(b, a), np.ones((2, 3)))


def test_results_are_equal_with_and_without_inplace():
    rng = np.random.default_rng(0)
    X = T.matrix("X", shape=(None, 5))
    W = nnthe.shared(rng.normal(size=(5, 4)).astype("float32"))
    h = T.tanh(T.dot(X, W) + 1) * 2 - 1
    cost = (h ** 2).sum()
    g = nnthe.grad(cost, W)
    f1 = nnthe.function([X], [cost, g])
    f2 = nnthe.function([X], [cost, g], mode=Mode(exclude=["inplace"]))
    x = rng.normal(size=(3, 5)).astype("float32")
    for a, b in zip(f1(x), f2(x)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
