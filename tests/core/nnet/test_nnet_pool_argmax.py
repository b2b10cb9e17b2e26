"""MaxPoolArgmax, MaxPoolGradFromArgmax and MaxPoolArgmaxGather: bitwise Pool,
MaxPoolGrad and MaxPoolGradGrad (NaN, inf, ties, every max geometry), gradients in
float64, error paths."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnthe
import nnthe.tensor as T
from nnthe.core.nnet.pool import MaxPoolGrad, MaxPoolGradGrad, Pool
from nnthe.core.nnet.pool_argmax import (MaxPoolArgmax, MaxPoolArgmaxGather,
                                         MaxPoolGradFromArgmax, max_pool_argmax)
from nnthe.gradient import verify_grad


def var(dtype, ndim=4):
    return T.tensor(dtype, shape=(None,) * ndim)


def bits(a):
    a = np.asarray(a)
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "f" else a


def assert_bitwise(e, g):
    e, g = np.asarray(e), np.asarray(g)
    assert e.dtype == g.dtype and e.shape == g.shape, (e.dtype, e.shape, g.dtype, g.shape)
    np.testing.assert_array_equal(np.isnan(e), np.isnan(g))
    np.testing.assert_array_equal(np.where(np.isnan(e), 0, e), np.where(np.isnan(g), 0, g))
    np.testing.assert_array_equal(np.signbit(e), np.signbit(g))


def values(rng, shape, dtype, specials):
    # Rounded to halves: many ties inside windows.
    x = (np.round(rng.normal(size=shape) * 2) / 2).astype(dtype)
    x[..., ::3, ::2] = 0  # ties (a dead ReLU region)
    x[..., 1::4, :] = -0.0  # a tie of -0.0 with 0.0
    if specials:
        flat = x.reshape(-1)
        k = rng.integers(0, flat.size, size=max(1, flat.size // 6))
        flat[k] = rng.choice(np.array([np.nan, np.inf, -np.inf, -0.0], dtype), size=k.size)
    return x


def reference(ws, stride, pad, ib, x, gy, G):
    """Pool, MaxPoolGrad and MaxPoolGradGrad's perform on the same arrays."""
    kw = dict(ws=ws, stride=stride, pad=pad, ignore_border=ib)
    nd = x.ndim
    y = Pool(**kw).perform(Pool(**kw).make_node(var(x.dtype, nd)), x)
    with np.errstate(invalid="ignore"):
        gx = MaxPoolGrad(**kw).perform(None, x, gy)
        gg = MaxPoolGradGrad(**kw).perform(None, x, G)
    return y, gx, gg


def new_ops(ws, stride, pad, ib, x, gy, G):
    kw = dict(ws=ws, stride=stride, pad=pad, ignore_border=ib)
    y, a = MaxPoolArgmax(**kw).perform(None, x)
    hw = np.array(x.shape[-2:])
    with np.errstate(invalid="ignore"):
        gx = MaxPoolGradFromArgmax(**kw).perform(None, a, gy, hw)
        gg = MaxPoolArgmaxGather(**kw).perform(None, a, G)
    return y, a, gx, gg


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["float32", "float64"]), st.integers(1, 3), st.integers(1, 9),
       st.integers(1, 9), st.sampled_from([(1, 1), (2, 2), (2, 3), (3, 3), (1, 2)]),
       st.sampled_from([None, (1, 1), (2, 1), (3, 3)]), st.sampled_from([(0, 0), (1, 0), (1, 1)]),
       st.booleans(), st.booleans(), st.integers(0, 2**31))
def test_matches_pool_and_max_pool_grad_bit_for_bit(dtype, n, h, w, ws, stride, pad, ib,
                                                    specials, seed):
    if any(p >= k for p, k in zip(pad, ws)) or (ib and (h + 2 * pad[0] < ws[0] or
                                                        w + 2 * pad[1] < ws[1])):
        return
    rng = np.random.default_rng(seed)
    x = values(rng, (n, 2, h, w), dtype, specials)
    y_ref = Pool(ws, stride, pad, ib).perform(None, x)
    gy = values(rng, y_ref.shape, dtype, specials)
    G = values(rng, x.shape, dtype, specials)
    y0, gx0, gg0 = reference(ws, stride, pad, ib, x, gy, G)
    y1, a, gx1, gg1 = new_ops(ws, stride, pad, ib, x, gy, G)
    assert a.dtype == np.uint8 and a.shape == y0.shape
    assert a.max(initial=0) < ws[0] * ws[1]
    for e, g in ((y0, y1), (gx0, gx1), (gg0, gg1)):
        assert_bitwise(e, g)
        np.testing.assert_array_equal(bits(e), bits(g))  # NaN payloads too


def test_nan_inf_and_ties_follow_numpy_and_the_first_strict_maximum():
    x = np.array([[[[1.0, 1.0], [1.0, 1.0]],     # all equal: argmax 0
                   [[0.0, np.nan], [5.0, 2.0]],  # NaN after the first: pooled NaN, argmax 0
                   [[-np.inf, -np.inf], [-np.inf, -np.inf]],
                   [[-0.0, 0.0], [0.0, -1.0]]]])  # tie: pooled the later +0.0, argmax 0
    x = x.reshape(1, 4, 2, 2)
    y, a = MaxPoolArgmax((2, 2)).perform(None, x)
    assert a.reshape(-1).tolist() == [0, 0, 0, 0]
    assert np.isnan(y[0, 1, 0, 0]) and not np.signbit(y[0, 3, 0, 0])
    gy = np.array([1.0, 2.0, np.inf, np.nan]).reshape(1, 4, 1, 1)
    with np.errstate(invalid="ignore"):
        gx = MaxPoolGradFromArgmax((2, 2)).perform(None, a, gy, np.array([2, 2]))
        ref = MaxPoolGrad((2, 2)).perform(None, x, gy)
    assert_bitwise(ref, gx)
    assert np.isnan(gx[0, 2]).sum() == 3 and gx[0, 2, 0, 0] == np.inf  # inf * 0 spreads NaN
    assert np.isnan(gx[0, 3]).all()


def test_other_ranks_and_non_contiguous_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 12, 10)).transpose(1, 0, 2, 3)[:, :, :, ::2]
    gy = rng.normal(size=(3, 4, 6, 2)).transpose(1, 0, 2, 3)
    G = rng.normal(size=(4, 3, 12, 5))[:, :, ::-1]
    for arrs in ((x, gy, G), (x[0, 0], gy[0, 0], G[0, 0]), (x[0], gy[0], G[0])):
        y0, gx0, gg0 = reference((2, 2), None, (0, 0), True, *arrs)
        y1, _, gx1, gg1 = new_ops((2, 2), None, (0, 0), True, *arrs)
        for e, g in ((y0, y1), (gx0, gx1), (gg0, gg1)):
            assert_bitwise(e, g)


def test_graph_types_and_infer_shape():
    x = T.tensor4("x", shape=(None, 3, 7, 8))
    y, a = max_pool_argmax(x, (2, 2), ignore_border=False)
    assert y.type == Pool((2, 2), ignore_border=False)(x).type
    assert a.type.dtype == "uint8" and a.type.shape == (None, 3, 4, 4)
    gy = T.tensor4("gy", shape=(5, 3, 4, 4))
    gx = MaxPoolGradFromArgmax((2, 2), ignore_border=False)(a, gy, (7, 8))
    assert gx.type.shape == (5, 3, 7, 8)  # leading dims from either input
    # DebugMode checks every node's infer_shape and declared type against the values.
    xv = np.random.default_rng(1).normal(size=(5, 3, 7, 8)).astype("float32")
    gyv = np.ones((5, 3, 4, 4), "float32")
    f = nnthe.function([x, gy], [y, a, gx, MaxPoolArgmaxGather((2, 2), ignore_border=False)(a, x)],
                       mode="DEBUG")
    outs = f(xv, gyv)
    assert outs[1].dtype == np.uint8 and outs[2].shape == xv.shape and outs[3].shape == (5, 3, 4, 4)


@pytest.mark.parametrize("ws,stride,pad,ib", [((2, 2), None, (0, 0), True),
                                              ((3, 3), (2, 2), (1, 1), False),
                                              ((2, 3), (1, 2), (1, 0), True)])
def test_gradients_in_float64(ws, stride, pad, ib):
    rng = np.random.default_rng(2)
    # Well-separated values: finite differences do not move an argmax.
    xv = rng.permutation(4 * 7 * 6).reshape(2, 2, 7, 6) * 0.1
    kw = dict(ws=ws, stride=stride, pad=pad, ignore_border=ib)
    verify_grad(lambda x: MaxPoolArgmax(**kw)(x)[0], [xv], rng=rng)
    verify_grad(lambda x: MaxPoolArgmax(**kw)(x)[0] ** 2, [xv], rng=rng)
    a = T.constant(MaxPoolArgmax(**kw).perform(None, xv)[1])
    gyv = rng.normal(size=a.data.shape)
    verify_grad(lambda g: MaxPoolGradFromArgmax(**kw)(a, g, (7, 6)), [gyv], rng=rng)
    verify_grad(lambda G: MaxPoolArgmaxGather(**kw)(a, G), [rng.normal(size=xv.shape)], rng=rng)
    # Second order: the pullback of the gradient is the gather, and back.
    x = T.tensor("float64", shape=xv.shape)
    y, am = MaxPoolArgmax(**kw)(x)
    g = nnthe.grad((y ** 3).sum(), x)
    g_ref = nnthe.grad((Pool(**kw)(x) ** 3).sum(), x)
    hv = nnthe.grad((g * T.constant(xv)).sum(), x)
    hv_ref = nnthe.grad((g_ref * T.constant(xv)).sum(), x)
    f = nnthe.function([x], [g, g_ref, hv, hv_ref])
    r = f(xv)
    np.testing.assert_allclose(r[0], r[1], rtol=1e-12)
    np.testing.assert_allclose(r[2], r[3], rtol=1e-12)
    # The argmax output is integer: no gradient flows through it.
    assert nnthe.grad(y.sum() + am.sum().astype("float64"), x) is not None


def test_errors():
    x = T.tensor4("x")
    with pytest.raises(ValueError, match="only max pooling"):
        MaxPoolArgmax((2, 2), mode="average_inc_pad")
    with pytest.raises(ValueError, match="at most 256"):
        MaxPoolArgmax((17, 16))
    MaxPoolArgmax((16, 16))(x)  # 256 offsets 0..255 fit
    with pytest.raises(TypeError, match="float tensor"):
        MaxPoolArgmax((2, 2))(T.tensor4("i", dtype="int32"))
    with pytest.raises(TypeError, match="uint8"):
        MaxPoolGradFromArgmax((2, 2))(T.tensor4("a", dtype="int8"), x, (4, 4))
    with pytest.raises(TypeError, match="same number of dimensions"):
        MaxPoolGradFromArgmax((2, 2))(T.tensor3("a", dtype="uint8"), x, (4, 4))
    with pytest.raises(ValueError, match="differ along axis 0"):
        MaxPoolGradFromArgmax((2, 2))(T.tensor("uint8", shape=(2, None, None, None)),
                                      T.tensor("float32", shape=(3, None, None, None)), (4, 4))
    with pytest.raises(ValueError, match="2 entries"):
        MaxPoolGradFromArgmax((2, 2))(T.tensor4("a", dtype="uint8"), x, (4, 4, 4))
    with pytest.raises(TypeError, match="uint8"):
        MaxPoolArgmaxGather((2, 2))(x, x)
    a = np.zeros((1, 1, 2, 2), np.uint8)
    with pytest.raises(ValueError, match="do not match an input of spatial shape"):
        MaxPoolGradFromArgmax((2, 2)).perform(None, a, np.zeros((1, 1, 2, 2)), np.array([6, 6]))
    with pytest.raises(ValueError, match="do not match"):
        MaxPoolGradFromArgmax((2, 2)).perform(None, a, np.zeros((1, 1, 2, 1)), np.array([4, 4]))
    with pytest.raises(ValueError, match="does not match"):
        MaxPoolArgmaxGather((2, 2)).perform(None, a, np.zeros((2, 1, 4, 4)))
