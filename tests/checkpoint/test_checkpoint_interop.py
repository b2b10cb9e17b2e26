"""Parameters to and from .npz files and dicts of NumPy arrays."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
from nnthe.checkpoint import (CheckpointError, CheckpointMismatchError, CheckpointWarning,
                              export_npz, import_npz, load_state_dict, state_dict)
from ckpt_helpers import StandInModel, assert_same, scramble, snapshot


def test_state_dict_round_trip():
    model = StandInModel()
    sd = state_dict(model)
    assert list(sd) == ["0/W", "0/b", "1/W", "1/b", "bn/running_mean"]
    sd["0/W"][...] = 0  # a copy: the model is untouched
    assert model.named_params()["0/W"].get_value().any()
    fresh = StandInModel(seed=4)
    report = load_state_dict(fresh, state_dict(model))
    assert report.ok and len(report.loaded) == 5
    np.testing.assert_array_equal(fresh.named_params()["1/W"].get_value(),
                                  model.named_params()["1/W"].get_value())
    # The model does not alias the caller's arrays.
    arrays = state_dict(model)
    load_state_dict(fresh, arrays)
    arrays["1/W"][...] = 5
    assert not (fresh.named_params()["1/W"].get_value() == 5).any()


def test_state_dict_of_a_param_dict_or_list():
    w = nnthe.shared(np.ones(2, "float32"), name="w")
    assert list(state_dict([w])) == ["w"]
    assert list(state_dict({"a/w": w})) == ["a/w"]


def test_load_state_dict_mismatch_lists_all_and_changes_nothing():
    model = StandInModel()
    sd = state_dict(model)
    sd["0/W"] = np.zeros((4, 5), "float32")
    sd["1/b"] = sd["1/b"].astype("float64")
    del sd["bn/running_mean"]
    sd["surplus"] = np.zeros(1, "float32")
    fresh = StandInModel(seed=4)
    before = snapshot(fresh)
    with pytest.raises(CheckpointMismatchError) as info:
        load_state_dict(fresh, sd)
    msg = str(info.value)
    for text in ("wrong shape: 0/W: file (4, 5), expected (4, 3)",
                 "wrong dtype: 1/b: file float64, expected float32",
                 "missing from the file: bn/running_mean", "unexpected in the file: surplus"):
        assert text in msg
    assert_same(snapshot(fresh), before)
    with pytest.warns(CheckpointWarning):
        report = load_state_dict(fresh, sd, strict=False)
    assert sorted(report.loaded) == ["0/b", "1/W"]


def test_load_state_dict_errors():
    model = StandInModel()
    with pytest.raises(TypeError, match="expected a dict"):
        load_state_dict(model, [np.zeros(2)])
    with pytest.raises(TypeError, match="only numeric arrays"):
        load_state_dict(model, {"0/b": np.array(["a", "b", "c"])})


def test_npz_round_trip(tmp_path):
    model = StandInModel(rng_state=False)  # .npz holds parameters only
    before = snapshot(model)
    path = export_npz(tmp_path / "w.npz", model)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(model.named_params())
    scramble(model)
    assert import_npz(path, model).ok
    assert_same(snapshot(model), before)
    export_npz(tmp_path / "c.npz", model, compressed=True)
    assert import_npz(tmp_path / "c.npz", model).ok


def test_npz_refuses_pickles_and_bad_files(tmp_path):
    model = StandInModel()
    np.savez(tmp_path / "obj.npz", **{"0/b": np.array([{"x": 1}, None, 3], dtype=object)})
    with pytest.raises(CheckpointError, match="never unpickled"):
        import_npz(tmp_path / "obj.npz", model)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match="single .npy array"):
        import_npz(tmp_path / "one.npy", model)
    export_npz(tmp_path / "w.npz", model)
    data = (tmp_path / "w.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.npz"):
        import_npz(tmp_path / "cut.npz", model)
    with pytest.raises(FileNotFoundError):
        import_npz(tmp_path / "none.npz", model)
    with pytest.raises(ValueError, match="must end with .npz"):
        export_npz(tmp_path / "w.bin", model)
