"""local_pool_mask: a boolean mask of a max pool's input applied at the pooled size.

Values against the graph without the rewrite and against NumPy, bit for bit (NaN and
inf included) where the rewrite's docstring says so; where it fires and where not."""
import importlib.util

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.mode import Mode
from nnthe.core.nnet.pool import AveragePoolGrad, MaxPoolGrad, Pool
from nnthe.core.ops import elemwise as E
from nnthe.core.testing import verify_grad

HAS_NUMBA = importlib.util.find_spec("numba") is not None
BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not HAS_NUMBA, reason="the numba backend needs numba (pip install 'nnthe[fast]')"))]


def modes(kernels):
    return Mode(kernels=kernels), Mode(kernels=kernels, exclude=["local_pool_mask"])


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
                          mode=Mode(kernels=kernels, exclude=list(exclude)))


def full_size_elementwise(f, hw=(8, 8)):
    """Elementwise (fused or not) nodes with an output of spatial size ``hw``."""
    return [n for n in f.fgraph.toposort()
            if "Elemwise" in type(n.op).__name__ and n.outputs[0].type.shape[-2:] == hw]


@pytest.mark.parametrize("kernels", BACKENDS)
def test_fires_on_the_cnn_relu_pool_gradient(kernels):
    f, ref = cnn_grad(kernels), cnn_grad(kernels, ["local_pool_mask"])
    assert fired(f) and not fired(ref)
    # Forward bias + relu only; unrewritten, the mask of the gradient too.
    assert len(full_size_elementwise(f)) == 1 and len(full_size_elementwise(ref)) == 2
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
    f = nnthe.function([x], nnthe.grad(model(x).sum(), x))
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
    f = nnthe.function([x, gz], [E.gt(x, 0) * g, g.sum(), Pool((2, 2))(x)])
    assert not fired(f)
    assert sum(isinstance(n.op, MaxPoolGrad) for n in f.fgraph.toposort()) == 1
