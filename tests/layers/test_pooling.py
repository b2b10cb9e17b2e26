"""MaxPool2D, AvgPool2D, GlobalAvgPool2D."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe.tensor as T
from nnthe import layers
from nnthe.gradient import verify_grad

from layer_testutil import run


def ref_pool(x, k, s, p, fn, count_pad):
    n, c, h, w = x.shape
    fill = -np.inf if fn is np.max else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=fill)
    ones = np.pad(np.ones((h, w)), ((p[0], p[0]), (p[1], p[1])))
    oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
            if fn is np.max:
                out[:, :, i, j] = win.max(axis=(2, 3))
            else:
                cnt = k[0] * k[1] if count_pad else ones[i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]].sum()
                out[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return out


@pytest.mark.parametrize("cls,kw", [
    (layers.MaxPool2D, dict(pool_size=2)),
    (layers.MaxPool2D, dict(pool_size=3, stride=2, padding=1)),
    (layers.AvgPool2D, dict(pool_size=2)),
    (layers.AvgPool2D, dict(pool_size=3, stride=(2, 1), padding=1)),
    (layers.AvgPool2D, dict(pool_size=3, stride=2, padding=1, count_include_pad=True)),
])
def test_values_shapes_grads(rng, cls, kw):
    pool = cls(**kw)
    v = rng.normal(size=(2, 3, 7, 6))
    out, sym = run(pool, v, static_shape=(None, 3, 7, 6))
    assert sym.type.shape == pool.output_shape((None, 3, 7, 6)) == out.shape[:0] + (None,) + out.shape[1:]
    fn = np.max if cls is layers.MaxPool2D else np.mean
    ref = ref_pool(v, pool.pool_size, pool.stride, pool.padding, fn,
                   kw.get("count_include_pad", False))
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    verify_grad(lambda x: pool(x), [v], rng=0)


def test_global_avg_pool(rng):
    g = layers.GlobalAvgPool2D()
    v = rng.normal(size=(2, 3, 4, 5))
    out, sym = run(g, v, static_shape=(None, 3, None, None))
    assert sym.type.shape == g.output_shape((None, 3, None, None)) == (None, 3)
    np.testing.assert_allclose(out, v.mean(axis=(2, 3)))
    verify_grad(lambda x: g(x), [v], rng=0)


def test_errors():
    with pytest.raises(ValueError, match="padding"):
        layers.MaxPool2D(2, padding=2)
    with pytest.raises(TypeError, match="pool_size must be an int or a pair"):
        layers.MaxPool2D("2")
    with pytest.raises(TypeError, match="4-d input"):
        layers.MaxPool2D(2)(T.matrix("x"))
    with pytest.raises(TypeError, match="4-d input"):
        layers.GlobalAvgPool2D().output_shape((None, 3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        layers.AvgPool2D(4).output_shape((None, 1, 3, 3))
