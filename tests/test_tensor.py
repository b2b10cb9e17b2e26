"""The T namespace: input constructors and Theano-style aliases."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T

KINDS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4, "tensor5": 5}
PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
            "d": "float64", "c": "complex64", "z": "complex128"}


@pytest.mark.parametrize("kind,ndim", KINDS.items())
@pytest.mark.parametrize("prefix", [""] + list(PREFIXES))
def test_typed_constructors(kind, ndim, prefix):
    v = getattr(T, prefix + kind)("v")
    assert v.ndim == ndim and v.name == "v" and v.static_shape == (None,) * ndim
    assert v.dtype == PREFIXES.get(prefix, nnthe.config.floatX)
    plural = "matrices" if kind == "matrix" else kind + "s"
    a, b = getattr(T, prefix + plural)("a", "b")
    assert (a.name, b.name) == ("a", "b") and a.dtype == v.dtype and a.ndim == ndim
    assert len(getattr(T, prefix + plural)(3)) == 3


def test_constructor_options():
    x = T.matrix("x", shape=(None, 784))
    assert x.static_shape == (None, 784)
    assert T.vector(dtype="int16").dtype == "int16"
    assert T.row().static_shape == (1, None) and T.col().static_shape == (None, 1)
    t = T.tensor("float64", shape=(2, None), name="t")
    assert t.dtype == "float64" and t.static_shape == (2, None)
    assert T.tensor(dtype="int32", ndim=3).static_shape == (None, None, None)
    assert T.tensor().ndim == 0


def test_constructor_errors():
    with pytest.raises(ValueError, match="must have 2 entries"):
        T.matrix("x", shape=(3,))
    with pytest.raises(TypeError, match=r"'X' is not a dtype; did you mean tensor\(name='X'"):
        T.tensor("X")
    with pytest.raises(ValueError, match="contradicts"):
        T.tensor("float32", shape=(2,), ndim=2)
    with pytest.raises(TypeError, match="give names"):
        T.dmatrices()
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        T.nonexistent


def test_aliases(rng):
    assert T.square is T.sqr and T.power is T.pow and T.concat is T.concatenate
    assert T.as_tensor is T.as_tensor_variable
    x = T.dvector("x")
    v = rng.normal(size=3)
    f = nnthe.function([x], [T.divide(x, 2), T.join(0, x, x), T.inv(x + 10), T.add_n(x, x, x),
                             T.true_divide(x, 4), T.floor_div(x, 1)])
    out = f(v)
    np.testing.assert_allclose(out[0], v / 2)
    np.testing.assert_allclose(out[1], np.concatenate([v, v]))
    np.testing.assert_allclose(out[2], 1 / (v + 10))
    np.testing.assert_allclose(out[3], 3 * v)
    np.testing.assert_allclose(out[4], v / 4)
    np.testing.assert_allclose(out[5], v // 1)
    with pytest.raises(TypeError, match="at least one"):
        T.add_n()


def test_grad_is_exposed_everywhere():
    assert T.grad is nnthe.grad is nnthe.gradient.grad
    for name in ["grad", "jacobian", "hessian", "Rop", "Lop", "verify_grad"]:
        assert callable(getattr(nnthe.gradient, name))
