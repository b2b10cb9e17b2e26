"""The compiled epilogue after perform's GEMM (nnthe.core.kernels.conv_epilogue) against
perform, bit for bit."""
import numpy as np
import pytest

from kernel_testutil import assert_bitwise, corrupt_kernels, thunk_of, var

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.debugmode import DebugMode, DebugModeError
from nnthe.core.kernels import KernelContext, KernelReport, kernel_thunk
from nnthe.core.nnet.conv import Conv2d

# inf - inf in the special values: NumPy's warning in perform.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")

# (C, H, W), (K, kh, kw), keywords: channels-first and channels-last im2col, groups.
CASES = [
    ((3, 7, 9), (4, 3, 3), dict(border_mode="half", subsample=(2, 1))),
    ((32, 12, 12), (8, 5, 5), dict()),
    ((8, 6, 7), (6, 3, 2), dict(num_groups=2, filter_flip=True, border_mode=(1, 0))),
]


def node_of(case, dtype, epilogue):
    (c, h, w), (k, kh, kw), kwargs = case
    g = kwargs.get("num_groups", 1)
    return Conv2d(**kwargs, epilogue=epilogue).make_node(
        var(dtype, (None, c, h, w)), var(dtype, (k, c // g, kh, kw)), var(dtype, (k,)))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("epilogue", ["bias", "bias_relu"])
def test_equals_perform_bitwise(case, dtype, epilogue):
    (c, h, w), (k, kh, kw), kwargs = case
    node = node_of(case, dtype, epilogue)
    thunk = thunk_of(node)
    assert thunk.nnthe_exact
    rng = np.random.default_rng(k)
    x = rng.standard_normal((3, c, h, w)).astype(dtype)
    wt = rng.standard_normal((k, c // kwargs.get("num_groups", 1), kh, kw)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    x[1, 0, 1, :3] = [np.nan, np.inf, -np.inf]
    b[0], b[-1] = np.inf, np.nan
    for bias in (b, b[::-1].copy()[::-1], np.zeros_like(b)):  # a non-contiguous one too
        y, cols = node.op.perform(node, x, wt, bias)
        got, got_cols = thunk(x, wt, bias)
        assert_bitwise(y, got)
        np.testing.assert_array_equal(cols, got_cols)  # perform's im2col matrix, as it was


def test_the_plain_convolution_and_other_dtypes_have_no_such_kernel():
    plain = Conv2d().make_node(var("float32", (None, 32, 12, 12)), var("float32", (8, 32, 5, 5)))
    assert kernel_thunk(plain, KernelContext(KernelReport())) is None
    half = node_of(CASES[1], "float16", "bias_relu")
    assert kernel_thunk(half, KernelContext(KernelReport())) is None


def test_a_wrong_bias_falls_back_to_performs_error():
    node = node_of(CASES[1], "float32", "bias_relu")
    rng = np.random.default_rng(0)
    x, w = rng.random((2, 32, 12, 12), np.float32), rng.random((8, 32, 5, 5), np.float32)
    with pytest.raises(ValueError, match="a bias of shape"):
        thunk_of(node)(x, w, np.zeros(7, np.float32))


def test_debugmode_compares_it(monkeypatch):
    rng = np.random.default_rng(1)
    W = nnthe.shared(rng.standard_normal((8, 32, 5, 5)).astype("float32") * 0.1, name="W")
    b = nnthe.shared(np.linspace(-1, 1, 8).astype("float32"), name="b")
    X = T.tensor4("X", shape=(None, 32, 12, 12))
    z = T.nnet.relu(T.nnet.conv2d(X, W) + b.dimshuffle("x", 0, "x", "x"))
    x = rng.standard_normal((2, 32, 12, 12)).astype("float32")
    nnthe.function([X], z, mode=DebugMode(kernels="numba"))(x)

    def broken(thunk):
        def wrong(*args):
            y, cols = thunk(*args)
            return np.nextafter(y, np.inf), cols  # one ulp off: an exact kernel must not be
        wrong.nnthe_kernel, wrong.nnthe_exact = thunk.nnthe_kernel, True
        return wrong

    corrupt_kernels(monkeypatch, Conv2d, broken)
    with pytest.raises(DebugModeError, match="bitwise"):
        nnthe.function([X], z, mode=DebugMode(kernels="numba"))(x)
