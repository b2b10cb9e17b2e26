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
    assert str(t) == "float32(?, 3)" and str(TensorType("int64", (None,))) == "int64(?,)"
    assert repr(t) == "TensorType(float32, (None, 3))"
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


# -- which float32 -> float64 promotions warn (issue 13, item 14) -------------------------
# An UpcastWarning says "float64 crept in where you did not ask for it". Mixing a float64
# the user declared (T.dmatrix, dtype='float64', T.cast) with a float32 that only
# floatX's default picked (shared(0.), T.matrix()) is what the user asked for: Theano's
# tutorials, written for floatX=float64, do it everywhere.

import warnings  # noqa: E402

import nnthe.tensor as T  # noqa: E402
from nnthe.core.types import UpcastWarning, dtype_origin, reset_upcast_warnings  # noqa: E402


@pytest.fixture
def fresh_sites():
    """Forget the sites already warned about, so each case warns again."""
    reset_upcast_warnings()
    yield
    reset_upcast_warnings()


def _warns(build) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build()
    return any(issubclass(w.category, UpcastWarning) for w in caught)


_REQUESTED = {
    "dmatrix - shared(0.)": lambda: T.dmatrix("x") - nnthe.shared(0.0, name="b"),
    "dot(dmatrix, float64 array) - shared(0.)": lambda: (
        T.dot(T.dmatrix("x"), nnthe.shared(np.ones(3), name="w")) - nnthe.shared(0.0, name="b")),
    "matrix() + dmatrix": lambda: T.matrix("m") + T.dmatrix("d"),
    "vector() * tensor(float64)": lambda: T.vector("v") * T.tensor("float64", shape=(None,)),
    "cast to float64 + vector()": lambda: T.cast(T.ivector("i"), "float64") + T.vector("v"),
    "shared(dtype=float64) * scalar()": lambda: nnthe.shared(np.ones(2), dtype="float64") * T.scalar(),
    "list of floats shared + dvector": lambda: nnthe.shared([1.0, 2.0]) + T.dvector("d"),
}

_UNREQUESTED = {
    "fvector + dvector": lambda: T.fvector("f") + T.dvector("d"),
    "fvector * float64 array constant": lambda: T.fvector("f") * np.ones(3),
    "vector() * float64 array constant": lambda: T.vector("v") * np.ones(3),
    "matrix() dot shared(float64 array)": lambda: T.dot(T.matrix("x"), nnthe.shared(np.ones((3, 2)))),
    "shared(0.) + float64 array constant": lambda: nnthe.shared(0.0) + T.constant(np.ones(2)),
    "shared(float32 array) + dvector": lambda: nnthe.shared(np.ones(2, "float32")) + T.dvector("d"),
    "shared(0., dtype=float32) + dscalar": lambda: nnthe.shared(0.0, dtype="float32") + T.dscalar(),
    "tensor(float32) + dvector": lambda: T.tensor("float32", shape=(None,)) + T.dvector("d"),
    "(vector() + float32 constant) + dvector": lambda: (
        T.vector("v") + T.constant(np.ones(2, "float32"))) + T.dvector("d"),
}


@pytest.mark.parametrize("case", list(_REQUESTED))
def test_declared_float64_with_default_float32_does_not_warn(case, fresh_sites):
    assert not _warns(_REQUESTED[case])


@pytest.mark.parametrize("case", list(_UNREQUESTED))
def test_unrequested_float64_still_warns(case, fresh_sites):
    assert _warns(_UNREQUESTED[case])


def test_dtype_origin_of_leaves_and_results():
    assert dtype_origin(T.matrix()) == "default"
    assert dtype_origin(T.dmatrix()) == "chosen"
    assert dtype_origin(T.tensor("float32", shape=(2,))) == "chosen"
    assert dtype_origin(nnthe.shared(0.0)) == "default"
    assert dtype_origin(nnthe.shared(np.zeros(2))) == "other"
    assert dtype_origin(T.constant(np.zeros(2))) == "other"
    x, d = T.matrix("x"), T.dmatrix("d")
    assert dtype_origin(T.exp(x) * 2.0 + x) == "default"  # weak constants adapt
    assert dtype_origin(T.dot(d, nnthe.shared(np.ones((3, 3))))) == "chosen"
    assert dtype_origin(T.cast(x, "float64")) == "chosen"


def test_dtype_origin_of_a_deep_graph_does_not_recurse():
    d = T.dvector("d")
    y = d
    for _ in range(10_000):
        y = y + y
    assert dtype_origin(y) == "chosen"
    assert not _warns(lambda: y - nnthe.shared(0.0))
