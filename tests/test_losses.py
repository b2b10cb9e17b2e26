"""nnthe.losses against NumPy references, gradients, aggregate, errors."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import losses
from nnthe.gradient import verify_grad


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


@pytest.fixture
def data(rng):
    z = rng.normal(size=(5, 4))
    y = np.array([0, 3, 1, 1, 2], "int32")
    return z, y, np.eye(4)[y]


def ev(expr, *pairs):
    syms = [p[0] for p in pairs]
    return nnthe.function(syms, expr)(*[p[1] for p in pairs])


def test_softmax_cross_entropy_int_and_onehot(data):
    z, y, oh = data
    zs, ys, ohs = T.dmatrix("z", shape=(None, 4)), T.ivector("y"), T.dmatrix("t", shape=(None, 4))
    ref = -(oh * log_softmax(z)).sum(-1)
    np.testing.assert_allclose(ev(losses.softmax_cross_entropy(zs, ys), (zs, z), (ys, y)), ref)
    np.testing.assert_allclose(ev(losses.softmax_cross_entropy(zs, ohs), (zs, z), (ohs, oh)), ref)
    sm = 0.1
    ref_s = -((oh * 0.9 + sm / 4) * log_softmax(z)).sum(-1)
    np.testing.assert_allclose(
        ev(losses.softmax_cross_entropy(zs, ys, label_smoothing=sm), (zs, z), (ys, y)), ref_s)
    verify_grad(lambda a: losses.softmax_cross_entropy(a, y), [z], rng=0)
    verify_grad(lambda a: losses.softmax_cross_entropy(a, y, label_smoothing=0.2), [z], rng=0)


def test_softmax_cross_entropy_float32_stable():
    zs, ys = T.matrix("z", shape=(None, 3)), T.ivector("y")
    out = ev(losses.softmax_cross_entropy(zs, ys), (zs, np.array([[1000, 0, -1000]], "float32")),
             (ys, np.array([2], "int32")))
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out, [2000], rtol=1e-5)


def test_categorical_crossentropy(data):
    z, y, oh = data
    p = np.exp(log_softmax(z))
    ps, ys = T.dmatrix("p", shape=(None, 4)), T.ivector("y")
    np.testing.assert_allclose(ev(losses.categorical_crossentropy(ps, ys), (ps, p), (ys, y)),
                               -np.log(p[np.arange(5), y]))
    verify_grad(lambda a: losses.categorical_crossentropy(a, oh), [p], rng=0)


def test_binary_crossentropy(rng):
    x = rng.normal(size=(6, 3))
    t = (rng.uniform(size=(6, 3)) > 0.5).astype("float64")
    p = 1 / (1 + np.exp(-x))
    ref = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)
    xs, ts = T.dmatrix("x"), T.dmatrix("t")
    np.testing.assert_allclose(ev(losses.binary_crossentropy(xs, ts), (xs, p), (ts, t)), ref)
    np.testing.assert_allclose(ev(losses.binary_crossentropy(xs, ts, from_logits=True), (xs, x), (ts, t)), ref)
    np.testing.assert_allclose(ev(losses.sigmoid_binary_crossentropy(xs, ts), (xs, x), (ts, t)), ref)
    verify_grad(lambda a: losses.binary_crossentropy(a, t, from_logits=True), [x], rng=0)
    verify_grad(lambda a: losses.binary_crossentropy(a, t), [p], rng=0)
    # stable for large logits in float32
    big = T.vector("b")
    out = ev(losses.binary_crossentropy(big, np.array([0, 1], "float32"), from_logits=True),
             (big, np.array([200, -200], "float32")))
    np.testing.assert_allclose(out, [200, 200])


def test_regression_losses(rng):
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    xs, ys = T.dmatrix("x"), T.dmatrix("y")
    r = a - b
    np.testing.assert_allclose(ev(losses.squared_error(xs, ys), (xs, a), (ys, b)), (r ** 2).mean(-1))
    np.testing.assert_allclose(ev(losses.absolute_error(xs, ys), (xs, a), (ys, b)), np.abs(r).mean(-1))
    d = 0.5
    hub = np.where(np.abs(r) <= d, 0.5 * r ** 2, d * (np.abs(r) - 0.5 * d)).mean(-1)
    np.testing.assert_allclose(ev(losses.huber(xs, ys, delta=d), (xs, a), (ys, b)), hub)
    for fn in (losses.squared_error, losses.absolute_error, losses.huber):
        verify_grad(lambda u: fn(u, b), [a], rng=0)
    v = T.dvector("v")
    assert ev(losses.squared_error(v, np.ones(3)), (v, np.zeros(3))).shape == (3,)


def test_hinge(data, rng):
    z, y, oh = data
    zs, ys = T.dmatrix("z", shape=(None, 4)), T.ivector("y")
    wrong = np.where(oh > 0, -np.inf, z).max(-1)
    ref = np.maximum(0, 1 + wrong - z[np.arange(5), y])
    np.testing.assert_allclose(ev(losses.hinge(zs, ys), (zs, z), (ys, y)), ref)
    verify_grad(lambda a: losses.hinge(a, y), [z], rng=0)
    t = np.sign(rng.normal(size=(5, 4)))
    ts = T.dmatrix("t")
    np.testing.assert_allclose(ev(losses.hinge(zs, ts), (zs, z), (ts, t)),
                               np.maximum(0, 1 - t * z).mean(-1))


def test_aggregate(rng):
    l = rng.uniform(size=5)
    w = rng.uniform(size=5)
    ls, ws = T.dvector("l"), T.dvector("w")
    np.testing.assert_allclose(ev(losses.aggregate(ls), (ls, l)), l.mean())
    np.testing.assert_allclose(ev(losses.aggregate(ls, mode="sum"), (ls, l)), l.sum())
    np.testing.assert_allclose(ev(losses.aggregate(ls, ws), (ls, l), (ws, w)), (l * w).mean())
    np.testing.assert_allclose(ev(losses.aggregate(ls, ws, mode="normalized_sum"), (ls, l), (ws, w)),
                               (l * w).sum() / w.sum())


def test_errors():
    z, y = T.matrix("z", shape=(None, 4)), T.ivector("y")
    with pytest.raises(TypeError, match="class-id labels must be integers"):
        losses.softmax_cross_entropy(z, T.vector("f"))
    with pytest.raises(TypeError, match="labels must have 1 dimensions"):
        losses.softmax_cross_entropy(z, T.tensor3("t"))
    with pytest.raises(ValueError, match="number of classes"):
        losses.softmax_cross_entropy(T.matrix("u"), y)
    with pytest.raises(ValueError, match="do not match labels"):
        losses.softmax_cross_entropy(T.matrix("a", shape=(3, 4)), T.ivector("b", shape=(5,)))
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.softmax_cross_entropy(z, y, label_smoothing=1.0)
    with pytest.raises(TypeError, match="must be a float tensor"):
        losses.squared_error(T.ivector("i"), y)
    with pytest.raises(TypeError, match="targets must have"):
        losses.squared_error(z, y)
    with pytest.raises(ValueError, match="delta must be > 0"):
        losses.huber(z, z, delta=0)
    with pytest.raises(ValueError, match="mode must be"):
        losses.aggregate(T.vector("l"), mode="avg")
    with pytest.raises(ValueError, match="needs weights"):
        losses.aggregate(T.vector("l"), mode="normalized_sum")


# -- out-of-range class ids (issue 13, item 9) --------------------------------------------
# Every loss that takes integer class ids raises the fused op's ValueError for a label
# outside [0, K), for the loss and for its gradient compiled alone: a row of zeros from a
# one-hot of label 4 (or -1) of 4 classes would otherwise give a silent loss.

_Z2 = dict(name="z", shape=(None, 4))
_Z3 = dict(name="z", shape=(None, 2, 4))

_INT_LABEL_LOSSES = {
    "softmax_cross_entropy": (_Z2, lambda z, y: losses.softmax_cross_entropy(z, y)),
    "softmax_cross_entropy, label_smoothing": (
        _Z2, lambda z, y: losses.softmax_cross_entropy(z, y, label_smoothing=0.1)),
    "softmax_cross_entropy, 3-d": (_Z3, lambda z, y: losses.softmax_cross_entropy(z, y)),
    "categorical_crossentropy(softmax(z))": (
        _Z2, lambda z, y: losses.categorical_crossentropy(T.nnet.softmax(z), y)),
    "categorical_crossentropy(p)": (
        _Z2, lambda z, y: losses.categorical_crossentropy(T.nnet.sigmoid(z), y)),
    "categorical_crossentropy, 3-d": (
        _Z3, lambda z, y: losses.categorical_crossentropy(T.nnet.softmax(z), y)),
    "hinge": (_Z2, lambda z, y: losses.hinge(z, y)),
    "hinge, 3-d": (_Z3, lambda z, y: losses.hinge(z, y)),
}


@pytest.mark.parametrize("bad", [4, -1])
@pytest.mark.parametrize("output", ["loss", "grad"])
@pytest.mark.parametrize("case", list(_INT_LABEL_LOSSES))
def test_int_labels_out_of_range_raise(case, output, bad):
    zkw, make = _INT_LABEL_LOSSES[case]
    z = T.tensor("float32", **zkw)
    y = T.tensor("int32", shape=zkw["shape"][:-1], name="y")
    loss = make(z, y).sum()
    f = nnthe.function([z, y], loss if output == "loss" else nnthe.grad(loss, z))
    zv = np.random.default_rng(0).normal(size=(3,) + zkw["shape"][1:]).astype("float32")
    good = np.zeros((3,) + zkw["shape"][1:-1], "int32")
    assert np.all(np.isfinite(f(zv, good)))
    labels = good.copy()
    labels.flat[1] = bad
    with pytest.raises(ValueError, match=rf"a label is outside \[0, 4\): label {bad} at index"):
        f(zv, labels)
    labels.flat[1] = 3  # the largest valid label is accepted
    assert np.all(np.isfinite(f(zv, labels)))


def test_losses_one_hot_refuses_floats_and_range():
    y = T.ivector("y")
    with pytest.raises(TypeError, match="integers"):
        losses.one_hot(T.vector("f"), 3, "float32")
    f = nnthe.function([y], losses.one_hot(y, 3, "float32"))
    np.testing.assert_array_equal(f(np.array([2, 0], "int32")), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"one_hot: a label is outside \[0, 3\)"):
        f(np.array([0, 3], "int32"))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_hinge_class_ids_in_every_float_dtype(dtype):
    z = np.array([[1, 2, 3, 4], [0, 0, 0, 0], [5, -1, 2, 0]], dtype)
    y = np.array([0, 3, 0], "int32")
    zs, ys = T.tensor(dtype, shape=(None, 4), name="z"), T.ivector("y")
    loss = losses.hinge(zs, ys)
    out, g = nnthe.function([zs, ys], [loss, nnthe.grad(loss.sum(), zs)])(z, y)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.astype(np.float64), [4.0, 1.0, 0.0])
    # The best wrong class gets +1 (split among ties, see T.max), the true one -1.
    np.testing.assert_allclose(g.astype(np.float64), [[-1, 0, 0, 1], [1 / 3, 1 / 3, 1 / 3, -1],
                                                      [0, 0, 0, 0]], atol=1e-3)
