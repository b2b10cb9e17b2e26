"""nnthe.onnx.export: the ONNX model passes onnx.checker and onnxruntime computes what
nnthe computes."""
from __future__ import annotations

import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")
ort = pytest.importorskip("onnxruntime", reason="the ONNX tests run models with onnxruntime")

import nnthe  # noqa: E402
import nnthe.onnx  # noqa: E402
import nnthe.tensor as T  # noqa: E402
from nnthe import layers  # noqa: E402

RTOL = 1e-5


def run_onnx(model, *arrays):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i.name: a for i, a in zip(sess.get_inputs(), arrays)}
    return sess.run(None, feeds)


def check(inputs, outputs, *arrays, atol=1e-6):
    """Export, check the model, and compare onnxruntime's outputs with nnthe's."""
    inputs = inputs if isinstance(inputs, list) else [inputs]
    outputs = outputs if isinstance(outputs, list) else [outputs]
    model = nnthe.onnx.export(inputs, outputs)
    onnx.checker.check_model(model, full_check=True)
    expected = nnthe.function(inputs, outputs)(*arrays)
    got = run_onnx(model, *arrays)
    for e, g in zip(expected, got):
        assert g.dtype == np.asarray(e).dtype
        assert g.shape == np.shape(e)
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=atol)
    return model


def mnist_mlp():
    return layers.Sequential([
        layers.Flatten(), layers.Dropout(0.2),
        layers.Dense(800, activation="relu"), layers.Dropout(0.5),
        layers.Dense(800, activation="relu"), layers.Dropout(0.5),
        layers.Dense(10)])


def mnist_cnn():
    return layers.Sequential([
        layers.Conv2D(32, 5, activation="relu"), layers.MaxPool2D(2),
        layers.Conv2D(64, 5, activation="relu"), layers.MaxPool2D(2),
        layers.Flatten(), layers.Dense(256, activation="relu"),
        layers.Dropout(0.5), layers.Dense(10)])


@pytest.mark.parametrize("build", [mnist_mlp, mnist_cnn])
def test_mnist_models_match_onnxruntime(rng, build):
    model = build()
    X = T.tensor4("X", shape=(None, 1, 28, 28))
    logits = model(X, training=False)
    probs, classes = T.nnet.softmax(logits), T.argmax(logits, axis=1)
    onnx_model = nnthe.onnx.export([X], [logits, probs, classes])
    onnx.checker.check_model(onnx_model, full_check=True)
    f = nnthe.function([X], [logits, probs, classes])
    # The batch axis is dynamic: one exported model serves batches of any size.
    for n in (1, 7):
        x = rng.random((n, 1, 28, 28), dtype=np.float32)
        for e, g in zip(f(x), run_onnx(onnx_model, x)):
            np.testing.assert_allclose(g, e, rtol=RTOL, atol=1e-6)
    dims = onnx_model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    # Parameters are initializers under their model names.
    names = {i.name for i in onnx_model.graph.initializer}
    assert set(model.named_params()) <= names


def test_writes_file_and_exports_compiled_function(tmp_path, rng):
    x = T.matrix("x", shape=(None, 4))
    W = nnthe.shared(rng.normal(size=(4, 3)).astype("float32"), name="W")
    y = T.tanh(T.dot(x, W))
    fn = nnthe.function([x], y)
    path = tmp_path / "f.onnx"
    nnthe.onnx.export(fn, path)
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded)
    assert loaded.opset_import[0].version == nnthe.onnx.OPSET
    xv = rng.normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(run_onnx(loaded, xv)[0], fn(xv), rtol=RTOL)
    assert not list(tmp_path.glob("*.tmp"))


def test_export_model(tmp_path, rng):
    model = mnist_cnn()
    path = tmp_path / "cnn.onnx"
    onnx_model = nnthe.onnx.export_model(model, (1, 28, 28), path, output="classes")
    assert path.exists()
    X = T.tensor4("X", shape=(None, 1, 28, 28))
    predict = nnthe.function([X], T.argmax(model(X), axis=1))
    x = rng.random((4, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(run_onnx(onnx_model, x)[0], predict(x))
    with pytest.raises(ValueError, match="output must be"):
        nnthe.onnx.export_model(model, (1, 28, 28), output="logit")


@pytest.mark.parametrize("kw", [
    dict(border_mode="valid"),
    dict(border_mode="full"),
    dict(border_mode="half"),
    dict(border_mode=(1, 2), subsample=(2, 1)),
    dict(border_mode="valid", subsample=2, filter_dilation=(2, 1)),
    dict(border_mode="half", filter_dilation=2),
    dict(border_mode=1, num_groups=2),
    dict(border_mode="valid", filter_flip=True),
    dict(border_mode="full", filter_flip=True, num_groups=2, subsample=(1, 2)),
])
def test_conv2d(rng, kw):
    g = kw.get("num_groups", 1)
    x = T.tensor4("x", shape=(None, 4, 9, 8))
    w = nnthe.shared(rng.normal(size=(6, 4 // g, 3, 3)).astype("float32"), name="w")
    check(x, T.nnet.conv2d(x, w, **kw), rng.normal(size=(2, 4, 9, 8)).astype("float32"), atol=1e-5)


@pytest.mark.parametrize("epilogue", ["bias", "bias_relu"])
@pytest.mark.parametrize("kw", [dict(border_mode="valid"),
                                dict(border_mode="half", subsample=(2, 1), num_groups=2, filter_flip=True)])
def test_conv2d_with_an_epilogue(rng, epilogue, kw):
    """Conv2d{epilogue} (what the rewrite local_conv_epilogue builds) is Conv with its
    bias input B, and Relu."""
    from nnthe.core.nnet.conv import Conv2d
    g = kw.get("num_groups", 1)
    x = T.tensor4("x", shape=(None, 4, 9, 8))
    w = nnthe.shared(rng.normal(size=(6, 4 // g, 3, 3)).astype("float32"), name="w")
    b = T.vector("b", shape=(6,))
    z = Conv2d(**kw, epilogue=epilogue)(x, w, b)[0]
    bias = rng.normal(size=6).astype("float32")
    model = check([x, b], z, rng.normal(size=(2, 4, 9, 8)).astype("float32"), bias, atol=1e-5)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 1 and ops.count("Relu") == (epilogue == "bias_relu")
    [conv] = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(conv.input) == 3


def test_conv2d_filters_as_input(rng):
    x = T.tensor4("x", shape=(None, 2, 6, 6))
    w = T.tensor4("w", shape=(3, 2, 3, 3))
    check([x, w], T.nnet.conv2d(x, w, border_mode="half", filter_flip=True),
          rng.normal(size=(2, 2, 6, 6)).astype("float32"),
          rng.normal(size=(3, 2, 3, 3)).astype("float32"), atol=1e-5)


@pytest.mark.parametrize("mode", ["max", "average_inc_pad", "average_exc_pad"])
@pytest.mark.parametrize("ws,stride,pad,ignore_border", [
    ((2, 2), None, (0, 0), True),
    ((3, 3), (2, 2), (1, 1), True),
    ((3, 2), (1, 2), (1, 0), True),
    ((2, 2), None, (0, 0), False),
    ((3, 3), (2, 2), (1, 1), False),
    ((2, 3), (3, 2), (0, 1), False),
    ((3, 3), (1, 1), (0, 0), False),
])
def test_pool(rng, mode, ws, stride, pad, ignore_border):
    x = T.tensor4("x", shape=(None, 3, 7, 6))
    y = T.nnet.pool_2d(x, ws, ignore_border=ignore_border, stride=stride, pad=pad, mode=mode)
    check(x, y, rng.normal(size=(2, 3, 7, 6)).astype("float32"))


def test_pool_layers_and_global_pool(rng):
    x = T.tensor4("x", shape=(None, 3, 8, 8))
    net = layers.Sequential([layers.AvgPool2D(3, stride=2, padding=1), layers.MaxPool2D(2),
                             layers.GlobalAvgPool2D()])
    check(x, [net(x), T.nnet.global_max_pool_2d(x)], rng.normal(size=(2, 3, 8, 8)).astype("float32"))


def test_pool_refusals():
    x = T.tensor4("x", shape=(None, 3, None, None))
    with pytest.raises(nnthe.onnx.UnsupportedOpError, match="ignore_border=False needs the static"):
        nnthe.onnx.export(x, T.nnet.pool_2d(x, 2, ignore_border=False))
    x3 = T.tensor3("x3", shape=(None, 4, 4))
    with pytest.raises(nnthe.onnx.UnsupportedOpError, match="only 4-d"):
        nnthe.onnx.export(x3, T.nnet.pool_2d(x3, 2))


@pytest.mark.parametrize("ndim,axis", [(2, 1), (4, 1)])
def test_batch_norm_inference(rng, ndim, axis):
    shape = (None, 5) if ndim == 2 else (None, 5, 4, 3)
    x = T.tensor("float32", shape=shape, name="x")
    bn = layers.BatchNorm(axis=axis)
    bn(x, training=True)  # builds it
    for p in bn.params:
        v = p.get_value()
        p.set_value((rng.random(v.shape) + 0.5).astype(v.dtype))
    xv = rng.normal(size=(3,) + shape[1:]).astype("float32")
    check(x, bn(x, training=False), xv)


def test_softmax_family_and_reductions(rng):
    x = T.matrix("x", shape=(None, 6))
    outs = [T.nnet.softmax(x), T.nnet.log_softmax(x), T.nnet.softmax(x, axis=0),
            T.log(T.nnet.softmax(x)), T.logsumexp(x, axis=1), T.sum(x, axis=1),
            T.mean(x, axis=0, keepdims=True), T.max(x, axis=1), T.min(x, axis=0),
            T.prod(x, axis=1), T.argmax(x, axis=1), T.argmin(x, axis=0), T.argmax(x),
            T.argmax(x, axis=1, keepdims=True), T.sum(x), T.var(x, axis=1), T.all(T.gt(x, -1), axis=1),
            T.any(T.gt(x, 1), axis=0)]
    check(x, outs, rng.normal(size=(4, 6)).astype("float32"))


def test_softmax_cross_entropy(rng):
    z = T.matrix("z", shape=(None, 5))
    labels = T.ivector("labels")
    targets = T.matrix("targets", shape=(None, 5))
    p = rng.random((4, 5)).astype("float32")
    check([z, labels, targets],
          [T.nnet.softmax_cross_entropy_with_logits(z, labels),
           T.nnet.softmax_cross_entropy_with_logits(z, targets).mean()],
          rng.normal(size=(4, 5)).astype("float32") * 3, np.array([0, 4, 2, 2], dtype="int32"),
          p / p.sum(axis=1, keepdims=True))


def test_shapes_ops(rng):
    x = T.tensor4("x", shape=(None, 2, 3, 4))
    y = T.matrix("y", shape=(None, 5))
    outs = [x.flatten(2), T.reshape(x, (-1, 4)), T.transpose(x, (0, 3, 1, 2)),
            x.dimshuffle(0, 2, "x", 3, 1), T.concatenate([x, 2 * x], axis=1),
            T.concatenate([x.flatten(2), y], axis=1), x[:, 1], x[:, :, ::-1, 1:3], x[..., -1],
            y[:, None, 2:], T.expand_dims(y, 0), T.squeeze(x[:, :1], 1), y.T,
            T.reshape(x, (x.shape[0], x.shape[1], -1))]
    check([x, y], outs, rng.normal(size=(3, 2, 3, 4)).astype("float32"),
          rng.normal(size=(3, 5)).astype("float32"))


def test_matmul_and_batched(rng):
    a = T.tensor3("a", shape=(None, 3, 4))
    b = T.matrix("b", shape=(4, 2))
    v = T.vector("v", shape=(4,))
    check([a, b, v], [T.matmul(a, b), T.dot(a, b), T.dot(v, b), T.dot(b.T, v)],
          rng.normal(size=(2, 3, 4)).astype("float32"), rng.normal(size=(4, 2)).astype("float32"),
          rng.normal(size=(4,)).astype("float32"), atol=1e-5)


UNARY = ["neg", "abs", "sign", "floor", "ceil", "round", "trunc", "exp", "exp2", "log",
         "log2", "log10", "log1p", "expm1", "sqrt", "sqr", "reciprocal", "sin", "cos", "tan",
         "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sigmoid", "softplus", "erf"]


def test_elementwise_math(rng):
    x = T.matrix("x", shape=(None, 5))
    pos = T.matrix("pos", shape=(None, 5))
    unit = T.matrix("unit", shape=(None, 5))
    outs = []
    for name in UNARY:
        fn = getattr(T, name)
        src = pos if name in ("log", "log2", "log10", "log1p", "sqrt", "reciprocal") else \
            unit if name in ("arcsin", "arccos") else x
        outs.append(fn(src))
    outs += [x + pos, x - pos, x * pos, x / pos, x ** 2, pos ** x, T.maximum(x, pos),
             T.minimum(x, 0.5), x // pos, x % pos, T.clip(x, -0.5, 0.5), T.switch(T.gt(x, 0), x, pos),
             T.eq(x, x), T.neq(x, pos), T.lt(x, pos), T.le(x, 0), T.ge(x, pos),
             T.and_(T.gt(x, 0), T.lt(x, 1)) if hasattr(T, "and_") else T.logical_and(T.gt(x, 0), T.lt(x, 1)),
             T.logical_or(T.gt(x, 0), T.lt(x, -1)), T.logical_xor(T.gt(x, 0), T.gt(pos, 1)),
             T.logical_not(T.gt(x, 0)), T.isnan(x / pos), T.isinf(x / pos), T.isfinite(x),
             T.cast(x * 10, "int32"), T.cast(T.gt(x, 0), "float32") * x, T.gt(x, 0) * x,
             T.nnet.relu(x), T.nnet.relu(x, 0.1), T.nnet.elu(x), T.nnet.selu(x), T.nnet.gelu(x),
             T.nnet.gelu(x, "tanh"), T.nnet.silu(x), T.nnet.hard_sigmoid(x), T.nnet.softsign(x)]
    xv = rng.normal(size=(3, 5)).astype("float32") * 2
    pv = (rng.random((3, 5)) + 0.1).astype("float32")
    uv = (rng.random((3, 5)) * 1.8 - 0.9).astype("float32")
    check([x, pos, unit], outs, xv, pv, uv, atol=1e-5)


def test_integer_elementwise(rng):
    i = T.imatrix("i", shape=(None, 4))
    j = T.imatrix("j", shape=(None, 4))
    check([i, j], [i + j, i * j, i % j, T.abs(i), T.maximum(i, j)],
          rng.integers(-9, 9, size=(2, 4)).astype("int32"),
          rng.integers(1, 5, size=(2, 4)).astype("int32"))
    with pytest.raises(nnthe.onnx.UnsupportedOpError, match="integer floor division"):
        nnthe.onnx.export([i, j], i // j)


def test_refuses_op_without_onnx_form_naming_op_and_line():
    X = T.matrix("X", shape=(None, 8))
    y = layers.Dropout(0.5)(X, training=True)  # the line the error must name
    line = sys._getframe().f_lineno - 1
    with pytest.raises(nnthe.onnx.UnsupportedOpError) as info:
        nnthe.onnx.export(X, y)
    msg = str(info.value)
    assert "RandomDraw" in msg
    assert f"{__file__}:{line}" in msg
    assert info.value.node.op.__class__.__name__ == "RandomDraw"


def test_argument_errors():
    x = T.matrix("x", shape=(None, 3))
    z = T.matrix("z", shape=(None, 3))
    with pytest.raises(ValueError, match="depend on the symbolic input z"):
        nnthe.onnx.export(x, x + z)
    with pytest.raises(TypeError, match="must be a symbolic input"):
        nnthe.onnx.export([x * 2], x)
    with pytest.raises(TypeError, match="give the outputs"):
        nnthe.onnx.export(x)
    with pytest.raises(TypeError, match="must be symbolic variables"):
        nnthe.onnx.export(x, [1.0])


def test_outputs_that_are_inputs_or_shared(rng):
    x = T.matrix("x", shape=(None, 3))
    W = nnthe.shared(np.ones((3,), dtype="float32"), name="W")
    model = nnthe.onnx.export([x], [x, W, x])
    onnx.checker.check_model(model)
    xv = rng.normal(size=(2, 3)).astype("float32")
    a, w, b = run_onnx(model, xv)
    np.testing.assert_array_equal(a, xv)
    np.testing.assert_array_equal(b, xv)
    np.testing.assert_array_equal(w, np.ones(3))


def test_without_onnx_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    x = T.matrix("x")
    with pytest.raises(ImportError, match=r"nnthe\[onnx\]"):
        nnthe.onnx.export(x, x + 1)
