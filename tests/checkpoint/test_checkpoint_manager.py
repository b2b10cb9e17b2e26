"""CheckpointManager: names by step, keep-last-N, keep-best, latest/best, restore."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nnthe
from nnthe.checkpoint import CheckpointManager
from nnthe.checkpoint.atomic import is_temp_name


def _param(v=0.0):
    return nnthe.shared(np.full(3, v, dtype="float32"), name="w")


def _steps(mgr):
    return [s for s, _ in mgr.checkpoints()]


def test_keep_last_n(tmp_path):
    mgr = CheckpointManager(tmp_path / "run", keep=3)
    w = _param()
    assert mgr.latest() is None and mgr.restore(params=[w]) is None
    for step in range(0, 60, 10):
        w.set_value(np.full(3, step, dtype="float32"))
        path = mgr.save(step, params=[w], meta={"epoch": step // 10})
        assert os.path.basename(path) == f"ckpt-{step:08d}.h5"
    assert _steps(mgr) == [30, 40, 50]
    assert mgr.latest().endswith("ckpt-00000050.h5")
    w.set_value(np.zeros(3, dtype="float32"))
    meta = mgr.restore(params=[w])
    assert meta == {"epoch": 5, "step": 50}
    assert w.get_value()[0] == 50


def test_keep_best_min_and_max(tmp_path):
    losses = {1: 0.9, 2: 0.3, 3: 0.5, 4: 0.6, 5: 0.7, 6: 0.3}
    mgr = CheckpointManager(tmp_path / "min", keep=2, keep_best="val_loss", mode="min")
    w = _param()
    for step, loss in losses.items():
        w.set_value(np.full(3, step, dtype="float32"))
        mgr.save(step, params=[w], metric=loss)
    assert _steps(mgr) == [2, 5, 6]          # the best (earliest of equals) plus the last 2
    assert mgr.best().endswith("ckpt-00000002.h5")
    meta = mgr.restore(params=[w], which="best")
    assert meta["val_loss"] == 0.3 and w.get_value()[0] == 2

    acc = CheckpointManager(tmp_path / "max", keep=1, keep_best="acc", mode="max")
    for step, a in enumerate([0.5, 0.9, 0.7, 0.8]):
        acc.save(step, params=[w], meta={"acc": a})   # the metric may come in meta
    assert _steps(acc) == [1, 3]


def test_a_new_manager_finds_the_best_in_existing_files(tmp_path):
    w = _param()
    mgr = CheckpointManager(tmp_path, keep=None, keep_best="loss")
    for step, loss in enumerate([3.0, 1.0, 2.0]):
        mgr.save(step, params=[w], metric=loss)
    again = CheckpointManager(tmp_path, keep=1, keep_best="loss")
    assert again.best().endswith("ckpt-00000001.h5")
    again.save(3, params=[w], metric=5.0)
    assert _steps(again) == [1, 3]
    assert CheckpointManager(tmp_path, keep_best="other").best() is None


def test_latest_ignores_temporary_and_foreign_files(tmp_path):
    w = _param()
    mgr = CheckpointManager(tmp_path)
    mgr.save(7, params=[w])
    (tmp_path / ".ckpt-00000009.h5.host.1.ab12.tmp").write_bytes(b"partial")
    (tmp_path / "ckpt-00000011.h5.bak").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert mgr.latest().endswith("ckpt-00000007.h5")
    assert is_temp_name(".ckpt-00000009.h5.host.1.ab12.tmp")


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path):
    from nnthe.checkpoint.atomic import _HOST

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".ckpt-00000003.h5.{_HOST}.{dead_pid}.00ff.tmp"
    live = tmp_path / f".ckpt-00000004.h5.{_HOST}.{os.getppid()}.00ff.tmp"
    other_host = tmp_path / f".ckpt-00000005.h5.elsewhere.{dead_pid}.00ff.tmp"
    for p in (stale, live, other_host):
        p.write_bytes(b"partial")
    CheckpointManager(tmp_path)
    assert not stale.exists() and live.exists() and other_host.exists()


def test_step_numbers_sort_numerically_past_the_padding(tmp_path):
    w = _param()
    mgr = CheckpointManager(tmp_path, keep=2)
    for step in (99_999_999, 100_000_000, 5):
        mgr.save(step, params=[w])
    assert _steps(mgr) == [99_999_999, 100_000_000]


def test_manager_errors(tmp_path):
    w = _param()
    with pytest.raises(ValueError, match="keep must be >= 1"):
        CheckpointManager(tmp_path, keep=0)
    with pytest.raises(TypeError, match="keep must be an int"):
        CheckpointManager(tmp_path, keep=2.5)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        CheckpointManager(tmp_path, mode="lowest")
    with pytest.raises(TypeError, match="did you mean 'keep_best'"):
        CheckpointManager(tmp_path, keep_bset="loss")
    with pytest.raises(ValueError, match="prefix"):
        CheckpointManager(tmp_path, prefix="a/b")
    mgr = CheckpointManager(tmp_path)
    with pytest.raises(ValueError, match="needs keep_best"):
        mgr.best()
    with pytest.raises(ValueError, match="metric= needs keep_best"):
        mgr.save(1, params=[w], metric=0.5)
    with pytest.raises(TypeError, match="step must be an int"):
        mgr.save(1.5, params=[w])
    with pytest.raises(ValueError, match="step must be >= 0"):
        mgr.save(-1, params=[w])
    with pytest.raises(ValueError, match="which must be"):
        mgr.restore(params=[w], which="newest")
    best = CheckpointManager(tmp_path, keep_best="loss")
    with pytest.raises(ValueError, match="needs the metric"):
        best.save(1, params=[w])
    with pytest.raises(TypeError, match="metric must be a number"):
        best.save(1, params=[w], metric="low")
    assert mgr.checkpoints() == []
