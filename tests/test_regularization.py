"""nnthe.regularization: l1, l2, apply_penalty honoring the regularizable tag."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import layers, regularization as R


def built_model():
    m = layers.Sequential([layers.Dense(4, b_init=1.0), layers.BatchNorm(), layers.Dense(2)])
    m(T.matrix("x", shape=(None, 3)))
    return m


def test_l1_l2_values():
    v = np.array([[1.0, -2.0], [3.0, -4.0]])
    x = T.dmatrix("x")
    f = nnthe.function([x], [R.l1(x), R.l2(x)])
    l1, l2 = f(v)
    assert l1 == 10 and l2 == 30


def test_apply_penalty_skips_biases_and_norms():
    m = built_model()
    pen = R.apply_penalty(m, R.l2, 1e-2)
    assert pen.dtype == "float32"
    got = nnthe.function([], pen)()
    ref = 1e-2 * sum((m[i].W.get_value().astype("float64") ** 2).sum() for i in (0, 2))
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    assert [p.name for p in R.regularizable_params(m)] == ["0/W", "2/W"]
    assert len(R.regularizable_params(m.params, only_tagged=False)) == len(m.params)


def test_apply_penalty_on_list_and_dict_and_gradient():
    m = built_model()
    pen = R.apply_penalty(m.trainable_params, R.l1, 0.5)
    g = nnthe.function([], nnthe.grad(pen, m[0].W))()
    np.testing.assert_allclose(g, 0.5 * np.sign(m[0].W.get_value()))
    pen2 = R.apply_penalty(m.named_params(), R.l2)
    g2 = nnthe.function([], nnthe.grad(pen2, m[2].W))()
    np.testing.assert_allclose(g2, 2 * m[2].W.get_value(), rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="no regularizable parameter"):
        R.apply_penalty(layers.Dense(3), R.l2)
    with pytest.raises(TypeError, match="layer/model or a list"):
        R.apply_penalty(3, R.l2)
    with pytest.raises(TypeError, match="penalty must be callable"):
        R.apply_penalty(built_model(), "l2")
    with pytest.raises(TypeError, match="expected parameters"):
        R.apply_penalty([1.0], R.l2)
