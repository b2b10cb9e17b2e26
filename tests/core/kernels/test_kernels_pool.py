"""Max-pool kernels against the ops' NumPy perform, bit for bit."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from kernel_testutil import assert_bitwise, thunk_of, var

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.mode import Mode
from nnthe.core.kernels import KernelContext, KernelReport, kernel_thunk
from nnthe.core.nnet.pool import MaxPoolGrad, Pool


def values(rng, shape, dtype, specials):
    x = rng.normal(size=shape).astype(dtype)
    # Ties (a dead ReLU region), and NaN / inf where asked.
    x[..., ::3, ::2] = 0
    if specials:
        flat = x.reshape(-1)
        k = rng.integers(0, flat.size, size=max(1, flat.size // 20))
        flat[k] = rng.choice(np.array([np.nan, np.inf, -np.inf, -0.0], dtype), size=k.size)
    return x


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["float32", "float64"]), st.integers(1, 3), st.integers(2, 11),
       st.integers(2, 11), st.sampled_from([(2, 2), (2, 3), (1, 2)]),
       st.sampled_from([None, (1, 1), (3, 3)]), st.sampled_from([(0, 0), (0, 0), (1, 0)]),
       st.booleans(), st.booleans(), st.integers(0, 2**31))
def test_max_pool_and_gradient_match_perform(dtype, n, h, w, ws, stride, pad, ignore_border,
                                             specials, seed):
    if any(p >= k for p, k in zip(pad, ws)) or (ignore_border and (h + 2 * pad[0] < ws[0] or
                                                                  w + 2 * pad[1] < ws[1])):
        return
    op = Pool(ws, stride, pad, ignore_border, "max")
    rng = np.random.default_rng(seed)
    x = values(rng, (n, 2, h, w), dtype, specials)
    node = op.make_node(var(dtype, (None, 2, None, None)))
    grad = MaxPoolGrad(ws, stride, pad, ignore_border, "max")
    gnode = grad.make_node(var(dtype, (None, 2, None, None)), var(dtype, (None, 2, None, None)))
    if pad != (0, 0) or op.stride[0] < ws[0] or op.stride[1] < ws[1]:
        # Padding and overlapping windows keep perform.
        assert kernel_thunk(node, KernelContext(KernelReport())) is None
        assert kernel_thunk(gnode, KernelContext(KernelReport())) is None
        return
    y = op.perform(node, x)
    assert_bitwise(y, thunk_of(node)(x))  # partial windows (ignore_border=False): perform
    gy = values(rng, y.shape, dtype, specials)
    with np.errstate(invalid="ignore"):  # inf * 0 (also in perform, where a partial window
        expected = grad.perform(gnode, x, gy)  # makes the kernel fall back to it)
        got = thunk_of(gnode)(x, gy)
    assert_bitwise(expected, got)


def test_non_contiguous_inputs_and_other_ranks():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 12, 10)).astype("float32").transpose(1, 0, 2, 3)[:, :, :, ::2]
    node = Pool((2, 2)).make_node(var("float32", (None, None, None, None)))
    assert_bitwise(Pool((2, 2)).perform(node, x), thunk_of(node)(x))
    x3 = rng.normal(size=(5, 8, 8))
    node3 = Pool((2, 2)).make_node(var("float64", (None, 8, 8)))
    assert_bitwise(Pool((2, 2)).perform(node3, x3), thunk_of(node3)(x3))
    gnode = MaxPoolGrad((2, 2)).make_node(var("float64", (None, 8, 8)), var("float64", (None, 4, 4)))
    gy = rng.normal(size=(5, 4, 4))[:, ::-1]
    assert_bitwise(MaxPoolGrad((2, 2)).perform(gnode, x3, gy), thunk_of(gnode)(x3, gy))
    with pytest.raises(ValueError, match="does not match"):
        thunk_of(gnode)(x3, gy[:, :2])


def test_average_pooling_keeps_perform_and_a_cnn_step_is_unchanged():
    node = Pool((2, 2), mode="average_inc_pad").make_node(var("float32", (None, 1, 4, 4)))
    assert kernel_thunk(node, KernelContext(KernelReport())) is None
    X = T.tensor4("X", shape=(None, 2, 8, 8))
    W = nnthe.shared(np.random.default_rng(0).normal(size=(3, 2, 3, 3)).astype("float32"))
    loss = (T.nnet.pool_2d(T.nnet.relu(T.nnet.conv2d(X, W)), (2, 2)) ** 2).sum()
    g = nnthe.grad(loss, W)
    outs = []
    for kernels in ("numba", "numpy"):
        f = nnthe.function([X], [loss, g], mode=Mode(kernels=kernels))
        outs.append(f(np.random.default_rng(1).normal(size=(4, 2, 8, 8)).astype("float32")))
    for a, b in zip(*outs):
        assert_bitwise(a, b)
