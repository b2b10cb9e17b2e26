"""Tests of categorical/binary cross-entropy and the stable sigmoid form."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.gradient import verify_grad
from nnthe.core.nnet.losses import (binary_crossentropy, categorical_crossentropy,
                                    sigmoid_binary_crossentropy)


@pytest.mark.parametrize("int_labels", [True, False])
def test_categorical_crossentropy(rng, int_labels):
    p = rng.uniform(0.1, 1.0, size=(4, 3))
    p /= p.sum(1, keepdims=True)
    labels = rng.integers(0, 3, 4)
    y = labels if int_labels else np.eye(3)[labels]
    P = T.dmatrix("p")
    Y = T.lvector("y") if int_labels else T.dmatrix("y")
    out = nnthe.function([P, Y], categorical_crossentropy(P, Y))(p, y)
    np.testing.assert_allclose(out, -np.log(p[np.arange(4), labels]), rtol=1e-12)
    verify_grad(lambda a: categorical_crossentropy(a, T.constant(y)), [p], rng=rng)
    if not int_labels:
        verify_grad(categorical_crossentropy, [p, y], rng=rng)


def test_binary_crossentropy(rng):
    p = rng.uniform(0.1, 0.9, size=(3, 4))
    t = rng.uniform(size=(3, 4))
    P, Tt = T.dmatrix("p"), T.dmatrix("t")
    out = nnthe.function([P, Tt], binary_crossentropy(P, Tt))(p, t)
    np.testing.assert_allclose(out, -(t * np.log(p) + (1 - t) * np.log(1 - p)), rtol=1e-12)
    verify_grad(binary_crossentropy, [p, t], rng=rng)


def test_sigmoid_binary_crossentropy_values_and_stability(rng):
    z = rng.standard_normal((3, 4))
    t = (rng.uniform(size=(3, 4)) > 0.5).astype("float64")
    Z, Tt = T.dmatrix("z"), T.dmatrix("t")
    ref = -(t * np.log(1 / (1 + np.exp(-z))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-z))))
    np.testing.assert_allclose(nnthe.function([Z, Tt], sigmoid_binary_crossentropy(Z, Tt))(z, t),
                               ref, rtol=1e-10)
    verify_grad(sigmoid_binary_crossentropy, [z, t], rng=rng)
    # Saturated float32 logits: finite loss, gradient sigmoid(z) - t.
    zf = T.vector("z")
    tf = T.ivector("t")
    loss = sigmoid_binary_crossentropy(zf, tf).sum()
    out, g = nnthe.function([zf, tf], [loss, nnthe.grad(loss, zf)])(
        np.array([1e4, -1e4, 1e4], "float32"), np.array([0, 1, 1], "int32"))
    assert np.isfinite(out) and np.all(np.isfinite(g)) and out.dtype == np.float32
    np.testing.assert_allclose(out, 2e4, rtol=1e-6)
    np.testing.assert_allclose(g, [1, -1, 0], atol=1e-6)


def test_loss_errors():
    with pytest.raises(TypeError, match="matrix"):
        categorical_crossentropy(T.vector("p"), T.ivector("y"))
    with pytest.raises(ValueError, match="labels for"):
        categorical_crossentropy(T.matrix("p", shape=(3, 2)), T.ivector("y", shape=(4,)))
    with pytest.raises(TypeError, match="dtype"):
        categorical_crossentropy(T.matrix("p"), T.dmatrix("y"))
    with pytest.raises(TypeError, match="float"):
        binary_crossentropy(T.ivector("p"), T.vector("t"))
    with pytest.raises(TypeError, match="float"):
        sigmoid_binary_crossentropy(T.ivector("z"), T.vector("t"))
