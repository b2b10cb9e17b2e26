"""Per-op profile of the benchmark's MLP or CNN training step (nnthe, one backend).

    NNTHE_KERNELS=numpy /work/venv/bin/python benchmarks/profile_step.py cnn
    NNTHE_KERNELS=numba /work/venv/bin/python benchmarks/profile_step.py cnn

Builds the model of ``peers/nnthe_peer.py`` from the peers' initial weights, compiles
the training step with ``profile=True``, runs ``--steps`` steps on random batches of 128
and prints the profile (compile report and kernels included) and the median step.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from peers import common, nnthe_peer  # noqa: E402  (common pins the thread counts)

import numpy as np  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=["mlp", "cnn"])
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    import nnthe
    import nnthe.tensor as T
    from nnthe import optim

    if args.model == "mlp":
        init, forward, shape = common.init_mlp_params(), nnthe_peer._mlp_forward, (784,)
    else:
        init, forward, shape = common.init_cnn_params(), nnthe_peer._cnn_forward, (1, 28, 28)
    p = nnthe_peer._shared(nnthe, init)
    X = T.tensor("float32", shape=(None,) + shape, name="X")
    y = T.lvector("y")
    loss = T.nnet.softmax_cross_entropy_with_logits(forward(T, p, X), y).mean()
    opt = optim.Adam(learning_rate=1e-3)
    t0 = time.perf_counter()
    train = nnthe.function([X, y], loss, updates=opt.updates(loss, list(p.values())),
                           name=f"{args.model}_train", profile=True)
    rng = np.random.default_rng(0)
    xb = rng.normal(size=(128,) + shape).astype("float32")
    yb = rng.integers(0, 10, 128)
    train(xb, yb)
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        train(xb, yb)
        times.append(time.perf_counter() - t)
    print(f"{args.model}: NNTHE_KERNELS={os.environ.get('NNTHE_KERNELS', 'auto')}, compile + first step "
          f"{first:.2f} s, median step {np.median(times) * 1e3:.1f} ms over {args.steps}, "
          f"load {os.getloadavg()[0]:.1f}")
    train.profile.summary(n_nodes=12)
    return 0


if __name__ == "__main__":
    sys.exit(main())
