"""nnthe, as a peer: the same workloads, written with nnthe's symbolic API.

The models are written as a user of nnthe writes them (``T.dot``, ``T.nnet.conv2d``,
``T.nnet.pool_2d``, the fused softmax cross-entropy, ``optim.Adam``), from the same
initial weights and batch order as the other peers. ``compile_s`` covers building the
graph, ``nnthe.grad``, ``nnthe.function`` and one warm-up step, as for the others.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from . import common
from .common import PeerUnavailable

import numpy as np  # noqa: E402  (after common: thread env vars are set)

NAME = "nnthe"


def _nnthe():
    # The repository's nnthe first: an nnthe installed elsewhere in the venv (another
    # checkout, in editable mode) must not be the one measured.
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        import nnthe
    except ImportError as e:
        raise PeerUnavailable(f"nnthe is not importable: {e}") from e
    return nnthe


def version() -> dict:
    nnthe = _nnthe()
    from nnthe.core.kernels import resolve_backend

    out = {"nnthe": nnthe.__version__, "numpy": np.__version__, "kernels": resolve_backend(),
           "path": str(Path(nnthe.__file__).parent)}
    if out["kernels"] == "numba":
        import numba

        out["numba"] = numba.__version__
    return out


# --------------------------------------------------------------------------- seed

def seed_program(n_calls: int = 20000) -> dict:
    """y = x**2 + 3x + 1; the compiled dy/dx called with a Python number."""
    nnthe = _nnthe()
    import nnthe.tensor as T

    t0 = time.perf_counter()
    x = T.scalar("x")
    f = nnthe.function([x], nnthe.grad(x ** 2 + 3 * x + 1, x))
    build = time.perf_counter() - t0
    value = float(f(2))
    assert value == 7.0, value
    return {"compile_s": build, "call_us": common.call_latency_us(lambda: f(2), n_calls),
            "value": value, "peak_rss_mb": common.peak_rss_mb()}


# --------------------------------------------------------------------------- models

def _shared(nnthe, init: dict) -> dict:
    return {k: nnthe.shared(v.copy(), name=k) for k, v in init.items()}


def _mlp_forward(T, p, x):
    h = T.nnet.relu(T.dot(x, p["W1"]) + p["b1"])
    h = T.nnet.relu(T.dot(h, p["W2"]) + p["b2"])
    return T.dot(h, p["W3"]) + p["b3"]


def _cnn_forward(T, p, x):
    def conv(h, W, b):
        return T.nnet.relu(T.nnet.conv2d(h, W, filter_flip=False) + b.dimshuffle("x", 0, "x", "x"))

    h = T.nnet.pool_2d(conv(x, p["c1W"], p["c1b"]), (2, 2))
    h = T.nnet.pool_2d(conv(h, p["c2W"], p["c2b"]), (2, 2))
    h = T.nnet.relu(T.dot(h.flatten(2), p["d1W"]) + p["d1b"])
    return T.dot(h, p["d2W"]) + p["d2b"]


def _build(forward, init: dict, image_shape):
    nnthe = _nnthe()
    import nnthe.tensor as T
    from nnthe import optim

    p = _shared(nnthe, init)
    X = T.tensor("float32", shape=(None,) + image_shape, name="X")
    y = T.lvector("y")
    logits = forward(T, p, X)
    loss = T.nnet.softmax_cross_entropy_with_logits(logits, y).mean()
    opt = optim.Adam(learning_rate=common.LEARNING_RATE, beta1=common.ADAM_B1,
                     beta2=common.ADAM_B2, epsilon=common.ADAM_EPS)
    train = nnthe.function([X, y], loss, updates=opt.updates(loss, list(p.values())))
    predict = nnthe.function([X], T.argmax(logits, axis=1))
    train.trust_input = True  # batches are exact float32 / int64 arrays
    return p, opt, train, predict


def _reset(p: dict, opt, init: dict) -> None:
    for k, v in init.items():
        p[k].set_value(v.copy())
    for s in opt.state.values():
        s.set_value(np.zeros_like(s.get_value(borrow=True)))


def _train(forward, init: dict, data: dict, image_shape, max_batches=None) -> dict:
    X, y, B, full, todo = common.training_batches(data, image_shape, max_batches)

    t0 = time.perf_counter()
    p, opt, train, predict = _build(forward, init, image_shape)
    train(X[:B], y[:B])
    compile_s = time.perf_counter() - t0

    _reset(p, opt, init)
    losses, times = [], []
    for i in range(todo):
        t0 = time.perf_counter()
        losses.append(float(train(X[i * B:(i + 1) * B], y[i * B:(i + 1) * B])))
        times.append(time.perf_counter() - t0)

    def pred(xb):
        return predict(np.ascontiguousarray(xb).reshape((-1,) + image_shape))
    acc = common.accuracy(pred, data["X_test"], data["y_test"])
    return common.epoch_result(compile_s, times, full, losses, acc)


def mlp_epoch(data: dict, epochs: int = 1, max_batches: int | None = None) -> dict:
    """MLP 784-800-800-10, ReLU, softmax CE, Adam 1e-3, batch 128, float32."""
    return common.mlp_epochs(_train, _mlp_forward, data, epochs, max_batches)


def cnn_epoch(data: dict, max_batches: int | None = None) -> dict:
    """conv32 5x5 - relu - pool2 - conv32 5x5 - relu - pool2 - dense256 relu - dense10."""
    return common.cnn_epochs(_train, _cnn_forward, data, max_batches)


def cnn_inference(data: dict, params: dict | None = None, passes: int = 3) -> dict:
    """CNN forward over the 10k test images in batches of 500; images/s (median pass)."""
    nnthe = _nnthe()
    import nnthe.tensor as T

    p = _shared(nnthe, params or common.init_cnn_params())
    X = T.tensor("float32", shape=(None, 1, 28, 28), name="X")
    t0 = time.perf_counter()
    predict = nnthe.function([X], T.argmax(_cnn_forward(T, p, X), axis=1))
    compile_s = time.perf_counter() - t0
    predict.trust_input = True
    Xt = np.ascontiguousarray(data["X_test"].reshape(-1, 1, 28, 28))
    n, B = len(Xt), common.TEST_BATCH

    def one_pass():
        for i in range(0, n, B):
            predict(Xt[i:i + B])

    s = common.median_seconds(one_pass, repeats=passes, warmup=1)
    return {"images_per_s": n / s, "pass_s": s, "compile_s": compile_s,
            "peak_rss_mb": common.peak_rss_mb()}
