"""The direct convolution kernels (forward and filter gradient) against perform."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kernel_testutil import assert_bitwise, corrupt_kernels, thunk_of, var

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.debugmode import DebugMode, DebugModeError
from nnthe.core.compile.mode import Mode
from nnthe.core.kernels import KernelContext, KernelReport, kernel_thunk
from nnthe.core.kernels import direct_conv
from nnthe.core.nnet import conv as conv_module
from nnthe.core.nnet.conv import Conv2d, Conv2dGradWeights

#: (Cg, groups, Kg, (kh, kw), stride, dilation, border_mode, W): each is one compiled
#: module per dtype, so few: plain, padded and strided, dilated with explicit padding,
#: grouped and flipped-friendly 'full', a 1x3 window.
GEOMETRIES = [
    (1, 1, 3, (3, 3), (1, 1), (1, 1), "valid", 12),
    (2, 1, 2, (3, 2), (2, 1), (1, 1), "half", 11),
    (1, 1, 2, (2, 2), (1, 2), (2, 1), (1, 2), 14),
    (2, 2, 2, (2, 2), (1, 1), (1, 1), "full", 9),
    (1, 1, 2, (1, 3), (3, 1), (1, 1), (0, 1), 9),
]
RTOL = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture
def anywhere(monkeypatch):
    """The kernels on every geometry they can compute, not only where they pay (small
    test geometries, strides along the width)."""
    monkeypatch.setattr(direct_conv, "pays", lambda *args: True)


def ops(geometry, flip=False):
    _, g, _, _, stride, dil, border, _ = geometry
    kw = dict(border_mode=border, subsample=stride, filter_dilation=dil, num_groups=g, filter_flip=flip)
    return Conv2d(**kw), Conv2dGradWeights(**kw)


def nodes(geometry, dtype, flip=False):
    """A Conv2d node and the Conv2dGradWeights node that reads its im2col output."""
    cg, g, kg, (kh, kw), _, _, _, width = geometry
    fop, gop = ops(geometry, flip)
    fnode = fop.make_node(var(dtype, (None, cg * g, None, width)), var(dtype, (kg * g, cg, kh, kw)))
    out_w = fnode.outputs[0].type.shape[3]
    gnode = gop.make_node(var(dtype, (None, cg * g, None, width)), var(dtype, (None, kg * g, None, out_w)),
                          [kh, kw], fnode.outputs[1])
    return fnode, gnode


def close(got, expected, dtype):
    assert got.dtype == expected.dtype and got.shape == expected.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(got[~finite], expected[~finite])  # the same infinities
    scale = np.abs(expected[finite]).max(initial=1.0)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # perform's dot on inf
# The fixture only patches a module attribute: it may be shared by every example.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(GEOMETRIES), st.sampled_from(["float32", "float64"]), st.integers(1, 5),
       st.integers(4, 13), st.booleans(), st.sampled_from(["none", "nan", "inf"]),
       st.booleans(), st.integers(0, 2**31))
def test_kernels_match_perform(anywhere, geometry, dtype, n, h, flip, special, strided, seed):
    cg, g, kg, (kh, kw), _, dil, _, width = geometry
    fnode, gnode = nodes(geometry, dtype, flip)
    fop, gop = fnode.op, gnode.op
    if fop._pads(kh, kw)[0] * 2 + h < dil[0] * (kh - 1) + 1:
        h += dil[0] * (kh - 1) + 1  # the window must fit in the (run-time) height
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, cg * g, h, width)).astype(dtype)
    w = rng.normal(size=(kg * g, cg, kh, kw)).astype(dtype)
    if strided:  # non-contiguous inputs: every other element of larger arrays
        x = np.repeat(x, 2, axis=3)[..., ::2]
        w = np.asfortranarray(w)
    if special != "none":
        value = np.nan if special == "nan" else np.inf
        x[rng.integers(n), rng.integers(cg * g), rng.integers(h), rng.integers(width)] = value
    y_ref, cols_ref = fop.perform(fnode, x, w)
    y, cols = thunk_of(fnode)(x, w)
    close(y, y_ref, dtype)
    assert cols.shape == (g, 0, 0) and cols.dtype == np.dtype(dtype)  # the documented placeholder

    gy = rng.normal(size=y_ref.shape).astype(dtype)
    if special == "inf":
        gy.reshape(-1)[rng.integers(gy.size)] = -np.inf
    if strided:
        gy = np.swapaxes(np.swapaxes(gy, 0, 1).copy(), 0, 1)
    hw = np.array([kh, kw])
    gw_ref = gop.perform(gnode, x, gy, hw, cols_ref)
    close(thunk_of(gnode)(x, gy, hw, cols), gw_ref, dtype)
    # perform given the placeholder builds its own im2col matrix: the same result.
    np.testing.assert_array_equal(gop.perform(gnode, x, gy, hw, cols), gw_ref)


def test_a_gradient_node_without_the_im2col_input(anywhere):
    geometry = GEOMETRIES[0]
    gop = ops(geometry)[1]
    node = gop.make_node(var("float64", (None, 1, None, 12)), var("float64", (None, 3, None, 10)), [3, 3])
    rng = np.random.default_rng(0)
    x, gy = rng.normal(size=(2, 1, 7, 12)), rng.normal(size=(2, 3, 5, 10))
    close(thunk_of(node)(x, gy, np.array([3, 3])), gop.perform(node, x, gy, np.array([3, 3])), "float64")


@pytest.mark.parametrize("h", [11, 10])  # OH 9 (a last block of 1 row) and 8 (none)
def test_a_static_height_is_compiled_in(anywhere, h):
    op = Conv2d(filter_flip=True)
    fnode = op.make_node(var("float64", (None, 1, h, 12)), var("float64", (2, 1, 3, 3)))
    gop = Conv2dGradWeights(filter_flip=True)
    gnode = gop.make_node(var("float64", (None, 1, h, 12)), var("float64", (None, 2, h - 2, 10)), [3, 3])
    rng = np.random.default_rng(h)
    x, w, gy = rng.normal(size=(3, 1, h, 12)), rng.normal(size=(2, 1, 3, 3)), rng.normal(size=(3, 2, h - 2, 10))
    hw = np.array([3, 3])
    close(thunk_of(fnode)(x, w)[0], op.perform(fnode, x, w)[0], "float64")
    close(thunk_of(gnode)(x, gy, hw), gop.perform(gnode, x, gy, hw), "float64")
    # Another height at run time (the function's input check stops it before): perform.
    x2, gy2 = x[:, :, :-1], gy[:, :, :-1]
    np.testing.assert_array_equal(thunk_of(fnode)(x2, w)[0], op.perform(fnode, x2, w)[0])
    np.testing.assert_array_equal(thunk_of(gnode)(x2, gy2, hw), gop.perform(gnode, x2, gy2, hw))


def no_kernel(node):
    return kernel_thunk(node, KernelContext(KernelReport())) is None


def test_declined_geometries_keep_perform():
    big = Conv2d().make_node(var("float32", (None, 32, 12, 12)), var("float32", (32, 32, 5, 5)))
    assert no_kernel(big)  # 800 taps: the im2col GEMM is faster
    assert no_kernel(Conv2d().make_node(var("float32", (None, 1, 12, None)), var("float32", (4, 1, 3, 3))))
    ow = direct_conv.MIN_OW
    assert no_kernel(Conv2d().make_node(var("float32", (None, 1, 9, ow + 1)), var("float32", (4, 1, 3, 3))))
    assert not no_kernel(Conv2d().make_node(var("float32", (None, 1, 9, ow + 2)), var("float32", (4, 1, 3, 3))))
    strided = Conv2d(subsample=(1, 2)).make_node(var("float32", (None, 1, 9, 4 * ow)), var("float32", (4, 1, 3, 3)))
    assert no_kernel(strided)  # strided loads along the row: slower than perform
    assert no_kernel(Conv2d().make_node(var("float32", (None, 1, 9, 12)), var("float32", (None, 1, 3, 3))))
    assert no_kernel(Conv2d().make_node(var("float16", (None, 1, 9, 12)), var("float16", (4, 1, 3, 3))))
    assert no_kernel(Conv2dGradWeights().make_node(var("float32", (None, 32, 12, 12)),
                                                   var("float32", (None, 32, 8, 8)), [5, 5]))
    assert no_kernel(Conv2dGradWeights().make_node(var("float32", (None, 1, 12, 12)),
                                                   var("float32", (None, 4, 10, 10)), var("int64", (2,))))
    taps = direct_conv.MAX_TAPS
    assert direct_conv.pays(1, 1, taps, 24) and not direct_conv.pays(1, 1, taps + 1, 24)
    assert not direct_conv.pays(1, 3, 3, None) and not direct_conv.pays(1, 3, 3, ow - 1)
    assert direct_conv.pays(1, 3, 3, ow, 1) and not direct_conv.pays(1, 3, 3, ow, 2)


def test_run_time_mismatches_fall_back_to_perform(anywhere):
    fnode, gnode = nodes(GEOMETRIES[0], "float64")
    fk, gk = thunk_of(fnode), thunk_of(gnode)
    rng = np.random.default_rng(1)
    # perform raises its own errors for what the kernel does not take...
    with pytest.raises(ValueError, match="channels"):
        fk(rng.normal(size=(2, 2, 8, 12)), rng.normal(size=(3, 1, 3, 3)))
    with pytest.raises(ValueError, match="does not fit|larger than"):
        fk(rng.normal(size=(2, 1, 2, 12)), rng.normal(size=(3, 1, 3, 3)))
    with pytest.raises(ValueError, match="does not"):
        gk(rng.normal(size=(2, 1, 8, 12)), rng.normal(size=(2, 3, 5, 9)), np.array([3, 3]))
    # ... and computes what it can (a 2x2 filter where 3x3 was compiled).
    x, w = rng.normal(size=(2, 1, 8, 12)), rng.normal(size=(3, 1, 2, 2))
    np.testing.assert_array_equal(fk(x, w)[0], fnode.op.perform(fnode, x, w)[0])
    gy = rng.normal(size=(2, 3, 7, 11))
    np.testing.assert_array_equal(gk(x, gy, np.array([2, 2])), gnode.op.perform(gnode, x, gy, np.array([2, 2])))


def small_cnn(mode, steps=2):
    """A first layer the kernels take (1 channel, 5x5, OW 16), a second they do not."""
    rng = np.random.default_rng(0)
    W1 = nnthe.shared(rng.normal(size=(6, 1, 5, 5)).astype("float32") * 0.2, name="W1")
    W2 = nnthe.shared(rng.normal(size=(4, 6, 5, 5)).astype("float32") * 0.1, name="W2")
    X = T.tensor4("X", shape=(None, 1, 20, 20))
    h = T.nnet.pool_2d(T.nnet.relu(T.nnet.conv2d(X, W1, filter_flip=False)), (2, 2))
    loss = (T.nnet.conv2d(h, W2, border_mode="half") ** 2).mean()
    updates = [(p, p - 0.01 * g) for p, g in zip([W1, W2], nnthe.grad(loss, [W1, W2]))]
    f = nnthe.function([X], loss, updates=updates, mode=mode)
    x = rng.normal(size=(3, 1, 20, 20)).astype("float32")
    return f, [float(f(x)) for _ in range(steps)], W1.get_value(), W2.get_value()


def test_training_step_agrees_with_numpy_and_links_both_kernels():
    f, l1, a1, b1 = small_cnn(Mode(kernels="numba"))
    _, l2, a2, b2 = small_cnn(Mode(kernels="numpy"))
    np.testing.assert_allclose(l1, l2, rtol=1e-5)
    np.testing.assert_allclose(a1, a2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b2, rtol=1e-5, atol=1e-6)
    linked = {type(n.op) for n in f.fgraph.toposort() if isinstance(n.op, (Conv2d, Conv2dGradWeights))
              and kernel_thunk(n, KernelContext(KernelReport())) is not None}
    assert linked == {Conv2d, Conv2dGradWeights}
    # The report names them whether this function compiled them or found them loaded.
    report = f.kernel_report
    assert {"conv_forward", "conv_grad_weights"} <= {e[0] for e in report.entries} | set(report.reused)


def test_a_training_step_never_builds_the_first_layers_im2col_matrix(monkeypatch):
    f = small_cnn(Mode(kernels="numba"), steps=0)[0]
    built = []

    def counting(real):
        def build(x, *args):
            built.append(x.shape[1])
            return real(x, *args)
        return build

    for name in ("_im2col", "channels_last_blocks"):
        monkeypatch.setattr(conv_module, name, counting(getattr(conv_module, name)))
    f(np.zeros((2, 1, 20, 20), "float32"))
    assert built == [6]  # only the second layer's (6 channels, perform's forward pass)


def test_debugmode_compares_the_kernels_but_not_the_placeholder(monkeypatch):
    small_cnn(DebugMode(kernels="numba"), steps=1)

    def broken(thunk):
        def wrong(*args):
            return thunk(*args) * 1.01
        wrong.nnthe_kernel, wrong.nnthe_exact = "broken", False
        return wrong

    corrupt_kernels(monkeypatch, Conv2dGradWeights, broken)
    with pytest.raises(DebugModeError, match="kernel differs from perform"):
        small_cnn(DebugMode(kernels="numba"), steps=1)


def test_generated_source_compiles_the_geometry_in():
    src = direct_conv.kernel_source(1, 32, 5, 5, (1, 1), (1, 1), 24, parallel=False)
    assert "for b in range(24):" in src and "numba.prange" not in src
    assert src.count("w24 = w[k, 0, 4, 4]") == 1
    assert "numba.prange" in direct_conv.kernel_source(1, 32, 5, 5, (1, 1), (1, 1), 24, parallel=True)


def test_two_kernel_threads(anywhere, monkeypatch):
    monkeypatch.setattr(direct_conv, "get_num_threads", lambda: 2)
    fnode, gnode = nodes(GEOMETRIES[0], "float32")
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(5, 1, 9, 12)).astype("float32"), rng.normal(size=(3, 1, 3, 3)).astype("float32")
    y_ref, cols = fnode.op.perform(fnode, x, w)
    close(thunk_of(fnode)(x, w)[0], y_ref, "float32")
    gy = rng.normal(size=y_ref.shape).astype("float32")
    hw = np.array([3, 3])
    close(thunk_of(gnode)(x, gy, hw), gnode.op.perform(gnode, x, gy, hw, cols), "float32")


# ---------------------------------------------------------------------------------------
# Epilogues: the bias and relu applied in the forward kernel's last store
# ---------------------------------------------------------------------------------------

#: (geometry, dtype, epilogue): every geometry with relu, both dtypes, two with the bias
#: alone (each is a module to compile: not all combinations).
EPILOGUE_CASES = [(geo, ("float32", "float64")[i % 2], "bias_relu") for i, geo in enumerate(GEOMETRIES)] \
    + [(GEOMETRIES[0], "float64", "bias"), (GEOMETRIES[3], "float32", "bias")]


def epilogue_node(geometry, dtype, epilogue, flip=False):
    cg, g, kg, (kh, kw), _, _, _, width = geometry
    plain = ops(geometry, flip)[0]
    op = Conv2d(**plain._kwargs(), epilogue=epilogue)
    return op.make_node(var(dtype, (None, cg * g, None, width)), var(dtype, (kg * g, cg, kh, kw)),
                        var(dtype, (kg * g,)))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf - inf
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(EPILOGUE_CASES), st.integers(1, 4), st.integers(4, 10), st.booleans(),
       st.sampled_from(["none", "nan", "inf", "zero"]), st.integers(0, 2**31))
def test_epilogue_kernel_is_the_plain_kernel_then_numpys_add_and_maximum(
        anywhere, case, n, h, flip, special, seed):
    """Bit for bit (NaN positions and signs of zeros included): the epilogue rounds the
    kernel's sum as the plain kernel stores it, then adds and clamps as NumPy does."""
    geometry, dtype, epilogue = case
    cg, g, kg, (kh, kw), _, dil, _, width = geometry
    node = epilogue_node(geometry, dtype, epilogue, flip)
    plain = nodes(geometry, dtype, flip)[0]
    if node.op._pads(kh, kw)[0] * 2 + h < dil[0] * (kh - 1) + 1:
        h += dil[0] * (kh - 1) + 1
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, cg * g, h, width)).astype(dtype)
    w = rng.normal(size=(kg * g, cg, kh, kw)).astype(dtype)
    b = rng.normal(size=kg * g).astype(dtype)
    if special in ("nan", "inf"):
        value = np.nan if special == "nan" else np.inf
        x[rng.integers(n), rng.integers(cg * g), rng.integers(h), rng.integers(width)] = value
        b[rng.integers(b.size)] = -value
    elif special == "zero":  # pre-activations of -0.0 (relu makes them +0.0)
        x[:] = -0.0
        w = np.abs(w)
        b[:] = -0.0
    y = thunk_of(plain)(x, w)[0]
    z = y + b.reshape(1, -1, 1, 1)
    expected = np.maximum(z, z.dtype.type(0)) if epilogue == "bias_relu" else z
    got, cols = thunk_of(node)(x, w, b[::-1].copy()[::-1])  # a non-contiguous bias
    assert_bitwise(expected, got)
    assert cols.shape == (g, 0, 0)
    # And against perform (the GEMM's sums: a tolerance).
    close(got, node.op.perform(node, x, w, b)[0], dtype)


def test_epilogue_kernel_falls_back_to_perform_for_a_wrong_bias(anywhere):
    node = epilogue_node(GEOMETRIES[0], "float64", "bias_relu")
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(2, 1, 8, 12)), rng.normal(size=(3, 1, 3, 3))
    with pytest.raises(ValueError, match="a bias of shape"):
        thunk_of(node)(x, w, np.zeros(2))
    b32 = rng.normal(size=3).astype("float32")  # another dtype: perform computes it
    np.testing.assert_array_equal(thunk_of(node)(x, w, b32)[0], node.op.perform(node, x, w, b32)[0])


def test_epilogue_source():
    plain = direct_conv.kernel_source(1, 32, 5, 5, (1, 1), (1, 1), 24, parallel=False)
    fused = direct_conv.kernel_source(1, 32, 5, 5, (1, 1), (1, 1), 24, parallel=False, epilogue="bias_relu")
    assert "bias[" not in plain and "zero = " not in plain
    assert fused.count("bk = bias[k]") == 1 and "v if (v > zero or v != v) else zero" in fused
    bias = direct_conv.kernel_source(1, 32, 5, 5, (1, 1), (1, 1), 24, False, None, "bias")
    assert "bk = bias[k]" in bias and "zero = " not in bias


def test_debugmode_compares_the_epilogue_kernel(monkeypatch):
    rng = np.random.default_rng(0)
    W = nnthe.shared(rng.normal(size=(6, 1, 5, 5)).astype("float32"), name="W")
    b = nnthe.shared(np.linspace(-1, 1, 6).astype("float32"), name="b")
    X = T.tensor4("X", shape=(None, 1, 20, 20))
    z = T.nnet.relu(T.nnet.conv2d(X, W, filter_flip=False) + b.dimshuffle("x", 0, "x", "x"))
    x = rng.normal(size=(2, 1, 20, 20)).astype("float32")
    f = nnthe.function([X], z, mode=DebugMode(kernels="numba"))
    assert [n.op.epilogue for n in f.fgraph.toposort() if isinstance(n.op, Conv2d)] == ["bias_relu"]
    f(x)

    def broken(thunk):
        def wrong(*args):
            y, cols = thunk(*args)
            return y + 0.5, cols  # as if the bias were added twice, say
        wrong.nnthe_kernel, wrong.nnthe_exact = "broken", False
        wrong.nnthe_placeholders = thunk.nnthe_placeholders
        return wrong

    corrupt_kernels(monkeypatch, Conv2d, broken)
    with pytest.raises(DebugModeError, match="kernel differs from perform"):
        nnthe.function([X], z, mode=DebugMode(kernels="numba"))(x)
