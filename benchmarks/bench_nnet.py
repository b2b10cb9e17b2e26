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


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median of ``repeat`` timed calls after two warm-up calls, in milliseconds."""
    fn()
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def nnthe_fns(batch: int, rng: np.random.Generator):
    X = T.tensor4("X", shape=(None, 1, 28, 28))
    W1 = nnthe.shared(rng.standard_normal((32, 1, 5, 5)).astype("float32") * 0.1, name="W1")
    W2 = nnthe.shared(rng.standard_normal((32, 32, 5, 5)).astype("float32") * 0.05, name="W2")
    h = T.nnet.pool_2d(T.nnet.relu(T.nnet.conv2d(X, W1)), (2, 2))
    out = T.nnet.pool_2d(T.nnet.relu(T.nnet.conv2d(h, W2)), (2, 2))
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
    rows = {"nnthe": (best_ms(nf, args.repeat), best_ms(nfb, args.repeat)),
            "GEMM bound (NumPy)": (best_ms(gf, args.repeat), best_ms(gfb, args.repeat))}
    tf = torch_fns(weights)
    torch_note = "not installed"
    if tf is not None:
        rows["PyTorch CPU"] = (best_ms(tf[0], args.repeat), best_ms(tf[1], args.repeat))
        torch_note = tf[2]
    print(f"MNIST CNN conv+pool layers, batch {args.batch}, float32, {THREADS} threads, "
          f"median of {args.repeat}; numpy {np.__version__}, torch {torch_note}")
    print(f"{'':22s} {'fwd ms':>9s} {'fwd+bwd ms':>11s}")
    for name, (f, fb) in rows.items():
        print(f"{name:22s} {f:9.1f} {fb:11.1f}")
    if "PyTorch CPU" in rows:
        tf_, tfb = rows["PyTorch CPU"]
        print(f"nnthe / PyTorch: fwd {rows['nnthe'][0] / tf_:.2f}x, fwd+bwd "
              f"{rows['nnthe'][1] / tfb:.2f}x")


if __name__ == "__main__":
    main()
