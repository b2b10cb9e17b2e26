"""Tests of softmax, log_softmax, one_hot and the fused softmax cross-entropy."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.gradient import verify_grad
from nnthe.core.nnet.softmax import (log_softmax, logsumexp,
                                     one_hot, softmax, softmax_cross_entropy_with_logits)


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_log_softmax_values_grads(rng, axis):
    x = rng.standard_normal((3, 4, 5))
    X = T.dtensor3("x")
    sm, lsm = nnthe.function([X], [softmax(X, axis), log_softmax(X, axis)])(x)
    np.testing.assert_allclose(sm, np_softmax(x, axis), rtol=1e-12)
    np.testing.assert_allclose(lsm, np.log(np_softmax(x, axis)), rtol=1e-12, atol=1e-12)
    verify_grad(lambda a: softmax(a, axis), [x], rng=rng)
    verify_grad(lambda a: log_softmax(a, axis), [x], rng=rng)
    verify_grad(lambda a: nnthe.grad((softmax(a, axis) ** 2).sum(), a), [x], rng=rng)
    verify_grad(lambda a: nnthe.grad((log_softmax(a, axis) ** 2).sum(), a), [x], rng=rng)


def test_stable_for_huge_logits():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype="float32")
    Z = T.matrix("z")
    y = np.array([1, 0], dtype="int32")
    Y = T.ivector("y")
    loss = softmax_cross_entropy_with_logits(Z, Y).sum()
    outs = nnthe.function([Z, Y], [softmax(Z), log_softmax(Z), loss, nnthe.grad(loss, Z),
                                   logsumexp(Z, axis=1)])(z, y)
    for o in outs:
        assert np.all(np.isfinite(o)) and o.dtype == np.float32
    np.testing.assert_allclose(outs[2], 2e4 + np.log(3), rtol=1e-6)


@pytest.mark.parametrize("int_labels", [True, False])
def test_fused_cross_entropy(rng, int_labels):
    z = rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, 5)
    target = np.eye(4)[labels]
    Z = T.dmatrix("z")
    Y = T.lvector("y") if int_labels else T.dmatrix("t")
    yval = labels if int_labels else target
    ce = softmax_cross_entropy_with_logits(Z, Y)
    assert ce.type.shape == (None,)
    g = nnthe.grad(ce.sum(), Z)
    out, gz = nnthe.function([Z, Y], [ce, g])(z, yval)
    np.testing.assert_allclose(out, -(target * np.log(np_softmax(z, 1))).sum(1), rtol=1e-12)
    # The gradient is exactly softmax - target.
    np.testing.assert_allclose(gz, np_softmax(z, 1) - target, rtol=0, atol=1e-15)
    verify_grad(lambda a: softmax_cross_entropy_with_logits(a, T.constant(yval)), [z], rng=rng)
    verify_grad(lambda a: nnthe.grad((softmax_cross_entropy_with_logits(a, T.constant(yval)) ** 2).sum(), a),
                [z], rng=rng)


def test_fused_cross_entropy_soft_targets_grad(rng):
    z = rng.standard_normal((3, 4))
    t = rng.uniform(size=(3, 4))
    verify_grad(softmax_cross_entropy_with_logits, [z, t], rng=rng)


def test_fused_cross_entropy_errors():
    z = T.matrix("z", shape=(None, 3))
    with pytest.raises(TypeError, match="matrix"):
        softmax_cross_entropy_with_logits(T.vector("v"), T.ivector("y"))
    with pytest.raises(TypeError, match="vector"):
        softmax_cross_entropy_with_logits(z, T.imatrix("y"))
    with pytest.raises(ValueError, match="do not match"):
        softmax_cross_entropy_with_logits(z, T.matrix("t", shape=(None, 4)))
    Y = T.ivector("y")
    f = nnthe.function([z, Y], softmax_cross_entropy_with_logits(z, Y))
    with pytest.raises(ValueError, match="outside"):
        f(np.zeros((2, 3), "float32"), np.array([0, 3], "int32"))


def test_one_hot(rng):
    Y = T.ivector("y")
    oh = one_hot(Y, 4)
    assert oh.type.dtype == "float32" and oh.type.shape == (None, 4)
    out = nnthe.function([Y], oh)(np.array([2, 0], "int32"))
    np.testing.assert_array_equal(out, [[0, 0, 1, 0], [1, 0, 0, 0]])
    assert one_hot(Y, 3, "int8").type.dtype == "int8"
    with pytest.raises(TypeError, match="integers"):
        one_hot(T.vector("v"), 3)
    with pytest.raises(ValueError, match="positive"):
        one_hot(Y, 0)
    with pytest.raises(ValueError, match="outside"):
        nnthe.function([Y], oh)(np.array([4], "int32"))


def test_softmax_errors():
    with pytest.raises(TypeError, match="float"):
        softmax(T.ivector("i"))
    with pytest.raises(ValueError, match="out of range"):
        log_softmax(T.matrix("m"), axis=2)


# -- precision at large logits (issue 13, item 12) ---------------------------------------

def _ce_reference(z, labels):
    z = z.astype(np.float64)
    m = z.max(1)
    return (m - z[np.arange(len(z)), labels]) + np.log(np.exp(z - m[:, None]).sum(1))


@pytest.mark.parametrize("int_labels", [True, False])
def test_fused_cross_entropy_precise_at_large_logits(rng, int_labels):
    # Logits around 1e4 in float32 (spacing 1e-3): log(sum(exp(z - max))) + max - z_y
    # rounded the result to 1e-3 (0.69336 for two equal logits, not log 2 = 0.693147).
    z = (1e4 + rng.standard_normal((64, 5))).astype("float32")
    z[0] = 1e4  # two (all) equal logits: exactly log(5)
    labels = rng.integers(0, 5, 64)
    Z = T.matrix("z")
    Y = T.ivector("y") if int_labels else T.matrix("t")
    yval = labels.astype("int32") if int_labels else np.eye(5, dtype="float32")[labels]
    ce = softmax_cross_entropy_with_logits(Z, Y)
    out, gz = nnthe.function([Z, Y], [ce, nnthe.grad(ce.sum(), Z)])(z, yval)
    ref = _ce_reference(z, labels)
    np.testing.assert_allclose(out[0], np.log(5), rtol=1e-6)
    np.testing.assert_allclose(out, ref, rtol=2e-6, atol=1e-6)
    e = np.exp(z.astype(np.float64) - z.max(1, keepdims=True))
    np.testing.assert_allclose(gz, e / e.sum(1, keepdims=True) - np.eye(5)[labels], atol=1e-6)
    torch = pytest.importorskip("torch")
    t_out = torch.nn.functional.cross_entropy(torch.from_numpy(z), torch.from_numpy(labels),
                                              reduction="none").numpy()
    np.testing.assert_allclose(out, t_out, rtol=2e-6, atol=1e-6)


def test_fused_cross_entropy_two_equal_large_logits_is_log2():
    Z, Y = T.matrix("z"), T.ivector("y")
    f = nnthe.function([Z, Y], softmax_cross_entropy_with_logits(Z, Y))
    out = f(np.array([[1e4, 1e4], [-1e4, -1e4]], "float32"), np.array([0, 1], "int32"))
    np.testing.assert_allclose(out, [np.log(2)] * 2, rtol=1e-6)


def test_fused_cross_entropy_grad_shifted_logits_float64(rng):
    # The shifted form has the same gradient: softmax - target, checked by differences.
    z = rng.standard_normal((4, 3)) * 3 + 50
    yval = np.array([0, 2, 1, 2])
    verify_grad(lambda a: softmax_cross_entropy_with_logits(a, T.constant(yval)), [z], rng=rng)
    verify_grad(softmax_cross_entropy_with_logits, [z, rng.uniform(size=(4, 3))], rng=rng)


def test_fused_cross_entropy_float16_accumulates_in_float32():
    # 70,000 classes of equal float16 logits: their float16 sum of exp is inf.
    z = np.zeros((2, 70000), "float16")
    Z, Y = T.tensor("float16", shape=(None, None), name="z"), T.ivector("y")
    out = nnthe.function([Z, Y], softmax_cross_entropy_with_logits(Z, Y))(z, np.array([0, 5], "int32"))
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float64), np.log(70000), rtol=1e-3)


# -- out-of-range labels (issue 13, item 9) ----------------------------------------------

@pytest.mark.parametrize("bad", [3, -1])
@pytest.mark.parametrize("output", ["loss", "grad"])
@pytest.mark.parametrize("case", ["fused", "categorical(softmax)", "categorical", "1hot"])
def test_nnet_losses_refuse_out_of_range_labels(case, output, bad):
    from nnthe.core.nnet.losses import categorical_crossentropy

    Z, Y = T.matrix("z", shape=(None, 3)), T.ivector("y")
    make = {"fused": lambda: softmax_cross_entropy_with_logits(Z, Y),
            "categorical(softmax)": lambda: categorical_crossentropy(softmax(Z), Y),
            "categorical": lambda: categorical_crossentropy(T.nnet.sigmoid(Z), Y),
            "1hot": lambda: T.nnet.crossentropy_categorical_1hot(softmax(Z), Y)}[case]
    loss = make().sum()
    f = nnthe.function([Z, Y], loss if output == "loss" else nnthe.grad(loss, Z))
    z = np.zeros((2, 3), "float32")
    assert np.all(np.isfinite(f(z, np.array([0, 2], "int32"))))
    with pytest.raises(ValueError, match=rf"a label is outside \[0, 3\): label {bad} at index 1"):
        f(z, np.array([0, bad], "int32"))


def test_one_hot_names_the_label_and_position():
    Y = T.imatrix("y")
    f = nnthe.function([Y], one_hot(Y, 3))
    with pytest.raises(ValueError, match=r"one_hot: a label is outside \[0, 3\): label -2 at index \(1, 0\)"):
        f(np.array([[0, 1], [-2, 2]], "int32"))
