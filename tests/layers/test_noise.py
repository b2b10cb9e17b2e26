"""Dropout: identity at inference, inverted scaling in training, seeding, RNG states."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import layers
from nnthe.gradient import verify_grad


def test_inference_is_identity():
    d = layers.Dropout(0.5, seed=1)
    x = T.matrix("x", shape=(None, 8))
    assert d(x) is x
    assert d.output_shape((None, 8)) == (None, 8)


def test_training_masks_and_scales():
    d = layers.Dropout(0.25, seed=3)
    x = T.matrix("x", shape=(None, 1000))
    out = d(x, training=True)
    assert out.type.shape == (None, 1000) and out.dtype == "float32"
    f = nnthe.function([x], out)
    v = np.ones((4, 1000), "float32")
    a, b = f(v), f(v)
    assert a.dtype == np.float32
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((a == 0).mean() - 0.25) < 0.03
    assert not np.array_equal(a, b)  # the state advances between calls
    np.testing.assert_allclose(a.mean(), 1.0, atol=0.05)


def test_seed_reproducible_and_global_seed():
    x = T.matrix("x", shape=(None, 50))
    v = np.ones((2, 50), "float32")
    r1 = nnthe.function([x], layers.Dropout(0.5, seed=7)(x, training=True))(v)
    r2 = nnthe.function([x], layers.Dropout(0.5, seed=7)(x, training=True))(v)
    np.testing.assert_array_equal(r1, r2)
    nnthe.random.default_stream()  # created lazily, it would consume a draw of the first seed()
    nnthe.random.seed(11)
    g1 = nnthe.function([x], layers.Dropout(0.5)(x, training=True))(v)
    nnthe.random.seed(11)
    g2 = nnthe.function([x], layers.Dropout(0.5)(x, training=True))(v)
    np.testing.assert_array_equal(g1, g2)


def test_named_random_states_in_model():
    model = layers.Sequential([layers.Dense(4), layers.Dropout(0.5, seed=0), layers.Dense(2)])
    assert model.named_random_states() == {}
    model(T.matrix("x", shape=(None, 3)), training=True)
    states = model.named_random_states()
    assert list(states) == ["1/rng/0"]
    assert states["1/rng/0"] is model[1].random_state_variables()[0]
    assert "1/rng/0" not in model.named_params()


def test_noise_shape_and_gradient(rng):
    d = layers.Dropout(0.5, seed=2, noise_shape=(None, None, 1))
    x = T.tensor3("x", shape=(None, 4, 6))
    f = nnthe.function([x], d(x, training=True))
    out = f(np.ones((3, 4, 6), "float32"))
    assert (out == out[:, :, :1]).all()  # one decision per (example, channel)
    # in float64 with a fixed mask the layer is linear: gradient of x * mask * 2
    d64 = layers.Dropout(0.3, seed=5)
    verify_grad(lambda t: d64(t, training=False), [rng.normal(size=(2, 3))], rng=0)


def test_errors():
    with pytest.raises(ValueError, match=r"rate must be a float in \[0, 1\)"):
        layers.Dropout(1.0)
    with pytest.raises(ValueError, match="seed= or rng=, not both"):
        layers.Dropout(0.5, seed=1, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be"):
        layers.Dropout(0.5, rng="x")
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.5, noise_shape=(None, 1))(T.tensor3("x"), training=True)
