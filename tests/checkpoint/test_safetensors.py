"""nnthe.checkpoint.load_safetensors / save_safetensors: no pickle, clear errors."""
from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("safetensors", reason="safetensors files need the torch-weights extra")

from nnthe import layers  # noqa: E402
import nnthe.tensor as T  # noqa: E402
from nnthe.checkpoint import CheckpointError, load_safetensors, save_safetensors  # noqa: E402


def test_roundtrip_keeps_names_order_dtypes(tmp_path, rng):
    arrays = {"b.weight": rng.normal(size=(3, 2)).astype("float32"),
              "a.bias": np.arange(4, dtype="int64"), "c": np.float64(2.5) * np.ones((2, 2, 2))}
    path = save_safetensors(tmp_path / "w.safetensors", arrays, metadata={"who": "test"})
    back = load_safetensors(path)
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype
        np.testing.assert_array_equal(back[k], v)


def test_save_model_params(tmp_path):
    model = layers.Sequential([layers.Dense(3)])
    model(T.matrix("x", shape=(None, 2)))
    back = load_safetensors(save_safetensors(tmp_path / "m.safetensors", model))
    assert set(back) == {"0/W", "0/b"}


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no safetensors file"):
        load_safetensors(tmp_path / "missing.safetensors")
    bad = tmp_path / "pickle.safetensors"
    bad.write_bytes(b"\x80\x04\x95 this is a pickle, not safetensors")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_safetensors(bad)
    good = save_safetensors(tmp_path / "t.safetensors", {"x": np.ones((100,), "float32")})
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(open(good, "rb").read()[:-50])
    with pytest.raises(CheckpointError, match="truncated.safetensors"):
        load_safetensors(truncated)
    with pytest.raises(TypeError, match="only numeric"):
        save_safetensors(tmp_path / "o.safetensors", {"s": np.array(["a"])})
    with pytest.raises(TypeError, match="expected a dict"):
        save_safetensors(tmp_path / "o.safetensors", [1, 2])


def test_without_safetensors_installed(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r"nnthe\[torch-weights\]"):
        load_safetensors(tmp_path / "x.safetensors")
