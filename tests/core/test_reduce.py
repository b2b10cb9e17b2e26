"""Reductions: values against NumPy for every axis form, keepdims, gradients."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T

from core_testutil import assert_close, check_grad, run


def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


REDUCTIONS = [
    ("sum", T.sum, np.sum),
    ("mean", T.mean, np.mean),
    ("prod", T.prod, np.prod),
    ("max", T.max, np.max),
    ("min", T.min, np.min),
    ("var", T.var, np.var),
    ("std", T.std, np.std),
    ("logsumexp", T.logsumexp, _logsumexp),
]
AXES = [None, 0, 1, -1, (0, 2), (1, 2), (0, 1, 2)]


@pytest.mark.parametrize("name,fn,ref", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_value(name, fn, ref, axis, keepdims, rng):
    x = rng.uniform(0.5, 1.5, size=(2, 3, 4)).astype("float32")
    got = run(lambda v: fn(v, axis=axis, keepdims=keepdims), x)
    want = ref(x.astype("float64"), axis=axis, keepdims=keepdims)
    assert_close(got, want, dtype="float32", rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,fn,ref", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", [None, 1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_grad(name, fn, ref, axis, keepdims, rng):
    # Distinct values so that max/min have a unique arg (the gradient is defined).
    x = rng.permutation(24).reshape(2, 3, 4) / 10.0 + 0.5
    check_grad(lambda v: fn(v, axis=axis, keepdims=keepdims), [x])


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min", "var", "std"])
def test_reduction_methods(name, rng):
    x = rng.uniform(0.5, 1.5, size=(3, 4))
    got = run(lambda v: getattr(v, name)(axis=0), x)
    assert_close(got, getattr(np, name)(x, axis=0))


def test_static_shape_of_reductions():
    x = T.tensor("float32", shape=(2, None, 4))
    assert x.sum(axis=1).static_shape == (2, 4)
    assert x.sum(axis=(0, 2), keepdims=True).static_shape == (1, None, 1)
    assert x.max().static_shape == ()
    assert T.argmax(x, axis=2).static_shape == (2, None)


def test_prod_gradient_with_zeros_is_exact():
    x = T.dmatrix("x")
    g = nnthe.grad(x.prod(axis=1).sum(), x)
    f = nnthe.function([x], g)
    v = np.array([[2.0, 3.0, 4.0],      # no zero: products of the others
                  [0.0, 3.0, 4.0],      # one zero: only it gets a gradient
                  [0.0, 0.0, 4.0]])     # two zeros: all zero
    assert_close(f(v), [[12.0, 8.0, 6.0], [12.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    check_grad(lambda a: a.prod(axis=0), [np.array([[0.0, 1.5], [2.0, -1.0], [3.0, 0.5]])])
    check_grad(lambda a: a.prod(), [np.array([0.0, 1.5, 2.0, -1.0])])


def test_max_gradient_goes_to_maximal_elements():
    x = T.dvector("x")
    g = nnthe.function([x], nnthe.grad(x.max(), x))(np.array([1.0, 3.0, 2.0]))
    assert_close(g, [0.0, 1.0, 0.0])


# -- ties (issue 13, item 13): k tied extrema get g / k each, as torch.amax / amin -------

TIES = np.array([[1.0, 3.0, 3.0, 2.0],
                 [5.0, 5.0, 5.0, -1.0],
                 [0.0, -2.0, 4.0, -1.0]])


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("axis", [None, 0, 1], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_min_gradient_splits_ties(name, axis, keepdims):
    x = T.dmatrix("x")
    out = getattr(T, name)(x, axis=axis, keepdims=keepdims)
    w = np.arange(1.0, 1.0 + np.prod(getattr(np, name)(TIES, axis=axis, keepdims=keepdims).shape))
    ws = T.constant(w.reshape(getattr(np, name)(TIES, axis=axis, keepdims=keepdims).shape))
    g = nnthe.function([x], nnthe.grad((out * ws).sum(), x))(TIES)
    # Reference: the weight of each slice, shared by its tied extrema.
    ext = getattr(np, name)(TIES, axis=axis, keepdims=True)
    hit = (TIES == ext).astype(float)
    ref = hit / hit.sum(axis=axis, keepdims=True) * w.reshape(ext.shape)
    assert_close(g, ref)
    # Each slice's gradient sums to its weight, whatever the number of ties.
    assert_close(g.sum(axis=axis), w.reshape(ext.shape).sum(axis=axis) if axis is not None
                 else w.sum())
    torch = pytest.importorskip("torch")
    t = torch.tensor(TIES, requires_grad=True)
    dims = tuple(range(2)) if axis is None else axis
    tout = getattr(torch, "a" + name)(t, dim=dims, keepdim=keepdims)
    (tout * torch.tensor(w.reshape(tuple(tout.shape)))).sum().backward()
    assert_close(g, t.grad.numpy())


def test_max_gradient_two_ties_sum_to_one():
    x = T.dvector("x")
    g = nnthe.function([x], nnthe.grad(x.max(), x))(np.array([1.0, 3.0, 3.0]))
    assert_close(g, [0.0, 0.5, 0.5])


def test_argmax_indexing_routes_the_gradient_to_the_first_maximum():
    # The argmax-based form picks one element (NumPy's first maximum): all of g goes there.
    x = T.dmatrix("x")
    picked = x[T.arange(x.shape[0]), T.argmax(x, axis=1)]
    g = nnthe.function([x], nnthe.grad(picked.sum(), x))(TIES)
    ref = np.zeros_like(TIES)
    ref[np.arange(3), TIES.argmax(axis=1)] = 1.0
    assert_close(g, ref)
    g = nnthe.function([x], nnthe.grad(x[T.arange(x.shape[0]), T.argmin(x, axis=1)].sum(), x))(TIES)
    ref = np.zeros_like(TIES)
    ref[np.arange(3), TIES.argmin(axis=1)] = 1.0
    assert_close(g, ref)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_gradient_away_from_ties_second_order(name, rng):
    # Away from ties the split changes nothing: differences agree, also for a grad of grad.
    x = rng.permutation(12).reshape(3, 4) / 10.0 + 0.5
    check_grad(lambda v: getattr(T, name)(v * v, axis=1), [x])
    check_grad(lambda v: nnthe.grad((getattr(T, name)(v * v, axis=0) ** 2).sum(), v), [x])


@pytest.mark.parametrize("name,ref", [("argmax", np.argmax), ("argmin", np.argmin)])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin(name, ref, axis, keepdims, rng):
    x = rng.normal(size=(3, 5)).astype("float32")
    got = run(lambda v: getattr(T, name)(v, axis=axis, keepdims=keepdims), x)
    assert_close(got, ref(x, axis=axis, keepdims=keepdims), dtype="int64")
    assert_close(run(lambda v: getattr(v, name)(axis=axis), x), ref(x, axis=axis))


def test_argmax_has_no_gradient_and_does_not_break_grad():
    x = T.dvector("x")
    cost = x.sum() + T.cast(T.argmax(x), "float64")
    g = nnthe.function([x], nnthe.grad(cost, x))(np.array([1.0, 2.0]))
    assert_close(g, [1.0, 1.0])


@pytest.mark.parametrize("name,ref", [("all", np.all), ("any", np.any)])
@pytest.mark.parametrize("axis", [None, 0, (0, 1), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_all_any(name, ref, axis, keepdims, rng):
    x = rng.integers(0, 2, size=(2, 3)).astype(bool)
    got = run(lambda v: getattr(T, name)(v, axis=axis, keepdims=keepdims), x)
    assert_close(got, ref(x, axis=axis, keepdims=keepdims), dtype="bool")
    xf = x.astype("float32")
    assert_close(run(lambda v: getattr(v, name)(axis=axis), xf), ref(xf, axis=axis), dtype="bool")


def test_integer_sum_and_mean_dtypes():
    i = T.ivector("i")
    assert i.sum().dtype == "int64"
    assert i.mean().dtype == "float32"
    f = nnthe.function([i], [i.sum(), i.mean(), i.prod()])
    s, m, p = f(np.array([1, 2, 4], dtype="int32"))
    assert_close(s, 7, dtype="int64")
    assert_close(m, 7 / 3, dtype="float32")
    assert_close(p, 8, dtype="int64")
    assert T.fvector().sum(dtype="float64").dtype == "float64"


def test_var_std_ddof(rng):
    x = rng.normal(size=(4, 5))
    assert_close(run(lambda v: T.var(v, axis=1, ddof=1), x), np.var(x, axis=1, ddof=1))
    assert_close(run(lambda v: v.std(ddof=1), x), np.std(x, ddof=1))
    # unknown static shape: the count is symbolic
    assert_close(run(lambda v: T.var(v, axis=0, ddof=1), x, static=False), np.var(x, axis=0, ddof=1))
    check_grad(lambda v: T.std(v, axis=0, ddof=1), [x])


def test_mean_of_unknown_length_stays_float32():
    x = T.fvector("x")
    assert x.mean().dtype == "float32"
    assert_close(nnthe.function([x], x.mean())(np.arange(4, dtype="float32")), 1.5, dtype="float32")


def test_logsumexp_is_stable():
    x = T.fvector("x")
    f = nnthe.function([x], [T.logsumexp(x), nnthe.grad(T.logsumexp(x), x)])
    v, g = f(np.array([1000.0, 1000.0], dtype="float32"))
    assert_close(v, 1000.0 + np.log(2), dtype="float32")
    assert_close(g, [0.5, 0.5], dtype="float32")
    # A row of -inf: the value is -inf, not NaN (the gradient, a softmax of -infs, is
    # undefined, as in NumPy/PyTorch).
    with np.errstate(all="ignore"):
        v, g = f(np.array([-np.inf, -np.inf], dtype="float32"))
    assert v == -np.inf


def test_reduce_over_no_axis_is_identity():
    x = T.fmatrix()
    assert T.sum(x, axis=()) is x


@pytest.mark.parametrize("fn", [T.sum, T.mean, T.max, T.prod, T.var, T.logsumexp, T.all])
def test_axis_out_of_range(fn):
    with pytest.raises(ValueError, match="axis 2 is out of range for a 2-d tensor"):
        fn(T.matrix("x"), axis=2)


def test_axis_errors():
    with pytest.raises(ValueError, match="repeated axis"):
        T.sum(T.matrix(), axis=(0, 0))
    with pytest.raises(TypeError, match="axis must be an int"):
        T.sum(T.matrix(), axis=1.5)
    with pytest.raises(ValueError, match="out of range"):
        T.argmax(T.matrix(), axis=-3)
    with pytest.raises(ValueError, match="size 0"):
        T.max(T.tensor("float32", shape=(0, 3)), axis=0)


# -- float16 accumulates in float32 (issue 13, item 11) ----------------------------------

_F16_CASES = {
    "ones": np.ones(100_000, np.float16),
    "300s": np.full(100_000, 300, np.float16),
    "small": np.full(70_000, 1e-3, np.float16),
    "mixed": np.random.default_rng(0).standard_normal(50_000).astype(np.float16) * 100,
}


@pytest.mark.parametrize("data", list(_F16_CASES))
@pytest.mark.parametrize("name", ["mean", "var", "std", "logsumexp"])
def test_float16_reductions_accumulate_in_float32(name, data):
    v = _F16_CASES[data]
    x = T.tensor("float16", shape=(None,), name="x")
    got = nnthe.function([x], getattr(T, name)(x))(v)
    assert got.dtype == np.float16 and np.isfinite(got)
    v64 = v.astype(np.float64)
    ref = {"mean": v64.mean(), "var": v64.var(), "std": v64.std(),
           "logsumexp": np.log(np.exp(v64 - v64.max()).sum()) + v64.max()}[name]
    np.testing.assert_allclose(float(got), ref, rtol=2e-3, atol=1e-3)
    torch = pytest.importorskip("torch")
    if name != "logsumexp":  # torch's float16 logsumexp overflows where this one does not
        t = torch.from_numpy(v)
        want = {"mean": t.mean(), "var": t.var(unbiased=False), "std": t.std(unbiased=False)}[name]
        assert want.dtype == torch.float16
        np.testing.assert_allclose(float(got), float(want), rtol=2e-3, atol=1e-3)


def test_float16_mean_of_100000_ones_is_one_with_axis_and_grad():
    x = T.tensor("float16", shape=(None, None), name="x")
    v = np.ones((2, 100_000), np.float16)
    m, m1, g = nnthe.function([x], [x.mean(), T.mean(x, axis=1, keepdims=True),
                                    nnthe.grad(x.mean(), x)])(v)
    assert m == 1 and m.dtype == np.float16
    np.testing.assert_array_equal(m1, [[1], [1]])
    assert g.dtype == np.float16
    np.testing.assert_allclose(g.astype(np.float64), 1 / 200_000, rtol=2e-2)


def test_float16_sum_and_prod_round_like_torch():
    # The float32 partial sums are rounded once: 65,504 is float16's largest value.
    x = T.tensor("float16", shape=(None,), name="x")
    f = nnthe.function([x], [x.sum(), x.prod(), x.sum(dtype="float32")])
    with np.errstate(over="ignore"):
        s, p, s32 = f(np.ones(100_000, np.float16))
    assert s.dtype == np.float16 and np.isinf(s)  # as torch: float16 cannot hold 1e5
    assert s32.dtype == np.float32 and s32 == 100_000
    # A product whose partial products underflow float16 but whose result does not.
    v = np.array([1e-4, 1e-4, 1e4, 1e4], np.float16)
    assert float(f(v)[1]) == pytest.approx(float(np.prod(v.astype(np.float64))), rel=2e-3)
    torch = pytest.importorskip("torch")
    t = torch.ones(100_000, dtype=torch.float16)
    assert torch.isinf(t.sum())


def test_float16_mean_gradient_matches_float32(rng):
    x16 = rng.standard_normal((3, 5)).astype(np.float16)
    x = T.tensor("float16", shape=(3, 5), name="x")
    g = nnthe.function([x], nnthe.grad(T.var(x, axis=1).sum() + x.mean(), x))(x16)
    xd = T.dmatrix("xd")
    gd = nnthe.function([xd], nnthe.grad(T.var(xd, axis=1).sum() + xd.mean(), xd))(x16.astype(np.float64))
    assert g.dtype == np.float16
    np.testing.assert_allclose(g.astype(np.float64), gd, rtol=5e-3, atol=5e-3)
