"""Tests of the activation functions: values against NumPy, gradients, stability."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.gradient import verify_grad
from nnthe.core.nnet import activations as A

_erf = np.vectorize(math.erf)

REFS = {
    "relu": (A.relu, lambda x: np.maximum(x, 0)),
    "leaky": (lambda x: A.relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    "elu": (A.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    "selu": (A.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    "gelu": (A.gelu, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "gelu_tanh": (lambda x: A.gelu(x, "tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    "silu": (A.silu, lambda x: x / (1 + np.exp(-x))),
    "hard_sigmoid": (A.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    "softsign": (A.softsign, lambda x: x / (1 + np.abs(x))),
    "sigmoid": (A.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "softplus": (A.softplus, lambda x: np.log1p(np.exp(x))),
}


@pytest.mark.parametrize("name", sorted(REFS))
def test_activation_values_and_grads(rng, name):
    fn, ref = REFS[name]
    # Keep away from the kinks (0, and +-2.5 for hard_sigmoid) for finite differences.
    x = rng.uniform(0.1, 2.0, size=(4, 5)) * rng.choice([-1, 1], size=(4, 5))
    X = T.dmatrix("x")
    np.testing.assert_allclose(nnthe.function([X], fn(X))(x), ref(x), rtol=1e-12, atol=1e-12)
    verify_grad(fn, [x], rng=rng)


@pytest.mark.parametrize("name", sorted(REFS))
def test_activation_float32_and_extremes(name):
    fn = REFS[name][0]
    X = T.vector("x")
    y = fn(X)
    g = nnthe.grad(y.sum(), X)
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype="float32")
    out, gx = nnthe.function([X], [y, g])(x)
    assert out.dtype == np.float32 and gx.dtype == np.float32
    assert np.all(np.isfinite(gx)), (name, gx)


def test_relu_grad_zero_at_zero():
    X = T.dvector("x")
    g = nnthe.function([X], nnthe.grad(A.relu(X).sum(), X))(np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(g, [0, 0, 1])


def test_activation_errors():
    with pytest.raises(TypeError, match="float"):
        A.relu(T.ivector("i"))
    with pytest.raises(TypeError, match="number"):
        A.relu(T.vector("v"), alpha="a")
    with pytest.raises(ValueError, match="approximate"):
        A.gelu(T.vector("v"), approximate="fast")
