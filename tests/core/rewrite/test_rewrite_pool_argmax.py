"""pool_argmax: Pool(x) and MaxPoolGrad(x, gz) -> MaxPoolArgmax(x) and
MaxPoolGradFromArgmax(argmax, gz, ...). Where it fires (a CNN training step, after
local_pool_mask and local_sum_pool_grad) and where not; the results bit for bit those
of the unrewritten graph on both backends; DebugMode."""
import importlib.util

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import optim
from nnthe.core.compile.debugmode import DebugMode
from nnthe.core.compile.mode import Mode
from nnthe.core.nnet.pool import MaxPoolGrad, Pool
from nnthe.core.nnet.pool_argmax import MaxPoolArgmax, MaxPoolGradFromArgmax
from nnthe.core.ops import elemwise as E

HAS_NUMBA = importlib.util.find_spec("numba") is not None
BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not HAS_NUMBA, reason="the numba backend needs numba (pip install 'nnthe[fast]')"))]


def ops(f, cls):
    return [n for n in f.fgraph.toposort() if type(n.op) is cls]


def assert_bitwise(e, g):
    e, g = np.asarray(e), np.asarray(g)
    assert e.dtype == g.dtype and e.shape == g.shape
    np.testing.assert_array_equal(np.isnan(e), np.isnan(g))
    np.testing.assert_array_equal(e, g)
    if e.dtype.kind == "f":
        np.testing.assert_array_equal(np.signbit(e), np.signbit(g))


def cnn_step(kernels, mode=Mode, exclude=(), dtype="float32"):
    """One Adam step of a small conv-relu-pool-conv-relu-pool-dense CNN; returns the
    function and its shared parameters."""
    rng = np.random.default_rng(0)
    sh = lambda *s: nnthe.shared((rng.normal(size=s) * 0.3).astype(dtype))
    p = [sh(4, 1, 3, 3), sh(4), sh(6, 4, 3, 3), sh(6), sh(6 * 2 * 2, 3)]
    p[1].set_value(abs(p[1].get_value()))  # positive: a constant input region ties above 0
    X = T.tensor4("X", shape=(None, 1, 14, 14), dtype=dtype)
    y = T.lvector("y")
    h = T.nnet.relu(T.nnet.conv2d(X, p[0], filter_flip=False) + p[1].dimshuffle("x", 0, "x", "x"))
    h = T.nnet.pool_2d(h, (2, 2))  # 12 -> 6
    h = T.nnet.relu(T.nnet.conv2d(h, p[2], filter_flip=False) + p[3].dimshuffle("x", 0, "x", "x"))
    h = T.nnet.pool_2d(h, (2, 2))  # 4 -> 2
    loss = T.nnet.softmax_cross_entropy_with_logits(T.dot(h.flatten(2), p[4]), y).mean()
    updates = optim.Adam(learning_rate=1e-2).updates(loss, p)
    f = nnthe.function([X, y], loss, updates=updates,
                       mode=mode(kernels=kernels, exclude=list(exclude)))
    return f, p


def batch(dtype="float32", seed=1):
    rng = np.random.default_rng(seed)
    xv = rng.normal(size=(5, 1, 14, 14)).astype(dtype)
    xv[0, 0, :6, :6] = 0  # ties: the first conv's output there is its bias
    return xv, rng.integers(0, 3, 5)


@pytest.mark.parametrize("kernels", BACKENDS)
def test_fires_in_a_cnn_training_step_with_the_same_results(kernels):
    f, p = cnn_step(kernels)
    ref, p_ref = cnn_step(kernels, exclude=["pool_argmax"])
    assert len(ops(f, MaxPoolArgmax)) == 2 and len(ops(f, MaxPoolGradFromArgmax)) == 2
    assert not ops(f, Pool) and not ops(f, MaxPoolGrad)
    assert len(ops(ref, Pool)) == 2 and len(ops(ref, MaxPoolGrad)) == 2 and not ops(ref, MaxPoolArgmax)
    # local_pool_mask has applied first: the relu's gradient mask reads the pooled output.
    for n in ops(f, MaxPoolGradFromArgmax):
        assert n.inputs[0].owner.op == MaxPoolArgmax((2, 2))
        assert n.inputs[1].type.shape[-2:] == n.inputs[0].type.shape[-2:]
    for step in range(3):
        xv, yv = batch(seed=step)
        assert_bitwise(ref(xv, yv), f(xv, yv))
        for a, b in zip(p, p_ref):
            assert_bitwise(b.get_value(), a.get_value())


@pytest.mark.parametrize("kernels", BACKENDS)
def test_debug_mode_cnn_training_step(kernels):
    # DebugMode checks each node's type and infer_shape, kernels against perform, and
    # the results against the unrewritten graph.
    f, _ = cnn_step(kernels, mode=DebugMode)
    assert len(ops(f, MaxPoolArgmax)) == 2
    f(*batch())


@pytest.mark.parametrize("kernels", BACKENDS)
def test_nan_and_inf_are_routed_as_before(kernels):
    rng = np.random.default_rng(5)
    x = T.tensor4("x", shape=(None, 2, 7, 6), dtype="float64")
    gz = T.tensor4("gz", shape=(None, 2, 3, 3), dtype="float64")
    outs = [Pool((2, 2))(x), MaxPoolGrad((2, 2))(x, gz), MaxPoolGrad((2, 2))(x, gz * 2)]
    f = nnthe.function([x, gz], outs, mode=Mode(kernels=kernels))
    ref = nnthe.function([x, gz], outs, mode=Mode(kernels=kernels, exclude=["pool_argmax"]))
    # Two gradients of the same x and geometry share the one argmax.
    assert len(ops(f, MaxPoolArgmax)) == 1 and len(ops(f, MaxPoolGradFromArgmax)) == 2
    xv = rng.normal(size=(3, 2, 7, 6))
    xv.reshape(-1)[rng.integers(0, xv.size, 20)] = np.nan
    xv.reshape(-1)[rng.integers(0, xv.size, 10)] = np.inf
    xv[..., ::2, ::2] = 0
    gv = rng.normal(size=(3, 2, 3, 3))
    gv.reshape(-1)[rng.integers(0, gv.size, 4)] = np.inf
    gv.reshape(-1)[rng.integers(0, gv.size, 4)] = np.nan
    with np.errstate(invalid="ignore"):
        for e, g in zip(ref(xv, gv), f(xv, gv)):
            assert_bitwise(e, g)


def test_does_not_fire_without_the_forward_pool_or_with_another_geometry():
    x = T.tensor4("x", shape=(None, 2, 6, 6))
    gz = T.tensor4("gz", shape=(None, 2, 3, 3))
    g = MaxPoolGrad((2, 2))(x, gz)
    f = nnthe.function([x, gz], g)  # the gradient alone: adding a pool would not pay
    assert len(ops(f, MaxPoolGrad)) == 1 and not ops(f, MaxPoolArgmax)
    for other in (Pool((3, 3)), Pool((2, 2), stride=(1, 1)), Pool((2, 2), pad=(1, 1)),
                  Pool((2, 2), ignore_border=False), Pool((2, 2), mode="average_inc_pad")):
        f = nnthe.function([x, gz], [g, other(x)])
        assert len(ops(f, MaxPoolGrad)) == 1 and not ops(f, MaxPoolArgmax), other
    # A pool of another tensor.
    f = nnthe.function([x, gz], [g, Pool((2, 2))(E.exp(x))])
    assert len(ops(f, MaxPoolGrad)) == 1 and not ops(f, MaxPoolArgmax)
    # Average modes, and windows of more than 256 elements.
    for op in (MaxPoolGrad((2, 2), mode="average_exc_pad"),):
        f = nnthe.function([x, gz], [op(x, gz), Pool((2, 2), mode="average_exc_pad")(x)])
        assert len(ops(f, MaxPoolGrad)) == 1 and not ops(f, MaxPoolArgmax)
    big = T.tensor4("big", shape=(1, 1, 17, 17))
    gbig = T.tensor4("gbig", shape=(1, 1, 1, 1))
    f = nnthe.function([big, gbig], [MaxPoolGrad((17, 16))(big, gbig), Pool((17, 16))(big)])
    assert len(ops(f, MaxPoolGrad)) == 1 and not ops(f, MaxPoolArgmax)


def test_fires_for_overlapping_padded_windows_and_the_exclude_switch():
    x = T.tensor4("x", shape=(None, 2, 7, 8), dtype="float64")
    op = Pool((3, 3), (2, 2), (1, 1), False)
    loss = (op(x) ** 2).sum()
    f = nnthe.function([x], [loss, nnthe.grad(loss, x)])
    ref = nnthe.function([x], [loss, nnthe.grad(loss, x)], mode=Mode(exclude=["pool_argmax"]))
    assert len(ops(f, MaxPoolArgmax)) == 1 and not ops(ref, MaxPoolArgmax)
    xv = np.random.default_rng(3).normal(size=(2, 2, 7, 8))
    for e, g in zip(ref(xv), f(xv)):
        assert_bitwise(e, g)
