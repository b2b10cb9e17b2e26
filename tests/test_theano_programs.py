"""Theano programs run with only their imports changed (issue 16).

Every test is written the way a Theano program spells it: ``import nnthe as theano;
import nnthe.tensor as T``.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnthe as theano
import nnthe.tensor as T
from nnthe import layers


# ---------------------------------------------------------------------------------------
# Rop, unused inputs, filter flipping
# ---------------------------------------------------------------------------------------

def test_rop_of_a_gradient_is_a_hessian_vector_product(rng):
    x, v = T.dvector("x"), T.dvector("v")
    cost = (x ** 3).sum() + T.tanh(x).prod()
    hv = T.Rop(T.grad(cost, x), x, v)
    f = theano.function([x, v], hv)
    x0, v0 = rng.standard_normal(4), rng.standard_normal(4)
    g = theano.function([x], T.grad(cost, x))
    eps = 1e-6
    np.testing.assert_allclose(f(x0, v0), (g(x0 + eps * v0) - g(x0 - eps * v0)) / (2 * eps),
                               rtol=1e-6, atol=1e-8)


def test_rop_of_a_gradient_static_shape(rng):
    W = T.dmatrix("W", shape=(3, 2))
    V = T.dmatrix("V", shape=(3, 2))
    x = T.dvector("x", shape=(3,))
    cost = T.nnet.sigmoid(T.dot(x, W)).sum()
    hv = T.Rop(T.grad(cost, W), W, V)
    f = theano.function([W, V, x], hv)
    w0, v0, x0 = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), rng.standard_normal(3)
    g = theano.function([W, x], T.grad(cost, W))
    eps = 1e-6
    np.testing.assert_allclose(f(w0, v0, x0), (g(w0 + eps * v0, x0) - g(w0 - eps * v0, x0)) / (2 * eps),
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("static", [False, True])
def test_rop_of_a_linear_map_keeps_its_inputs(static):
    # Theano's tutorial: the result does not depend on W's value, but the user wrote W.
    shp = dict(shape=(2, 2)) if static else {}
    W, V = T.dmatrix("W", **shp), T.dmatrix("V", **shp)
    x = T.dvector("x", **(dict(shape=(2,)) if static else {}))
    f = theano.function([W, V, x], T.Rop(T.dot(x, W), W, V))
    np.testing.assert_allclose(f([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1]), [2.0, 2.0])


def test_shape_of_a_static_input_uses_the_input():
    x = T.matrix("x", shape=(2, 3))
    f = theano.function([x], x.shape)
    np.testing.assert_array_equal(f(np.ones((2, 3), "float32")), [2, 3])
    g = theano.function([x], x.shape[1] * 2)
    assert int(g(np.ones((2, 3), "float32"))) == 6
    with pytest.raises(ValueError, match="shape"):
        f(np.ones((2, 4), "float32"))


def test_unused_input_still_refused():
    x, y = T.vector("x"), T.vector("y")
    with pytest.raises(theano.compile.UnusedInputError, match="input 1"):
        theano.function([x, y], x * 2)


def test_unused_input_check_follows_givens():
    index = T.lscalar("index")
    x = T.vector("x")
    data = theano.shared(np.arange(6, dtype="float32"))
    f = theano.function([index], x.sum(), givens={x: data[index * 2:(index + 1) * 2]})
    assert float(f(1)) == 5.0


def _true_convolution(x, w):
    """float64 NumPy 'valid' convolution with flipped kernels (Theano's conv2d)."""
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    wf = w[:, :, ::-1, ::-1]
    out = np.zeros((n, k, h - kh + 1, wd - kw + 1))
    for i in range(h - kh + 1):
        for j in range(wd - kw + 1):
            out[:, :, i, j] = np.tensordot(x[:, :, i:i + kh, j:j + kw], wf, axes=([1, 2, 3], [1, 2, 3]))
    return out


def test_conv2d_flips_filters_by_default_as_theano(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    X, W = T.dtensor4("x"), T.dtensor4("w")
    out = theano.function([X, W], T.nnet.conv2d(X, W))(x, w)
    np.testing.assert_allclose(out, _true_convolution(x, w), rtol=1e-10, atol=1e-12)
    xc = theano.function([X, W], T.nnet.conv2d(X, W, filter_flip=False))(x, w)
    np.testing.assert_allclose(xc, _true_convolution(x, w[:, :, ::-1, ::-1]), rtol=1e-10, atol=1e-12)


def test_conv2d_layer_is_a_cross_correlation(rng):
    x = rng.standard_normal((2, 3, 6, 5)).astype("float32")
    X = T.tensor4("x", shape=(None, 3, 6, 5))
    layer = layers.Conv2D(4, 3, use_bias=False)
    y = layer(X)
    w = layer.W.get_value()
    out = theano.function([X], y)(x)
    np.testing.assert_allclose(out, _true_convolution(x.astype("float64"), w[:, :, ::-1, ::-1]),
                               rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------
# Random streams under Theano's names
# ---------------------------------------------------------------------------------------

from nnthe.random import RandomStreams  # noqa: E402
from nnthe.sandbox.rng_mrg import MRG_RandomStreams  # noqa: E402


def test_random_streams_tutorial():
    # Theano's tutorial "Using Random Numbers", imports mapped.
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = theano.function([], rv_u)
    g = theano.function([], rv_n, no_default_updates=True)
    nearly_zeros = theano.function([], rv_u + rv_u - 2 * rv_u)
    a, b = f(), f()
    assert a.shape == (2, 2) and not np.allclose(a, b)
    np.testing.assert_array_equal(g(), g())          # no update: the same numbers
    np.testing.assert_allclose(nearly_zeros(), 0, atol=1e-6)  # one draw per call
    assert [s for s, _ in srng.state_updates] == [rv_u.rng, rv_n.rng]
    assert rv_u.update == (rv_u.rng, rv_u.rng.default_update)
    # Copying a state reproduces the numbers; seed() restarts the stream.
    state = rv_u.rng.get_value()
    c = f()
    rv_u.rng.set_value(state)
    np.testing.assert_array_equal(f(), c)
    srng.seed(234)
    np.testing.assert_array_equal(f(), a)
    srng.seed()  # a fresh seed
    assert not np.allclose(f(), b)


def test_no_default_updates_list():
    srng = RandomStreams(seed=1)
    u, v = srng.uniform((3,)), srng.uniform((3,))
    f = theano.function([], [u, v], no_default_updates=[u.rng])
    (u1, v1), (u2, v2) = f(), f()
    np.testing.assert_array_equal(u1, u2)
    assert not np.allclose(v1, v2)
    with pytest.raises(TypeError, match="no_default_updates"):
        theano.function([], u, no_default_updates=[u])
    with pytest.raises(TypeError, match="no_default_updates"):
        theano.function([], u, no_default_updates="yes")


def test_random_streams_distributions():
    srng = RandomStreams(seed=5)
    x = T.matrix("x")
    mask = srng.binomial(size=x.shape, n=1, p=0.25, dtype=theano.config.floatX)
    m = theano.function([x], mask)(np.zeros((200, 50), "float32"))
    assert m.dtype == np.float32 and set(np.unique(m)) <= {0.0, 1.0} and abs(m.mean() - 0.25) < 0.02
    counts = theano.function([], srng.multinomial(size=(4,), n=10, pvals=[0.2, 0.8]))()
    assert counts.shape == (4, 2) and (counts.sum(axis=1) == 10).all()
    perm = theano.function([], srng.permutation(n=6))()
    assert sorted(perm.tolist()) == list(range(6))
    ch = theano.function([], srng.choice(size=(500,), a=3, p=[0.0, 0.0, 1.0]))()
    assert (ch == 2).all()
    ri = theano.function([], srng.random_integers((1000,), 1, 3))()
    assert set(np.unique(ri)) == {1, 2, 3}
    with pytest.raises(ValueError, match="ndim"):
        srng.uniform((2, 2), ndim=3)
    with pytest.raises(TypeError, match="did you mean"):
        srng.uniform((2,), hihg=2.0)


def test_mrg_random_streams():
    srng = MRG_RandomStreams(seed=1234)
    z = T.matrix("z")
    p = T.nnet.softmax(z)
    one_hot = theano.function([z], srng.multinomial(pvals=p, dtype="float32"))
    zz = np.log(np.array([[1, 0, 0, 0], [0, 0, 1e-6, 1]], "float32") + 1e-30)
    np.testing.assert_array_equal(one_hot(zz), [[1, 0, 0, 0], [0, 0, 0, 1]])
    picks = theano.function([z], srng.choice(size=2, p=p, replace=False))(np.zeros((5, 4), "float32"))
    assert picks.shape == (5, 2) and all(len(set(r)) == 2 for r in picks)
    u = theano.function([], srng.uniform(size=(1000,), low=-1, high=1, nstreams=8))()
    assert -1 <= u.min() and u.max() < 1 and abs(u.mean()) < 0.1
    with pytest.raises(TypeError, match="pvals"):
        srng.multinomial(pvals=T.vector("v"))


def test_theano_import_paths():
    from nnthe.sandbox.rng_mrg import MRG_RandomStreams as M
    from nnthe.tensor.nnet import conv, conv2d
    from nnthe.tensor.shared_randomstreams import RandomStreams as R
    from nnthe.tensor.signal import pool
    from nnthe.tensor.signal.downsample import max_pool_2d

    assert conv2d is T.nnet.conv2d and conv.conv2d is conv2d
    assert pool.pool_2d is T.nnet.pool_2d and max_pool_2d is T.nnet.pool_2d
    assert R is RandomStreams and issubclass(M, R)
    assert theano.compile.function is theano.function


# ---------------------------------------------------------------------------------------
# In / Out, keyword calls, copy, maker
# ---------------------------------------------------------------------------------------

def test_in_defaults_and_keywords_tutorial():
    from nnthe import In

    x, y, w = T.dscalars("x", "y", "w")
    z = (x + y) * w
    f = theano.function([x, In(y, value=1), In(w, value=2, name="w_by_name")], z)
    assert f(33) == 68 and f(33, 2) == 70 and f(33, 0, 1) == 33
    assert f(33, w_by_name=1) == 34 and f(33, w_by_name=1, y=0) == 33
    assert f(x=1, y=1, w_by_name=1) == 2
    with pytest.raises(TypeError, match="did you mean 'w_by_name'"):
        f(33, w_by_nam=1)
    with pytest.raises(TypeError, match="missing input 0"):
        f(y=2)
    with pytest.raises(TypeError, match="multiple values"):
        f(33, x=2)
    with pytest.raises(TypeError, match="takes 3"):
        f(1, 2, 3, 4)
    with pytest.raises(NotImplementedError, match="update"):
        In(y, value=0, update=y + 1)


def test_keyword_call_by_input_name_over_shared_data():
    index = T.lscalar("index")
    data = theano.shared(np.arange(10, dtype="float32"))
    fn = theano.function([index], data[index * 2:index * 2 + 2].sum())
    assert float(fn(index=3)) == 13.0 and float(fn(3)) == 13.0


def test_out_borrow_and_outputs_are_fresh():
    from nnthe import Out

    x = T.dvector("x")
    f = theano.function([x], Out(x * 2, borrow=True))
    a, b = f([1.0]), f([2.0])
    assert a[0] == 2.0 and b[0] == 4.0   # the first result was not overwritten
    g = theano.function([x], [Out(x + 1), x - 1])
    np.testing.assert_array_equal(g([1.0])[0], [2.0])


def test_function_copy_swap_and_delete_updates():
    # Theano's tutorial: copying functions.
    state = theano.shared(0)
    inc = T.iscalar("inc")
    accumulator = theano.function([inc], state, updates=[(state, state + inc)])
    accumulator(10)
    assert state.get_value() == 10
    new_state = theano.shared(0)
    new_accumulator = accumulator.copy(swap={state: new_state})
    new_accumulator(100)
    assert new_state.get_value() == 100 and state.get_value() == 10
    null_accumulator = accumulator.copy(delete_updates=True)
    null_accumulator(9000)
    assert state.get_value() == 10
    assert accumulator.copy(share_memory=True)(1) == 10 and state.get_value() == 11
    with pytest.raises(TypeError, match="swap"):
        accumulator.copy(swap={state: theano.shared(np.zeros(2))})


def test_maker_fgraph_introspection():
    x = T.dmatrix("x")
    f = theano.function([x], T.exp(x).sum())
    nodes = f.maker.fgraph.toposort()
    assert nodes and all(hasattr(n, "op") for n in nodes)
    assert len(f.maker.fgraph.inputs) == 1 and len(f.maker.fgraph.outputs) == 1
    assert any("exp" in str(n.op) for n in nodes)


# ---------------------------------------------------------------------------------------
# Shared values, config, truthiness, keywords, types
# ---------------------------------------------------------------------------------------

def test_get_value_and_set_value_borrow():
    s = theano.shared(np.zeros(3))
    internal = s.get_value(borrow=True, return_internal_type=True)
    assert internal is s.get_value(borrow=True) and s.get_value() is not internal
    arr = np.ones(3)
    s.set_value(arr, borrow=True)
    assert s.get_value(borrow=True) is arr
    s.set_value(arr)
    assert s.get_value(borrow=True) is not arr


def test_config_theano_attributes():
    c = theano.config
    assert c.floatX == "float32" and c.device == "cpu" and c.warn.round is False
    assert c.traceback.limit == 8 and c.blas.ldflags == ""
    old = c.warn.sum_div_dimshuffle_bug
    c.warn.sum_div_dimshuffle_bug = False   # programs set these: accepted
    c.warn.sum_div_dimshuffle_bug = old
    with pytest.raises(AttributeError, match="did you mean 'floatX'"):
        c.flaotX
    with pytest.raises(AttributeError, match="did you mean 'round'"):
        c.warn.rond
    with pytest.raises(AttributeError, match="did you mean 'device'"):
        c.devise = "cpu"
    with pytest.raises(ValueError, match="compute_test_value"):
        c.compute_test_value = "loud"


def test_variables_are_truthy_but_comparisons_refuse():
    class HiddenLayer:
        def __init__(self, W=None):
            if not W:
                W = theano.shared(np.zeros((2, 2)), name="W")
            self.W = W

    W = theano.shared(np.ones((2, 2)), name="given")
    assert HiddenLayer(W).W is W and HiddenLayer().W.name == "W"
    x = T.vector("x")
    assert bool(x) and bool(x * 2)
    with pytest.raises(TypeError, match="comparison"):
        bool(x > 0)
    a, b, c = T.scalars("a", "b", "c")
    with pytest.raises(TypeError, match="no truth value"):
        a < b < c  # noqa: B015  (the chained comparison Python expands to `and`)
    f = theano.function([a, b, c], T.and_(a < b, b < c))
    assert bool(f(1, 2, 3)) and not bool(f(1, 3, 2))


def test_conv2d_and_pool_2d_theano_keywords(rng):
    x = rng.standard_normal((2, 1, 8, 8))
    w = rng.standard_normal((3, 1, 3, 3))
    X, W = T.dtensor4("x"), T.dtensor4("w")
    y = T.nnet.conv2d(input=X, filters=W, input_shape=(None, 1, 8, 8), filter_shape=(3, 1, 3, 3),
                      border_mode="valid", subsample=(1, 1), filter_flip=True,
                      filter_dilation=(1, 1))
    assert y.type.shape == (None, 3, 6, 6)
    old = T.nnet.conv.conv2d(X, W, image_shape=(2, 1, 8, 8), filter_shape=(3, 1, 3, 3))
    assert old.type.shape == (2, 3, 6, 6)
    p_new = T.nnet.pool_2d(y, ws=(2, 2), ignore_border=True, stride=(2, 2), pad=(0, 0), mode="max")
    p_old = T.nnet.pool_2d(y, ds=(2, 2), ignore_border=True, st=(2, 2), padding=(0, 0))
    f = theano.function([X, W], [y, p_new, p_old])
    yv, a, b = f(x, w)
    np.testing.assert_allclose(yv, _true_convolution(x, w), rtol=1e-10)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, yv.reshape(2, 3, 3, 2, 3, 2).max(axis=(3, 5)))
    with pytest.raises(ValueError, match="filter_shape"):
        T.nnet.conv2d(X, T.dtensor4("w2", shape=(3, 1, 3, 3)), filter_shape=(4, 1, 3, 3))
    with pytest.raises(ValueError, match="input_shape"):
        T.nnet.conv2d(X, W, input_shape=(None, 1, 8))
    with pytest.raises(TypeError, match="not both"):
        T.nnet.pool_2d(y, ws=(2, 2), ds=(2, 2))
    with pytest.raises(TypeError, match="window size"):
        T.nnet.pool_2d(y)
    with pytest.raises(TypeError, match="did you mean"):
        T.nnet.conv2d(X, W, filter_flop=True)


def test_types_print_as_theano_and_constructors_are_calls():
    x = T.matrix("x", shape=(None, 3))
    assert repr(x.type) == "TensorType(float32, (None, 3))"
    assert str(x.type) == "float32(?, 3)"
    d = T.dscalar()
    assert d.type.dtype == "float64" and d.type.ndim == 0
    assert T.dscalar("d").name == "d" and T.imatrix().type.dtype == "int32"


# ---------------------------------------------------------------------------------------
# Test values, Print, MonitorMode, pprint
# ---------------------------------------------------------------------------------------

@pytest.fixture
def test_values():
    def use(mode):
        theano.config.compute_test_value = mode
    yield use
    theano.config.compute_test_value = "off"


def test_compute_test_value_raise_at_the_line_that_built_the_node(test_values):
    # Theano's "Using the test value" example; the shapes are known only at run time.
    test_values("raise")
    x = T.matrix("x")
    x.tag.test_value = np.random.rand(5, 10)
    W1 = T.matrix("W1")
    W1.tag.test_value = np.random.rand(10, 20)
    h1 = T.dot(x, W1)
    assert h1.tag.test_value.shape == (5, 20) and h1.tag.test_value.dtype == np.float32
    W2 = T.matrix("W2")
    W2.tag.test_value = np.random.rand(15, 3)
    with pytest.raises(ValueError) as info:
        T.dot(h1, W2)  # the bad line
    assert "test value" in str(info.value) and "test_theano_programs.py" in str(info.value)
    v = T.vector("v")
    with pytest.raises(ValueError, match="has no test value"):
        v * 2


def test_compute_test_value_warn_and_shared(test_values):
    test_values("warn")
    W = theano.shared(np.ones((3, 2), "float32"))
    x = T.matrix("x")
    x.tag.test_value = np.ones((4, 3), "float32")
    y = T.nnet.sigmoid(T.dot(x, W))
    np.testing.assert_allclose(y.tag.test_value, np.full((4, 2), 1 / (1 + np.exp(-3))), rtol=1e-6)
    bad = T.matrix("bad")
    bad.tag.test_value = np.ones((5, 5), "float32")
    with pytest.warns(UserWarning, match="test value"):
        T.dot(x, bad)
    mask = RandomStreams(seed=3).binomial(size=x.shape, p=0.5, dtype="float32")
    assert (x * mask).tag.test_value.shape == (4, 3)  # random draws get test values too
    test_values("off")
    z = x * 2
    assert "test_value" not in z.tag  # nothing is computed when off


def test_print_op_prints_during_a_call(capsys):
    x = T.dvector("x")
    printed = theano.printing.Print("x is")(x)
    f = theano.function([x], printed * 2)
    assert capsys.readouterr().out == ""
    np.testing.assert_array_equal(f([1.0, 2.0]), [2.0, 4.0])
    assert capsys.readouterr().out == "x is __str__ = [1. 2.]\n"
    g = theano.function([x], theano.printing.Print("shape", attrs=("shape",))(x).sum())
    g([1.0, 2.0, 3.0])
    assert capsys.readouterr().out == "shape shape = (3,)\n"
    grad = theano.function([x], T.grad((printed ** 2).sum(), x))
    np.testing.assert_array_equal(grad([1.0, 3.0]), [2.0, 6.0])


def test_monitor_mode_tutorial():
    seen = []

    def inspect_inputs(i, node, fn):
        seen.append(("pre", i, str(node.op), [input[0] for input in fn.inputs]))

    def inspect_outputs(i, node, fn):
        seen.append(("post", i, [output[0] for output in fn.outputs]))

    x = T.dscalar("x")
    f = theano.function([x], [5 * x], mode=theano.compile.MonitorMode(
        pre_func=inspect_inputs, post_func=inspect_outputs))
    assert f(3)[0] == 15
    assert seen[0][0] == "pre" and seen[0][1] == 0 and 3.0 in [float(v) for v in seen[0][3]]
    assert seen[-1][0] == "post" and float(seen[-1][2][0]) == 15.0

    nan_nodes = []

    def detect_nan(i, node, fn):
        for output in fn.outputs:
            if np.isnan(output[0]).any():
                nan_nodes.append(node)

    y = T.dmatrix("y")
    g = theano.function([y], [T.log(y) * y], mode=theano.compile.MonitorMode(post_func=detect_nan))
    with np.errstate(invalid="ignore"):
        g(np.array([[-1.0]]))
    assert nan_nodes


def test_pprint():
    x = T.dscalar("x")
    assert theano.printing.pprint(x ** 2 + 1) == theano.printing.pp(x ** 2 + 1)
    assert "x" in theano.printing.pprint(x ** 2 + 1)
