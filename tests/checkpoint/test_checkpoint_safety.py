"""Strict, safe loading: every difference in one error, nothing half-loaded, unsafe files refused."""
from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

import nnthe
from nnthe.checkpoint import (CheckpointError, CheckpointMismatchError, CheckpointWarning,
                              load_checkpoint, save_checkpoint)
from ckpt_helpers import (StandInModel, StandInOptimizer, assert_same, resign, set_meta_bytes,
                          snapshot)


def _saved(tmp_path, **kw):
    model = StandInModel(**kw)
    opt = StandInOptimizer(model)
    path = tmp_path / "ck.h5"
    save_checkpoint(path, model=model, optimizer=opt, meta={"step": 5})
    return path, model, opt


def test_mismatch_lists_every_difference_and_changes_nothing(tmp_path):
    path, _, _ = _saved(tmp_path)
    other = StandInModel(sizes=(4, 5, 2), seed=3)            # 0/W, 0/b, 1/W: wrong shape
    other._params["extra"] = nnthe.shared(np.zeros(2, "float32"))   # missing from file
    del other._params["bn/running_mean"]                      # unexpected in file
    other._params["1/b"] = nnthe.shared(np.zeros(2, "float64"))     # wrong dtype
    opt = StandInOptimizer(other)
    before = snapshot(other, opt)
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint(path, model=other, optimizer=opt)
    msg = str(info.value)
    for text in ["missing from the file: params/extra",
                 "unexpected in the file: params/bn/running_mean",
                 "wrong shape: params/0/W: file (4, 3), expected (4, 5)",
                 "wrong shape: params/0/b: file (3,), expected (5,)",
                 "wrong shape: params/1/W: file (3, 2), expected (5, 2)",
                 "wrong dtype: params/1/b: file float32, expected float64",
                 "missing from the file: optimizer/state/extra/velocity",
                 "unexpected in the file: optimizer/state/bn/running_mean/velocity",
                 "nothing was loaded", str(path)]:
        assert text in msg, (text, msg)
    report = info.value.report
    assert report.missing == ["params/extra", "optimizer/state/extra/velocity"]
    assert len(report.wrong_shape) == 3 + 3 and len(report.wrong_dtype) == 2
    assert isinstance(info.value, ValueError)
    # The lone matching entries (step, learning_rate, random state) were not loaded either.
    assert_same(snapshot(other, opt), before)


def test_missing_name_gets_a_did_you_mean_hint(tmp_path):
    w = nnthe.shared(np.zeros(3, "float32"))
    save_checkpoint(tmp_path / "a.h5", params={"dense/W": w})
    with pytest.raises(CheckpointMismatchError, match="did you mean 'params/dense/W'"):
        load_checkpoint(tmp_path / "a.h5", params={"dense/w": w})


def test_missing_section(tmp_path):
    model = StandInModel()
    save_checkpoint(tmp_path / "a.h5", model=model)
    with pytest.raises(CheckpointMismatchError, match="optimizer/state/step"):
        load_checkpoint(tmp_path / "a.h5", model=model, optimizer=StandInOptimizer(model))


def test_non_strict_loads_what_matches_and_reports_the_rest(tmp_path):
    path, model, _ = _saved(tmp_path)
    other = StandInModel(sizes=(4, 3, 7), seed=3)  # layer 0 matches, layer 1 does not
    other._params["extra"] = nnthe.shared(np.zeros(2, "float32"))
    old_1W = other.named_params()["1/W"].get_value()
    with pytest.warns(CheckpointWarning, match="wrong shape: params/1/W"):
        meta = load_checkpoint(path, model=other, strict=False)
    np.testing.assert_array_equal(other.named_params()["0/W"].get_value(),
                                  model.named_params()["0/W"].get_value())
    np.testing.assert_array_equal(other.named_params()["1/W"].get_value(), old_1W)
    rep = meta.report
    assert not rep.ok
    assert "params/0/W" in rep.loaded and "params/1/W" not in rep.loaded
    assert rep.missing == ["params/extra"]
    assert [n for n, *_ in rep.wrong_shape] == ["params/1/W", "params/1/b", "params/bn/running_mean"]
    assert meta["step"] == 5
    assert "2 differences" not in str(rep) and "loaded" in str(rep)


def test_truncated_file(tmp_path):
    path, model, _ = _saved(tmp_path)
    data = path.read_bytes()
    for cut in (len(data) // 2, 100, 0):
        bad = tmp_path / f"cut{cut}.h5"
        bad.write_bytes(data[:cut])
        before = snapshot(model)
        with pytest.raises(CheckpointError, match=f"cut{cut}.h5"):
            load_checkpoint(bad, model=model)
        assert_same(snapshot(model), before)


def test_not_hdf5_and_not_a_checkpoint(tmp_path):
    (tmp_path / "x.h5").write_text("hello, not hdf5")
    with pytest.raises(CheckpointError, match=r"x\.h5 is not a readable HDF5"):
        load_checkpoint(tmp_path / "x.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["params/W"] = np.zeros(3)
    with pytest.raises(CheckpointError, match="not an nnthe checkpoint"):
        load_checkpoint(tmp_path / "other.h5")


def test_newer_major_version_refused_newer_minor_accepted(tmp_path):
    w = nnthe.shared(np.ones(3, "float32"), name="w")
    save_checkpoint(tmp_path / "a.h5", params=[w])
    with h5py.File(tmp_path / "a.h5", "a") as f:
        f.attrs["format_version"] = np.bytes_(b"2.7")
        f["future_section/thing"] = np.zeros(2)  # a newer minor version may add sections
    resign(tmp_path / "a.h5")
    assert load_checkpoint(tmp_path / "a.h5", params=[w]).format_version == "2.7"
    with h5py.File(tmp_path / "a.h5", "a") as f:
        f.attrs["format_version"] = np.bytes_(b"3.0")
    resign(tmp_path / "a.h5")
    with pytest.raises(CheckpointError, match="format 3.0, newer than this nnthe reads"):
        load_checkpoint(tmp_path / "a.h5", params=[w])
    with h5py.File(tmp_path / "a.h5", "a") as f:
        f.attrs["format_version"] = np.bytes_(b"one")
    with pytest.raises(CheckpointError, match="unreadable format_version"):
        load_checkpoint(tmp_path / "a.h5", params=[w])
    # A str attribute is a variable-length string (HDF5's global heap): never in format 2.
    with h5py.File(tmp_path / "a.h5", "a") as f:
        f.attrs["format_version"] = "2.0"
    with pytest.raises(CheckpointError, match="variable-length string"):
        load_checkpoint(tmp_path / "a.h5", params=[w])


def _tamper(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)


def _secret(tmp_path):
    with h5py.File(tmp_path / "secret.h5", "w") as f:
        f["x"] = np.full((4, 3), 42, dtype="float32")
    return tmp_path / "secret.h5"


@pytest.mark.parametrize("kind", ["external", "soft", "virtual", "external_storage"])
def test_links_and_foreign_data_are_refused(tmp_path, kind):
    path, model, _ = _saved(tmp_path)
    secret = _secret(tmp_path)

    def replace(f):
        del f["params/0/W"]
        if kind == "external":
            f["params/0/W"] = h5py.ExternalLink(str(secret), "/x")
        elif kind == "soft":
            f["params/0/W"] = h5py.SoftLink("/params/1/W")
        elif kind == "virtual":
            layout = h5py.VirtualLayout(shape=(4, 3), dtype="float32")
            layout[...] = h5py.VirtualSource(str(secret), "x", shape=(4, 3))
            f["params/0"].create_virtual_dataset("W", layout)
        else:
            raw = tmp_path / "raw.bin"
            raw.write_bytes(np.zeros(12, "float32").tobytes())
            f["params/0"].create_dataset("W", shape=(4, 3), dtype="float32",
                                         external=[(str(raw), 0, 48)])

    _tamper(path, replace)
    if kind == "external":  # the link works: h5py follows it
        with h5py.File(path, "r") as f:
            assert f["params/0/W"][0, 0] == 42
    before = snapshot(model)
    with pytest.raises(CheckpointError, match=r"/params/0/W .*refused"):
        load_checkpoint(path, model=model)
    assert_same(snapshot(model), before)


def test_links_outside_the_loaded_sections_are_refused_too(tmp_path):
    path, model, _ = _saved(tmp_path)
    _tamper(path, lambda f: f.__setitem__("elsewhere", h5py.SoftLink("/params")))
    with pytest.raises(CheckpointError, match="soft link"):
        load_checkpoint(path, model=model)


def test_hard_link_loop_is_refused(tmp_path):
    path, model, _ = _saved(tmp_path)
    _tamper(path, lambda f: f["params/0"].__setitem__("loop", f["params"]))
    with pytest.raises(CheckpointError, match="links back"):
        load_checkpoint(path, model=model)


@pytest.mark.parametrize("dtype", [
    h5py.string_dtype(), h5py.vlen_dtype(np.float32), np.dtype([("a", "f4"), ("b", "i4")]),
    np.dtype("S4"), h5py.ref_dtype, np.dtype("(2,)f4"),
])
def test_non_numeric_dtypes_are_refused(tmp_path, dtype):
    path, model, _ = _saved(tmp_path)

    def replace(f):
        del f["params/0/b"]
        f["params/0"].create_dataset("b", shape=(3,), dtype=dtype)

    _tamper(path, replace)
    with pytest.raises(CheckpointError, match=r"/params/0/b has dtype .*only numeric arrays"):
        load_checkpoint(path, model=model)


def test_committed_datatype_and_null_dataspace_refused(tmp_path):
    path, model, _ = _saved(tmp_path)
    _tamper(path, lambda f: f.__setitem__("mytype", np.dtype("f4")))
    with pytest.raises(CheckpointError, match="Datatype"):
        load_checkpoint(path, model=model)
    path2 = tmp_path / "b.h5"
    save_checkpoint(path2, model=model)
    _tamper(path2, lambda f: f.__setitem__("params/empty", h5py.Empty("f4")))
    with pytest.raises(CheckpointError, match="null"):
        load_checkpoint(path2, model=model)


def test_meta_must_be_a_json_object_in_utf8(tmp_path):
    path, model, _ = _saved(tmp_path)
    for data, msg in [(b"[1, 2]", "JSON object"), (b"{nope", "not valid JSON"),
                      (b'{"a": "\xff\xfe"}', "'meta' is not UTF-8 text")]:
        set_meta_bytes(path, data)
        with pytest.raises(CheckpointError, match=msg) as info:
            load_checkpoint(path, model=model)
        assert str(path) in str(info.value)


def test_corrupt_data_bytes_give_checkpoint_error(tmp_path):
    # A gzip-compressed dataset whose bytes were damaged: decompression fails on read.
    w = nnthe.shared(np.random.default_rng(0).standard_normal((256, 256)).astype("float32"), name="w")
    path = tmp_path / "z.h5"
    save_checkpoint(path, params=[w], compression="gzip")
    with h5py.File(path, "r") as f:
        offset = f["params/w"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 10: offset + 400] = os.urandom(390)
    path.write_bytes(bytes(data))
    before = w.get_value()
    with pytest.raises(CheckpointError, match="z.h5"):
        load_checkpoint(path, params=[w])
    np.testing.assert_array_equal(w.get_value(), before)
