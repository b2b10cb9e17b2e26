"""Time the conv and pool layers of the MNIST CNN: nnthe vs PyTorch CPU vs the GEMM bound.

The network part timed: conv 1->32 5x5 on 28x28 -> max-pool 2 -> conv 32->32 5x5 ->
max-pool 2 (ReLU after each conv), batch 128, float32, 2 threads. "fwd" is the forward
pass; "fwd+bwd" the forward pass and the gradients wrt both filter banks (as in
training: no gradient wrt the images). The GEMM bound runs the same matrix products in
plain NumPy on preallocated contiguous operands: no im2col, no col2im, no pooling.

Usage::

    /work/venv/bin/python benchmarks/bench_nnet.py [--repeat 20] [--batch 128]

PyTorch is used when importable (``torch.set_num_threads(2)``); otherwise its column
says so.
"""
from __future__ import annotations

import os

THREADS = int(os.environ.get("NNTHE_BENCH_THREADS", "2"))
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nnthe  # noqa: E402
import nnthe.tensor as T  # noqa: E402


def time_all(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[float, float]]:
    """``{name: (min ms, median ms)}`` over ``repeat`` rounds after two warm-up calls.

    The candidates are interleaved round by round, so a burst of load from other
    processes on a shared machine hits them all alike; the minimum is the figure least
    disturbed by such bursts.
    """
    for fn in fns.values():
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: (min(v) * 1e3, float(np.median(v)) * 1e3) for k, v in times.items()}


def nnthe_fns(batch: int, rng: np.random.Generator):
    X = T.tensor4("X", shape=(None, 1, 28, 28))
    W1 = nnthe.shared(rng.standard_normal((32, 1, 5, 5)).astype("float32") * 0.1, name="W1")
    W2 = nnthe.shared(rng.standard_normal((32, 32, 5, 5)).astype("float32") * 0.05, name="W2")
    h = T.nnet.pool_2d(T.nnet.relu(T.nnet.conv2d(X, W1, filter_flip=False)), (2, 2))
    out = T.nnet.pool_2d(T.nnet.relu(T.nnet.conv2d(h, W2, filter_flip=False)), (2, 2))
    G = T.tensor4("G", shape=(None, 32, 4, 4))
    grads = nnthe.grad(None, [W1, W2], known_grads={out: G})
    fwd = nnthe.function([X], out)
    fwd_bwd = nnthe.function([X, G], grads)
    x = rng.standard_normal((batch, 1, 28, 28)).astype("float32")
    g = rng.standard_normal((batch, 32, 4, 4)).astype("float32")
    return (lambda: fwd(x)), (lambda: fwd_bwd(x, g)), (W1.get_value(), W2.get_value(), x, g)


def torch_fns(weights):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    F = torch.nn.functional
    w1, w2, x, g = (torch.tensor(a) for a in weights)
    w1.requires_grad_(True)
    w2.requires_grad_(True)

    def net():
        return F.max_pool2d(F.relu(F.conv2d(F.max_pool2d(F.relu(F.conv2d(x, w1)), 2), w2)), 2)

    def fwd():
        with torch.no_grad():
            return net()

    def fwd_bwd():
        return torch.autograd.grad(net(), (w1, w2), g)

    return fwd, fwd_bwd, torch.__version__


def gemm_fns(batch: int, rng: np.random.Generator):
    """The GEMMs of the same convolutions (forward, grad wrt filters, grad wrt conv2's
    input) on contiguous operands."""
    f32 = np.float32
    n1, n2 = batch * 24 * 24, batch * 8 * 8
    a = {k: rng.standard_normal(s).astype(f32) for k, s in {
        "w1": (32, 25), "c1": (25, n1), "w2": (32, 800), "c2": (800, n2),
        "g1": (32, n1), "c1t": (n1, 25), "g2": (32, n2), "c2t": (n2, 800), "w2t": (800, 32)}.items()}

    def fwd():
        a["w1"] @ a["c1"]
        a["w2"] @ a["c2"]

    def fwd_bwd():
        fwd()
        a["g1"] @ a["c1t"]          # dW1
        a["g2"] @ a["c2t"]          # dW2
        a["w2t"] @ a["g2"]          # d(conv2 input), before col2im

    return fwd, fwd_bwd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    nf, nfb, weights = nnthe_fns(args.batch, rng)
    gf, gfb = gemm_fns(args.batch, rng)
    fns = {("nnthe", "fwd"): nf, ("nnthe", "fwd+bwd"): nfb,
           ("GEMM bound (NumPy)", "fwd"): gf, ("GEMM bound (NumPy)", "fwd+bwd"): gfb}
    tf = torch_fns(weights)
    torch_note = "not installed (no PyTorch column)"
    if tf is not None:
        fns[("PyTorch CPU", "fwd")], fns[("PyTorch CPU", "fwd+bwd")] = tf[0], tf[1]
        torch_note = tf[2]
    res = time_all(fns, args.repeat)
    print(f"MNIST CNN conv+pool layers, batch {args.batch}, float32, {THREADS} threads, "
          f"{args.repeat} interleaved rounds; numpy {np.__version__}, torch {torch_note}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':22s} {'fwd min':>9s} {'fwd med':>9s} {'f+b min':>9s} {'f+b med':>9s}  (ms)")
    for name in dict.fromkeys(k[0] for k in fns):
        f, fb = res[(name, "fwd")], res[(name, "fwd+bwd")]
        print(f"{name:22s} {f[0]:9.1f} {f[1]:9.1f} {fb[0]:9.1f} {fb[1]:9.1f}")
    if tf is not None:
        n, t = res[("nnthe", "fwd+bwd")], res[("PyTorch CPU", "fwd+bwd")]
        nf_, tf_ = res[("nnthe", "fwd")], res[("PyTorch CPU", "fwd")]
        print(f"nnthe / PyTorch: fwd {nf_[0] / tf_[0]:.2f}x (min) {nf_[1] / tf_[1]:.2f}x (median); "
              f"fwd+bwd {n[0] / t[0]:.2f}x (min) {n[1] / t[1]:.2f}x (median)")


if __name__ == "__main__":
    main()
