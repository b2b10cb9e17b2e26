"""local_pool_mask (a boolean mask of a max pool's input applied at the pooled size) and
local_sum_pool_grad (a sum of a max pool's gradient over the pooled axes taken of the
pooled gradient).

Values against the graph without the rewrite and against NumPy, bit for bit (NaN and
inf included) where the rewrite's docstring says so, to a tolerance where it reorders
a sum; the documented exceptions pinned; where each fires and where not."""
import importlib.util

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.debugmode import DebugMode
from nnthe.core.compile.mode import Mode
from nnthe.core.nnet.pool import AveragePoolGrad, MaxPoolGrad, Pool, pool_output_shape
from nnthe.core.ops import elemwise as E
from nnthe.core.ops.reduce import CAReduce
from nnthe.core.testing import verify_grad

HAS_NUMBA = importlib.util.find_spec("numba") is not None
BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not HAS_NUMBA, reason="the numba backend needs numba (pip install 'nnthe[fast]')"))]


#: These tests look for MaxPoolGrad nodes, which pool_argmax replaces when the forward
#: pool is in the graph (tested in test_rewrite_pool_argmax.py).
KEEP = ["pool_argmax"]


def modes(kernels):
    return Mode(kernels=kernels, exclude=KEEP), Mode(kernels=kernels, exclude=["local_pool_mask"] + KEEP)


def fired(f):
    """True if the graph has a MaxPoolGrad and no elementwise node reads its output
    (the mask moved onto its output gradient)."""
    grads = [n for n in f.fgraph.toposort() if isinstance(n.op, MaxPoolGrad)]
    return bool(grads) and not any(
        "Elemwise" in type(getattr(reader, "op", None)).__name__  # OUTPUT has no op
        for n in grads for reader, _ in f.fgraph.readers_of(n.outputs[0]))


def assert_bitwise(e, g, zero_signs=True):
    """The same bits (NaN payloads and signs of zeros included); with ``zero_signs``
    False, the same values and NaN positions."""
    e, g = np.asarray(e), np.asarray(g)
    assert e.dtype == g.dtype and e.shape == g.shape
    np.testing.assert_array_equal(np.isnan(e), np.isnan(g))
    np.testing.assert_array_equal(e, g)
    if zero_signs:
        bits = np.dtype(f"u{e.dtype.itemsize}")
        np.testing.assert_array_equal(e.view(bits), g.view(bits))


def masked_pool_grad(x, gz, op, mask=lambda x: E.gt(x, 0)):
    """``mask(x) * MaxPoolGrad(x, gz)``, with the forward pool as a second output."""
    return [mask(x) * MaxPoolGrad(**op._kwargs())(x, gz), op(x)]


def specials(rng, a, values):
    flat = a.reshape(-1)
    k = rng.integers(0, flat.size, size=max(1, flat.size // 8))
    flat[k] = rng.choice(np.array(values, a.dtype), size=k.size)
    return a


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["float32", "float64"]), st.integers(1, 3), st.integers(2, 9),
       st.integers(2, 9), st.sampled_from([(2, 2), (2, 3), (3, 3), (1, 2)]),
       st.sampled_from([None, (1, 1), (2, 1), (3, 3)]), st.sampled_from([(0, 0), (1, 0), (1, 1)]),
       st.booleans(), st.sampled_from(["numpy", "numba"] if HAS_NUMBA else ["numpy"]),
       st.integers(0, 2**31))
def test_values_equal_the_unrewritten_graph_and_numpy(dtype, n, h, w, ws, stride, pad,
                                                      ignore_border, kernels, seed):
    assume(all(p < k for p, k in zip(pad, ws)))
    assume(not ignore_border or (h + 2 * pad[0] >= ws[0] and w + 2 * pad[1] >= ws[1]))
    op = Pool(ws, stride, pad, ignore_border, "max")
    rng = np.random.default_rng(seed)
    # Ties (zeros), infinities and a signed zero in x; NaN and infinities in gz.
    xv = rng.normal(size=(n, 2, h, w)).astype(dtype)
    xv[..., ::3, ::2] = 0
    xv = specials(rng, xv, [np.inf, -np.inf, -0.0])
    x = T.tensor(dtype, shape=(None, 2, None, None), name="x")
    gz = T.tensor(dtype, shape=(None, 2, None, None), name="gz")
    outs = masked_pool_grad(x, gz, op)
    f, ref = (nnthe.function([x, gz], outs, mode=m) for m in modes(kernels))
    assert fired(f) and not fired(ref)
    oh, ow = op.perform(None, xv).shape[-2:]
    gv = specials(rng, rng.normal(size=(n, 2, oh, ow)).astype(dtype), [np.nan, np.inf, -np.inf])
    with np.errstate(invalid="ignore"):
        got, want = f(xv, gv)[0], ref(xv, gv)[0]
        numpy = (xv > 0) * MaxPoolGrad(**op._kwargs()).perform(None, xv, gv)
    overlap = op.stride[0] < ws[0] or op.stride[1] < ws[1]
    # Overlapping windows: 0 * (a negative sum) is -0.0 unrewritten, +0.0 rewritten.
    assert_bitwise(want, got, zero_signs=not overlap)
    assert_bitwise(numpy, got, zero_signs=not overlap)


@pytest.mark.parametrize("kernels", BACKENDS)
def test_nan_in_x_at_the_first_element_of_its_window_is_exact(kernels):
    rng = np.random.default_rng(0)
    xv = rng.normal(size=(4, 3, 8, 8)).astype("float32")
    xv[:, :, ::2, ::2][rng.random((4, 3, 4, 4)) < 0.3] = np.nan  # window-first elements
    gv = specials(rng, rng.normal(size=(4, 3, 4, 4)).astype("float32"), [np.nan, np.inf, -np.inf])
    x = T.tensor4("x", shape=(None, 3, 8, 8))
    gz = T.tensor4("gz", shape=(None, 3, 4, 4))
    f, ref = (nnthe.function([x, gz], masked_pool_grad(x, gz, Pool((2, 2))), mode=m)
              for m in modes(kernels))
    assert fired(f)
    with np.errstate(invalid="ignore"):
        assert_bitwise(ref(xv, gv)[0], f(xv, gv)[0])


def test_a_nan_after_the_first_element_of_a_window_is_the_documented_exception():
    # The pool returns the NaN, MaxPoolGrad's argmax (a first strict maximum) skips it:
    # unrewritten, gz reaches the 1.0 masked by 1.0 > 0; rewritten, masked by NaN > 0.
    xv = np.array([[[[1.0, np.nan], [0.5, 0.25]]]], "float32")
    gv = np.array([[[[3.0]]]], "float32")
    x, gz = T.tensor4("x"), T.tensor4("gz")
    f, ref = (nnthe.function([x, gz], masked_pool_grad(x, gz, Pool((2, 2))), mode=m)
              for m in modes("numpy"))
    assert ref(xv, gv)[0][0, 0, 0, 0] == 3.0
    assert f(xv, gv)[0][0, 0, 0, 0] == 0.0


@pytest.mark.parametrize("kernels", BACKENDS)
@pytest.mark.parametrize("mask", [
    lambda x: E.logical_and(E.gt(x, 0.1), E.lt(x, 1.5)),
    lambda x: E.gt(E.sin(x) * 2, 0.5),
    lambda x: E.logical_or(E.isnan(x), E.ge(x, 0)),
    lambda x: E.gt(x, T.constant(np.array([0.0, 0.5, -0.5], "float32")).dimshuffle("x", 0, "x", "x")),
])
def test_any_boolean_function_of_x_and_of_per_channel_or_scalar_inputs(kernels, mask):
    rng = np.random.default_rng(1)
    xv = rng.normal(size=(2, 3, 6, 6)).astype("float32")
    gv = rng.normal(size=(2, 3, 3, 3)).astype("float32")
    x = T.tensor4("x", shape=(None, 3, 6, 6))
    gz = T.tensor4("gz", shape=(None, 3, 3, 3))
    f, ref = (nnthe.function([x, gz], masked_pool_grad(x, gz, Pool((2, 2)), mask), mode=m)
              for m in modes(kernels))
    assert fired(f)
    assert_bitwise(ref(xv, gv)[0], f(xv, gv)[0])


def cnn_grad(kernels, exclude=()):
    X = T.tensor4("X", shape=(None, 1, 10, 10))
    W = nnthe.shared(np.random.default_rng(0).normal(size=(4, 1, 3, 3)).astype("float32"), name="W")
    b = nnthe.shared(np.zeros(4, "float32") + 0.1, name="b")
    r = T.nnet.relu(T.nnet.conv2d(X, W, filter_flip=False) + b.dimshuffle("x", 0, "x", "x"))
    loss = (T.nnet.pool_2d(r, (2, 2)) ** 2).mean()
    return nnthe.function([X], [loss] + nnthe.grad(loss, [W, b]),
                          mode=Mode(kernels=kernels, exclude=list(exclude) + KEEP))


def full_size_elementwise(f, hw=(8, 8)):
    """Elementwise (fused or not) nodes with an output of spatial size ``hw``."""
    return [n for n in f.fgraph.toposort()
            if "Elemwise" in type(n.op).__name__ and n.outputs[0].type.shape[-2:] == hw]


@pytest.mark.parametrize("kernels", BACKENDS)
def test_fires_on_the_cnn_relu_pool_gradient(kernels):
    # local_sum_pool_grad reorders the bias gradient's sum: off, to compare bits.
    f = cnn_grad(kernels, ["local_sum_pool_grad"])
    ref = cnn_grad(kernels, ["local_pool_mask", "local_sum_pool_grad"])
    assert fired(f) and not fired(ref)
    # None (the forward bias + relu are the convolution's epilogue: local_conv_epilogue);
    # unrewritten, the mask of the gradient.
    assert len(full_size_elementwise(f)) == 0 and len(full_size_elementwise(ref)) == 1
    mpg = [n for n in f.fgraph.toposort() if isinstance(n.op, MaxPoolGrad)]
    assert len(mpg) == 1 and mpg[0].inputs[1].owner.outputs[0].type.shape[-2:] == (4, 4)
    assert sum(isinstance(n.op, Pool) for n in f.fgraph.toposort()) == 1  # the forward one, reused
    xv = np.random.default_rng(2).normal(size=(5, 1, 10, 10)).astype("float32")
    for a, e in zip(f(xv), ref(xv)):
        assert_bitwise(e, a)


def test_relu_pool_gradient_passes_verify_grad_in_float64():
    rng = np.random.default_rng(3)
    xv = rng.normal(size=(2, 2, 6, 5))
    b = np.array([0.1, -0.2]).reshape(1, 2, 1, 1)

    def model(x):  # squared, so that the gradient graph reads the forward pool
        return T.nnet.pool_2d(T.nnet.relu(x + b), (2, 2), ignore_border=False) ** 2

    x = T.tensor("float64", shape=xv.shape)
    f = nnthe.function([x], nnthe.grad(model(x).sum(), x), mode=Mode(exclude=KEEP))
    assert fired(f)
    verify_grad(model, [xv], rng=rng)


def test_does_not_fire_for_average_pooling():
    x = T.tensor4("x", shape=(None, 2, 6, 6))
    for mode in ("average_inc_pad", "average_exc_pad"):
        r = T.nnet.relu(x)
        loss = (T.nnet.pool_2d(r, (2, 2), mode=mode) ** 2).sum()
        f = nnthe.function([x], nnthe.grad(loss, x))
        assert any(isinstance(n.op, AveragePoolGrad) for n in f.fgraph.toposort())
        assert len(full_size_elementwise(f, (6, 6))) == 2  # relu, and the mask of its gradient
        # A MaxPoolGrad built with an average mode beside an average pool: the pooled
        # value is not x at the argmax.
        gz = T.tensor4("gz", shape=(None, 2, 3, 3))
        g = nnthe.function([x, gz], masked_pool_grad(x, gz, Pool((2, 2), mode=mode)))
        assert not fired(g)


def test_does_not_fire_for_masks_of_something_else_or_float_masks():
    x = T.tensor4("x", shape=(None, 2, 6, 6))
    y = T.tensor4("y", shape=(None, 2, 6, 6))
    gz = T.tensor4("gz", shape=(None, 2, 3, 3))
    batch = T.tensor4("t", shape=(None, 1, 1, 1))
    for mask in (lambda v: E.gt(y, 0),               # another full-size tensor
                 lambda v: E.gt(v, y),                # x and another full-size tensor
                 lambda v: E.gt(v, batch),            # a per-example threshold (batch dim unknown)
                 lambda v: 1 - v * v,                 # a float mask: inf * 0 is NaN
                 lambda v: E.gt(v.dimshuffle(0, 1, 3, 2), 0)):  # not elementwise
        outs = masked_pool_grad(x, gz, Pool((2, 2)), mask)
        f = nnthe.function([x, gz, y, batch], outs, on_unused_input="ignore")
        assert not fired(f), mask
    # No forward pool in the graph: nothing is added.
    f = nnthe.function([x, gz], E.gt(x, 0) * MaxPoolGrad((2, 2))(x, gz))
    assert not fired(f) and not any(isinstance(n.op, Pool) for n in f.fgraph.toposort())
    # Pools of x with another window or stride are not the one the gradient routes by.
    for other in (Pool((3, 3)), Pool((2, 2), stride=(1, 1)), Pool((2, 2), pad=(1, 1))):
        f = nnthe.function([x, gz], [E.gt(x, 0) * MaxPoolGrad((2, 2))(x, gz), other(x)])
        assert not fired(f), other


def test_does_not_fire_when_the_full_size_gradient_is_read_elsewhere():
    x = T.tensor4("x", shape=(None, 2, 6, 6))
    gz = T.tensor4("gz", shape=(None, 2, 3, 3))
    g = MaxPoolGrad((2, 2))(x, gz)
    # (A sum over the pooled axes would read gz instead: local_sum_pool_grad.)
    f = nnthe.function([x, gz], [E.gt(x, 0) * g, g.sum(axis=1), Pool((2, 2))(x)],
                       mode=Mode(exclude=KEEP))
    assert not fired(f)
    assert sum(isinstance(n.op, MaxPoolGrad) for n in f.fgraph.toposort()) == 1


# -- local_sum_pool_grad ---------------------------------------------------------------

def sum_modes(kernels):
    return (Mode(kernels=kernels, exclude=KEEP),
            Mode(kernels=kernels, exclude=["local_sum_pool_grad"] + KEEP))


def sums(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, CAReduce) and n.op.kind == "sum"]


def sum_fired(f):
    """True if the graph has sums and none of them reads a MaxPoolGrad."""
    s = sums(f)
    return bool(s) and not any(n.inputs[0].owner is not None
                               and isinstance(n.inputs[0].owner.op, MaxPoolGrad) for n in s)


def windows_reach_x(op, xshape, gshape):
    """Whether every window holds an element of x, by experiment: with x and gz all
    ones, MaxPoolGrad keeps every window's 1 exactly when no argmax is in the padding."""
    g = MaxPoolGrad(**op._kwargs()).perform(None, np.ones(xshape), np.ones(gshape))
    return g.sum() == np.prod(gshape)


AXES = [(2, 3), (0, 2, 3), (1, 2, 3), None, (0, 1, 2, 3)]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["float32", "float64"]), st.integers(1, 3), st.integers(1, 9),
       st.integers(1, 9), st.sampled_from([(2, 2), (2, 3), (3, 3), (1, 2)]),
       st.sampled_from([None, (1, 1), (2, 1), (3, 3)]), st.sampled_from([(0, 0), (1, 0), (1, 1)]),
       st.booleans(), st.sampled_from(AXES), st.booleans(), st.sampled_from([None, "float64"]),
       st.sampled_from(["numpy", "numba"] if HAS_NUMBA else ["numpy"]), st.integers(0, 2**31))
def test_sum_values_equal_the_unrewritten_graph_and_numpy(dtype, n, h, w, ws, stride, pad,
                                                          ignore_border, axes, keepdims,
                                                          acc, kernels, seed):
    assume(all(p < k for p, k in zip(pad, ws)))
    assume(h + 2 * pad[0] >= ws[0] and w + 2 * pad[1] >= ws[1])
    op = Pool(ws, stride, pad, ignore_border, "max")
    rng = np.random.default_rng(seed)
    xv = rng.normal(size=(n, 2, h, w)).astype(dtype)
    xv[..., ::3, ::2] = 0  # ties
    # Without padding NaN and -inf in x change nothing; with it, they are the documented
    # exception (a window starting in the padding that holds only -inf / NaN).
    xv = specials(rng, xv, [np.inf, -0.0] + ([np.nan, -np.inf] if pad == (0, 0) else []))
    x = T.tensor(dtype, shape=(None, 2, h, w), name="x")
    oh, ow = op.perform(None, xv).shape[-2:]
    gz = T.tensor(dtype, shape=(None, 2, oh, ow), name="gz")
    out = MaxPoolGrad(**op._kwargs())(x, gz).sum(axis=axes, keepdims=keepdims, dtype=acc)
    f, ref = (nnthe.function([x, gz], out, mode=m) for m in sum_modes(kernels))
    assert sum_fired(f) == windows_reach_x(op, xv.shape, (n, 2, oh, ow)) and not sum_fired(ref)
    gv = rng.normal(size=(n, 2, oh, ow)).astype(dtype)
    got, want = f(xv, gv), ref(xv, gv)
    assert got.dtype == want.dtype == np.dtype(acc or dtype) and got.shape == want.shape
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, want, **tol)
    if sum_fired(f):
        np.testing.assert_allclose(got, gv.sum(axis=axes, keepdims=keepdims, dtype=acc), **tol)


def cnn_bias_grad(kernels, dtype="float32", exclude=(), mode=Mode):
    rng = np.random.default_rng(0)
    X = T.tensor4("X", shape=(None, 1, 10, 10), dtype=dtype)
    W = nnthe.shared(rng.normal(size=(4, 1, 3, 3)).astype(dtype), name="W")
    b = nnthe.shared(np.zeros(4, dtype) + 0.1, name="b")
    r = T.nnet.relu(T.nnet.conv2d(X, W, filter_flip=False) + b.dimshuffle("x", 0, "x", "x"))
    loss = (T.nnet.pool_2d(r, (2, 2)) ** 2).mean()
    return nnthe.function([X], [loss] + nnthe.grad(loss, [W, b]),
                          mode=mode(kernels=kernels, exclude=list(exclude) + KEEP))


@pytest.mark.parametrize("kernels", BACKENDS)
def test_sum_fires_on_the_cnn_bias_gradient(kernels):
    f = cnn_bias_grad(kernels, "float64")
    ref = cnn_bias_grad(kernels, "float64", ["local_sum_pool_grad"])
    assert sum_fired(f) and not sum_fired(ref)
    (bias_sum,) = [n for n in sums(f) if n.op.axes == (0, 2, 3)]
    assert bias_sum.inputs[0].type.shape[-2:] == (4, 4)  # pooled, not the (8, 8) relu
    # The weight gradient still reads the full-size routed gradient.
    assert sum(isinstance(n.op, MaxPoolGrad) for n in f.fgraph.toposort()) == 1
    xv = np.random.default_rng(2).normal(size=(5, 1, 10, 10))
    for a, e in zip(f(xv), ref(xv)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kernels", BACKENDS)
def test_sum_rewrite_under_debug_mode(kernels):
    # DebugMode checks each node's declared type and infer_shape, kernels against
    # perform, and the results against the unrewritten graph.
    f = cnn_bias_grad(kernels, mode=DebugMode)
    assert sum_fired(f)
    f(np.random.default_rng(4).normal(size=(3, 1, 10, 10)).astype("float32"))


def test_sum_keeps_the_reductions_dtype():
    x = T.tensor4("x", shape=(None, 2, 6, 6), dtype="float16")
    gz = T.tensor4("gz", shape=(None, 2, 3, 3), dtype="float16")
    g = MaxPoolGrad((2, 2))(x, gz)
    # float16 accumulates in float32 and rounds at the end; dtype= asks for another.
    outs = [g.sum(axis=(2, 3)), g.sum(axis=(0, 2, 3), dtype="float32"),
            g.sum(dtype="float64", keepdims=True)]
    f, ref = (nnthe.function([x, gz], outs, mode=m) for m in sum_modes("numpy"))
    assert sum_fired(f) and not sum_fired(ref)
    rng = np.random.default_rng(5)
    xv, gv = (rng.normal(size=s).astype("float16") for s in ((4, 2, 6, 6), (4, 2, 3, 3)))
    for a, e, dt in zip(f(xv, gv), ref(xv, gv), ["float16", "float32", "float64"]):
        assert a.dtype == e.dtype == dt and a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=2e-3)


def test_sum_does_not_fire_without_every_pooled_axis_or_for_other_reductions():
    x = T.tensor4("x", shape=(None, 2, 6, 6))
    gz = T.tensor4("gz", shape=(None, 2, 3, 3))
    g = MaxPoolGrad((2, 2))(x, gz)
    for out in (g.sum(axis=(0, 1, 2)), g.sum(axis=(0, 3)), g.sum(axis=3), g.max(axis=(2, 3)),
                T.prod(g, axis=(2, 3))):
        f = nnthe.function([x, gz], out)
        assert any(isinstance(n.op, MaxPoolGrad) for n in f.fgraph.toposort()), out
    # A 3-d input pools its last two axes too.
    x3, gz3 = T.tensor3("x3"), T.tensor3("gz3")
    g3 = MaxPoolGrad((2, 2))(x3, gz3)
    assert sum_fired(nnthe.function([x3, gz3], g3.sum(axis=(1, 2))))
    assert not sum_fired(nnthe.function([x3, gz3], g3.sum(axis=(0, 1))))


def test_sum_does_not_fire_for_average_pooling():
    x = T.tensor4("x", shape=(None, 2, 6, 6))
    gz = T.tensor4("gz", shape=(None, 2, 3, 3))
    for mode in ("average_inc_pad", "average_exc_pad"):
        loss = (T.nnet.pool_2d(x, (2, 2), mode=mode) ** 2).sum()
        f = nnthe.function([x], nnthe.grad(loss, x).sum(axis=(0, 2, 3)))
        assert any(isinstance(n.op, AveragePoolGrad) for n in f.fgraph.toposort())
        assert all(n.inputs[0].type.shape[-2:] == (6, 6) for n in sums(f))
        # A MaxPoolGrad built with an average mode is left as it is.
        g = nnthe.function([x, gz], MaxPoolGrad((2, 2), mode=mode)(x, gz).sum(axis=(2, 3)))
        assert not sum_fired(g)


def test_sum_with_padding_and_partial_windows_fires_only_where_every_window_reaches_x():
    gz = T.tensor4("gz")
    op = dict(ws=(2, 2), stride=(2, 2), pad=(1, 1), ignore_border=False)
    for hw, reach in (((1, 1), False), ((2, 2), True), ((3, 4), False), ((4, 4), True), (None, False)):
        x = T.tensor4("x", shape=(None, 1) + (hw or (None, None)))
        f = nnthe.function([x, gz], MaxPoolGrad(**op)(x, gz).sum(axis=(2, 3)))
        assert sum_fired(f) == reach, hw
        if hw is not None:
            oh, ow = pool_output_shape(hw, (2, 2), False, (2, 2), (1, 1))
            assert windows_reach_x(Pool(**op), (1, 1) + hw, (1, 1, oh, ow)) == reach
    # With ignore_border, padded windows always reach x.
    x = T.tensor4("x")
    assert sum_fired(nnthe.function([x, gz], MaxPoolGrad((3, 3), pad=(2, 2))(x, gz).sum()))


@pytest.mark.parametrize("first", [-np.inf, np.nan])
def test_a_padded_window_of_minus_inf_or_nan_is_the_documented_exception(first):
    # The top-left window holds three padding elements and x[0, 0]; when that is -inf or
    # NaN the argmax stays on the padding and MaxPoolGrad drops the window's gradient,
    # which the rewritten sum counts. Its pooled value is -inf or NaN.
    xv = np.array([[[[first, 1.0], [2.0, 3.0]]]])
    gv = np.array([[[[5.0, 7.0], [11.0, 13.0]]]])
    x, gz = T.dtensor4("x"), T.dtensor4("gz")
    op = Pool((2, 2), pad=(1, 1))
    f, ref = (nnthe.function([x, gz], MaxPoolGrad(**op._kwargs())(x, gz).sum(axis=(2, 3)), mode=m)
              for m in sum_modes("numpy"))
    assert sum_fired(f)
    assert ref(xv, gv)[0, 0] == 7.0 + 11.0 + 13.0
    assert f(xv, gv)[0, 0] == 5.0 + 7.0 + 11.0 + 13.0
    pooled = op.perform(None, xv)[0, 0, 0, 0]
    assert pooled == -np.inf or np.isnan(pooled)
    # Any other x, NaN elsewhere included, gives the same sums.
    xv[0, 0, 0, 0], xv[0, 0, 1, 1] = 0.5, np.nan
    assert ref(xv, gv)[0, 0] == f(xv, gv)[0, 0] == 36.0


@pytest.mark.parametrize("kernels", BACKENDS)
def test_an_infinite_gz_is_the_documented_exception(kernels):
    # MaxPoolGrad writes inf * 0 = NaN beside the argmax: the unrewritten sum is NaN.
    xv = np.random.default_rng(6).normal(size=(2, 1, 4, 4))
    gv = np.ones((2, 1, 2, 2))
    gv[0, 0, 1, 0], gv[1, 0, 0, 0] = np.inf, np.nan
    x, gz = T.dtensor4("x"), T.dtensor4("gz")
    f, ref = (nnthe.function([x, gz], MaxPoolGrad((2, 2))(x, gz).sum(axis=(2, 3)), mode=m)
              for m in sum_modes(kernels))
    assert sum_fired(f)
    with np.errstate(invalid="ignore"):
        want, got = ref(xv, gv), f(xv, gv)
    assert np.isnan(want[0, 0]) and got[0, 0] == np.inf
    assert np.isnan(want[1, 0]) and np.isnan(got[1, 0])
