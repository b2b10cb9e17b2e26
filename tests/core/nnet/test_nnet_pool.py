"""Tests of nnthe.core.nnet.pool: values against a loop reference and PyTorch,
gradients (first and second order), tie handling, static shapes, errors."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.gradient import verify_grad
from nnthe.core.nnet.pool import (AveragePoolGrad, MaxPoolGrad, MaxPoolGradGrad, global_pool_2d,
                                  pool_2d, pool_output_shape)


def naive_pool(x, ws, stride, pad, ignore_border, mode):
    h, w = x.shape[-2:]
    oh, ow = pool_output_shape(x.shape, ws, ignore_border, stride, pad)[-2:]
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride[0] - pad[0], j * stride[1] - pad[1]
            r1, c1 = r0 + ws[0], c0 + ws[1]
            win = x[..., max(r0, 0):min(r1, h), max(c0, 0):min(c1, w)]
            if mode == "max":
                out[..., i, j] = win.max(axis=(-2, -1))
            elif mode == "average_exc_pad":
                out[..., i, j] = win.mean(axis=(-2, -1))
            else:  # inc_pad: the window clipped to the padded image
                n = (min(r1, h + pad[0]) - r0) * (min(c1, w + pad[1]) - c0)
                out[..., i, j] = win.sum(axis=(-2, -1)) / n
    return out


CASES = [
    ((2, 2), None, (0, 0), True),
    ((3, 3), (2, 2), (1, 1), True),
    ((2, 3), (1, 2), (1, 1), True),
    ((2, 2), None, (0, 0), False),
    ((3, 2), (2, 1), (0, 1), False),
]


@pytest.mark.parametrize("mode", ["max", "average_inc_pad", "average_exc_pad"])
@pytest.mark.parametrize("ws,stride,pad,ib", CASES)
def test_pool_values_and_grads(rng, ws, stride, pad, ib, mode):
    x = rng.standard_normal((2, 3, 7, 9))
    X = T.dtensor4("x")
    out = nnthe.function([X], pool_2d(X, ws, ib, stride, pad, mode))(x)
    ref = naive_pool(x, ws, stride or ws, pad, ib, mode)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    verify_grad(lambda a: pool_2d(a, ws, ib, stride, pad, mode), [x], rng=rng)


@pytest.mark.parametrize("mode", ["max", "average_exc_pad"])
@pytest.mark.parametrize("ws,stride,pad,ib", [CASES[0], CASES[2]])
def test_pool_second_order(rng, ws, stride, pad, ib, mode):
    x = rng.standard_normal((2, 2, 6, 7))

    def f(a):
        ga = nnthe.grad((pool_2d(a, ws, ib, stride, pad, mode) ** 3).sum(), a)
        return ga * ga

    verify_grad(f, [x], rng=rng)


def test_grad_ops_direct(rng):
    x = rng.standard_normal((2, 6, 6))
    gy = rng.standard_normal((2, 3, 3))
    verify_grad(lambda g: MaxPoolGrad((2, 2))(T.constant(x), g), [gy], rng=rng)
    verify_grad(lambda G: MaxPoolGradGrad((2, 2))(T.constant(x), G), [x], rng=rng)
    for mode in ("average_inc_pad", "average_exc_pad"):
        verify_grad(lambda g: AveragePoolGrad((3, 3), (2, 2), (1, 1), True, mode)(g, (6, 6)),
                    [gy], rng=rng)
    with pytest.raises(ValueError, match="average mode"):
        AveragePoolGrad((2, 2))(T.constant(gy), (6, 6))


def test_max_pool_ties_route_to_one_element():
    X = T.dtensor4("x")
    g = nnthe.function([X], nnthe.grad(pool_2d(X, 2).sum(), X))(np.zeros((1, 1, 4, 4)))
    assert g.sum() == 4 and g[0, 0, 0, 0] == 1 and g[0, 0, 1, 1] == 0


def test_pool_3d_input_and_odd_sizes(rng):
    x = rng.standard_normal((3, 5, 7)).astype("float32")
    X = T.tensor3("x")
    y = pool_2d(X, 2)
    out = nnthe.function([X], y)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, naive_pool(x, (2, 2), (2, 2), (0, 0), True, "max"), rtol=1e-6)
    gx = nnthe.function([X], nnthe.grad(y.sum(), X))(x)
    assert gx.shape == x.shape and gx.dtype == np.float32 and gx[:, 4, :].sum() == 0


def test_static_shapes_and_global():
    x = T.tensor4("x", shape=(None, 32, 24, 24))
    assert pool_2d(x, (2, 2)).type.shape == (None, 32, 12, 12)
    assert pool_output_shape((1, 1, 5, 5), (2, 2), ignore_border=False) == (1, 1, 3, 3)
    assert global_pool_2d(x).type.shape == (None, 32)
    v = np.arange(8.0).reshape(1, 2, 2, 2)
    X = T.dtensor4("v")
    np.testing.assert_allclose(nnthe.function([X], global_pool_2d(X, "max"))(v), [[3, 7]])
    np.testing.assert_allclose(nnthe.function([X], global_pool_2d(X, "average"))(v), [[1.5, 5.5]])


def test_pool_errors():
    x = T.tensor4("x", shape=(None, 3, 4, 4))
    with pytest.raises(ValueError, match="mode"):
        pool_2d(x, 2, mode="median")
    with pytest.raises(ValueError, match="padding"):
        pool_2d(x, 2, pad=2)
    with pytest.raises(ValueError, match="larger"):
        pool_2d(x, 5)
    with pytest.raises(TypeError, match="2 dimensions"):
        pool_2d(T.vector("v"), 2)
    with pytest.raises(TypeError, match="float"):
        pool_2d(T.itensor4("i"), 2)
    with pytest.raises(TypeError, match="did you mean 'stride'"):
        pool_2d(x, 2, strides=1)
    with pytest.raises(ValueError, match="'average' or 'max'"):
        global_pool_2d(x, "sum")


@pytest.mark.parametrize("ws,stride,pad,mode", [(2, 2, 0, "max"), (3, 2, 1, "max"),
                                                (3, 1, 1, "average_inc_pad"),
                                                (2, 2, 0, "average_exc_pad")])
def test_pool_matches_torch(rng, ws, stride, pad, mode):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((4, 3, 12, 12)).astype("float32")
    X = T.tensor4("x")
    y = pool_2d(X, ws, True, stride, pad, mode)
    gy = rng.standard_normal(pool_output_shape(x.shape, ws, True, stride, pad)).astype("float32")
    GY = T.tensor4("gy")
    out, gx = nnthe.function([X, GY], [y, nnthe.grad(None, X, known_grads={y: GY})])(x, gy)
    tx = torch.tensor(x, requires_grad=True)
    if mode == "max":
        ty = F.max_pool2d(tx, ws, stride, pad)
    else:
        ty = F.avg_pool2d(tx, ws, stride, pad, count_include_pad=mode == "average_inc_pad")
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(out, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ignore_border,ws,stride,pad", [
    (True, (3, 2), (1, 2), (1, 0)),
    (False, (3, 3), (2, 2), (1, 1)),   # partial windows kept, stride < window
    (False, (2, 2), (3, 3), (0, 0)),   # stride >= window
])
def test_infer_shape_matches_the_values(ignore_border, ws, stride, pad):
    # DebugMode compares every node's infer_shape with the shapes perform returns.
    x = T.tensor4("x")
    y = pool_2d(x, ws, ignore_border=ignore_border, stride=stride, pad=pad)
    out = nnthe.function([x], y, mode="DEBUG")(np.zeros((2, 3, 7, 8), "float32"))
    assert out.shape[-2:] == pool_output_shape((2, 3, 7, 8), ws, ignore_border, stride, pad)[-2:]
