"""Conv2D: shapes (padding, stride, dilation, groups), values against a NumPy
reference, gradients, errors."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe.tensor as T
from nnthe import layers

from conv_reference import naive_conv2d
from layer_testutil import check_grads, run


def ref_conv(x, w, b, stride, pad, dil, groups):
    out = naive_conv2d(x, w, pad, stride, dil, groups)
    return out + (0 if b is None else b[None, :, None, None])


@pytest.mark.parametrize("kw,pad", [
    (dict(), (0, 0)),
    (dict(padding="same"), (1, 1)),
    (dict(stride=2, padding=1), (1, 1)),
    (dict(dilation=2, padding="full"), (4, 4)),
    (dict(groups=2, stride=(1, 2)), (0, 0)),
])
def test_values_and_shapes(rng, kw, pad):
    conv = layers.Conv2D(4, 3, b_init="normal", **kw)
    v = rng.normal(size=(2, 4, 7, 6))
    out, sym = run(conv, v, static_shape=(None, 4, 7, 6))
    assert sym.type.shape == conv.output_shape((None, 4, 7, 6))
    assert conv.W.get_value().shape == (4, 4 // conv.groups, 3, 3)
    ref = ref_conv(v, conv.W.get_value(), conv.b.get_value(), conv.stride, pad, conv.dilation,
                   conv.groups)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10)


def test_float32_relu(rng):
    conv = layers.Conv2D(2, (2, 3), activation="relu", use_bias=False)
    v = rng.normal(size=(1, 3, 5, 5)).astype("float32")
    out, _ = run(conv, v, static_shape=(None, 3, 5, 5))
    assert out.dtype == np.float32 and conv.b is None
    ref = np.maximum(ref_conv(v, conv.W.get_value(), None, (1, 1), (0, 0), (1, 1), 1), 0)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_gradients(rng):
    conv = layers.Conv2D(2, 3, padding="same", stride=2, b_init="normal")
    x = rng.normal(size=(2, 3, 5, 5))
    check_grads(conv, x)


def test_errors():
    with pytest.raises(ValueError, match="odd kernel sizes"):
        layers.Conv2D(4, 2, padding="same")
    with pytest.raises(ValueError, match="padding must be"):
        layers.Conv2D(4, 3, padding="sam")
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        layers.Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match="groups"):
        layers.Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match="number of input channels"):
        layers.Conv2D(4, 3)(T.tensor4("x"))
    with pytest.raises(ValueError, match="not divisible by groups=2"):
        layers.Conv2D(4, 3, groups=2)(T.tensor4("x", shape=(None, 3, 8, 8)))
    with pytest.raises(TypeError, match="4-d input"):
        layers.Conv2D(4, 3)(T.matrix("x", shape=(None, 3)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        layers.Conv2D(4, 5).output_shape((None, 1, 3, 3))
