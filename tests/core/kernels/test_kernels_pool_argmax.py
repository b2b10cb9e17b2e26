"""The kernels of MaxPoolArgmax and MaxPoolGradFromArgmax against the ops' NumPy
perform (and so Pool and MaxPoolGrad), bit for bit."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from kernel_testutil import assert_bitwise, thunk_of, var

from nnthe.core.kernels import KernelContext, KernelReport, kernel_thunk
from nnthe.core.nnet.pool import MaxPoolGrad, Pool
from nnthe.core.nnet.pool_argmax import MaxPoolArgmax, MaxPoolGradFromArgmax


def values(rng, shape, dtype, specials):
    # Rounded to halves: many ties inside windows.
    x = (np.round(rng.normal(size=shape) * 2) / 2).astype(dtype)
    x[..., ::3, ::2] = 0  # ties
    if specials:
        flat = x.reshape(-1)
        k = rng.integers(0, flat.size, size=max(1, flat.size // 6))
        flat[k] = rng.choice(np.array([np.nan, np.inf, -np.inf, -0.0], dtype), size=k.size)
    return x


def nodes(dtype, kw, ndim=4):
    a = MaxPoolArgmax(**kw).make_node(var(dtype, (None,) * ndim))
    g = MaxPoolGradFromArgmax(**kw).make_node(var("uint8", (None,) * ndim),
                                              var(dtype, (None,) * ndim), var("int64", (2,)))
    return a, g


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["float32", "float64"]), st.integers(1, 3), st.integers(1, 11),
       st.integers(1, 11), st.sampled_from([(2, 2), (2, 3), (1, 2), (3, 3)]),
       st.sampled_from([None, (3, 3), (4, 3), (1, 1)]), st.sampled_from([(0, 0), (1, 0)]),
       st.booleans(), st.booleans(), st.integers(0, 2**31))
def test_kernels_match_perform_and_the_old_ops(dtype, n, h, w, ws, stride, pad, ib, specials,
                                               seed):
    if any(p >= k for p, k in zip(pad, ws)) or (ib and (h + 2 * pad[0] < ws[0] or
                                                        w + 2 * pad[1] < ws[1])):
        return
    kw = dict(ws=ws, stride=stride, pad=pad, ignore_border=ib)
    anode, gnode = nodes(dtype, kw)
    op = anode.op
    if pad != (0, 0) or op.stride[0] < ws[0] or op.stride[1] < ws[1]:
        # Padding and overlapping windows keep perform, as Pool's and MaxPoolGrad's.
        assert kernel_thunk(anode, KernelContext(KernelReport())) is None
        assert kernel_thunk(gnode, KernelContext(KernelReport())) is None
        return
    rng = np.random.default_rng(seed)
    x = values(rng, (n, 2, h, w), dtype, specials)
    y, a = op.perform(anode, x)
    yk, ak = thunk_of(anode)(x)  # partial windows (ignore_border=False): perform
    assert_bitwise(y, yk)
    assert_bitwise(a, ak)
    assert_bitwise(Pool(**kw).perform(None, x), yk)
    gy = values(rng, y.shape, dtype, specials)
    hw = np.array([h, w])
    with np.errstate(invalid="ignore"):
        expected = gnode.op.perform(gnode, a, gy, hw)
        old = MaxPoolGrad(**kw).perform(None, x, gy)
        got = thunk_of(gnode)(ak, gy, hw)  # partial windows: perform
    assert_bitwise(expected, got)
    assert_bitwise(old, got)


def test_non_contiguous_inputs_other_ranks_and_gaps():
    rng = np.random.default_rng(0)
    kw = dict(ws=(2, 2))
    x = rng.normal(size=(3, 4, 12, 10)).astype("float32").transpose(1, 0, 2, 3)[:, :, :, ::2]
    anode, gnode = nodes("float32", kw)
    yk, ak = thunk_of(anode)(x)
    y, a = anode.op.perform(anode, x)
    assert_bitwise(y, yk)
    assert_bitwise(a, ak)
    gy = rng.normal(size=(3, 4, 6, 2)).astype("float32").transpose(1, 0, 2, 3)
    hw = np.array([12, 5])
    strided = ak[:, ::-1].copy()[:, ::-1]
    assert_bitwise(MaxPoolGrad(**kw).perform(None, x, gy), thunk_of(gnode)(strided, gy, hw))
    # 3-d, float64, and stride > window (gaps no window covers are zero).
    kw = dict(ws=(2, 2), stride=(3, 3), ignore_border=True)
    anode, gnode = nodes("float64", kw, 3)
    x3 = rng.normal(size=(5, 8, 9))
    yk, ak = thunk_of(anode)(x3)
    gy = rng.normal(size=yk.shape)[:, ::-1]
    got = thunk_of(gnode)(ak, gy, np.array([8, 9]))
    assert_bitwise(MaxPoolGrad(**kw).perform(None, x3, gy), got)
    assert (got[:, 2::3] == 0).all() and (got[:, :, 2::3] == 0).all()


def test_errors_and_unsupported():
    anode, gnode = nodes("float32", dict(ws=(2, 2)))
    a = np.zeros((2, 3, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="do not match an input of spatial shape"):
        thunk_of(gnode)(a, np.zeros((2, 3, 4, 4), "float32"), np.array([6, 6]))
    with pytest.raises(ValueError, match="do not match"):
        thunk_of(gnode)(a, np.zeros((2, 3, 4, 3), "float32"), np.array([8, 8]))
    with pytest.raises(ValueError, match="does not fit"):
        thunk_of(anode)(np.zeros((1, 1, 1, 5), "float32"))
    # float16 keeps perform.
    a16, g16 = nodes("float16", dict(ws=(2, 2)))
    assert kernel_thunk(a16, KernelContext(KernelReport())) is None
    assert kernel_thunk(g16, KernelContext(KernelReport())) is None


def test_compile_report_names_the_kernels():
    report = KernelReport()
    anode, gnode = nodes("float64", dict(ws=(5, 4)))
    thunk_of(anode, report=report)
    thunk_of(gnode, report=report)
    # A geometry no other test compiles: both kernels are reported (compiled or loaded
    # from numba's disk cache).
    assert [e[0] for e in report.entries] == ["max_pool_argmax", "max_pool_grad_from_argmax"]
    assert thunk_of(anode).nnthe_exact and thunk_of(gnode).nnthe_exact
