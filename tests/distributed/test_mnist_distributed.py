"""examples/mnist/train.py --distributed on 2 ranks: trains the CNN, one line per epoch and
one test accuracy (rank 0's), on the bundled subset (nothing downloaded)."""
from __future__ import annotations

import os

from mpi_helpers import ROOT, run_mpi


def test_mnist_example_on_two_ranks(tmp_path):
    empty = tmp_path / "no-mnist-here"
    empty.mkdir()
    env = {"NNTHE_NO_DOWNLOAD": "1", "NNTHE_DATA": str(empty), "XDG_CACHE_HOME": str(empty)}
    script = os.path.join(ROOT, "examples", "mnist", "train.py")
    res = run_mpi(script, "--distributed", "--model", "cnn", "--epochs", "1", "--limit",
                  "1500", "--val-size", "300", "--checkpoint-dir", str(tmp_path / "run"),
                  env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "over 2 ranks (64 each)" in res.stdout
    assert res.stdout.count("epoch 1/1: loss") == 1, res.stdout
    assert res.stderr.count("SUBSET") == 1              # the data note once, from rank 0
    lines = [line for line in res.stdout.splitlines() if line.startswith("test accuracy")]
    assert len(lines) == 1, res.stdout
    assert 0.3 < float(lines[0].split()[2]) <= 1.0     # 1,200 images, one epoch: far above chance
    assert len([f for f in os.listdir(tmp_path / "run") if f.endswith(".h5")]) == 1
