"""Shared variables: creation, get_value/set_value with type checks, borrowing."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T


def test_creation_dtypes_and_shapes():
    assert nnthe.shared(0.5).dtype == "float32"
    assert nnthe.shared(np.float64(0.5)).dtype == "float64"
    assert nnthe.shared(3).dtype == "int64"
    assert nnthe.shared([1.0, 2.0]).dtype == "float32"
    assert nnthe.shared(np.zeros(3)).dtype == "float64"
    assert nnthe.shared(np.zeros(3), dtype="float32").dtype == "float32"
    s = nnthe.shared(np.zeros((2, 3), dtype="float32"), name="W")
    assert s.static_shape == (2, 3) and s.name == "W" and repr(s) == "W"
    d = nnthe.shared(np.zeros((2, 3)), shape=(None, 3))
    assert d.static_shape == (None, 3)
    assert isinstance(s, T.SharedVariable) and isinstance(s, T.TensorVariable)


def test_copy_and_borrow():
    a = np.zeros(3)
    s = nnthe.shared(a)
    a[0] = 1
    assert s.get_value()[0] == 0
    b = nnthe.shared(a, borrow=True)
    a[1] = 2
    assert b.get_value(borrow=True)[1] == 2
    v = s.get_value()
    v[2] = 5
    assert s.get_value()[2] == 0
    new = np.ones(3)
    s.set_value(new)
    new[0] = 7
    assert s.get_value()[0] == 1
    s.set_value(new, borrow=True)
    assert s.get_value(borrow=True) is new


def test_set_value_checks():
    s = nnthe.shared(np.zeros((2, 3), dtype="float32"), name="W")
    with pytest.raises(TypeError, match=r"set_value of shared variable W.*float32.*float64"):
        s.set_value(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="2-d array"):
        s.set_value(np.zeros(6, dtype="float32"))
    with pytest.raises(ValueError, match=r"shared variable W.*expected shape \(2, 3\), got \(3, 2\)"):
        s.set_value(np.zeros((3, 2), dtype="float32"))
    s.set_value(np.ones((2, 3), dtype="int16"))   # lossless
    assert s.get_value().dtype == np.float32
    d = nnthe.shared(np.zeros((2, 3)), shape=(None, 3))
    d.set_value(np.zeros((5, 3)))
    assert d.get_value().shape == (5, 3)


def test_shared_errors():
    with pytest.raises(TypeError, match="takes a value"):
        nnthe.shared(T.vector())
    with pytest.raises(TypeError, match="numeric data"):
        nnthe.shared(np.array(["a"]))
    with pytest.raises(ValueError, match=r"does not match shape=\(None, 4\)"):
        nnthe.shared(np.zeros((2, 3)), shape=(None, 4))


def test_shared_in_expressions():
    w = nnthe.shared(np.array([1.0, 2.0], dtype="float32"), name="w")
    x = T.fvector("x")
    y = (w * x).sum()
    assert y.dtype == "float32"
    assert nnthe.function([x], y)(np.ones(2, dtype="float32")) == 3.0
    assert w.value is w.container[0]
