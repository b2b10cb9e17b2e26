"""Gradient transforms: values against NumPy, gradients by verify_grad, error paths."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import optim
from nnthe.gradient import verify_grad


def _np_total(arrays, max_norm, eps=1e-7):
    n = np.sqrt(sum((a.astype("float64") ** 2).sum() for a in arrays))
    return [a * (min(n, max_norm) / (n + eps)) for a in arrays], n


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_total_norm_constraint_values(rng, max_norm):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(5)
    x, y = T.dmatrix("x"), T.dvector("y")
    (cx, cy), norm = optim.total_norm_constraint([x, y], max_norm, return_norm=True)
    got = nnthe.function([x, y], [cx, cy, norm])(a, b)
    want, n = _np_total([a, b], max_norm)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    np.testing.assert_allclose(got[2], n, rtol=1e-12)
    joint = np.sqrt((got[0] ** 2).sum() + (got[1] ** 2).sum())
    assert joint <= max_norm * (1 + 1e-9)


def test_total_norm_constraint_keeps_dtypes(rng):
    a, b = rng.standard_normal((3,)).astype("float32"), rng.standard_normal(2)
    x, y = T.fvector("x"), T.dvector("y")
    cx, cy = optim.total_norm_constraint([x, y], 0.1)
    assert cx.dtype == "float32" and cy.dtype == "float64"
    got = nnthe.function([x, y], [cx, cy])(a, b)
    want, _ = _np_total([a, b], 0.1)
    assert got[0].dtype == np.float32
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def test_total_norm_constraint_of_zeros_is_zero():
    x = T.dvector("x")
    out = nnthe.function([x], optim.total_norm_constraint([x], 1.0)[0])(np.zeros(3))
    np.testing.assert_array_equal(out, 0.0)


def test_total_norm_constraint_grad(rng):
    verify_grad(lambda x, y: optim.total_norm_constraint([x, y], 0.5)[0],
                [rng.standard_normal((2, 3)), rng.standard_normal(4)], rng=0)


def test_total_norm_constraint_errors():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="max_norm must be positive"):
        optim.total_norm_constraint([x], 0.0)
    with pytest.raises(TypeError, match="list of tensors"):
        optim.total_norm_constraint(x, 1.0)
    with pytest.raises(ValueError, match="empty"):
        optim.total_norm_constraint([], 1.0)
    with pytest.raises(TypeError, match="int64"):
        optim.total_norm_constraint([T.lvector()], 1.0)
    with pytest.raises(TypeError, match="must be a number"):
        optim.total_norm_constraint([x], "1")


def test_clip_by_value(rng):
    a = rng.standard_normal((4, 3)) * 3
    x = T.dmatrix("x")
    sym = optim.clip_by_value(x, 1.0)
    lst = optim.clip_grads([x], (-0.5, 2.0))
    got = nnthe.function([x], [sym, lst[0]])(a)
    np.testing.assert_array_equal(got[0], np.clip(a, -1.0, 1.0))
    np.testing.assert_array_equal(got[1], np.clip(a, -0.5, 2.0))
    f32 = optim.clip_by_value([T.fvector()], 0.1)[0]
    assert f32.dtype == "float32"


def test_clip_by_value_grad(rng):
    a = rng.standard_normal(6) * 2
    a[np.abs(np.abs(a) - 1.0) < 0.05] = 0.3   # keep away from the kinks
    verify_grad(lambda x: optim.clip_by_value(x, 1.0), [a], rng=0)


def test_clip_by_value_errors():
    x = T.dvector()
    with pytest.raises(ValueError, match="positive"):
        optim.clip_by_value(x, -1.0)
    with pytest.raises(ValueError, match="must not exceed"):
        optim.clip_by_value(x, (1.0, -1.0))
    with pytest.raises(ValueError, match="pair"):
        optim.clip_by_value(x, (1.0, 2.0, 3.0))


def _np_norm_constraint(w, max_norm, axes, eps=1e-7):
    n = np.sqrt((w ** 2).sum(axis=axes, keepdims=True))
    return w * (np.clip(n, 0, max_norm) / (n + eps))


@pytest.mark.parametrize("shape,axes,kw", [
    ((5, 4), (0,), {}),                       # dense (in, out): per output unit
    ((4, 3, 2, 2), (1, 2, 3), {}),            # conv (out, in, kh, kw)
    ((3, 5), (1,), dict(norm_axes=1)),
    ((6,), (0,), dict(norm_axes=(0,))),
])
def test_norm_constraint_values(rng, shape, axes, kw):
    w = rng.standard_normal(shape)
    x = T.tensor("float64", shape=(None,) * len(shape))
    got = nnthe.function([x], optim.norm_constraint(x, 1.5, **kw))(w)
    np.testing.assert_allclose(got, _np_norm_constraint(w, 1.5, axes), rtol=1e-12)
    norms = np.sqrt((got ** 2).sum(axis=axes))
    assert (norms <= 1.5 + 1e-9).all()


def test_norm_constraint_float32_and_grad(rng):
    x = T.fmatrix()
    assert optim.norm_constraint(x, 1.0).dtype == "float32"
    verify_grad(lambda w: optim.norm_constraint(w, 1.0), [rng.standard_normal((3, 4))], rng=0)


def test_norm_constraint_errors():
    with pytest.raises(ValueError, match="pass norm_axes"):
        optim.norm_constraint(T.dvector(), 1.0)
    with pytest.raises(ValueError, match="out of range"):
        optim.norm_constraint(T.dmatrix(), 1.0, norm_axes=(2,))
    with pytest.raises(ValueError, match="positive"):
        optim.norm_constraint(T.dmatrix(), -2.0)


def test_norm_constraint_on_an_update():
    W = nnthe.shared(np.full((3, 2), 2.0), name="W")
    opt = optim.SGD(0.0)
    updates = opt.updates([T.zeros_like(W)], [W])
    updates[W] = optim.norm_constraint(updates[W], 1.0)
    nnthe.function([], [], updates=updates)()
    np.testing.assert_allclose(np.sqrt((W.get_value() ** 2).sum(axis=0)), 1.0, rtol=1e-6)
