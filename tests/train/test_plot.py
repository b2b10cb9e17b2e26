"""nnthe.train.plot_history: a PNG of the training curves."""
from __future__ import annotations

import struct
import sys

import pytest

pytest.importorskip("matplotlib", reason="plot_history needs the plot extra")

from nnthe.train import History  # noqa: E402
from nnthe.train.plot import plot_history, read_history  # noqa: E402


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])


def make_history(n=8):
    h = History()
    for e in range(1, n + 1):
        h.append({"epoch": e, "loss": 2.0 / e, "accuracy": 1 - 0.5 / e, "val_loss": 2.2 / e + 0.05,
                  "val_accuracy": 1 - 0.6 / e, "lr": 1e-3 * 0.5 ** (e - 1), "seconds": 1.5,
                  "samples_per_s": 1000.0})
    return h


def test_png_from_history_has_expected_size(tmp_path):
    out = plot_history(make_history(), tmp_path / "history.png", title="MNIST")
    # Two panels (loss, accuracy): 2 * 500 by 360 pixels.
    assert png_size(out) == (1000, 360)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_png_from_csv_with_steps_and_many_metrics(tmp_path):
    h = make_history(3)
    for row in h.epochs:
        row["top5"] = 0.9
        row["val_top5"] = 0.85
        row["f1"] = 0.7
    csv_path = tmp_path / "history.csv"
    h.to_csv(csv_path)
    rows, _ = read_history(csv_path)
    assert rows[0]["epoch"] == 1 and rows[1]["loss"] == 1.0
    steps = [{"step": s, "loss": 3.0 / s} for s in range(1, 31)]
    out = plot_history(csv_path, tmp_path / "h.png", steps=steps, columns=2)
    # Four panels (loss, accuracy, top5, f1) in two columns: 1000 by 720 pixels.
    assert png_size(out) == (1000, 720)
    h.steps = steps  # a history that records steps is drawn with them as well
    assert png_size(plot_history(h, tmp_path / "h2.png")) == (1500, 720)
    h.to_json(tmp_path / "history.jsonl")
    assert png_size(plot_history(tmp_path / "history.jsonl", tmp_path / "h3.png")) == (1500, 720)


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no history file"):
        plot_history(tmp_path / "missing.csv", tmp_path / "x.png")
    with pytest.raises(ValueError, match="no numeric column"):
        plot_history([{"epoch": 1, "seconds": 2.0}], tmp_path / "x.png")
    with pytest.raises(TypeError, match="expected a History"):
        plot_history(42, tmp_path / "x.png")
    with pytest.raises(ValueError, match="columns must be"):
        plot_history(make_history(), tmp_path / "x.png", columns=0)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"nnthe\[plot\]"):
        plot_history(make_history(), tmp_path / "x.png")
