"""Run under mpiexec: fit(..., callbacks=[Distributed()]) on a small model.

    mpiexec -n 2 python -m mpi4py fit_script.py OUT.npz CKPT_DIR|- EPOCHS [flags]

flags: ``resume``, ``dropout`` (a Dropout and a BatchNorm layer), ``reference`` (also
train the same model in one process, without MPI, on the whole global batches, and
compare), ``slow`` (sleep in each step and print the step on rank 0, for Ctrl-C),
``crash`` (rank 1 raises at step 3).

Rank 0 writes the final parameters to OUT.npz after checking every rank has the same.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

import nnthe
from nnthe import distributed, layers, optim, train


def build(dropout: bool) -> layers.Sequential:
    body = [layers.Dense(16, activation="relu")]
    if dropout:
        body += [layers.BatchNorm(), layers.Dropout(0.3)]
    return layers.Sequential(body + [layers.Dense(3)])


def data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((101, 6)).astype("float32")     # 101: an uneven last batch
    y = (X[:, 0] + X[:, 1] > 0).astype("int32") + (X[:, 2] > 1).astype("int32")
    Xv = rng.standard_normal((37, 6)).astype("float32")
    yv = (Xv[:, 0] + Xv[:, 1] > 0).astype("int32")
    return X, y, (Xv, yv)


def main(out: str, ckpt: str, epochs: int, flags: set[str]) -> int:
    distributed.init()
    r = distributed.rank()
    X, y, val = data()
    nnthe.random.seed(3)
    model = build("dropout" in flags)
    opt = optim.Adam(learning_rate=0.01)
    callbacks = [train.LearningRateScheduler(optim.ExponentialLR(opt, gamma=0.9))]

    class Hooks(train.Callback):
        def on_batch_end(self, trainer, step, logs):
            if "slow" in flags:
                if r == 0:
                    print(f"step {step}", flush=True)
                time.sleep(0.1)
            if "crash" in flags and r == 1 and step == 3:
                raise RuntimeError("rank 1 fails at step 3")

    class SlowDisk(train.Callback):
        """Rank 0 takes a second to save after Ctrl-C: the other ranks must wait for it."""
        def on_checkpoint(self, trainer, interrupted):
            if interrupted and r == 0:
                time.sleep(1.0)

    callbacks.append(Hooks())
    if "slow" in flags:
        callbacks.append(SlowDisk())
    try:
        hist = train.fit(model, (X, y), optimizer=opt, epochs=epochs, batch_size=16,  # per rank
                         validation_data=val, callbacks=callbacks + [distributed.Distributed()],
                         checkpoint_dir=None if ckpt == "-" else ckpt,
                         resume="resume" in flags, seed=5, verbose=2)
    except train.TrainingInterrupted as exc:
        # Every rank leaves fit after rank 0 has written the checkpoint, and knows its path.
        if exc.checkpoint is None or not os.path.exists(exc.checkpoint):
            print(f"rank {r} left fit before the checkpoint was written: {exc}",
                  file=sys.stderr, flush=True)
            return 3
        if r == 0:
            print(f"INTERRUPTED {exc}", file=sys.stderr, flush=True)
        distributed.comm().Barrier()   # the print above before a rank's exit ends the job
        return 130
    values = [p.get_value() for p in model.params]
    for p, mine, root in zip(model.params, values, distributed.broadcast_arrays(values)):
        if not np.array_equal(mine, root):
            raise AssertionError(f"rank {r}: {p.name} differs from rank 0's after fit")
    states = [v.get_value() for v in model.named_random_states().values()]
    if states:
        gathered = distributed.comm().allgather(states[0].tobytes())
        if len(set(gathered)) != len(gathered):
            raise AssertionError("the ranks' dropout states are equal")
    if "reference" in flags:
        nnthe.random.seed(3)
        ref = build("dropout" in flags)
        ref_opt = optim.Adam(learning_rate=0.01)
        ref_hist = train.fit(ref, (X, y), optimizer=ref_opt, epochs=epochs,
                             batch_size=16 * distributed.size(),
                             validation_data=val, seed=5, verbose=0,
                             callbacks=[train.LearningRateScheduler(
                                 optim.ExponentialLR(ref_opt, gamma=0.9))])
        for p, q in zip(model.params, ref.params):
            np.testing.assert_allclose(p.get_value(), q.get_value(), rtol=1e-5, atol=1e-6,
                                       err_msg=f"rank {r}: {p.name}")
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(hist[key], ref_hist[key], rtol=1e-4, err_msg=key)
    if r == 0:
        np.savez(out, **{p.name: v for p, v in zip(model.params, values)})
        print(f"DONE epochs={len(hist)} val_loss={hist['val_loss'][-1]:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), set(sys.argv[4:])))
