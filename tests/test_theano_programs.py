"""Theano programs run with only their imports changed (issue 16).

Every test is written the way a Theano program spells it: ``import nnthe as theano;
import nnthe.tensor as T``.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnthe as theano
import nnthe.tensor as T
from nnthe import layers


# ---------------------------------------------------------------------------------------
# Rop, unused inputs, filter flipping
# ---------------------------------------------------------------------------------------

def test_rop_of_a_gradient_is_a_hessian_vector_product(rng):
    x, v = T.dvector("x"), T.dvector("v")
    cost = (x ** 3).sum() + T.tanh(x).prod()
    hv = T.Rop(T.grad(cost, x), x, v)
    f = theano.function([x, v], hv)
    x0, v0 = rng.standard_normal(4), rng.standard_normal(4)
    g = theano.function([x], T.grad(cost, x))
    eps = 1e-6
    np.testing.assert_allclose(f(x0, v0), (g(x0 + eps * v0) - g(x0 - eps * v0)) / (2 * eps),
                               rtol=1e-6, atol=1e-8)


def test_rop_of_a_gradient_static_shape(rng):
    W = T.dmatrix("W", shape=(3, 2))
    V = T.dmatrix("V", shape=(3, 2))
    x = T.dvector("x", shape=(3,))
    cost = T.nnet.sigmoid(T.dot(x, W)).sum()
    hv = T.Rop(T.grad(cost, W), W, V)
    f = theano.function([W, V, x], hv)
    w0, v0, x0 = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), rng.standard_normal(3)
    g = theano.function([W, x], T.grad(cost, W))
    eps = 1e-6
    np.testing.assert_allclose(f(w0, v0, x0), (g(w0 + eps * v0, x0) - g(w0 - eps * v0, x0)) / (2 * eps),
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("static", [False, True])
def test_rop_of_a_linear_map_keeps_its_inputs(static):
    # Theano's tutorial: the result does not depend on W's value, but the user wrote W.
    shp = dict(shape=(2, 2)) if static else {}
    W, V = T.dmatrix("W", **shp), T.dmatrix("V", **shp)
    x = T.dvector("x", **(dict(shape=(2,)) if static else {}))
    f = theano.function([W, V, x], T.Rop(T.dot(x, W), W, V))
    np.testing.assert_allclose(f([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1]), [2.0, 2.0])


def test_shape_of_a_static_input_uses_the_input():
    x = T.matrix("x", shape=(2, 3))
    f = theano.function([x], x.shape)
    np.testing.assert_array_equal(f(np.ones((2, 3), "float32")), [2, 3])
    g = theano.function([x], x.shape[1] * 2)
    assert int(g(np.ones((2, 3), "float32"))) == 6
    with pytest.raises(ValueError, match="shape"):
        f(np.ones((2, 4), "float32"))


def test_unused_input_still_refused():
    x, y = T.vector("x"), T.vector("y")
    with pytest.raises(theano.compile.UnusedInputError, match="input 1"):
        theano.function([x, y], x * 2)


def test_unused_input_check_follows_givens():
    index = T.lscalar("index")
    x = T.vector("x")
    data = theano.shared(np.arange(6, dtype="float32"))
    f = theano.function([index], x.sum(), givens={x: data[index * 2:(index + 1) * 2]})
    assert float(f(1)) == 5.0


def _true_convolution(x, w):
    """float64 NumPy 'valid' convolution with flipped kernels (Theano's conv2d)."""
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    wf = w[:, :, ::-1, ::-1]
    out = np.zeros((n, k, h - kh + 1, wd - kw + 1))
    for i in range(h - kh + 1):
        for j in range(wd - kw + 1):
            out[:, :, i, j] = np.tensordot(x[:, :, i:i + kh, j:j + kw], wf, axes=([1, 2, 3], [1, 2, 3]))
    return out


def test_conv2d_flips_filters_by_default_as_theano(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    X, W = T.dtensor4("x"), T.dtensor4("w")
    out = theano.function([X, W], T.nnet.conv2d(X, W))(x, w)
    np.testing.assert_allclose(out, _true_convolution(x, w), rtol=1e-10, atol=1e-12)
    xc = theano.function([X, W], T.nnet.conv2d(X, W, filter_flip=False))(x, w)
    np.testing.assert_allclose(xc, _true_convolution(x, w[:, :, ::-1, ::-1]), rtol=1e-10, atol=1e-12)


def test_conv2d_layer_is_a_cross_correlation(rng):
    x = rng.standard_normal((2, 3, 6, 5)).astype("float32")
    X = T.tensor4("x", shape=(None, 3, 6, 5))
    layer = layers.Conv2D(4, 3, use_bias=False)
    y = layer(X)
    w = layer.W.get_value()
    out = theano.function([X], y)(x)
    np.testing.assert_allclose(out, _true_convolution(x.astype("float64"), w[:, :, ::-1, ::-1]),
                               rtol=1e-4, atol=1e-4)
