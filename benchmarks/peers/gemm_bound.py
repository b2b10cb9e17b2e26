"""The BLAS floor of each workload: its matrix products alone, in NumPy float32.

A framework that lowers dense and conv layers to GEMM cannot train faster than the
time of those GEMMs, so ``epoch_s`` here is a lower bound for the same workloads as
the peers run (with NumPy's BLAS on the same threads; a peer with a different BLAS or
a direct convolution can beat it).

What is counted, exactly (B = 128, every product timed as ``np.matmul(a, b, out=c)``
into a preallocated float32 ``c``; transposed operands are passed as ``.T`` views, as
NumPy hands them to BLAS without a copy):

MLP 784-800-800-10, per training batch (8 GEMMs):
  forward   X(B,784)@W1(784,800), H1(B,800)@W2(800,800), H2(B,800)@W3(800,10)
  backward  dW3 = H2.T@dY3, dH2 = dY3@W3.T, dW2 = H1.T@dY2, dH1 = dY2@W2.T,
            dW1 = X.T@dY1          (no dX for the first layer: X is data)

CNN, per training batch (10 GEMMs), im2col with rows = output pixels:
  conv1 fwd   P1(B*24*24, 1*5*5) @ W1(25, 32)
  conv1 dW    P1.T @ dY1(B*576, 32)                 (no grad wrt the input image)
  conv2 fwd   P2(B*8*8, 32*5*5) @ W2(800, 32)
  conv2 dW    P2.T @ dY2(B*64, 32)
  conv2 dX    dY2 @ W2.T -> (B*64, 800)             (the columns; col2im not counted)
  dense1      fwd H(B,512)@D1(512,256), dW = H.T@dZ, dX = dZ@D1.T
  dense2      fwd H(B,256)@D2(256,10),  dW = H.T@dZ, dX = dZ@D2.T
NOT counted anywhere: im2col/col2im copies, bias adds, ReLU, pooling, softmax/loss,
Adam updates, framework overhead. The training-epoch bound is the per-batch sum times
468 batches (60000 // 128).

CNN inference (10k test images, batches of 500): the forward GEMMs only (conv1 fwd,
conv2 fwd, dense1 fwd, dense2 fwd) at B = 500, times 20 batches -> images/s.

Each per-batch sum is the median over ``repeats`` timings of the whole sequence.
"""

from __future__ import annotations

from . import common

import time

import numpy as np  # noqa: E402

NAME = "gemm_bound"


def version() -> dict:
    return {"numpy": np.__version__, "threadpools": common.threadpool_info()}


def _mlp_products(rng, B):
    f = np.float32
    r = lambda *s: rng.standard_normal(s).astype(f)  # noqa: E731
    X, W1, W2, W3 = r(B, 784), r(784, 800), r(800, 800), r(800, 10)
    H1, H2, dY1, dY2, dY3 = r(B, 800), r(B, 800), r(B, 800), r(B, 800), r(B, 10)
    return [
        ("fwd X@W1", X, W1), ("fwd H1@W2", H1, W2), ("fwd H2@W3", H2, W3),
        ("dW3=H2.T@dY3", H2.T, dY3), ("dH2=dY3@W3.T", dY3, W3.T),
        ("dW2=H1.T@dY2", H1.T, dY2), ("dH1=dY2@W2.T", dY2, W2.T),
        ("dW1=X.T@dY1", X.T, dY1),
    ]


def _cnn_products(rng, B, train=True):
    f = np.float32
    r = lambda *s: rng.standard_normal(s).astype(f)  # noqa: E731
    P1, W1, dY1 = r(B * 576, 25), r(25, 32), r(B * 576, 32)
    P2, W2, dY2 = r(B * 64, 800), r(800, 32), r(B * 64, 32)
    H1, D1, dZ1 = r(B, 512), r(512, 256), r(B, 256)
    H2, D2, dZ2 = r(B, 256), r(256, 10), r(B, 10)
    fwd = [("conv1 fwd", P1, W1), ("conv2 fwd", P2, W2),
           ("dense1 fwd", H1, D1), ("dense2 fwd", H2, D2)]
    if not train:
        return fwd
    return fwd + [
        ("conv1 dW", P1.T, dY1), ("conv2 dW", P2.T, dY2), ("conv2 dX", dY2, W2.T),
        ("dense1 dW", H1.T, dZ1), ("dense1 dX", dZ1, D1.T),
        ("dense2 dW", H2.T, dZ2), ("dense2 dX", dZ2, D2.T),
    ]


def _time_products(products, repeats: int) -> dict:
    outs = [np.empty((a.shape[0], b.shape[1]), np.float32) for _, a, b in products]

    def run():
        for (_, a, b), c in zip(products, outs):
            np.matmul(a, b, out=c)

    total = common.median_seconds(run, repeats=repeats, warmup=3)
    each = {}
    for (name, a, b), c in zip(products, outs):
        each[name] = common.median_seconds(lambda a=a, b=b, c=c: np.matmul(a, b, out=c),
                                           repeats=repeats, warmup=1)
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for _, a, b in products)
    return {"batch_s": total, "flops_per_batch": flops, "gflops": flops / total / 1e9,
            "per_gemm_us": {k: v * 1e6 for k, v in each.items()}}


def mlp_epoch(data: dict | None = None, repeats: int = 30, **_ignored) -> dict:
    """GEMM-only seconds per MLP training epoch (see the module docstring)."""
    r = _time_products(_mlp_products(np.random.default_rng(0), common.BATCH), repeats)
    nb = common.n_batches()
    return {"epoch_s": r["batch_s"] * nb, "epoch_median_s": r["batch_s"] * nb,
            "step_ms": r["batch_s"] * 1e3,
            "batches_per_epoch": nb, **r, "peak_rss_mb": common.peak_rss_mb()}


def cnn_epoch(data: dict | None = None, repeats: int = 20, **_ignored) -> dict:
    """GEMM-only seconds per CNN training epoch (see the module docstring)."""
    r = _time_products(_cnn_products(np.random.default_rng(0), common.BATCH), repeats)
    nb = common.n_batches()
    return {"epoch_s": r["batch_s"] * nb, "epoch_median_s": r["batch_s"] * nb,
            "step_ms": r["batch_s"] * 1e3,
            "batches_per_epoch": nb, **r, "peak_rss_mb": common.peak_rss_mb()}


def cnn_inference(data: dict | None = None, params=None, repeats: int = 20) -> dict:
    """GEMM-only CNN forward on 10k images in batches of 500 -> images/s."""
    B = common.TEST_BATCH
    r = _time_products(_cnn_products(np.random.default_rng(0), B, train=False), repeats)
    n_batches = 10000 // B
    return {"images_per_s": 10000 / (r["batch_s"] * n_batches),
            "pass_s": r["batch_s"] * n_batches, **r, "peak_rss_mb": common.peak_rss_mb()}


def sgemm_peak(n: int = 2048, repeats: int = 5) -> dict:
    """GFLOP/s of one large square float32 GEMM: the machine's practical BLAS peak."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    c = np.empty((n, n), np.float32)
    s = common.median_seconds(lambda: np.matmul(a, b, out=c), repeats=repeats, warmup=1)
    return {"n": n, "seconds": s, "gflops": 2 * n ** 3 / s / 1e9}


if __name__ == "__main__":
    t0 = time.perf_counter()
    for fn in (mlp_epoch, cnn_epoch, cnn_inference, sgemm_peak):
        res = fn()
        print(fn.__name__, {k: (round(v, 4) if isinstance(v, float) else v)
                            for k, v in res.items() if k != "per_gemm_us"})
    print(f"({time.perf_counter() - t0:.1f} s)")
