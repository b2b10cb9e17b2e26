"""PyTensor peer (the maintained Theano successor): symbolic graph, ``pytensor.grad``,
``pytensor.function`` with updates.

Same conventions as ``torch_peer`` (see its docstring). PyTensor specifics:

* Backend: ``mode="CVM"`` (C-compiled thunks, C VM loop; needs g++), the classic Theano
  ``FAST_RUN``. PyTensor 3's own default is Numba; set ``NNTHE_BENCH_PYTENSOR_MODE``
  (e.g. ``NUMBA``) to measure another mode (on the 2-core machine Numba halved the MLP
  step but took ~20 s to compile it, and several minutes to compile the CNN, whose
  steps were then far slower than in CVM). PyTensor's ``openmp`` flag is left at its
  default (False); turning it on changed the steps by under 10 %. ``compile_s`` includes g++ unless the
  op's module is already in PyTensor's compile cache (``~/.pytensor``), so the first run
  on a machine is slower than later ones.
* PyTensor installed from pip usually finds no BLAS to link (``blas__ldflags`` empty);
  its C GEMM then goes through a NumPy back-end (numpy's OpenBLAS). ``version()``
  records the flags.
* PyTensor 3 no longer ships ``conv2d``/``pool_2d`` (the old ``tensor.nnet`` was
  removed), so the CNN is written in the graph as a PyTensor user would now: im2col by
  stacking the 25 shifted slices (NHWC inside, one copy), one big GEMM, bias; max-pool
  as reshape + max. Gradients come from ``pytensor.grad`` of that graph.
"""

from __future__ import annotations

from . import common
from .common import PeerUnavailable

import os
import time
import warnings

import numpy as np  # noqa: E402

NAME = "pytensor"
MODE = os.environ.get("NNTHE_BENCH_PYTENSOR_MODE", "CVM")


def _pytensor():
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "floatX" not in flags:
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "floatX=float32") if f)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not link to a BLAS" is recorded
            import pytensor
            import pytensor.tensor as pt
            pytensor.config.blas__ldflags  # noqa: B018  (triggers BLAS detection)
    except Exception as e:
        raise PeerUnavailable(f"pytensor is not importable: {e}") from e
    return pytensor, pt


def version() -> dict:
    pytensor, _ = _pytensor()
    return {"pytensor": pytensor.__version__, "mode": MODE,
            "cxx": pytensor.config.cxx,
            "blas__ldflags": pytensor.config.blas__ldflags or "(none: NumPy-backed GEMM)",
            "floatX": pytensor.config.floatX}


def _function(pytensor, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytensor.function(*args, mode=MODE, **kw)


# --------------------------------------------------------------------------- seed

def seed_program(n_calls: int = 20000) -> dict:
    """y = x**2 + 3x + 1; ``function([x], grad(y, x))``; input a float32 0-d array."""
    pytensor, pt = _pytensor()
    t0 = time.perf_counter()
    x = pt.scalar("x", dtype="float32")
    y = x ** 2 + 3 * x + 1
    f = _function(pytensor, [x], pytensor.grad(y, x))
    a = np.asarray(2.0, dtype=np.float32)
    value = float(f(a))
    build = time.perf_counter() - t0
    assert value == 7.0, value
    call = common.call_latency_us(lambda: f(a), n_calls)
    f.trust_input = True  # skips input validation: PyTensor's fast path
    call_trusted = common.call_latency_us(lambda: f(a), n_calls)
    return {"compile_s": build, "call_us": call, "call_us_trust_input": call_trusted,
            "value": value, "peak_rss_mb": common.peak_rss_mb()}


# --------------------------------------------------------------------------- models

def _mlp_forward(pt, p, x):
    h = pt.maximum(x @ p["W1"] + p["b1"], 0)
    h = pt.maximum(h @ p["W2"] + p["b2"], 0)
    return h @ p["W3"] + p["b3"]


def _conv_nhwc(pt, h, W, b, k=5):
    """Valid cross-correlation of NHWC ``h`` (static C) with OIHW ``W`` via im2col."""
    O, C = W.type.shape[0], W.type.shape[1]
    n, H, Wd = h.shape[0], h.shape[1], h.shape[2]
    oh, ow = H - k + 1, Wd - k + 1
    cols = pt.stack([h[:, i:i + oh, j:j + ow, :] for i in range(k) for j in range(k)],
                    axis=3)                                  # (N, oh, ow, k*k, C)
    cols = cols.reshape((n * oh * ow, k * k * C))
    Wm = W.dimshuffle(2, 3, 1, 0).reshape((k * k * C, O))    # rows ordered (kh, kw, C)
    return (cols @ Wm + b).reshape((n, oh, ow, O))


def _pool2_nhwc(pt, h):
    n, H, W, C = (h.shape[i] for i in range(4))
    return h.reshape((n, H // 2, 2, W // 2, 2, C)).max(axis=(2, 4))


def _cnn_forward(pt, p, x):
    h = x.dimshuffle(0, 2, 3, 1)                             # NCHW -> NHWC (C = 1)
    h = _pool2_nhwc(pt, pt.maximum(_conv_nhwc(pt, h, p["c1W"], p["c1b"]), 0))
    h = _pool2_nhwc(pt, pt.maximum(_conv_nhwc(pt, h, p["c2W"], p["c2b"]), 0))
    h = h.dimshuffle(0, 3, 1, 2).reshape((h.shape[0], 512))  # flatten in (C, H, W) order
    h = pt.maximum(h @ p["d1W"] + p["d1b"], 0)
    return h @ p["d2W"] + p["d2b"]


def _adam(pytensor, pt, loss, params):
    lr, b1, b2, eps = (np.float32(common.LEARNING_RATE), np.float32(common.ADAM_B1),
                       np.float32(common.ADAM_B2), np.float32(common.ADAM_EPS))
    grads = pytensor.grad(loss, params)
    t = pytensor.shared(np.float32(0.0), name="t")
    t1 = t + 1
    c1 = 1 - b1 ** t1
    c2 = 1 - b2 ** t1
    updates = [(t, t1)]
    state = [t]
    for prm, g in zip(params, grads):
        m = pytensor.shared(np.zeros_like(prm.get_value()), name=prm.name + "_m")
        v = pytensor.shared(np.zeros_like(prm.get_value()), name=prm.name + "_v")
        m1 = b1 * m + (1 - b1) * g
        v1 = b2 * v + (1 - b2) * g * g
        updates += [(m, m1), (v, v1),
                    (prm, prm - lr * (m1 / c1) / (pt.sqrt(v1 / c2) + eps))]
        state += [m, v]
    return updates, state


def _train(forward, init: dict, data: dict, image_shape, max_batches=None) -> dict:
    pytensor, pt = _pytensor()
    X, y, B, full, todo = common.training_batches(data, image_shape, max_batches)

    t0 = time.perf_counter()
    xs = pt.tensor("X", dtype="float32", shape=(None,) + image_shape)
    ys = pt.vector("y", dtype="int64")
    p = {k: pytensor.shared(v.copy(), name=k, shape=v.shape) for k, v in init.items()}
    logits = forward(pt, p, xs)
    logp = pt.special.log_softmax(logits, axis=-1)
    loss = -logp[pt.arange(ys.shape[0]), ys].mean()
    updates, state = _adam(pytensor, pt, loss, list(p.values()))
    train = _function(pytensor, [xs, ys], loss, updates=updates)
    train(X[:B], y[:B])
    compile_s = time.perf_counter() - t0

    for k, v in init.items():          # reset to the common initial values
        p[k].set_value(v.copy())
    for s in state:
        s.set_value(np.zeros_like(s.get_value()))
    losses, times = [], []
    for i in range(todo):
        t0 = time.perf_counter()
        losses.append(float(train(X[i * B:(i + 1) * B], y[i * B:(i + 1) * B])))
        times.append(time.perf_counter() - t0)

    predict = _function(pytensor, [xs], pt.argmax(logits, axis=1))
    acc = common.accuracy(lambda xb: predict(xb.reshape((-1,) + image_shape)),
                          data["X_test"], data["y_test"])
    return common.epoch_result(compile_s, times, full, losses, acc, mode=MODE)


def mlp_epoch(data: dict, epochs: int = 1, max_batches: int | None = None) -> dict:
    """MLP 784-800-800-10, ReLU, softmax CE, Adam 1e-3, batch 128, float32."""
    return common.mlp_epochs(_train, _mlp_forward, data, epochs, max_batches)


def cnn_epoch(data: dict, max_batches: int | None = None) -> dict:
    """conv32 5x5 - relu - pool2 - conv32 5x5 - relu - pool2 - dense256 relu - dense10."""
    return common.cnn_epochs(_train, _cnn_forward, data, max_batches)


def cnn_inference(data: dict, params: dict | None = None, passes: int = 3) -> dict:
    """Compiled CNN forward + argmax over the 10k test images in batches of 500."""
    pytensor, pt = _pytensor()
    p = {k: pytensor.shared(v.copy(), name=k, shape=v.shape)
         for k, v in (params or common.init_cnn_params()).items()}
    xs = pt.tensor("X", dtype="float32", shape=(None, 1, 28, 28))
    fwd = _function(pytensor, [xs], pt.argmax(_cnn_forward(pt, p, xs), axis=1))
    X = data["X_test"].reshape(-1, 1, 28, 28)
    n, B = len(X), common.TEST_BATCH

    def one_pass():
        for i in range(0, n, B):
            fwd(X[i:i + B])

    s = common.median_seconds(one_pass, repeats=passes, warmup=1)
    return {"images_per_s": n / s, "pass_s": s, "peak_rss_mb": common.peak_rss_mb(),
            "mode": MODE}
