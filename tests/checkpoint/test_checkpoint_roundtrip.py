"""save_checkpoint / load_checkpoint: round trips, the file layout, metadata, argument errors."""
from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

import nnthe
from nnthe.checkpoint import (FORMAT_VERSION, CheckpointError, Metadata, load_checkpoint,
                              save_checkpoint)
from ckpt_helpers import (resign, StandInModel, StandInOptimizer, StandInStream, assert_same, scramble,
                          snapshot)


@pytest.fixture
def objs():
    model = StandInModel()
    return model, StandInOptimizer(model), StandInStream()


def test_round_trip_restores_every_value(tmp_path, objs):
    path = tmp_path / "run.h5"
    before = snapshot(*objs)
    out = save_checkpoint(path, model=objs[0], optimizer=objs[1], rng=objs[2],
                          meta={"epoch": 3, "metrics": {"loss": 0.25}})
    assert out == str(path)
    scramble(*objs)
    meta = load_checkpoint(path, model=objs[0], optimizer=objs[1], rng=objs[2])
    assert_same(snapshot(*objs), before)
    assert isinstance(meta, Metadata)
    assert meta == {"epoch": 3, "metrics": {"loss": 0.25}}
    assert meta.report.ok and len(meta.report.loaded) == len(before)
    assert meta.format_version == "%d.%d" % FORMAT_VERSION
    assert meta.nnthe_version == nnthe.__version__
    assert meta.model_config == {"class": "StandInModel", "sizes": [4, 3, 2]}
    assert meta.created.endswith("+00:00")


def test_loaded_values_are_independent_of_the_file_and_of_each_other(tmp_path, objs):
    model = objs[0]
    save_checkpoint(tmp_path / "a.h5", model=model)
    load_checkpoint(tmp_path / "a.h5", model=model)
    w = model.named_params()["0/W"]
    w.get_value(borrow=True)[...] = 7  # must not affect anything else
    assert not np.any(model.named_params()["1/W"].get_value() == 7)


def test_file_is_plain_hdf5_with_parameters_by_name(tmp_path, objs):
    model, opt, stream = objs
    path = tmp_path / "run.h5"
    save_checkpoint(path, model=model, optimizer=opt, rng=stream, meta={"epoch": 1})
    with h5py.File(path, "r") as f:
        names = []
        f.visit(names.append)
        assert "params/0/W" in names and "params/1/b" in names
        assert isinstance(f["params/0"], h5py.Group)
        np.testing.assert_array_equal(f["params/0/W"][()], model.named_params()["0/W"].get_value())
        assert f["params/0/W"].dtype == np.float32
        assert "optimizer/state/0/W/velocity" in names
        assert "optimizer/state/step" in names
        assert "optimizer/hyperparams/learning_rate" in names
        assert "random_states/dropout/rng/0" in names and f["random_states/dropout/rng/0"].dtype == np.uint64
        assert "rng/s0" in names
        # JSON as UTF-8 bytes, and fixed-length attributes: nothing in HDF5's global heap.
        assert json.loads(f["meta"][()].tobytes()) == {"epoch": 1}
        assert f.attrs["format_version"] == b"%d.%d" % FORMAT_VERSION
        assert all(f.attrs.get_id(k).dtype.kind == "S" for k in f.attrs)
        # Data checked by HDF5 itself too (fletcher32), and by a hash stored beside it.
        assert f["params/0/W"].fletcher32 and len(f["params/0/W"].attrs["sha256"]) == 64
        # The model's order is kept, so h5ls lists layers as the model has them.
        assert list(f["params"]) == ["0", "1", "bn"]


@pytest.mark.parametrize("compression", ["gzip", "lzf", True, 9])
def test_compression(tmp_path, compression):
    big = nnthe.shared(np.zeros((200, 100), dtype="float32"), name="W")
    scalar = nnthe.shared(np.float32(2.0), name="s")
    empty = nnthe.shared(np.zeros((0, 3), dtype="float32"), name="e")
    save_checkpoint(tmp_path / "c.h5", params=[big, scalar, empty], compression=compression)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert f["params/W"].compression in ("gzip", "lzf")
    assert os.path.getsize(tmp_path / "c.h5") < 200 * 100 * 4 / 4
    big.set_value(np.ones((200, 100), dtype="float32"))
    load_checkpoint(tmp_path / "c.h5", params=[big, scalar, empty])
    assert not big.get_value().any()


def test_params_as_list_or_dict_and_dtypes(tmp_path):
    vals = {"a": np.arange(6, dtype="float64").reshape(2, 3), "b": np.array([True, False]),
            "c": np.arange(3, dtype="int32"), "d": np.array(5, dtype="uint8"),
            "e": np.array([1 + 2j], dtype="complex64"), "f": np.ones(2, dtype="float16")}
    vars_ = [nnthe.shared(v, name=k) for k, v in vals.items()]
    save_checkpoint(tmp_path / "p.h5", params=vars_)
    fresh = {k: nnthe.shared(np.zeros_like(v)) for k, v in vals.items()}
    load_checkpoint(tmp_path / "p.h5", params=fresh)
    for k, v in vals.items():
        got = fresh[k].get_value()
        assert got.dtype == v.dtype
        np.testing.assert_array_equal(got, v)


def test_model_and_extra_params_together(tmp_path):
    model = StandInModel()
    extra = nnthe.shared(np.ones(3, dtype="float32"))
    save_checkpoint(tmp_path / "m.h5", model=model, params={"extra/x": extra})
    extra.set_value(np.zeros(3, dtype="float32"))
    load_checkpoint(tmp_path / "m.h5", model=model, params={"extra/x": extra})
    assert extra.get_value().sum() == 3


def test_load_only_some_sections(tmp_path, objs):
    model, opt, stream = objs
    save_checkpoint(tmp_path / "full.h5", model=model, optimizer=opt, rng=stream)
    fresh = StandInModel(seed=5)
    load_checkpoint(tmp_path / "full.h5", model=fresh)  # optimizer state in the file is fine
    np.testing.assert_array_equal(fresh.named_params()["0/W"].get_value(),
                                  model.named_params()["0/W"].get_value())
    meta = load_checkpoint(tmp_path / "full.h5")  # nothing to load: just the metadata
    assert meta == {} and meta.report.loaded == []


def test_meta_numpy_scalars_become_numbers(tmp_path):
    p = nnthe.shared(np.zeros(2, dtype="float32"), name="p")
    save_checkpoint(tmp_path / "m.h5", params=[p],
                    meta={"loss": np.float32(0.5), "step": np.int64(7), "nan": float("nan")})
    meta = load_checkpoint(tmp_path / "m.h5", params=[p])
    assert meta["loss"] == 0.5 and meta["step"] == 7 and type(meta["step"]) is int
    assert np.isnan(meta["nan"])


@pytest.mark.parametrize("meta, match", [
    ({"a": object()}, "JSON-serializable"),
    ({"w": np.zeros(3)}, "JSON-serializable"),
    ({1: "x"}, "keys must be str"),
    ([1, 2], "meta must be a dict"),
])
def test_bad_meta_is_refused_before_writing(tmp_path, meta, match):
    p = nnthe.shared(np.zeros(2, dtype="float32"), name="p")
    save_checkpoint(tmp_path / "m.h5", params=[p], meta={"old": True})
    with pytest.raises(TypeError, match=match):
        save_checkpoint(tmp_path / "m.h5", params=[p], meta=meta)
    assert load_checkpoint(tmp_path / "m.h5") == {"old": True}
    assert os.listdir(tmp_path) == ["m.h5"]  # no temporary file left


def test_model_config_must_be_json(tmp_path):
    class Bad(StandInModel):
        def config(self):
            return {"f": len}

    with pytest.raises(TypeError, match=r"model.config\(\) must be JSON"):
        save_checkpoint(tmp_path / "m.h5", model=Bad())
    assert not os.listdir(tmp_path)


def test_save_argument_errors(tmp_path):
    p = nnthe.shared(np.zeros(2, dtype="float32"))
    with pytest.raises(TypeError, match="nothing to save"):
        save_checkpoint(tmp_path / "x.h5")
    with pytest.raises(ValueError, match="has no name"):
        save_checkpoint(tmp_path / "x.h5", params=[p])
    q = nnthe.shared(np.zeros(2, dtype="float32"), name="q")
    with pytest.raises(ValueError, match="two shared variables are named 'q'"):
        save_checkpoint(tmp_path / "x.h5", params=[q, nnthe.shared(np.zeros(1), name="q")])
    with pytest.raises(ValueError, match="both a dataset and a group"):
        save_checkpoint(tmp_path / "x.h5", params={"a": q, "a/b": p})
    with pytest.raises(ValueError, match="cannot name a checkpoint entry"):
        save_checkpoint(tmp_path / "x.h5", params={"a//b": q})
    with pytest.raises(TypeError, match="must be a shared variable"):
        save_checkpoint(tmp_path / "x.h5", params={"a": np.zeros(2)})
    with pytest.raises(TypeError, match="has no named_params"):
        save_checkpoint(tmp_path / "x.h5", model=object())
    with pytest.raises(TypeError, match="has no .state"):
        save_checkpoint(tmp_path / "x.h5", optimizer=object())
    with pytest.raises(TypeError, match="did you mean 'optimizer'"):
        save_checkpoint(tmp_path / "x.h5", params=[q], optimiser=None)
    with pytest.raises(ValueError, match="compression must be"):
        save_checkpoint(tmp_path / "x.h5", params=[q], compression="zstd")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_checkpoint(tmp_path / "nodir" / "x.h5", params=[q])
    model = StandInModel()
    with pytest.raises(ValueError, match="also a parameter of the model"):
        save_checkpoint(tmp_path / "x.h5", model=model, params={"0/W": q})
    assert not os.listdir(tmp_path)


def test_load_argument_errors(tmp_path):
    q = nnthe.shared(np.zeros(2, dtype="float32"), name="q")
    save_checkpoint(tmp_path / "x.h5", params=[q])
    with pytest.raises(TypeError, match="did you mean 'strict'"):
        load_checkpoint(tmp_path / "x.h5", params=[q], strcit=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.h5", params=[q])
    with pytest.raises(IsADirectoryError):
        load_checkpoint(tmp_path, params=[q])


def test_overwrite_keeps_file_mode(tmp_path):
    q = nnthe.shared(np.zeros(2, dtype="float32"), name="q")
    path = tmp_path / "x.h5"
    save_checkpoint(path, params=[q])
    os.chmod(path, 0o640)
    save_checkpoint(path, params=[q])
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_reads_big_endian_data_written_by_another_tool(tmp_path):
    path = tmp_path / "be.h5"
    save_checkpoint(path, params=[nnthe.shared(np.zeros(3, dtype="float32"), name="w")])
    with h5py.File(path, "a") as f:
        del f["params/w"]
        f["params/w"] = np.arange(3, dtype=">f4")
    resign(path)
    w = nnthe.shared(np.zeros(3, dtype="float32"), name="w")
    load_checkpoint(path, params=[w])
    assert w.get_value().dtype == np.dtype("float32")
    np.testing.assert_array_equal(w.get_value(), [0, 1, 2])


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_lazy_names_on_the_package():
    assert nnthe.save_checkpoint is save_checkpoint
    assert nnthe.load_checkpoint is load_checkpoint
