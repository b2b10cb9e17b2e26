"""Smoke test of examples/mnist: train.py for one short epoch, then evaluate.py on its checkpoint.

The scripts read the small subset bundled with nnthe (10,000 training and 2,000 test images):
NNTHE_DATA and the cache point at an empty folder and nothing is downloaded
(NNTHE_NO_DOWNLOAD=1), so the test is fast and the same on every machine.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "mnist")


@pytest.fixture(autouse=True)
def _subset_only(tmp_path, monkeypatch):
    empty = tmp_path / "no-mnist-here"
    empty.mkdir()
    monkeypatch.setenv("NNTHE_NO_DOWNLOAD", "1")
    monkeypatch.setenv("NNTHE_DATA", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(empty))


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(EXAMPLE, script), *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)


def test_train_one_epoch_then_evaluate(tmp_path):
    ckpt = str(tmp_path / "run")
    res = _run("train.py", "--model", "mlp", "--epochs", "1", "--limit", "1500",
               "--val-size", "300", "--checkpoint-dir", ckpt)
    assert res.returncode == 0, res.stderr
    assert "SUBSET" in res.stderr  # said loudly, not silently
    assert "epoch 1/1: loss" in res.stdout  # a plain line: stdout is not a terminal
    line = next(l for l in res.stdout.splitlines() if l.startswith("test accuracy"))
    acc = float(line.split()[2])
    assert 0.5 < acc <= 1.0  # 1,200 images for one epoch: far above chance
    assert "s per epoch" in line
    assert os.path.exists(os.path.join(ckpt, "history.csv"))

    ev = _run("evaluate.py", "--checkpoint", ckpt)
    assert ev.returncode == 0, ev.stderr
    ev_line = next(l for l in ev.stdout.splitlines() if l.startswith("test accuracy"))
    assert float(ev_line.split()[2]) == acc  # the same parameters, the same predictions
    assert "confusion matrix" in ev.stdout
    rows = ev.stdout.splitlines()[-10:]
    assert [int(r.split()[0]) for r in rows] == list(range(10))

    more = _run("train.py", "--model", "mlp", "--epochs", "2", "--limit", "1500",
                "--val-size", "300", "--checkpoint-dir", ckpt, "--resume")
    assert more.returncode == 0, more.stderr
    assert "resumed from" in more.stdout and "epoch 2/2: loss" in more.stdout
    assert "epoch 1/2" not in more.stdout


def test_models_build_and_errors(tmp_path):
    sys.path.insert(0, EXAMPLE)
    try:
        import models
    finally:
        sys.path.remove(EXAMPLE)
    cnn = models.build("cnn")
    assert cnn.summary(input_shape=(None, 1, 28, 28), print_fn=None)
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        models.build("resnet")
    res = _run("evaluate.py", "--checkpoint", str(tmp_path / "missing.h5"))
    assert res.returncode != 0 and "no checkpoint" in res.stderr
    res = _run("train.py", "--resume")
    assert res.returncode == 2 and "--resume needs --checkpoint-dir" in res.stderr
