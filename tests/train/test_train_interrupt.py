"""Ctrl-C during fit: the step finishes, a checkpoint is saved, the process exits with 130 and
a message on how to resume; resuming then gives the losses of an uninterrupted run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fit_script.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The subprocess imports the nnthe of this checkout, not whichever one is installed.
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a subprocess")


def _run(*args, timeout=120):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def test_sigint_saves_checkpoint_and_resume_continues(tmp_path):
    ckpt = str(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, SCRIPT, ckpt, "3", "slow"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:  # wait until a few steps ran (compiling takes a moment)
            if line.strip() == "step 4" or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Training interrupted at epoch 1" in err
    assert "resume=True" in err and "Checkpoint saved to" in err
    assert "Traceback" not in err
    files = [f for f in os.listdir(ckpt) if f.endswith(".h5")]
    assert len(files) == 1

    resumed = _run(ckpt, "3", "fast", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    full = _run("", "3", "fast")
    assert full.returncode == 0, full.stderr
    assert f"nnthe {os.path.join(ROOT, 'nnthe')}\n" in full.stdout  # this checkout's
    losses = [line for line in full.stdout.splitlines() if line.startswith("loss ")]
    assert len(losses) == 3
    assert [line for line in resumed.stdout.splitlines() if line.startswith("loss ")] == losses


def test_signal_handler_is_restored():
    from nnthe import train
    from train_helpers import data, tiny_model

    before = signal.getsignal(signal.SIGINT)
    train.fit(tiny_model(), data(), epochs=1, verbose=0)
    assert signal.getsignal(signal.SIGINT) is before


def test_interrupt_without_checkpoint_dir_says_so():
    from nnthe import train
    from train_helpers import data, tiny_model

    def interrupt(trainer, step, logs):
        trainer.request_stop("step")

    with pytest.raises(train.TrainingInterrupted, match="No checkpoint was saved") as info:
        train.fit(tiny_model(), data(), epochs=2, verbose=0,
                  callbacks=[train.LambdaCallback(on_batch_end=interrupt)])
    assert isinstance(info.value, KeyboardInterrupt) and info.value.checkpoint is None
