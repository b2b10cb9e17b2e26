"""Activation, Lambda, Concatenate, Add, Embedding."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import layers
from nnthe.gradient import verify_grad
from nnthe.layers import activations

from layer_testutil import run

X = np.linspace(-3, 3, 13).reshape(1, 13)
REFS = {
    "linear": lambda x: x, "relu": lambda x: np.maximum(x, 0), "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "softmax": lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
    "log_softmax": lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "softplus": lambda x: np.log1p(np.exp(x)), "softsign": lambda x: x / (1 + np.abs(x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "hard_sigmoid": lambda x: np.clip(0.2 * x + 0.5, 0, 1),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
}


@pytest.mark.parametrize("name", sorted(REFS))
def test_activation_layer_values_and_grads(name):
    layer = layers.Activation(name)
    out, sym = run(layer, X)
    assert sym.type.shape == layer.output_shape((None, 13))
    np.testing.assert_allclose(out, REFS[name](X), rtol=1e-7, atol=1e-12)
    if name not in ("relu", "leaky_relu", "hard_sigmoid", "elu", "selu"):
        verify_grad(lambda x: layer(x), [X], rng=0)
    else:  # kinks: check away from them
        verify_grad(lambda x: layer(x), [X + 0.1], rng=0)


def test_gelu():
    from math import erf, sqrt

    out, _ = run(layers.Activation("gelu"), X)
    ref = np.array([[v * 0.5 * (1 + erf(v / sqrt(2))) for v in X[0]]])
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-7)


def test_activation_registry_errors():
    with pytest.raises(ValueError, match="did you mean 'sigmoid'"):
        activations.get("sigmod")
    with pytest.raises(TypeError, match="name or a callable"):
        activations.get(3)
    with pytest.raises(ValueError, match="already registered"):
        activations.register("relu", lambda x: x)
    assert activations.get(None) is activations.linear


def test_lambda(rng):
    lam = layers.Lambda(lambda x: x[:, :2] * 3)
    v = rng.normal(size=(4, 5))
    out, sym = run(lam, v, static_shape=(None, 5))
    np.testing.assert_allclose(out, v[:, :2] * 3)
    assert lam.output_shape((None, 5)) == (None, 2) == sym.type.shape
    lt = layers.Lambda(lambda x, training: x * (2 if training else 1), output_shape=lambda s: s)
    out, _ = run(lt, v, training=True)
    np.testing.assert_allclose(out, 2 * v)
    assert lt.output_shape((None, 5)) == (None, 5)
    with pytest.raises(TypeError, match="takes a callable"):
        layers.Lambda(3)


def test_concatenate(rng):
    cat = layers.Concatenate(axis=1)
    a, b = T.dmatrix("a", shape=(None, 2)), T.dmatrix("b", shape=(None, 3))
    out = cat([a, b])
    assert out.type.shape == cat.output_shape([(None, 2), (None, 3)]) == (None, 5)
    va, vb = rng.normal(size=(4, 2)), rng.normal(size=(4, 3))
    np.testing.assert_array_equal(nnthe.function([a, b], out)(va, vb), np.concatenate([va, vb], 1))
    verify_grad(lambda x, y: cat([x, y]), [va, vb], rng=0)
    with pytest.raises(ValueError, match="Concatenate.*dimension 0 differs"):
        cat.output_shape([(2, 2), (3, 3)])
    with pytest.raises(TypeError, match="non-empty list"):
        cat(a)


def test_add(rng):
    add = layers.Add()
    a, b = T.dmatrix("a", shape=(None, 3)), T.dmatrix("b", shape=(None, 3))
    out = add([a, b, a])
    assert out.type.shape == add.output_shape([(None, 3), (None, 3)]) == (None, 3)
    va, vb = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(nnthe.function([a, b], out)(va, vb), 2 * va + vb)
    verify_grad(lambda x, y: add([x, y]), [va, vb], rng=0)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        add.output_shape([(None, 3), (None, 4)])


def test_embedding(rng):
    emb = layers.Embedding(10, 4)
    ids = T.imatrix("ids", shape=(None, 3))
    out = emb(ids)
    assert out.type.shape == emb.output_shape((None, 3)) == (None, 3, 4)
    assert emb.W.dtype == "float32" and emb.W.get_value().shape == (10, 4)
    v = np.array([[1, 2, 1], [9, 0, 0]], dtype="int32")
    f = nnthe.function([ids], out)
    np.testing.assert_array_equal(f(v), emb.W.get_value()[v])
    # gradient: rows used twice receive the sum
    g = nnthe.function([ids], nnthe.grad(out.sum(), emb.W))(v)
    expected = np.zeros((10, 4))
    np.add.at(expected, v.ravel(), 1)
    np.testing.assert_allclose(g, expected)


def test_embedding_gradient_float64(rng):
    emb = layers.Embedding(6, 3, dtype="float64")
    ids = T.ivector("ids")
    out = emb(ids)
    proj = rng.normal(size=(4, 3))
    cost = (out * proj).sum()
    v = np.array([0, 5, 0, 2], "int32")
    g = nnthe.function([ids], nnthe.grad(cost, emb.W))(v)
    base, eps = emb.W.get_value(), 1e-6
    d = rng.normal(size=base.shape)
    f = nnthe.function([ids], cost)
    emb.W.set_value(base + eps * d); plus = f(v)
    emb.W.set_value(base - eps * d); minus = f(v)
    np.testing.assert_allclose((plus - minus) / (2 * eps), (g * d).sum(), rtol=1e-6)


def test_embedding_errors():
    with pytest.raises(ValueError, match="input_dim must be a positive int"):
        layers.Embedding(0, 3)
    with pytest.raises(TypeError, match="integer ids"):
        layers.Embedding(5, 3)(T.matrix("x"))
