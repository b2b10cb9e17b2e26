"""local_conv_epilogue: a convolution's per-channel bias add and ReLU folded into it.

Values against the graph without the rewrite, bit for bit (NaN and inf included), on
both backends; where it fires and where not; training graphs."""
import importlib.util

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.mode import Mode
from nnthe.core.graph import graph_inputs
from nnthe.core.kernels import KernelContext, KernelReport, kernel_thunk
from nnthe.core.nnet.conv import Conv2d, Conv2dGradWeights
from nnthe.core.ops.elemwise import Elemwise

HAS_NUMBA = importlib.util.find_spec("numba") is not None
BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not HAS_NUMBA, reason="the numba backend needs numba (pip install 'nnthe[fast]')"))]
OFF = ["local_conv_epilogue"]

# inf - inf in the special values: NumPy's warning, as without the rewrite.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")

# (C, H, W), (K, kh, kw), conv2d keywords. The direct-convolution kernel takes the first
# DIRECT (one channel per group, OW >= 16); the others run perform's GEMM (channels-first,
# then channels-last im2col) and, with numba, the epilogue as a compiled pass.
DIRECT = 3
GEOMETRIES = [
    ((1, 12, 20), (4, 3, 3), dict()),
    ((1, 11, 21), (4, 3, 3), dict(border_mode="half", subsample=(2, 1))),
    ((2, 9, 20), (4, 2, 3), dict(border_mode=(1, 0), num_groups=2, filter_flip=True)),
    ((4, 7, 8), (6, 3, 3), dict(border_mode=(1, 2), subsample=(1, 2), filter_dilation=(2, 1), num_groups=2)),
    ((16, 6, 6), (5, 3, 3), dict(border_mode="full")),
]


def layer(x, w, b, act=True, bias_first=False, **kw):
    y = T.nnet.conv2d(x, w, **kw)
    b4 = b.dimshuffle("x", 0, "x", "x")
    z = b4 + y if bias_first else y + b4
    return T.nnet.relu(z) if act else z


def convs(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, Conv2d)]


def assert_bitwise(e, g):
    e, g = np.asarray(e), np.asarray(g)
    assert e.dtype == g.dtype and e.shape == g.shape
    np.testing.assert_array_equal(np.isnan(e), np.isnan(g))
    np.testing.assert_array_equal(e, g)
    # Signs of zeros too; not of NaNs (which NaN an add returns, and its sign, depends
    # on the machine code's operand order).
    np.testing.assert_array_equal(np.signbit(e[~np.isnan(e)]), np.signbit(g[~np.isnan(g)]))


def inputs(geometry, dtype):
    (c, h, w), (k, kh, kw), _ = geometry
    return (T.tensor4("x", dtype=dtype, shape=(None, c, h, w)),
            T.tensor4("w", dtype=dtype, shape=(k, c // geometry[2].get("num_groups", 1), kh, kw)),
            T.vector("b", dtype=dtype, shape=(k,)))


def values(rng, geometry, dtype, n=3, special=True):
    (c, h, w), (k, kh, kw), kwargs = geometry
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((k, c // kwargs.get("num_groups", 1), kh, kw)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    if special:
        x[0, 0, 1, :3] = [np.nan, np.inf, -np.inf]
        b[1], b[-1] = np.inf, np.nan
    return x, wt, b


@pytest.mark.parametrize("kernels", BACKENDS)
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act,bias_first", [(True, False), (True, True), (False, False)])
def test_values_equal_the_unfused_graph(rng, kernels, geometry, dtype, act, bias_first):
    x, w, b = inputs(geometry, dtype)
    z = layer(x, w, b, act, bias_first, **geometry[2])
    f = nnthe.function([x, w, b], z, mode=Mode(kernels=kernels))
    ref = nnthe.function([x, w, b], z, mode=Mode(kernels=kernels, exclude=OFF))
    [node] = convs(f)
    assert node.op.epilogue == ("bias_relu" if act else "bias")
    assert not [n for n in f.fgraph.toposort() if isinstance(n.op, Elemwise)]
    assert convs(ref)[0].op.epilogue is None
    if kernels == "numba":  # the direct kernel's store, or perform and a compiled pass
        thunk = kernel_thunk(node, KernelContext(KernelReport()))
        assert thunk.nnthe_kernel == ("conv_forward" if GEOMETRIES.index(geometry) < DIRECT
                                      else "bias_relu_inplace" if act else "bias_inplace")
    for special in (True, False):
        xs, ws, bs = values(rng, geometry, dtype, special=special)
        assert_bitwise(ref(xs, ws, bs), f(xs, ws, bs))
    # Pre-activations of -0.0 where the direct kernel runs (-0.0 inputs times positive
    # filters, summed from the first product, plus a bias of -0.0): relu's np.maximum
    # makes them +0.0, the bias alone keeps them.
    xs, ws, bs = np.full_like(xs, -0.0), np.abs(ws), np.full_like(bs, -0.0)
    assert_bitwise(ref(xs, ws, bs), f(xs, ws, bs))
    if kernels == "numba" and GEOMETRIES.index(geometry) < DIRECT and geometry[2].get("border_mode") is None:
        assert np.signbit(f(xs, ws, bs)).all() != act  # the case happened
    assert_bitwise(ref(xs, ws, bs), f(xs, ws, bs))


def test_not_rewritten_where_the_convolution_has_another_reader_or_the_bias_varies(rng):
    x, w, b = inputs(GEOMETRIES[0], "float32")
    y = T.nnet.conv2d(x, w)
    per_channel = b.dimshuffle("x", 0, "x", "x")
    cases = {
        "the convolution is also returned": [T.nnet.relu(y + per_channel), y],
        "the convolution is also summed": [T.nnet.relu(y + per_channel) + y.sum()],
        "one bias for every channel": [T.nnet.relu(y + b[0])],
        "a bias per column": [T.nnet.relu(y + T.vector("c", shape=(18,)).dimshuffle("x", "x", "x", 0))],
        "a bias per image and channel": [T.nnet.relu(y + T.matrix("d", shape=(3, 4)).dimshuffle(0, 1, "x", "x"))],
        "a bias of unknown length": [T.nnet.relu(y + T.vector("e").dimshuffle("x", 0, "x", "x"))],
        "a product, not a sum": [T.nnet.relu(y * per_channel)],
    }
    for what, outs in cases.items():
        ins = [v for v in graph_inputs(outs) if v.name in "xwbcde"]
        f = nnthe.function(ins, outs)
        assert [n.op.epilogue for n in convs(f)] == [None], what


def test_relu_without_a_bias_and_a_bias_after_relu_are_left_alone():
    x, w, b = inputs(GEOMETRIES[0], "float32")
    f = nnthe.function([x, w, b], T.nnet.relu(T.nnet.conv2d(x, w)) + b.dimshuffle("x", 0, "x", "x"))
    assert [n.op.epilogue for n in convs(f)] == [None]


def test_a_shared_bias_of_shape_1_k_1_1_is_per_channel(rng):
    x, w, _ = inputs(GEOMETRIES[0], "float64")
    b4 = nnthe.shared(rng.standard_normal((1, 4, 1, 1)), name="b4")
    z = T.nnet.relu(T.nnet.conv2d(x, w) + b4)
    f = nnthe.function([x, w], z)
    ref = nnthe.function([x, w], z, mode=Mode(exclude=OFF))
    assert [n.op.epilogue for n in convs(f)] == ["bias_relu"]
    xs, ws, _ = values(rng, GEOMETRIES[0], "float64")
    assert_bitwise(ref(xs, ws), f(xs, ws))


@pytest.mark.parametrize("kernels", BACKENDS)
def test_training_step_equals_the_unfused_one(rng, kernels):
    """A two-layer CNN (the first layer the direct kernel's, the second perform's): the
    filter gradients read the new nodes' im2col output, and no plain Conv2d is left."""
    def build(mode):
        r = np.random.default_rng(0)
        # 5x3 filters: not the geometry of the kernel tests, which check that they compile
        # their kernels (a kernel compiled earlier in the process is not reported again).
        params = [nnthe.shared(r.standard_normal((6, 1, 5, 3)).astype("float32") * 0.2, name="W1"),
                  nnthe.shared(np.linspace(-0.2, 0.2, 6).astype("float32"), name="b1"),
                  nnthe.shared(r.standard_normal((4, 6, 3, 3)).astype("float32") * 0.1, name="W2"),
                  nnthe.shared(np.linspace(-0.1, 0.1, 4).astype("float32"), name="b2")]
        X = T.tensor4("X", shape=(None, 1, 20, 20))
        h = T.nnet.pool_2d(layer(X, params[0], params[1], filter_flip=False), (2, 2))
        h = layer(h, params[2], params[3], border_mode="half")
        loss = (h ** 3).mean()  # cubed: fused programs of its own too (see above)
        updates = [(p, p - 0.01 * g) for p, g in zip(params, nnthe.grad(loss, params))]
        return nnthe.function([X], loss, updates=updates, mode=mode), params

    f, p = build(Mode(kernels=kernels))
    ref, q = build(Mode(kernels=kernels, exclude=OFF))
    assert [n.op.epilogue for n in convs(f)] == ["bias_relu", "bias_relu"]
    grads = [n for n in f.fgraph.toposort() if isinstance(n.op, Conv2dGradWeights)]
    assert {n.inputs[3].owner for n in grads} == set(convs(f))
    for _ in range(2):
        x = rng.standard_normal((3, 1, 20, 20)).astype("float32")
        assert_bitwise(ref(x), f(x))
    for a, b in zip(p, q):
        assert_bitwise(b.get_value(), a.get_value())


def test_switched_off_by_name():
    x, w, b = inputs(GEOMETRIES[0], "float32")
    f = nnthe.function([x, w, b], layer(x, w, b), mode=Mode(exclude=["conv_epilogue"]))
    assert [n.op.epilogue for n in convs(f)] == [None]
