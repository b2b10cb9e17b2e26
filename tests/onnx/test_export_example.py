"""examples/mnist/export_onnx.py on a checkpoint of the example's models."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")

import nnthe  # noqa: E402
import nnthe.tensor as T  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "mnist")
sys.path.insert(0, EXAMPLE)
import models  # noqa: E402

# The scripts import the nnthe of this tree, not whichever one is installed.
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.mark.parametrize("name,head", [("cnn", "logits"), ("mlp", "classes")])
def test_export_checkpoint(tmp_path, name, head):
    onnx = pytest.importorskip("onnx")
    model = models.build(name)
    model(T.tensor4("X", shape=(None, 1, 28, 28)))
    run = tmp_path / "run"
    run.mkdir()
    nnthe.save_checkpoint(str(run / "ckpt-00000001.h5"), model=model, meta={"model": name})
    res = subprocess.run([sys.executable, os.path.join(EXAMPLE, "export_onnx.py"),
                          "--checkpoint", str(run), "--which", "latest", "--head", head],
                         capture_output=True, text=True, timeout=300, env=ENV)
    assert res.returncode == 0, res.stdout + res.stderr
    out = run / "model.onnx"
    assert f"wrote {out}" in res.stdout
    onnx.checker.check_model(onnx.load(str(out)))
    if "onnxruntime" in res.stdout:
        assert "agrees with nnthe" in res.stdout


def test_refuses_unknown_checkpoint(tmp_path):
    res = subprocess.run([sys.executable, os.path.join(EXAMPLE, "export_onnx.py"),
                          "--checkpoint", str(tmp_path / "missing.h5")],
                         capture_output=True, text=True, timeout=300, env=ENV)
    assert res.returncode != 0 and "no checkpoint" in res.stderr
