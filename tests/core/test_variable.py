"""TensorVariable methods and conversions: constant, as_tensor_variable."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.variable import as_tensor_variable, constant, is_weak


def test_constant_dtypes():
    assert constant(1).dtype == "int64" and is_weak(constant(1))
    assert constant(1.5).dtype == "float32" and is_weak(constant(1.5))
    assert constant(True).dtype == "bool"
    assert constant(np.float64(1.5)).dtype == "float32"   # a scalar number is weak
    assert constant(np.zeros(2)).dtype == "float64" and not is_weak(constant(np.zeros(2)))
    assert constant([1.0, 2.0]).dtype == "float32"
    assert constant([1, 2]).dtype == "int64"
    assert constant(2, dtype="int8").dtype == "int8"
    assert constant(np.zeros((2, 3))).static_shape == (2, 3)
    with pytest.raises(TypeError, match="numeric constant"):
        constant("abc")


def test_as_tensor_variable():
    x = T.vector("x")
    assert as_tensor_variable(x) is x
    assert as_tensor_variable(x, dtype="float64").dtype == "float64"
    s = as_tensor_variable([x[0], 2.0])
    assert s.ndim == 1
    with pytest.raises(TypeError, match="expected a 2-d tensor"):
        as_tensor_variable(x, ndim=2)
    from nnthe.core.graph import Variable
    from nnthe.core.types import DisconnectedType
    with pytest.raises(TypeError, match="expected a tensor variable"):
        as_tensor_variable(Variable(DisconnectedType()))


def test_variables_are_hashable_by_identity():
    x, y = T.vector(), T.vector()
    d = {x: 1, y: 2}
    assert d[x] == 1 and len(d) == 2
    assert (x == y) is False and (x == x) is True


def test_methods(rng):
    x = T.dmatrix("x")
    v = rng.normal(size=(3, 4))
    f = nnthe.function([x], [x.sum(axis=0), x.mean(), x.max(axis=1), x.argmax(axis=1),
                             x.reshape((4, 3)), x.flatten(), x.T, x.dimshuffle(1, 0),
                             x.clip(-0.5, 0.5), x.astype("float32"), x.squeeze(),
                             x.repeat(2, axis=0), x[0].dot(x.T), x.var(), x.std(), x.prod(),
                             x.min(), x.argmin(), x.all(), x.any(), x.transpose(1, 0)])
    out = f(v)
    want = [v.sum(0), v.mean(), v.max(1), v.argmax(1), v.reshape(4, 3), v.ravel(), v.T, v.T,
            v.clip(-0.5, 0.5), v.astype("float32"), v, v.repeat(2, axis=0), v[0] @ v.T,
            v.var(), v.std(), v.prod(), v.min(), v.argmin(), v.all(), v.any(), v.T]
    for got, w in zip(out, want):
        np.testing.assert_allclose(got, w, rtol=1e-6)
    assert x.static_shape == (None, None) and x.broadcastable == (False, False)
