"""Conv2d with an epilogue (nnthe.core.nnet.conv_epilogue): perform against the
convolution followed by NumPy's add and maximum (bit for bit), gradients by finite
differences and against the unfused graph's, errors, printing and shapes."""
from __future__ import annotations

import io

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.mode import Mode
from nnthe.core.nnet import conv_epilogue
from nnthe.core.nnet.conv import Conv2d
from nnthe.gradient import verify_grad

# inf - inf in the special values: NumPy's warning, as for the unfused add.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")

# border_mode, subsample, dilation, groups, flip; (C, H, W) of the input, (K, kh, kw).
CASES = [
    ("valid", (1, 1), (1, 1), 1, False, (1, 9, 10), (4, 3, 3)),     # direct-kernel shaped
    ("half", (2, 1), (1, 1), 1, True, (3, 8, 9), (4, 3, 2)),
    ((1, 2), (1, 2), (2, 1), 2, False, (4, 7, 8), (6, 2, 3)),
    ("full", (1, 1), (1, 1), 2, False, (8, 5, 6), (4, 3, 3)),       # channels-last im2col
    ("valid", (1, 1), (1, 1), 1, False, (16, 6, 6), (5, 3, 3)),     # channels-last im2col
]
EPILOGUES = ["bias", "bias_relu"]


def plain_and_fused(case, epilogue):
    bm, stride, dil, groups, flip = case[:5]
    kw = dict(border_mode=bm, subsample=stride, filter_dilation=dil, num_groups=groups,
              filter_flip=flip)
    return Conv2d(**kw), Conv2d(**kw, epilogue=epilogue)


def data(rng, case, dtype, n=3):
    (c, h, w), (k, kh, kw) = case[5], case[6]
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((k, c // case[3], kh, kw)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    return x, wt, b


def reference(y, b, epilogue):
    """The unfused ops' values: the convolution, ``+ b``, then relu's ``np.maximum``."""
    z = y + b.reshape(1, -1, 1, 1)
    return np.maximum(z, z.dtype.type(0)) if epilogue == "bias_relu" else z


def assert_bitwise(e, g):
    assert e.dtype == g.dtype and e.shape == g.shape and g.flags.c_contiguous
    np.testing.assert_array_equal(np.isnan(e), np.isnan(g))
    np.testing.assert_array_equal(e, g)
    # Signs of zeros too; not of NaNs (which NaN an add returns, and its sign, depends
    # on the machine code's operand order).
    np.testing.assert_array_equal(np.signbit(e[~np.isnan(e)]), np.signbit(g[~np.isnan(g)]))


def nodes(plain, fused, dtype, case):
    x, w, b = T.tensor4("x", dtype=dtype), T.tensor4("w", dtype=dtype), T.vector("b", dtype=dtype)
    return plain.make_node(x, w), fused.make_node(x, w, b)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("epilogue", EPILOGUES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_perform_is_the_convolution_then_the_epilogue(rng, case, epilogue, dtype):
    plain, fused = plain_and_fused(case, epilogue)
    pnode, fnode = nodes(plain, fused, dtype, case)
    x, w, b = data(rng, case, dtype)
    # Special values in the input and the bias; then zeros plus a bias of -0.0 (BLAS sums
    # from +0.0, so the pre-activations are +0.0: -0.0 ones are the kernels' tests).
    x[0, 0, 0, :2] = [np.nan, np.inf]
    b[0], b[-1] = -np.inf, np.nan
    y, cols = plain.perform(pnode, x, w)
    z, zcols = fused.perform(fnode, x, w, b)
    assert_bitwise(reference(y, b, epilogue), z)
    np.testing.assert_array_equal(cols, zcols)  # the im2col matrix is unchanged
    zero_x, zero_b = np.zeros_like(x), np.full_like(b, -0.0)
    assert_bitwise(reference(plain.perform(pnode, zero_x, w)[0], zero_b, epilogue),
                   fused.perform(fnode, zero_x, w, zero_b)[0])


@pytest.mark.parametrize("epilogue", EPILOGUES)
def test_one_image(rng, epilogue):
    # One image takes another branch of store_nchw (no image-sized operands).
    case = CASES[0]
    plain, fused = plain_and_fused(case, epilogue)
    pnode, fnode = nodes(plain, fused, "float32", case)
    x, w, b = data(rng, case, "float32", n=1)
    assert_bitwise(reference(plain.perform(pnode, x, w)[0], b, epilogue), fused.perform(fnode, x, w, b)[0])


@pytest.mark.parametrize("case", [CASES[0], CASES[4]])
def test_blocks_of_images_with_a_ragged_last_one(rng, monkeypatch, case):
    plain, fused = plain_and_fused(case, "bias_relu")
    pnode, fnode = nodes(plain, fused, "float64", case)
    x, w, b = data(rng, case, "float64", n=5)
    y = plain.perform(pnode, x, w)[0]
    monkeypatch.setattr(conv_epilogue, "BLOCK_BYTES", 2 * y[0].nbytes + 1)  # 2, 2 and 1 images
    assert_bitwise(reference(y, b, "bias_relu"), fused.perform(fnode, x, w, b)[0])


@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[3]])
@pytest.mark.parametrize("epilogue", EPILOGUES)
def test_verify_grad(rng, case, epilogue):
    _, fused = plain_and_fused(case, epilogue)
    x, w, b = data(rng, case, "float64", n=2)
    # Pre-activations away from relu's kink, where finite differences are meaningless.
    b += np.where(b > 0, 0.5, -0.5)
    verify_grad(lambda a, f, c: fused(a, f, c)[0], [x, w, b], rng=rng)


@pytest.mark.parametrize("epilogue", EPILOGUES)
def test_gradients_equal_the_unfused_graphs(rng, epilogue):
    case = CASES[2]
    plain, fused = plain_and_fused(case, epilogue)
    x, w, b, c = T.dtensor4("x"), T.dtensor4("w"), T.dvector("b"), T.dtensor4("c")
    z = plain(x, w)[0] + b.dimshuffle("x", 0, "x", "x")
    if epilogue == "bias_relu":
        z = T.nnet.relu(z)
    xs, ws, bs = data(rng, case, "float64", n=2)
    cs = rng.standard_normal(plain.perform(plain.make_node(x, w), xs, ws)[0].shape)
    no_rewrite = Mode(exclude=["local_conv_epilogue"])
    grads = [nnthe.function([x, w, b, c], nnthe.grad((v * c).sum(), [x, w, b]), mode=no_rewrite)
             for v in (z, fused(x, w, b)[0])]
    for r, g in zip(*(f(xs, ws, bs, cs) for f in grads)):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


def test_second_order(rng):
    _, fused = plain_and_fused(CASES[1], "bias_relu")
    x, w, b = data(rng, CASES[1], "float64", n=2)
    b += np.where(b > 0, 0.5, -0.5)

    def f(a, f_, c):
        z = fused(a, f_, c)[0]
        ga, gc = nnthe.grad((z ** 2).sum(), [a, c])
        return (ga ** 2).sum() + (gc * c).sum()

    verify_grad(f, [x, w, b], rng=rng)


def test_errors():
    x, w = T.tensor4("x", shape=(None, 2, 8, 8)), T.tensor4("w", shape=(4, 2, 3, 3))
    with pytest.raises(ValueError, match="epilogue must be None or one of"):
        Conv2d(epilogue="relu")
    with pytest.raises(TypeError, match="needs the bias"):
        Conv2d(epilogue="bias")(x, w)
    with pytest.raises(TypeError, match="needs an epilogue"):
        Conv2d()(x, w, T.vector("b"))
    with pytest.raises(TypeError, match="must be a vector"):
        Conv2d(epilogue="bias")(x, w, T.matrix("b"))
    with pytest.raises(TypeError, match="same dtype"):
        Conv2d(epilogue="bias")(x, w, T.dvector("b"))
    with pytest.raises(ValueError, match="the bias has 3 values"):
        Conv2d(epilogue="bias")(x, w, T.vector("b", shape=(3,)))
    b = T.vector("b")
    f = nnthe.function([x, w, b], Conv2d(epilogue="bias_relu")(x, w, b)[0])
    rng = np.random.default_rng(0)
    xs, ws = rng.random((1, 2, 8, 8), np.float32), rng.random((4, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"a bias of shape \(3,\) for 4 output channels"):
        f(xs, ws, np.zeros(3, np.float32))


def test_props_printing_and_shapes():
    plain, fused = Conv2d(), Conv2d(epilogue="bias_relu")
    assert plain != fused and hash(plain) != hash(fused) and fused == Conv2d(epilogue="bias_relu")
    assert "epilogue" not in str(plain) and "epilogue" not in repr(plain)
    assert str(fused).endswith("filter_flip=False, epilogue='bias_relu'}") and repr(fused) == str(fused)
    x, w, b = T.tensor4("x", shape=(None, 1, 9, 9)), T.tensor4("w", shape=(4, 1, 3, 3)), T.vector("b")
    z = fused(x, w, b)[0]
    assert z.type.shape == (None, 4, 7, 7)
    assert "epilogue='bias_relu'" in nnthe.debugprint(z, file=io.StringIO())
    shape = nnthe.function([x, w, b], z.shape)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(
        shape(rng.random((2, 1, 9, 9), np.float32), rng.random((4, 1, 3, 3), np.float32),
              np.zeros(4, np.float32)), [2, 4, 7, 7])
    assert set(conv_epilogue.EPILOGUES) == {"bias", "bias_relu"}
