"""Run under mpiexec: N ranks with per-rank batch B against one process with batch N*B.

    mpiexec -n 2 python -m mpi4py equivalence_script.py {mlp,cnn} STEPS B {plain,weighted,sum,bucketed} {adam,sgd}

``plain`` averages the gradients of a mean loss, ``weighted`` weighs them by the local
batch size, ``sum`` sums the gradients of a summed loss, ``bucketed`` is ``plain`` in
1 kB ``Allreduce`` calls. Adam is (up to epsilon)
invariant to a scaling of the gradients, so it cannot tell a sum from a mean: SGD can.

Every rank trains a distributed model on its shard of each global batch and, alongside,
a reference model (no communication) on the whole global batch, both from rank 0's
initial values. Rank 0 prints ``OK`` and the largest differences, or fails.
"""
from __future__ import annotations

import sys

import numpy as np

import nnthe
import nnthe.tensor as T
from nnthe import distributed, layers, losses, optim


def build(kind: str) -> tuple:
    if kind == "mlp":
        X = T.matrix("X", shape=(None, 20))
        model = layers.Sequential([layers.Dense(32, activation="relu"),
                                   layers.Dense(16, activation="tanh"), layers.Dense(5)])
    else:
        X = T.tensor4("X", shape=(None, 1, 10, 10))
        model = layers.Sequential([layers.Conv2D(4, 3, activation="relu"), layers.MaxPool2D(2),
                                   layers.Conv2D(6, 3, activation="relu"), layers.Flatten(),
                                   layers.Dense(5)])
    y = T.ivector("y")
    model(X, training=True)
    return X, y, model


def step_fn(X, y, model, opt, mode: str, dist: bool):
    per_example = losses.softmax_cross_entropy(model(X, training=True), y)
    loss = per_example.sum() if mode == "sum" else per_example.mean()
    params = model.trainable_params
    grads = nnthe.grad(loss, params)
    if dist:
        weight = X.shape[0] if mode == "weighted" else None
        grads = distributed.allreduce_gradients(
            grads, weight=weight, average=mode != "sum",
            bucket_mb=0.001 if mode == "bucketed" else None)   # 1 kB: several buckets
    return nnthe.function([X, y], loss, updates=opt.updates(grads, params))


def main(kind: str, steps: int, B: int, mode: str, rule: str) -> None:
    distributed.init()
    r, n = distributed.rank(), distributed.size()
    nnthe.random.seed(100 + r)            # different on purpose: the broadcast must fix it
    X, y, model = build(kind)
    nnthe.random.seed(0)
    Xr, yr, ref = build(kind)
    make = {"adam": lambda: optim.Adam(learning_rate=1e-2),
            "sgd": lambda: optim.SGD(learning_rate=0.05 / (n * B if mode == "sum" else 1))}[rule]
    opt, opt_ref = make(), make()
    step = step_fn(X, y, model, opt, mode, True)
    step_ref = step_fn(Xr, yr, ref, opt_ref, mode, False)
    distributed.broadcast_shared(model.params, what="parameters")
    for p, q in zip(model.params, ref.params):
        q.set_value(p.get_value())

    rng = np.random.default_rng(42)       # the same data on every rank
    shape = (20,) if kind == "mlp" else (1, 10, 10)
    for _ in range(steps):
        xb = rng.standard_normal((n * B,) + shape).astype("float32")
        yb = rng.integers(0, 5, n * B).astype("int32")
        step(xb[r * B:(r + 1) * B], yb[r * B:(r + 1) * B])
        step_ref(xb, yb)

    c = distributed.comm()
    worst = 0.0
    for p, q in zip(model.params, ref.params):
        a, b = p.get_value(), q.get_value()
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"rank {r}: {p.name}")
        worst = max(worst, float(np.max(np.abs(a - b) / (np.abs(b) + 1e-6))))
    # Parameters and optimizer state are the same bit for bit on every rank.
    state = [v.get_value() for v in list(model.params) + list(opt.state.values())]
    names = [v.name for v in list(model.params) + list(opt.state.values())]
    for name, mine, root in zip(names, state, distributed.broadcast_arrays(state)):
        if not np.array_equal(mine, root):
            raise AssertionError(f"rank {r}: {name} differs from rank 0's")
    worst = c.allreduce(worst, op=__import__("mpi4py.MPI").MPI.MAX)
    if r == 0:
        print(f"OK {kind} ranks={n} steps={steps} B={B} mode={mode} rule={rule} "
              f"max_rel_diff={worst:.3g}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
