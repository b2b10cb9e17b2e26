"""The TensorBoard callback: the event file read back record by record."""
from __future__ import annotations

import struct
import sys
from collections import defaultdict

import numpy as np
import pytest

pytest.importorskip("tensorboardX", reason="the TensorBoard callback needs the tensorboard extra")

from tensorboardX.proto import event_pb2  # noqa: E402

from nnthe import optim  # noqa: E402
from nnthe.train import fit  # noqa: E402
from nnthe.train.tensorboard import TensorBoard  # noqa: E402

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from train_helpers import data, tiny_model  # noqa: E402


def read_events(log_dir):
    """{tag: [(step, value or histogram)]} from every event file (TFRecord framing:
    length u64, crc u32, payload, crc u32)."""
    out = defaultdict(list)
    files = sorted(log_dir.glob("events.out.tfevents.*"))
    assert files, f"no event file in {log_dir}"
    for path in files:
        raw = path.read_bytes()
        pos = 0
        while pos < len(raw):
            (n,) = struct.unpack("<Q", raw[pos:pos + 8])
            ev = event_pb2.Event.FromString(raw[pos + 12:pos + 12 + n])
            pos += 12 + n + 4
            for v in ev.summary.value:
                out[v.tag].append((ev.step, v.histo if v.HasField("histo") else v.simple_value))
    return out


def test_scalars_and_histograms_are_written(tmp_path):
    X, y = data()
    model = tiny_model()
    tb = TensorBoard(tmp_path / "run")
    history = fit(model, (X, y), optimizer=optim.SGD(0.1), epochs=3, batch_size=30,
                  validation_data=data(30, seed=1), callbacks=[tb], verbose=0)
    ev = read_events(tmp_path / "run")
    # 90 examples / 30 = 3 steps per epoch, 9 in all.
    assert [s for s, _ in ev["step/loss"]] == list(range(1, 10))
    assert [s for s, _ in ev["step/accuracy"]] == list(range(1, 10))
    np.testing.assert_allclose([v for _, v in ev["step/lr"]], 0.1, rtol=1e-6)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        steps, values = zip(*ev[f"epoch/{key}"])
        assert steps == (1, 2, 3)
        np.testing.assert_allclose(values, history[key], rtol=1e-6)
    assert [s for s, _ in ev["epoch/lr"]] == [1, 2, 3]
    for name, var in model.named_params().items():
        hist = ev[f"params/{name}"]
        assert [s for s, _ in hist] == [1, 2, 3]
        last = hist[-1][1]
        w = var.get_value()
        assert last.num == w.size
        np.testing.assert_allclose([last.min, last.max, last.sum], [w.min(), w.max(), w.sum()],
                                   rtol=1e-5, atol=1e-6)
    assert tb.writer is None  # closed by on_train_end


def test_update_and_histogram_frequency(tmp_path):
    X, y = data()
    fit(tiny_model(), (X, y), optimizer=optim.SGD(0.1), epochs=2, batch_size=30, verbose=0,
        callbacks=[TensorBoard(tmp_path / "a", update_freq=2, histogram_freq=2)])
    ev = read_events(tmp_path / "a")
    assert [s for s, _ in ev["step/loss"]] == [2, 4, 6]
    assert [s for s, _ in ev["params/0/W"]] == [2]
    fit(tiny_model(), (X, y), optimizer=optim.SGD(0.1), epochs=1, batch_size=30, verbose=0,
        callbacks=[TensorBoard(tmp_path / "b", update_freq="epoch", histogram_freq=0)])
    ev = read_events(tmp_path / "b")
    assert "step/loss" not in ev and "params/0/W" not in ev and ev["epoch/loss"]


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(tmp_path, update_freq="step")
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard(tmp_path, histogram_freq=-1)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"nnthe\[tensorboard\]"):
        TensorBoard(tmp_path)


def test_keras_path_names_the_same_callback():
    from nnthe.train import callbacks
    from nnthe.train.tensorboard import TensorBoard

    assert callbacks.TensorBoard is TensorBoard
    with pytest.raises(AttributeError, match="no attribute 'TensorBord'"):
        callbacks.TensorBord
