"""Tests of batch normalization (training and inference forms)."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.gradient import verify_grad
from nnthe.core.nnet.batchnorm import (batch_normalization, batch_normalization_test,
                                       batch_normalization_train)


def test_training_form_spatial(rng):
    x = rng.standard_normal((4, 3, 2, 2)) * 3 + 1
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    X, G, B = T.dtensor4("x"), T.dvector("g"), T.dvector("b")
    out, m, v = batch_normalization(X, G, B, axes="spatial", epsilon=1e-5)
    assert m.type.ndim == 1 and out.type.ndim == 4
    o, mv, vv = nnthe.function([X, G, B], [out, m, v])(x, gamma, beta)
    mu = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    ref = (x - mu[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5) * gamma[:, None, None] \
        + beta[:, None, None]
    np.testing.assert_allclose(o, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mv, mu, rtol=1e-12)
    np.testing.assert_allclose(vv, var, rtol=1e-12)
    verify_grad(lambda a, g, b: batch_normalization_train(a, g, b, "spatial")[0],
                [x, gamma, beta], rng=rng)


def test_training_form_per_activation_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((8, 5)).astype("float32")
    X = T.matrix("x")
    G, B = T.vector("g"), T.vector("b")
    out = batch_normalization_train(X, G, B, epsilon=1e-5)[0]
    gamma, beta = np.ones(5, "float32") * 2, np.zeros(5, "float32")
    o = nnthe.function([X, G, B], out)(x, gamma, beta)
    ref = torch.nn.functional.batch_norm(torch.tensor(x), None, None, torch.tensor(gamma),
                                         torch.tensor(beta), training=True, eps=1e-5)
    assert o.dtype == np.float32
    np.testing.assert_allclose(o, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_inference_form(rng):
    x = rng.standard_normal((4, 3))
    g, b, m, v = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3), rng.uniform(1, 2, 3)
    syms = [T.dmatrix("x")] + [T.dvector(n) for n in "gbmv"]
    out = batch_normalization(*syms, axes=(0,), epsilon=1e-3)
    np.testing.assert_allclose(nnthe.function(syms, out)(x, g, b, m, v),
                               (x - m) / np.sqrt(v + 1e-3) * g + b, rtol=1e-12)
    verify_grad(lambda *a: batch_normalization_test(*a), [x, g, b, m, v], rng=rng)


def test_batchnorm_errors():
    x = T.tensor4("x", shape=(None, 3, 4, 4))
    with pytest.raises(ValueError, match="both mean and var"):
        batch_normalization(x, T.vector(), T.vector(), mean=T.vector())
    with pytest.raises(ValueError, match="does not match"):
        batch_normalization(x, T.vector(shape=(4,)), T.vector(), axes="spatial")
    with pytest.raises(TypeError, match="dimensions"):
        batch_normalization(x, T.matrix(), T.vector(), axes="spatial")
    with pytest.raises(TypeError, match="float"):
        batch_normalization(T.imatrix(), T.vector(), T.vector())
