"""The reference models: an 800-800 ReLU MLP and the MNIST CNN build, summarize, compile
and train; the slow test reaches >= 97.5% on the real MNIST with the MLP."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import layers, losses, metrics


def mlp():
    return layers.Sequential([layers.Flatten(), layers.Dense(800, activation="relu"),
                              layers.Dense(800, activation="relu"), layers.Dense(10)])


def cnn():
    return layers.Sequential([
        layers.Conv2D(32, 5, activation="relu"), layers.MaxPool2D(2),
        layers.Conv2D(32, 5, activation="relu"), layers.MaxPool2D(2),
        layers.Flatten(), layers.Dense(256, activation="relu"),
        layers.Dropout(0.5, seed=0), layers.Dense(10)])


def adam_updates(loss, params, lr=1e-3):
    try:
        from nnthe import optim

        return optim.Adam(learning_rate=lr).updates(loss, params)
    except (ImportError, AttributeError):  # pragma: no cover - tiny inline Adam
        from collections import OrderedDict

        grads = nnthe.grad(loss, params)
        t = nnthe.shared(np.float32(0))
        upd = OrderedDict({t: t + 1})
        a = lr * T.sqrt(1 - 0.999 ** (t + 1)) / (1 - 0.9 ** (t + 1))
        for p, g in zip(params, grads):
            m = nnthe.shared(np.zeros_like(p.get_value()))
            v = nnthe.shared(np.zeros_like(p.get_value()))
            m_new, v_new = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            upd[m], upd[v] = m_new, v_new
            upd[p] = p - a * m_new / (T.sqrt(v_new) + 1e-8)
        return upd


def compile_model(model):
    X = T.tensor4("X", shape=(None, 1, 28, 28))
    y = T.ivector("y")
    loss = losses.softmax_cross_entropy(model(X, training=True), y).mean()
    train = nnthe.function([X, y], loss, updates=adam_updates(loss, model.trainable_params))
    predict = nnthe.function([X], T.argmax(model(X, training=False), axis=1))
    acc = nnthe.function([X, y], metrics.accuracy(model(X), y))
    return train, predict, acc


@pytest.mark.parametrize("build,n_params", [(mlp, 784 * 800 + 800 + 800 * 800 + 800 + 8010),
                                            (cnn, 832 + 25632 + 131328 + 2570)])
def test_build_summarize_compile_train(build, n_params):
    nnthe.random.seed(0)
    model = build()
    text = model.summary(input_shape=(None, 1, 28, 28), print_fn=None)
    assert f"Total params: {n_params:,}" in text
    assert model.count_params() == n_params
    train, predict, acc = compile_model(model)
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(16, 1, 28, 28)).astype("float32")
    y = rng.integers(0, 10, size=16).astype("int32")
    hist = [float(train(X, y)) for _ in range(8)]
    assert min(hist[-3:]) < hist[0], hist  # it learns (memorizes) the batch
    assert predict(X).shape == (16,) and predict(X).dtype.kind == "i"
    assert 0.0 <= float(acc(X, y)) <= 1.0


@pytest.mark.slow
def test_mlp_mnist_975_after_two_epochs_of_adam():
    from nnthe.data import batches, load_mnist

    path = os.environ.get("NNTHE_MNIST", "/work/shared/data/mnist")
    if not os.path.isdir(path):
        pytest.skip(f"MNIST not found at {path}")
    (X, y), (Xt, yt) = load_mnist(path, download=False, allow_subset=False)
    nnthe.random.seed(0)
    model = mlp()
    train, predict, acc = compile_model(model)
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    for epoch in range(2):
        for Xb, yb in batches(X, y, batch_size=128, shuffle=True, rng=rng):
            train(Xb, yb)
    elapsed = time.perf_counter() - t0
    correct = sum(int((predict(Xb) == yb).sum()) for Xb, yb in batches(Xt, yt, 1000, shuffle=False))
    accuracy = correct / len(yt)
    print(f"MLP 800-800: test accuracy {accuracy:.4f} after 2 epochs ({elapsed:.1f} s training)")
    assert accuracy >= 0.975
