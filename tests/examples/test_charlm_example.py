"""Smoke test of examples/charlm: train.py for two tiny epochs on one text file, a resume
that finds the run complete, and sample.py on its checkpoint."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "charlm")


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    # The nnthe of this checkout, not whichever one the interpreter has installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    return subprocess.run([sys.executable, os.path.join(EXAMPLE, script), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_train_resume_and_sample(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 200)
    ckpt = str(tmp_path / "run")
    common = ["--text", str(text), "--seq-len", "20", "--units", "16", "--embed", "8",
              "--epochs", "2", "--verbose", "2", "--checkpoint-dir", ckpt]
    res = _run("train.py", *common)
    assert res.returncode == 0, res.stderr
    assert "val_bits_per_char" in res.stdout and "bits per character after 2 epochs" in res.stdout
    assert any(f.startswith("ckpt-") for f in os.listdir(ckpt))
    res = _run("train.py", *common, "--resume")
    assert res.returncode == 0, res.stderr
    res = _run("sample.py", "--checkpoint", ckpt, "--length", "30", "--prime", "the ")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("the ") and len(res.stdout) >= 30


def test_sample_refuses_a_missing_checkpoint(tmp_path):
    res = _run("sample.py", "--checkpoint", str(tmp_path / "nothing"))
    assert res.returncode != 0 and "no checkpoint" in res.stderr
