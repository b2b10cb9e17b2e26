"""PyTorch (CPU, eager autograd) peer.

Every function returns a dict of measured numbers and raises ``PeerUnavailable`` when
torch cannot be imported. Measurement conventions shared by all peers:

* ``compile_s``: build the model/step, compile if the peer compiles, and run one
  warm-up training step on batch 0; then parameters and optimizer state are reset to
  the common initial values, so the timed epoch starts from the same point everywhere.
* ``epoch_s``: summed wall time of ``batches_per_epoch`` training steps (468 =
  60000 // 128, the last partial batch dropped) over the pre-shuffled training set;
  each step is timed alone and ends with its loss on the host (in torch:
  ``loss.item()``). ``epoch_median_s`` = median step time x 468, robust to a noisy
  neighbour. Batches are contiguous slices of the pre-shuffled arrays (the shuffle
  gather is not timed).
* ``test_acc`` after the epoch on the 10k test images, ``final_loss`` the mean loss of
  the last 20 steps: sanity checks (every peer starts from the same weights and sees
  the batches in the same order, so these agree across peers to ~3 digits).
"""

from __future__ import annotations

from . import common
from .common import PeerUnavailable

import time

import numpy as np  # noqa: E402  (after common: thread env vars are set)

NAME = "torch"


def _torch():
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install raising OSError
        raise PeerUnavailable(f"torch is not importable: {e}") from e
    torch.set_num_threads(common.THREADS)
    try:
        torch.set_num_interop_threads(common.THREADS)
    except RuntimeError:
        pass  # already set in this process (it can be set only once)
    return torch


def version() -> dict:
    torch = _torch()
    return {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "mkldnn": bool(torch.backends.mkldnn.is_available())}


# --------------------------------------------------------------------------- seed

def seed_program(n_calls: int = 20000) -> dict:
    """y = x**2 + 3x + 1; dy/dx by eager autograd (forward + backward per call)."""
    torch = _torch()
    t0 = time.perf_counter()
    x = torch.tensor(2.0, dtype=torch.float32, requires_grad=True)

    def call():
        y = x ** 2 + 3 * x + 1
        (g,) = torch.autograd.grad(y, x)
        return g

    value = float(call())
    build = time.perf_counter() - t0
    assert value == 7.0, value
    return {"compile_s": build, "call_us": common.call_latency_us(call, n_calls),
            "value": value, "peak_rss_mb": common.peak_rss_mb()}


# --------------------------------------------------------------------------- models

def _params(torch, init: dict) -> dict:
    return {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in init.items()}


def _mlp_forward(torch, p, x):
    F = torch.nn.functional
    h = F.relu(torch.addmm(p["b1"], x, p["W1"]))
    h = F.relu(torch.addmm(p["b2"], h, p["W2"]))
    return torch.addmm(p["b3"], h, p["W3"])


def _cnn_forward(torch, p, x):
    F = torch.nn.functional
    h = F.max_pool2d(F.relu(F.conv2d(x, p["c1W"], p["c1b"])), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["c2W"], p["c2b"])), 2)
    h = F.relu(torch.addmm(p["d1b"], h.reshape(h.shape[0], -1), p["d1W"]))
    return torch.addmm(p["d2b"], h, p["d2W"])


def _train(forward, init: dict, data: dict, image_shape, max_batches=None) -> dict:
    torch = _torch()
    F = torch.nn.functional
    X, y, B, full, todo = common.training_batches(data, image_shape, max_batches)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def make():
        p = _params(torch, init)
        opt = torch.optim.Adam(p.values(), lr=common.LEARNING_RATE,
                               betas=(common.ADAM_B1, common.ADAM_B2),
                               eps=common.ADAM_EPS)
        return p, opt

    def step(p, opt, i):
        xb, yb = Xt[i * B:(i + 1) * B], yt[i * B:(i + 1) * B]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(torch, p, xb), yb)
        loss.backward()
        opt.step()
        return loss.item()

    t0 = time.perf_counter()
    p, opt = make()
    step(p, opt, 0)
    compile_s = time.perf_counter() - t0

    p, opt = make()  # reset to the common initial values
    losses, times = [], []
    for i in range(todo):
        t0 = time.perf_counter()
        losses.append(step(p, opt, i))
        times.append(time.perf_counter() - t0)

    with torch.no_grad():
        def predict(xb):
            xb = torch.from_numpy(np.ascontiguousarray(xb).reshape((-1,) + image_shape))
            return forward(torch, p, xb).argmax(1).numpy()
        acc = common.accuracy(predict, data["X_test"], data["y_test"])
    return common.epoch_result(compile_s, times, full, losses, acc)


def mlp_epoch(data: dict, epochs: int = 1, max_batches: int | None = None) -> dict:
    """MLP 784-800-800-10, ReLU, softmax CE, Adam 1e-3, batch 128, float32.

    With ``epochs > 1`` the reported ``epoch_s`` is the median over epochs (each a
    fresh run from the initial weights; only the last one's loss/accuracy is kept).
    """
    return common.mlp_epochs(_train, _mlp_forward, data, epochs, max_batches)


def cnn_epoch(data: dict, max_batches: int | None = None) -> dict:
    """conv32 5x5 - relu - pool2 - conv32 5x5 - relu - pool2 - dense256 relu - dense10."""
    return common.cnn_epochs(_train, _cnn_forward, data, max_batches)


def cnn_inference(data: dict, params: dict | None = None, passes: int = 3) -> dict:
    """CNN forward over the 10k test images in batches of 500; images/s (median pass)."""
    torch = _torch()
    p = {k: torch.from_numpy(v.copy())
         for k, v in (params or common.init_cnn_params()).items()}
    Xt = torch.from_numpy(data["X_test"].reshape(-1, 1, 28, 28))
    n, B = len(Xt), common.TEST_BATCH

    def one_pass():
        with torch.inference_mode():
            for i in range(0, n, B):
                _cnn_forward(torch, p, Xt[i:i + B]).argmax(1)

    s = common.median_seconds(one_pass, repeats=passes, warmup=1)
    return {"images_per_s": n / s, "pass_s": s, "peak_rss_mb": common.peak_rss_mb()}
