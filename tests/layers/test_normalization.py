"""BatchNorm (train/inference, running averages via default_update) and LayerNorm."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import layers
from nnthe.gradient import verify_grad

from layer_testutil import check_grads, run


def test_batchnorm_training_values_and_running_update(rng):
    bn = layers.BatchNorm(momentum=0.1, gamma_init=2.0, beta_init=0.5)
    x = T.tensor4("x", shape=(None, 3, None, None))
    out = bn(x, training=True)
    assert out.type.shape == bn.output_shape((None, 3, None, None))
    assert bn.running_mean.default_update is not None
    f = nnthe.function([x], out)
    v = rng.normal(2.0, 3.0, size=(4, 3, 5, 5)).astype("float32")
    res = f(v)
    assert res.dtype == np.float32
    mu, var = v.mean(axis=(0, 2, 3)), v.var(axis=(0, 2, 3))
    ref = 2 * (v - mu[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5) + 0.5
    np.testing.assert_allclose(res, ref, rtol=1e-4, atol=1e-4)
    n = 4 * 5 * 5
    np.testing.assert_allclose(bn.running_mean.get_value(), 0.1 * mu, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.get_value(), 0.9 + 0.1 * var * n / (n - 1), rtol=1e-5)
    assert bn.running_mean.dtype == "float32"


def test_batchnorm_inference_uses_running_stats_and_never_updates(rng):
    bn = layers.BatchNorm()
    x = T.matrix("x", shape=(None, 4))
    train = nnthe.function([x], bn(x, training=True))
    pred = nnthe.function([x], bn(x, training=False))
    bn.running_mean.set_value(np.arange(4, dtype="float32"))
    bn.running_var.set_value(np.full(4, 4.0, dtype="float32"))
    v = rng.normal(size=(6, 4)).astype("float32")
    out = pred(v)
    np.testing.assert_allclose(out, (v - np.arange(4)) / np.sqrt(4 + 1e-5), rtol=1e-5)
    np.testing.assert_array_equal(bn.running_mean.get_value(), np.arange(4))  # unchanged
    train(v)
    assert not np.array_equal(bn.running_mean.get_value(), np.arange(4))
    # the prediction function sees the values written by the training function
    after = bn.running_mean.get_value()
    np.testing.assert_allclose(pred(v), (v - after) / np.sqrt(bn.running_var.get_value() + 1e-5),
                               rtol=1e-5)


def test_batchnorm_train_and_inference_differ_and_converge(rng):
    bn = layers.BatchNorm(momentum=0.5)
    model = layers.Sequential([layers.Dense(3), bn])
    x = T.matrix("x", shape=(None, 2))
    train = nnthe.function([x], model(x, training=True))
    pred = nnthe.function([x], model(x))
    v = rng.normal(size=(64, 2)).astype("float32")
    assert not np.allclose(train(v), pred(v), atol=1e-2)
    for _ in range(30):
        train(v)
    np.testing.assert_allclose(train(v), pred(v), atol=0.05)


def test_batchnorm_gradients(rng):
    bn = layers.BatchNorm(gamma_init="normal", beta_init="normal")
    check_grads(bn, rng.normal(size=(5, 3)), training=True)
    bn2 = layers.BatchNorm(gamma_init="normal")
    check_grads(bn2, rng.normal(size=(3, 2, 2, 2)), training=False)
    assert bn.params[0].dtype == "float64"


def test_batchnorm_params_tags():
    bn = layers.BatchNorm(center=False)
    bn(T.matrix("x", shape=(None, 3)))
    assert bn.beta is None and list(bn.named_params()) == ["gamma", "running_mean", "running_var"]
    assert not bn.running_mean.tag["trainable"] and not bn.gamma.tag["regularizable"]


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="momentum must be in"):
        layers.BatchNorm(momentum=2)
    with pytest.raises(ValueError, match="number of features"):
        layers.BatchNorm()(T.matrix("x"))
    with pytest.raises(TypeError, match="at least 2 dimensions"):
        layers.BatchNorm()(T.vector("x", shape=(3,)))


def test_layernorm_values_and_grads(rng):
    ln = layers.LayerNorm(gamma_init="normal", beta_init="normal")
    v = rng.normal(size=(4, 6))
    out, sym = run(ln, v)
    assert sym.type.shape == ln.output_shape((None, 6))
    mu, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
    ref = (v - mu) / np.sqrt(var + 1e-5) * ln.gamma.get_value() + ln.beta.get_value()
    np.testing.assert_allclose(out, ref, rtol=1e-10)
    train_out, _ = run(ln, v, training=True)
    np.testing.assert_allclose(train_out, out)
    check_grads(ln, v)
    ln2 = layers.LayerNorm(normalized_ndim=2)
    v3 = rng.normal(size=(2, 3, 4))
    out, _ = run(ln2, v3, static_shape=(None, 3, 4))
    mu, var = v3.mean((1, 2), keepdims=True), v3.var((1, 2), keepdims=True)
    np.testing.assert_allclose(out, (v3 - mu) / np.sqrt(var + 1e-5), rtol=1e-10)
    verify_grad(lambda t: ln2(t), [v3], rng=0)


def test_layernorm_errors():
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        layers.LayerNorm(epsilon=0)
    with pytest.raises(ValueError, match="normalized dimensions"):
        layers.LayerNorm()(T.matrix("x"))
