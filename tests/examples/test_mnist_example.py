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
    # The nnthe of this checkout, not whichever one the interpreter has installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    return subprocess.run([sys.executable, os.path.join(EXAMPLE, script), *args],
                          capture_output=True, text=True, env=env, timeout=300)


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


def _train(ckpt, *more):
    return _run("train.py", "--model", "mlp", "--limit", "600", "--val-size", "120",
                "--checkpoint-dir", ckpt, "--verbose", "2", *more)


def test_resume_skips_a_damaged_latest_checkpoint_and_reports_overrides(tmp_path):
    ckpt = str(tmp_path / "run")
    res = _train(ckpt, "--epochs", "2")
    assert res.returncode == 0, res.stderr
    files = sorted(f for f in os.listdir(ckpt) if f.endswith(".h5"))
    assert len(files) == 2
    with open(os.path.join(ckpt, files[-1]), "r+b") as f:  # a save cut short
        f.truncate(1000)
    more = _train(ckpt, "--epochs", "3", "--resume", "--lr", "0.01", "--lr-decay", "0.5")
    assert more.returncode == 0, more.stderr
    assert "Traceback" not in more.stderr
    assert f"resume: skipped {files[-1]}: " in more.stdout
    assert f"resumed from {os.path.join(ckpt, files[0])} at the end of epoch 1" in more.stdout
    assert "--lr 0.01 is not used on --resume" in more.stdout
    assert "initial 0.001" in more.stdout
    assert "--lr-decay 0.5 is not used on --resume" in more.stdout and "x0.8 per" in more.stdout
    assert "epoch 2/3: loss" in more.stdout and "epoch 3/3: loss" in more.stdout
    # Options the checkpoint agrees with are not reported.
    again = _train(ckpt, "--epochs", "4", "--resume")
    assert again.returncode == 0, again.stderr
    assert "is not used" not in again.stdout and "skipped" not in again.stdout


def test_resume_refuses_clearly_when_no_checkpoint_loads(tmp_path):
    ckpt = tmp_path / "run"
    ckpt.mkdir()
    (ckpt / "ckpt-00000010.h5").write_bytes(b"")
    (ckpt / "ckpt-00000020.h5").write_bytes(b"not hdf5 at all")
    res = _train(str(ckpt), "--epochs", "1", "--resume")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "cannot resume" in res.stderr and "none of the 2 checkpoint(s)" in res.stderr
    assert "ckpt-00000010.h5" in res.stderr and "ckpt-00000020.h5" in res.stderr
    ev = _run("evaluate.py", "--checkpoint", str(ckpt / "ckpt-00000020.h5"))
    assert ev.returncode == 1 and "Traceback" not in ev.stderr
    assert "cannot read the checkpoint" in ev.stderr
