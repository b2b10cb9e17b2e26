"""Resuming is exact: train N steps, save, load in a new process, continue bit-identically."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ckpt_helpers import child_env

SCRIPT = os.path.join(os.path.dirname(__file__), "resume_script.py")


def _run(kind, mode, path, n, m, seed):
    out = subprocess.run([sys.executable, SCRIPT, kind, mode, str(path), str(n), str(m), str(seed)],
                         capture_output=True, text=True, timeout=120, env=child_env())
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize("kind", [
    "standin",  # shared params, hand-written SGD-momentum, uint64 PCG64 state for dropout
    "real",     # layers.Sequential(Dense, Dropout, BatchNorm, Dense), optim.Adam, nnthe.random
])
def test_resume_across_processes_is_bit_identical(tmp_path, kind):
    n, m = 4, 5
    path = tmp_path / "ck.h5"
    full = _run(kind, "full", path, n, m, seed=1)
    first = _run(kind, "first", path, n, m, seed=1)
    # A different seed: the fresh process starts from other weights and random states,
    # so only the checkpoint can make it continue the original run.
    second = _run(kind, "second", path, n, m, seed=7)
    assert first == full[:n]
    assert second == full[n:]
    assert len(set(full)) == n + m  # the losses do change from step to step


layers = pytest.importorskip("nnthe.layers")


def _mlp(hidden=16, seed=0):
    import nnthe
    import nnthe.tensor as T

    nnthe.random.seed(seed)
    model = layers.Sequential([layers.Dense(hidden, activation="relu"), layers.Dropout(0.5),
                               layers.Dense(3)])
    X = T.matrix("X", shape=(None, 5))
    loss = model(X, training=True).sum()
    opt = nnthe.optim.Adam(learning_rate=1e-3)
    opt.updates(loss, model.trainable_params)
    return model, opt


def test_real_model_round_trip_and_architecture_mismatch(tmp_path):
    import numpy as np
    from nnthe.checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint

    model, opt = _mlp(seed=1)
    save_checkpoint(tmp_path / "m.h5", model=model, optimizer=opt, meta={"epoch": 2})
    fresh, fresh_opt = _mlp(seed=2)
    meta = load_checkpoint(tmp_path / "m.h5", model=fresh, optimizer=fresh_opt)
    assert meta["epoch"] == 2 and meta.model_config == model.config()
    for (name, a), b in zip(model.named_params().items(), fresh.named_params().values()):
        np.testing.assert_array_equal(a.get_value(), b.get_value(), err_msg=name)
    for a, b in zip(model.named_random_states().values(), fresh.named_random_states().values()):
        np.testing.assert_array_equal(a.get_value(), b.get_value())
    wider, wider_opt = _mlp(hidden=32)
    with pytest.raises(CheckpointMismatchError, match=r"params/0/W: file \(5, 16\), expected \(5, 32\)"):
        load_checkpoint(tmp_path / "m.h5", model=wider, optimizer=wider_opt)


def test_loading_into_unbuilt_objects_explains_why(tmp_path):
    import nnthe
    from nnthe.checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint

    model, opt = _mlp()
    save_checkpoint(tmp_path / "m.h5", model=model, optimizer=opt)
    unbuilt = layers.Sequential([layers.Dense(16), layers.Dense(3)])
    with pytest.raises(CheckpointMismatchError, match="no parameters yet"):
        load_checkpoint(tmp_path / "m.h5", model=unbuilt)
    with pytest.raises(CheckpointMismatchError, match="no state yet"):
        load_checkpoint(tmp_path / "m.h5", model=model, optimizer=nnthe.optim.Adam())


def test_loading_into_an_unused_random_stream_explains_why(tmp_path):
    import nnthe
    from nnthe.checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint

    stream = nnthe.random.RandomStream(seed=3)
    stream.uniform((2,))
    save_checkpoint(tmp_path / "r.h5", rng=stream)
    with pytest.raises(CheckpointMismatchError, match="random stream has no state yet"):
        load_checkpoint(tmp_path / "r.h5", rng=nnthe.random.RandomStream(seed=4))
    other = nnthe.random.RandomStream(seed=4)
    other.uniform((2,))
    load_checkpoint(tmp_path / "r.h5", rng=other)
    assert (other.get_state()["random/0"] == stream.get_state()["random/0"]).all()
