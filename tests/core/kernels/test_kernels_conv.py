"""The conv input-gradient kernel (blocked GEMMs + compiled col2im) against perform."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from kernel_testutil import thunk_of, var

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.mode import Mode
from nnthe.core.kernels import KernelContext, KernelReport, kernel_thunk
from nnthe.core.kernels import conv as conv_kernels
from nnthe.core.nnet.conv import Conv2dGradInputs


#: A few geometries (each is a compiled module): padded, strided, a 2x1 kernel.
GEOMETRIES = [((3, 3), (1, 1), "valid"), ((3, 3), (2, 1), "half"), ((2, 1), (1, 1), (1, 0))]


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(["float32", "float64"]), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 4), st.sampled_from(GEOMETRIES), st.booleans(), st.integers(0, 2**31))
def test_grad_inputs_matches_perform(dtype, n, c, k, geometry, flip, seed):
    ksize, stride, border = geometry
    h, w = 7, 6
    op = Conv2dGradInputs(border_mode=border, subsample=stride, filter_flip=flip)
    pads = op._pads(*ksize)
    oh = (h + 2 * pads[0] - ksize[0]) // stride[0] + 1
    ow = (w + 2 * pads[1] - ksize[1]) // stride[1] + 1
    rng = np.random.default_rng(seed)
    wv = rng.normal(size=(k, c) + ksize).astype(dtype)
    gy = rng.normal(size=(n, k, oh, ow)).astype(dtype)
    if seed % 2:
        gy = np.asfortranarray(gy)  # not C-contiguous
    gy[0, 0, 0, 0] = np.nan if seed % 3 == 0 else gy[0, 0, 0, 0]
    node = op.make_node(var(dtype, (k, c) + ksize), var(dtype, (None, k, None, None)), [h, w])
    hw = np.array([h, w])
    expected = op.perform(node, wv, gy, hw)
    got = thunk_of(node)(wv, gy, hw)
    assert got.dtype == expected.dtype and got.shape == expected.shape and got.flags.c_contiguous
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))


def test_groups_and_dilation_keep_perform_and_a_cnn_gradient_agrees():
    node = Conv2dGradInputs(num_groups=2).make_node(var("float32", (4, 1, 3, 3)),
                                                    var("float32", (None, 4, None, None)), [5, 5])
    assert kernel_thunk(node, KernelContext(KernelReport())) is None
    X = T.tensor4("X", shape=(None, 2, 9, 9))
    W = nnthe.shared(np.random.default_rng(0).normal(size=(3, 2, 3, 3)).astype("float32"))
    gx = nnthe.grad((T.nnet.conv2d(X, W) ** 2).sum(), X)
    x = np.random.default_rng(1).normal(size=(4, 2, 9, 9)).astype("float32")
    a = nnthe.function([X], gx, mode=Mode(kernels="numba"))(x)
    b = nnthe.function([X], gx, mode=Mode(kernels="numpy"))(x)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("images_per_block", [1, 2, 5])
def test_blocks_of_images_cover_the_batch(monkeypatch, images_per_block):
    # 5 images in blocks of 1, 2 (an uneven last block) or all at once.
    op = Conv2dGradInputs(border_mode=(1, 2), subsample=(2, 1))
    k, c, kh, kw, h, w = 3, 4, 3, 2, 8, 7
    pads = op._pads(kh, kw)
    oh, ow = (h + 2 * pads[0] - kh) // 2 + 1, (w + 2 * pads[1] - kw) + 1
    itemsize = 8
    monkeypatch.setattr(conv_kernels, "BLOCK_BYTES", images_per_block * oh * ow * kh * kw * c * itemsize)
    rng = np.random.default_rng(images_per_block)
    wv, gy = rng.normal(size=(k, c, kh, kw)), rng.normal(size=(5, k, oh, ow))
    node = op.make_node(var("float64", (k, c, kh, kw)), var("float64", (None, k, None, None)), [h, w])
    hw = np.array([h, w])
    np.testing.assert_allclose(thunk_of(node)(wv, gy, hw), op.perform(node, wv, gy, hw),
                               rtol=1e-12, atol=1e-12)
