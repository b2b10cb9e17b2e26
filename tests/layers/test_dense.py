"""Dense: shapes, values against NumPy, gradients, num_leading_axes, errors."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe.tensor as T
from nnthe import layers

from layer_testutil import check_grads, run


def test_values_and_output_shape(rng):
    d = layers.Dense(4, activation="tanh", b_init=0.5)
    v = rng.normal(size=(3, 5)).astype("float32")
    out, sym = run(d, v)
    assert sym.type.shape == d.output_shape((None, 5)) == (None, 4)
    ref = np.tanh(v @ d.W.get_value() + 0.5)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32


def test_no_bias_and_flattening_leading_axes(rng):
    d = layers.Dense(2, use_bias=False)
    v = rng.normal(size=(3, 2, 4))
    out, sym = run(d, v)
    assert d.b is None and list(d.named_params()) == ["W"]
    assert d.W.get_value().shape == (8, 2)
    assert sym.type.shape == d.output_shape((None, 2, 4)) == (None, 2)
    np.testing.assert_allclose(out, v.reshape(3, 8) @ d.W.get_value())


def test_num_leading_axes_negative(rng):
    d = layers.Dense(3, num_leading_axes=-1)
    v = rng.normal(size=(2, 5, 4))
    out, sym = run(d, v, static_shape=(None, None, 4))
    assert sym.type.shape == d.output_shape((None, None, 4)) == (None, None, 3)
    np.testing.assert_allclose(out, v @ d.W.get_value() + d.b.get_value())


def test_gradients(rng):
    d = layers.Dense(3, activation="sigmoid", b_init="normal")
    check_grads(d, rng.normal(size=(4, 5)))


def test_activation_callable_and_name(rng):
    d = layers.Dense(3, activation=lambda x: 2 * x)
    v = rng.normal(size=(2, 4))
    out, _ = run(d, v)
    np.testing.assert_allclose(out, 2 * (v @ d.W.get_value()))


def test_errors():
    with pytest.raises(ValueError, match="units must be a positive int"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="unknown activation 'rleu'; did you mean 'relu'"):
        layers.Dense(3, activation="rleu")
    with pytest.raises(ValueError, match="unknown initializer"):
        layers.Dense(3, W_init="glorot")(T.matrix("x", shape=(None, 2)))
    d = layers.Dense(3)
    d(T.matrix("x", shape=(None, 2)))
    with pytest.raises(ValueError, match="built for 2 input features"):
        d(T.matrix("x", shape=(None, 5)))
    with pytest.raises(ValueError, match="leaves no feature axis"):
        layers.Dense(3, num_leading_axes=2)(T.matrix("x", shape=(None, 2)))
