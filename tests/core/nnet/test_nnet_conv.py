"""Tests of nnthe.core.nnet.conv: values against a naive loop reference and PyTorch,
gradients (first and second order) by finite differences, static shapes, errors."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.gradient import verify_grad
from nnthe.core.nnet.conv import (Conv2dGradInputs, Conv2dGradWeights, channels_last, conv2d,
                                  conv_output_shape, normalize_border_mode, resolve_padding)

from nnthe.core.nnet import im2col

from conv_reference import naive_conv2d


CASES = [
    # border_mode, subsample, dilation, groups, flip
    ("valid", (1, 1), (1, 1), 1, False),
    ("full", (1, 1), (1, 1), 1, False),
    ("half", (1, 1), (1, 1), 1, True),
    ("same", (2, 2), (1, 1), 1, False),
    (1, (2, 1), (1, 1), 1, False),
    ((2, 1), (1, 2), (2, 1), 1, True),
    ("valid", (1, 1), (2, 2), 2, False),
    ("half", (2, 2), (1, 1), 2, False),
]


def _pads(bm, kshape, dil):
    return resolve_padding(normalize_border_mode(bm), kshape, dil)


@pytest.mark.parametrize("bm,stride,dil,groups,flip", CASES)
def test_conv2d_values_and_grads(rng, bm, stride, dil, groups, flip):
    x = rng.standard_normal((2, 4, 7, 8))
    w = rng.standard_normal((6, 4 // groups, 3, 2))
    X, W = T.dtensor4("x"), T.dtensor4("w")
    y = conv2d(X, W, border_mode=bm, subsample=stride, filter_dilation=dil, num_groups=groups, filter_flip=flip)
    out = nnthe.function([X, W], y)(x, w)
    ref = naive_conv2d(x, w, _pads(bm, (3, 2), dil), stride, dil, groups, flip)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10)
    verify_grad(lambda a, b: conv2d(a, b, border_mode=bm, subsample=stride, filter_dilation=dil,
                                    num_groups=groups, filter_flip=flip), [x, w], rng=rng)


@pytest.mark.parametrize("bm,stride,dil,groups,flip", [CASES[0], CASES[5], CASES[7]])
def test_conv2d_second_order(rng, bm, stride, dil, groups, flip):
    x = rng.standard_normal((2, 4, 6, 6))
    w = rng.standard_normal((4, 4 // groups, 3, 3))

    def f(a, b):
        c = conv2d(a, b, border_mode=bm, subsample=stride, filter_dilation=dil, num_groups=groups,
                   filter_flip=flip)
        ga, gb = nnthe.grad((c ** 2).sum(), [a, b])
        return (ga ** 2).sum() + (gb * b).sum()

    verify_grad(f, [x, w], rng=rng)


def test_grad_ops_verify_grad(rng):
    w = rng.standard_normal((4, 2, 3, 3))
    gy = rng.standard_normal((2, 4, 4, 4))
    x = rng.standard_normal((2, 2, 7, 7))
    kw = dict(border_mode=1, subsample=(2, 2))
    verify_grad(lambda a, b: Conv2dGradInputs(**kw)(a, b, (7, 7)), [w, gy], rng=rng)
    verify_grad(lambda a, b: Conv2dGradWeights(**kw)(a, b, (3, 3)), [x, gy], rng=rng)


def test_hessian_vector_product_through_cnn(rng):
    x = rng.standard_normal((2, 1, 6, 6))
    w0 = rng.standard_normal((3, 1, 3, 3))
    v0 = rng.standard_normal(w0.shape)
    W, V, X = T.dtensor4("w"), T.dtensor4("v"), T.dtensor4("x")
    cost = (T.tanh(conv2d(X, W)) ** 2).sum()
    g = nnthe.grad(cost, W)
    hv = nnthe.grad((g * V).sum(), W)
    f = nnthe.function([X, W, V], hv)
    fg = nnthe.function([X, W], g)
    eps = 1e-6
    numeric = (fg(x, w0 + eps * v0) - fg(x, w0 - eps * v0)) / (2 * eps)
    np.testing.assert_allclose(f(x, w0, v0), numeric, rtol=1e-5, atol=1e-6)


def test_conv2d_float32_stays_float32(rng):
    X = T.tensor4("x", shape=(None, 1, 28, 28))
    W = T.tensor4("w", shape=(32, 1, 5, 5))
    y = conv2d(X, W)
    assert y.type.dtype == "float32" and y.type.shape == (None, 32, 24, 24)
    gx, gw = nnthe.grad(y.sum(), [X, W])
    assert gx.type.shape == (None, 1, 28, 28) and gw.type.shape == (32, 1, 5, 5)
    f = nnthe.function([X, W], [y, gx, gw])
    outs = f(rng.standard_normal((3, 1, 28, 28)).astype("float32"),
             rng.standard_normal((32, 1, 5, 5)).astype("float32"))
    assert all(o.dtype == np.float32 for o in outs)


def test_conv_output_shape():
    assert conv_output_shape((128, 1, 28, 28), (32, 1, 5, 5)) == (128, 32, 24, 24)
    assert conv_output_shape((None, 3, 32, 32), (8, 3, 3, 3), "half", (2, 2)) == (None, 8, 16, 16)
    assert conv_output_shape((1, 1, 5, 5), (1, 1, 3, 3), "full") == (1, 1, 7, 7)
    assert conv_output_shape((1, 1, 9, None), (1, 1, 3, 3), 0, 1, 2) == (1, 1, 5, None)


def test_conv2d_errors():
    x = T.tensor4("x", shape=(None, 3, 8, 8))
    with pytest.raises(ValueError, match="channels"):
        conv2d(x, T.tensor4("w", shape=(4, 2, 3, 3)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv2d(x, T.tensor4("w", shape=(4, 3, 9, 9)))
    with pytest.raises(TypeError, match="4-d"):
        conv2d(T.matrix("m"), T.tensor4("w"))
    with pytest.raises(TypeError, match="same dtype"):
        conv2d(x, T.dtensor4("w"))
    with pytest.raises(ValueError, match="border_mode"):
        conv2d(x, T.tensor4("w"), border_mode="bogus")
    with pytest.raises(ValueError, match="subsample"):
        conv2d(x, T.tensor4("w"), subsample=(0, 1))
    with pytest.raises(TypeError, match="did you mean 'subsample'"):
        conv2d(x, T.tensor4("w"), subsampel=(2, 2))
    with pytest.raises(ValueError, match="divisible"):
        conv2d(T.tensor4("x", shape=(None, 4, 8, 8)), T.tensor4("w", shape=(3, 2, 3, 3)), num_groups=2)


def test_grad_ops_static_shape_errors():
    w = T.tensor4("w", shape=(4, 2, 3, 3))
    with pytest.raises(ValueError, match="does not match"):
        Conv2dGradInputs()(w, T.tensor4("gy", shape=(None, 4, 5, 5)), (8, 8))
    with pytest.raises(ValueError, match="channels"):
        Conv2dGradInputs()(w, T.tensor4("gy", shape=(None, 3, 6, 6)), (8, 8))
    with pytest.raises(ValueError, match="2 entries"):
        Conv2dGradWeights()(T.tensor4("x"), T.tensor4("gy"), (3, 3, 3))


def test_conv2d_runtime_error_names_shapes(rng):
    X, W = T.tensor4("x"), T.tensor4("w")
    f = nnthe.function([X, W], conv2d(X, W))
    with pytest.raises(ValueError, match="channels"):
        f(np.zeros((1, 3, 5, 5), "float32"), np.zeros((2, 2, 3, 3), "float32"))


@pytest.mark.parametrize("bm,stride,dil,groups", [("valid", 1, 1, 1), ("half", 2, 1, 1),
                                                  (2, 1, 2, 2)])
def test_conv2d_matches_torch(rng, bm, stride, dil, groups):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4, 11, 10)).astype("float32")
    w = rng.standard_normal((6, 4 // groups, 3, 3)).astype("float32")
    gy_shape = conv_output_shape(x.shape, w.shape, bm, (stride, stride), (dil, dil))
    gy = rng.standard_normal(gy_shape).astype("float32")
    X, W, GY = T.tensor4("x"), T.tensor4("w"), T.tensor4("gy")
    y = conv2d(X, W, border_mode=bm, subsample=stride, filter_dilation=dil, num_groups=groups,
               filter_flip=False)
    gx, gw = nnthe.grad(None, [X, W], known_grads={y: GY})
    out, ogx, ogw = nnthe.function([X, W, GY], [y, gx, gw])(x, w, gy)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    pad = _pads(bm, (3, 3), (dil, dil))
    ty = torch.nn.functional.conv2d(tx, tw, stride=stride, padding=pad, dilation=dil, groups=groups)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(out, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ogx, tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ogw, tw.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_grad_weights_reuses_forward_im2col(rng):
    X, W = T.dtensor4("x"), T.dtensor4("w")
    y = conv2d(X, W, border_mode=1, subsample=2, filter_flip=False)
    conv_node = y.owner
    gw = nnthe.grad((y ** 2).sum(), W)
    assert isinstance(gw.owner.op, Conv2dGradWeights) and gw.owner.inputs[3] is conv_node.outputs[1]
    x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    shared_cols, fresh = nnthe.function([X, W], [gw, Conv2dGradWeights(1, 2)(X, 2 * y, (3, 3))])(x, w)
    np.testing.assert_allclose(shared_cols, fresh, rtol=1e-12)
    with pytest.raises(TypeError, match="im2col"):
        Conv2dGradWeights()(X, X, (3, 3), T.dmatrix("c"))


@pytest.mark.parametrize("bm,stride,dil", [("half", (2, 1), (2, 1)), ("full", (1, 2), (1, 1)),
                                           ((1, 2), (3, 1), (1, 2))])
def test_infer_shape_matches_the_values(bm, stride, dil):
    # DebugMode compares every node's infer_shape with the shapes perform returns.
    x, w = T.tensor4("x"), T.tensor4("w")
    y = conv2d(x, w, border_mode=bm, subsample=stride, filter_dilation=dil)
    xv, wv = np.zeros((2, 3, 9, 8), "float32"), np.zeros((4, 3, 3, 2), "float32")
    out = nnthe.function([x, w], y, mode="DEBUG")(xv, wv)
    assert out.shape == conv_output_shape(xv.shape, wv.shape, bm, stride, dil)


# (x shape, w shape, border_mode, subsample, dilation, groups): the im2col matrix is built
# channels-last when kw * Cg (Cg with dilation) exceeds OW, else with OW innermost.
LAYOUTS = [
    ((3, 1, 11, 12), (4, 1, 3, 3), "valid", (1, 1), (1, 1), 1, False),    # run 3 < OW 10
    ((3, 8, 6, 6), (5, 8, 3, 3), "valid", (1, 1), (1, 1), 1, True),       # 24 > 4
    ((2, 6, 5, 5), (4, 3, 3, 3), 1, (2, 1), (1, 1), 2, True),             # groups, padding
    ((2, 6, 9, 9), (6, 6, 3, 3), "half", (1, 2), (2, 2), 1, True),        # dilation: run 6 > 5
    ((2, 2, 9, 9), (3, 2, 2, 2), "full", (1, 1), (1, 1), 1, False),       # 4 < 10
]


@pytest.mark.parametrize("xs,ws,bm,stride,dil,groups,last", LAYOUTS)
def test_both_im2col_layouts(rng, xs, ws, bm, stride, dil, groups, last):
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    ow = conv_output_shape(xs, ws, bm, stride, dil)[3]
    assert channels_last(ws[1], ws[3], ow, dil[1]) == last
    X, W = T.dtensor4("x"), T.dtensor4("w")
    y = conv2d(X, W, border_mode=bm, subsample=stride, filter_dilation=dil, num_groups=groups,
               filter_flip=False)
    gx, gw = nnthe.grad((y * y).sum(), [X, W])
    # The im2col output's shape: static when the shapes are, and infer_shape's otherwise
    # (DebugMode checks every node's infer_shape against its values, the gradients' too).
    cols = y.owner.outputs[1]
    out, got_cols, cols_shape, _, _ = nnthe.function([X, W], [y, cols, cols.shape, gx, gw],
                                                     mode="DEBUG")(x, w)
    ref = naive_conv2d(x, w, _pads(bm, ws[2:], dil), stride, dil, groups, False)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10)
    assert tuple(cols_shape) == got_cols.shape
    n_ohw = out.shape[0] * out.shape[2] * out.shape[3]
    ckk = ws[1] * ws[2] * ws[3]
    assert got_cols.shape == ((groups, n_ohw, ckk) if last else (groups, ckk, n_ohw))
    Xs = T.tensor("float64", shape=xs, name="xs")
    Ws = T.tensor("float64", shape=ws, name="ws")
    ys = conv2d(Xs, Ws, border_mode=bm, subsample=stride, filter_dilation=dil,
                num_groups=groups, filter_flip=False)
    assert ys.owner.outputs[1].type.shape == got_cols.shape
    verify_grad(lambda a, b: conv2d(a, b, border_mode=bm, subsample=stride, filter_dilation=dil,
                                    num_groups=groups, filter_flip=True), [x, w], rng=rng)


@pytest.mark.parametrize("xs,ws,bm,stride,dil,groups,last", [c for c in LAYOUTS if c[-1]])
def test_channels_last_blocks_fill_the_whole_matrix(rng, monkeypatch, xs, ws, bm, stride, dil,
                                                    groups, last):
    # Blocks of one image (a tiny COPY_BLOCK_BYTES): each yields the rows it has just
    # written, and in the end the matrix holds every window's taps (kh, kw, Cg), built
    # here from the padded input one by one; the convolution and its gradients computed
    # block by block give the naive values.
    monkeypatch.setattr(im2col, "COPY_BLOCK_BYTES", 1)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    g, (kh, kw), cg = groups, ws[2:], ws[1]
    pad = _pads(bm, ws[2:], dil)
    oh, ow = conv_output_shape(xs, ws, bm, stride, dil)[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0],) * 2, (pad[1],) * 2))
    rows = []
    for i in range(xs[0]):
        for a in range(oh):
            for b in range(ow):
                r0, c0 = a * stride[0], b * stride[1]
                win = xp[i, :, r0:r0 + dil[0] * (kh - 1) + 1:dil[0], c0:c0 + dil[1] * (kw - 1) + 1:dil[1]]
                rows.append(win.reshape(g, cg, kh, kw).transpose(0, 2, 3, 1).reshape(g, -1))
    whole = np.stack(rows, axis=1)                       # (G, N*OH*OW, kh*kw*Cg)
    cols = np.full_like(whole, np.nan)
    seen = 0
    for r0, r1 in im2col.channels_last_blocks(x, cols, g, kh, kw, pad, stride, dil, oh, ow):
        assert (r0, r1) == (seen, seen + oh * ow)
        np.testing.assert_array_equal(cols[:, :r1], whole[:, :r1])
        assert np.isnan(cols[:, r1:]).all()               # nothing written ahead of its block
        seen = r1
    assert seen == whole.shape[1]
    X, W = T.dtensor4("x"), T.dtensor4("w")
    y = conv2d(X, W, border_mode=bm, subsample=stride, filter_dilation=dil, num_groups=groups,
               filter_flip=False)
    gy = rng.standard_normal(conv_output_shape(xs, ws, bm, stride, dil))
    out, got_cols, gw = nnthe.function([X, W], [y, y.owner.outputs[1],
                                                 nnthe.grad((y * gy).sum(), W)])(x, w)
    np.testing.assert_array_equal(got_cols, whole)
    np.testing.assert_allclose(out, naive_conv2d(x, w, pad, stride, dil, groups, False), rtol=1e-10,
                               atol=1e-10)
    # dL/dw[k, c, i, j] = sum over windows of gy[k] * tap (i, j, c): from the whole matrix.
    gm = gy.reshape(xs[0], g, ws[0] // g, oh * ow).transpose(1, 2, 0, 3).reshape(g, ws[0] // g, -1)
    ref = np.einsum("gkr,grt->gkt", gm, whole).reshape(g, ws[0] // g, kh, kw, cg)
    np.testing.assert_allclose(gw, ref.transpose(0, 1, 4, 2, 3).reshape(ws), rtol=1e-10, atol=1e-10)


def test_im2col_shape_from_symbolic_sizes():
    # infer_shape on symbolic input sizes chooses the layout when the function runs.
    X, W = T.dtensor4("x"), T.dtensor4("w")
    node = conv2d(X, W, filter_flip=False).owner
    sizes = [[X.shape[d] for d in range(4)], [W.shape[d] for d in range(4)]]
    cols_shape = node.op.infer_shape(node, sizes)[1]
    f = nnthe.function([X, W], list(cols_shape[1:]))
    for xs, ws in [((3, 8, 6, 6), (5, 8, 3, 3)), ((3, 1, 9, 9), (5, 1, 3, 3))]:
        got = nnthe.function([X, W], node.outputs[1])(np.zeros(xs), np.zeros(ws))
        assert tuple(int(d) for d in f(np.zeros(xs), np.zeros(ws))) == got.shape[1:]
