"""Flatten and Reshape."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe.tensor as T
from nnthe import layers
from nnthe.gradient import verify_grad

from layer_testutil import run


def test_flatten_keeps_static_size(rng):
    f = layers.Flatten()
    v = rng.normal(size=(2, 3, 4, 5))
    out, sym = run(f, v, static_shape=(None, 3, 4, 5))
    assert sym.type.shape == f.output_shape((None, 3, 4, 5)) == (None, 60)
    np.testing.assert_array_equal(out, v.reshape(2, 60))
    verify_grad(lambda x: f(x), [v], rng=0)
    assert layers.Flatten(3).output_shape((None, 3, 4, 5)) == (None, 3, 20)
    assert layers.Flatten().output_shape((None, None, 4)) == (None, None)
    out, _ = run(f, v, static_shape=(None, None, 4, 5))
    assert out.shape == (2, 60)


def test_reshape(rng):
    r = layers.Reshape((1, 28, 28))
    v = rng.normal(size=(2, 784))
    out, sym = run(r, v, static_shape=(None, 784))
    assert sym.type.shape == r.output_shape((None, 784)) == (None, 1, 28, 28)
    np.testing.assert_array_equal(out, v.reshape(2, 1, 28, 28))
    r2 = layers.Reshape((-1, 4))
    assert r2.output_shape((None, 2, 6)) == (None, 3, 4)
    out, _ = run(r2, rng.normal(size=(2, 2, 6)), static_shape=(None, None, 6))
    assert out.shape == (2, 3, 4)
    verify_grad(lambda x: r2(x), [rng.normal(size=(2, 12))], rng=0)


def test_errors():
    with pytest.raises(ValueError, match="cannot reshape"):
        layers.Reshape((5, 5)).output_shape((None, 24))
    with pytest.raises(ValueError, match="at most one -1"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match="outdim must be a positive int"):
        layers.Flatten(0)
    with pytest.raises(TypeError, match="at least 3 dimensions"):
        layers.Flatten(3)(T.matrix("x"))
