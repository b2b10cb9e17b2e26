"""TensorType: dtype normalization, static shapes, equality, filtering values."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
from nnthe.core.types import (DisconnectedType, NullType, TensorType, normalize_dtype, upcast)


def test_construction_and_properties():
    t = TensorType("float32", (None, 3))
    assert t.dtype == "float32" and t.shape == (None, 3) and t.ndim == 2
    assert t.broadcastable == (False, False)
    assert TensorType("float32", (1, None)).broadcastable == (True, False)
    assert repr(t) == "float32(?, 3)" and repr(TensorType("int64", (None,))) == "int64(?,)"
    assert TensorType("floatX", ()).dtype == nnthe.config.floatX
    assert TensorType(np.float64, ()).dtype == "float64"
    assert TensorType("float32", (np.int64(2),)).shape == (2,)


def test_equality_and_hash():
    assert TensorType("float32", (None, 3)) == TensorType("float32", (None, 3))
    assert TensorType("float32", (None, 3)) != TensorType("float32", (2, 3))
    assert TensorType("float32", ()) != TensorType("float64", ())
    assert len({TensorType("int32", (2,)), TensorType("int32", (2,))}) == 1


def test_is_compatible_and_clone():
    general = TensorType("float32", (None, 3))
    assert general.is_compatible(TensorType("float32", (5, 3)))
    assert not TensorType("float32", (5, 3)).is_compatible(general)
    assert general.clone(dtype="float64").dtype == "float64"
    assert general.clone(shape=(2, 3)).shape == (2, 3)


def test_errors():
    with pytest.raises(TypeError, match="expected a dtype name"):
        TensorType(object(), ())
    with pytest.raises(TypeError, match="not supported"):
        TensorType("datetime64", ())
    with pytest.raises(TypeError, match="tuple of ints"):
        TensorType("float32", 3)
    with pytest.raises(ValueError, match=r"non-negative int or None, got -1"):
        TensorType("float32", (2, -1))
    with pytest.raises(ValueError, match="got True"):
        TensorType("float32", (True,))


def test_filter():
    t = TensorType("float32", (None, 2))
    a = np.zeros((3, 2), dtype="float32")
    assert t.filter(a) is a
    assert t.filter(np.zeros((3, 2), dtype="int8")).dtype == np.float32
    assert t.filter([[1, 2]]).dtype == np.float32
    with pytest.raises(TypeError, match=r"myinput.*float64.*allow_input_downcast"):
        t.filter(np.zeros((3, 2)), name="myinput")
    assert t.filter(np.zeros((3, 2)), allow_downcast=True).dtype == np.float32
    with pytest.raises(TypeError, match="2-d array"):
        t.filter(np.zeros(2, dtype="float32"))
    with pytest.raises(ValueError, match=r"expected shape \(None, 2\), got \(3, 3\)"):
        t.filter(np.zeros((3, 3), dtype="float32"))
    with pytest.raises(TypeError, match="object"):
        t.filter(np.array([[None, None]]))
    s = TensorType("int32", ())
    assert s.filter(3) == 3
    with pytest.raises(TypeError, match="exactly"):
        s.filter(3.5)
    assert TensorType("float32", ()).filter(float("nan")).dtype == np.float32


def test_upcast_rules():
    assert upcast("int32", "float32") == "float32"
    assert upcast("int64", "float32") == "float32"   # integers never widen floats
    assert upcast("float32", "float64") == "float64"
    assert upcast("int8", "int32") == "int32"
    assert upcast("bool", "int8") == "int8"
    assert normalize_dtype(None) == nnthe.config.floatX


def test_marker_types():
    assert DisconnectedType() == DisconnectedType()
    assert NullType("a") == NullType("a") != NullType("b")
    with pytest.raises(TypeError, match="holds no value"):
        DisconnectedType().filter(1)
    with pytest.raises(TypeError, match="undefined gradient holds no value: why"):
        NullType("why").filter(1)
