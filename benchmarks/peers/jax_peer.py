"""JAX (CPU, XLA) peer: ``jax.jit`` of a hand-written train step (no optax/flax).

Same conventions as ``torch_peer`` (see its docstring). JAX specifics:

* ``compile_s`` is build + ``jit`` trace + XLA compile + the first call (they happen
  together in JAX), measured up to ``block_until_ready``.
* The train step donates parameters and Adam state (``donate_argnums``) so XLA may
  update them in place, as an idiomatic JAX loop does. Each step's loss is fetched to
  the host (``float(loss)``) before the next step starts, as in the other peers, so
  each step is timed alone and asynchronous dispatch cannot hide work; this gives up
  the small overlap of Python dispatch with compute that an unsynchronised loop gets.
* Adam is written out (torch's formulation: bias-corrected moments, eps outside sqrt).
"""

from __future__ import annotations

from . import common
from .common import PeerUnavailable

import time

import numpy as np  # noqa: E402

NAME = "jax"


def _jax():
    try:
        import jax
        import jax.numpy as jnp
    except Exception as e:
        raise PeerUnavailable(f"jax is not importable: {e}") from e
    jax.config.update("jax_platforms", "cpu")
    return jax, jnp


def version() -> dict:
    jax, _ = _jax()
    import jaxlib
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "devices": [str(d) for d in jax.devices()]}


# --------------------------------------------------------------------------- seed

def seed_program(n_calls: int = 20000) -> dict:
    """y = x**2 + 3x + 1; ``jit(grad(f))``; input is a float32 device scalar."""
    jax, jnp = _jax()
    t0 = time.perf_counter()
    g = jax.jit(jax.grad(lambda x: x ** 2 + 3 * x + 1))
    x = jnp.asarray(2.0, dtype=jnp.float32)
    value = float(g(x).block_until_ready())
    build = time.perf_counter() - t0
    assert value == 7.0, value
    return {"compile_s": build,
            "call_us": common.call_latency_us(lambda: g(x).block_until_ready(), n_calls),
            "value": value, "peak_rss_mb": common.peak_rss_mb()}


# --------------------------------------------------------------------------- models

def _mlp_forward(jax, jnp, p, x):
    h = jax.nn.relu(x @ p["W1"] + p["b1"])
    h = jax.nn.relu(h @ p["W2"] + p["b2"])
    return h @ p["W3"] + p["b3"]


def _cnn_forward(jax, jnp, p, x):
    lax = jax.lax
    dn = ("NCHW", "OIHW", "NCHW")

    def conv(h, W, b):
        return lax.conv_general_dilated(h, W, (1, 1), "VALID",
                                        dimension_numbers=dn) + b[None, :, None, None]

    def pool(h):
        return lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2),
                                 "VALID")

    h = pool(jax.nn.relu(conv(x, p["c1W"], p["c1b"])))
    h = pool(jax.nn.relu(conv(h, p["c2W"], p["c2b"])))
    h = jax.nn.relu(h.reshape(h.shape[0], -1) @ p["d1W"] + p["d1b"])
    return h @ p["d2W"] + p["d2b"]


def _make_step(jax, jnp, forward):
    lr, b1, b2, eps = (common.LEARNING_RATE, common.ADAM_B1, common.ADAM_B2,
                       common.ADAM_EPS)

    def loss_fn(p, x, y):
        logp = jax.nn.log_softmax(forward(jax, jnp, p, x))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def step(p, state, x, y):
        m, v, t = state
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        t = t + 1
        c1 = 1 - b1 ** t
        c2 = 1 - b2 ** t
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        p = jax.tree_util.tree_map(
            lambda p_, m_, v_: p_ - lr * (m_ / c1) / (jnp.sqrt(v_ / c2) + eps), p, m, v)
        return p, (m, v, t), loss

    return jax.jit(step, donate_argnums=(0, 1))


def _train(forward, init: dict, data: dict, image_shape, max_batches=None) -> dict:
    jax, jnp = _jax()
    X, y, B, full, todo = common.training_batches(data, image_shape, max_batches)
    y = y.astype(np.int32)
    # Batches are fed from device-resident arrays (as torch uses its own tensors).
    Xd, yd = jnp.asarray(X), jnp.asarray(y)

    def fresh():
        p = {k: jnp.asarray(v) for k, v in init.items()}
        zeros = {k: jnp.zeros_like(v) for k, v in p.items()}
        return p, (zeros, {k: jnp.zeros_like(v) for k, v in p.items()},
                   jnp.asarray(0.0, jnp.float32))

    t0 = time.perf_counter()
    step = _make_step(jax, jnp, forward)
    p, st = fresh()
    p, st, loss = step(p, st, Xd[0:B], yd[0:B])
    loss.block_until_ready()
    compile_s = time.perf_counter() - t0

    p, st = fresh()
    batches = [(Xd[i * B:(i + 1) * B], yd[i * B:(i + 1) * B]) for i in range(todo)]
    jax.block_until_ready(batches)  # slicing is setup, not training
    losses, times = [], []
    for xb, yb in batches:
        t0 = time.perf_counter()
        p, st, loss = step(p, st, xb, yb)
        losses.append(float(loss))   # waits for the step, as .item() does in torch
        times.append(time.perf_counter() - t0)

    predict = jax.jit(lambda p, x: jnp.argmax(forward(jax, jnp, p, x), axis=1))
    acc = common.accuracy(
        lambda xb: np.asarray(predict(p, jnp.asarray(xb.reshape((-1,) + image_shape)))),
        data["X_test"], data["y_test"])
    return common.epoch_result(compile_s, times, full, losses, acc)


def mlp_epoch(data: dict, epochs: int = 1, max_batches: int | None = None) -> dict:
    """MLP 784-800-800-10, ReLU, softmax CE, Adam 1e-3, batch 128, float32."""
    return common.mlp_epochs(_train, _mlp_forward, data, epochs, max_batches)


def cnn_epoch(data: dict, max_batches: int | None = None) -> dict:
    """conv32 5x5 - relu - pool2 - conv32 5x5 - relu - pool2 - dense256 relu - dense10."""
    return common.cnn_epochs(_train, _cnn_forward, data, max_batches)


def cnn_inference(data: dict, params: dict | None = None, passes: int = 3) -> dict:
    """Jitted CNN forward + argmax over the 10k test images in batches of 500."""
    jax, jnp = _jax()
    p = {k: jnp.asarray(v) for k, v in (params or common.init_cnn_params()).items()}
    Xd = jnp.asarray(data["X_test"].reshape(-1, 1, 28, 28))
    n, B = Xd.shape[0], common.TEST_BATCH
    fwd = jax.jit(lambda p, x: jnp.argmax(_cnn_forward(jax, jnp, p, x), axis=1))
    batches = [Xd[i:i + B] for i in range(0, n, B)]

    def one_pass():
        jax.block_until_ready([fwd(p, xb) for xb in batches])

    s = common.median_seconds(one_pass, repeats=passes, warmup=1)
    return {"images_per_s": n / s, "pass_s": s, "peak_rss_mb": common.peak_rss_mb()}
