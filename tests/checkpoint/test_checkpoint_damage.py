"""Damaged files: a load never hangs, never loads wrong values, never leaks a raw h5py error.

The fuzz tests load thousands of damaged copies of a checkpoint, each under a timeout in a
worker process (see fuzz_helpers): a hang is detected, not suffered. Seeds and counts are
fixed; the default run takes seconds, ``-m slow`` runs ten times more cases.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

import nnthe
from nnthe.checkpoint import CheckpointError, CheckpointManager, CheckpointWarning, load_checkpoint
from nnthe.checkpoint import load as load_module
from nnthe.checkpoint import save_checkpoint
from nnthe.checkpoint.load import verify_checkpoint
from ckpt_helpers import (StandInModel, StandInOptimizer, assert_same, child_env, scramble,
                          snapshot)
from fuzz_helpers import run_cases

SIZES = (4, 3, 2)
FORMAT1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "format1.h5")
# format1.h5 was written by nnthe's format 1 writer (main before checksums) with
#   m = StandInModel(); o = StandInOptimizer(m)
#   save_checkpoint(path, model=m, optimizer=o, meta={"step": 5, "val_loss": 0.25})


def _intact(tmp_path):
    model = StandInModel(sizes=SIZES)
    opt = StandInOptimizer(model)
    path = str(tmp_path / "intact.h5")
    save_checkpoint(path, model=model, optimizer=opt, meta={"step": 5, "val_loss": 0.25})
    return path


def _byte_changes(data, n, seed, offsets=None):
    rnd = random.Random(seed)
    for _ in range(n):
        off = rnd.choice(offsets) if offsets is not None else rnd.randrange(len(data))
        b = bytearray(data)
        b[off] = (b[off] + rnd.randrange(1, 256)) % 256
        yield f"byte {off}: {data[off]} -> {b[off]}", bytes(b)


def _bit_flips(data, offsets, n, seed):
    rnd = random.Random(seed)
    for _ in range(n):
        off = rnd.choice(offsets)
        bit = rnd.randrange(8)
        b = bytearray(data)
        b[off] ^= 1 << bit
        yield f"bit {bit} of byte {off}", bytes(b)


def _report(name, counts):
    # Shown with -s / on failure: tried / clear error / loaded unchanged / wrong or hang.
    print(f"\n{name}: tried {sum(counts.values())}, clear error {counts['clear']}, "
          f"identical load {counts['same']}, wrong {counts['wrong']}, raw {counts['raw']}, "
          f"unnamed {counts['unnamed']}, hang {counts['hang']}, died {counts['died']}")


# -- 1. no hang, and no silent wrong load, on single-byte changes --------------------------

def _fuzz_format2(tmp_path, n, seed):
    path = _intact(tmp_path)
    data = open(path, "rb").read()
    counts, bad = run_cases(path, SIZES, _byte_changes(data, n, seed), str(tmp_path))
    _report("format 2, single-byte changes", counts)
    assert bad == [], bad[:10]
    assert counts["clear"] > n // 2


def test_fuzz_byte_changes_never_hang_nor_load_wrong(tmp_path):
    _fuzz_format2(tmp_path, n=1000, seed=0)


@pytest.mark.slow
def test_fuzz_byte_changes_many(tmp_path):
    _fuzz_format2(tmp_path, n=20000, seed=1)


def _gcol_offsets(data):
    start = data.find(b"GCOL")
    assert start >= 0
    return list(range(start, start + 160))


def _fuzz_format1(tmp_path, n, seed):
    # Half the changes hit the global heap (where HDF5 looped forever on a bad size),
    # half anywhere. Format 1 has no checksums: a changed value may load (counted as
    # "wrong"), but nothing hangs and every error is a CheckpointError naming the file.
    data = open(FORMAT1, "rb").read()
    mutants = [*_byte_changes(data, n // 2, seed, _gcol_offsets(data)),
               *_byte_changes(data, n - n // 2, seed + 1)]
    counts, bad = run_cases(FORMAT1, SIZES, mutants, str(tmp_path))
    _report("format 1, single-byte changes", counts)
    bad = [b for b in bad if not b[1].startswith("wrong")]
    assert bad == [], bad[:10]
    assert counts["hang"] == 0


def test_fuzz_format1_file_never_hangs(tmp_path):
    _fuzz_format1(tmp_path, n=400, seed=0)


@pytest.mark.slow
def test_fuzz_format1_file_many(tmp_path):
    _fuzz_format1(tmp_path, n=8000, seed=1)


def test_format2_stores_nothing_in_the_global_heap(tmp_path):
    path = _intact(tmp_path)
    assert b"GCOL" not in open(path, "rb").read()
    with h5py.File(path, "r") as f:
        objs = [f]
        f.visititems(lambda name, obj: objs.append(obj))
        for obj in objs:
            for key in obj.attrs:
                assert obj.attrs.get_id(key).dtype.kind == "S", (obj.name, key)


def test_format1_files_still_load(tmp_path):
    model = StandInModel(sizes=SIZES)
    opt = StandInOptimizer(model)
    want = snapshot(model, opt)
    scramble(model, opt)
    meta = load_checkpoint(FORMAT1, model=model, optimizer=opt)
    assert_same(snapshot(model, opt), want)
    assert meta == {"step": 5, "val_loss": 0.25} and meta.format_version == "1.0"
    assert meta.model_config == {"class": "StandInModel", "sizes": [4, 3, 2]}
    assert meta.verified is False
    assert verify_checkpoint(FORMAT1).verified is False


def test_format1_with_a_damaged_global_heap_is_refused_at_once(tmp_path):
    # The size of the first object of the global heap: 0x10 -> 0xff made HDF5 loop forever.
    data = bytearray(open(FORMAT1, "rb").read())
    start = data.find(b"GCOL")
    data[start + 24] = 0xFF
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(data))
    # In a child, under a timeout: a regression would hang HDF5 (Ctrl-C ignored).
    code = ("import sys\nfrom nnthe.checkpoint import CheckpointError, load_checkpoint\n"
            "try:\n    load_checkpoint(sys.argv[1])\nexcept CheckpointError as exc:\n    print(exc)")
    try:
        out = subprocess.run([sys.executable, "-c", code, str(bad)], capture_output=True,
                             text=True, timeout=60, env=child_env())
    except subprocess.TimeoutExpired:
        pytest.fail("loading a format 1 file with a damaged global heap hangs")
    assert re.search(r"bad\.h5: the global heap at byte \d+", out.stdout), (out.stdout, out.stderr)


# -- 2. every bit that matters is checked --------------------------------------------------

def _ranges_that_matter(path):
    """Byte offsets of every dataset's data and of every attribute's value."""
    data = open(path, "rb").read()
    offsets = {"data": [], "attributes": []}
    with h5py.File(path, "r") as f:
        dsets = []
        f.visititems(lambda name, obj: dsets.append(obj) if isinstance(obj, h5py.Dataset) else None)
        values = [f.attrs[k] for k in f.attrs]
        for d in dsets:
            values.append(d.attrs["sha256"])
            if d.chunks is not None:
                for i in range(d.id.get_num_chunks()):
                    info = d.id.get_chunk_info(i)
                    offsets["data"].extend(range(info.byte_offset, info.byte_offset + info.size))
            else:
                start = d.id.get_offset()
                if start is not None:
                    offsets["data"].extend(range(start, start + d.id.get_storage_size()))
                else:  # compact: the value is in the object header
                    values.append(d[()].tobytes())
    for v in values:
        v = bytes(v)
        pos = data.find(v)
        assert pos >= 0, v
        while pos >= 0:  # (two zero arrays of one shape share their hash)
            offsets["attributes"].extend(range(pos, pos + len(v)))
            pos = data.find(v, pos + 1)
    return data, offsets


def test_300_bit_flips_in_data_and_metadata_are_all_detected(tmp_path):
    path = _intact(tmp_path)
    data, offsets = _ranges_that_matter(path)
    assert len(offsets["data"]) > 300 and len(offsets["attributes"]) > 100
    mutants = [*_bit_flips(data, offsets["data"], 200, seed=0),
               *_bit_flips(data, offsets["attributes"], 100, seed=1)]
    counts, bad = run_cases(path, SIZES, mutants, str(tmp_path))
    _report("format 2, bit flips in data and metadata", counts)
    assert counts["clear"] == 300, (counts, bad[:10])


@pytest.mark.slow
def test_3000_bit_flips_in_data_and_metadata_are_all_detected(tmp_path):
    path = _intact(tmp_path)
    data, offsets = _ranges_that_matter(path)
    mutants = [*_bit_flips(data, offsets["data"], 2000, seed=2),
               *_bit_flips(data, offsets["attributes"], 1000, seed=3)]
    counts, bad = run_cases(path, SIZES, mutants, str(tmp_path))
    assert counts["clear"] == 3000, (counts, bad[:10])


def test_a_changed_value_names_the_file_and_the_dataset(tmp_path):
    w = nnthe.shared(np.arange(1000, dtype="float32"), name="layer/W")
    path = tmp_path / "ck.h5"
    save_checkpoint(path, params=[w])
    with h5py.File(path, "r") as f:
        info = f["params/layer/W"].id.get_chunk_info(0)
    raw = bytearray(path.read_bytes())
    raw[info.byte_offset + 123] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"ck\.h5: /params/layer/W cannot be read .*"):
        load_checkpoint(path, params=[w])
    # Rewritten by a tool that does not know the checksums (fletcher32 cleared): the
    # sha256 still tells.
    path2 = tmp_path / "ck2.h5"
    save_checkpoint(path2, params=[w])
    with h5py.File(path2, "a") as f:
        f["params/layer/W"][5] = 7.0
    with pytest.raises(CheckpointError, match=r"ck2\.h5: /params/layer/W is damaged: .*sha256"):
        load_checkpoint(path2, params=[w])
    with h5py.File(path2, "a") as f:
        f.attrs["created"] = np.bytes_(b"2020-01-01T00:00:00+00:00")
    with pytest.raises(CheckpointError, match=r"ck2\.h5 is damaged: its manifest checksum"):
        load_checkpoint(path2)


# -- 3. raw h5py errors never escape ---------------------------------------------------------

@pytest.mark.parametrize("exc", [KeyError("Unable to synchronously open object (incorrect metadata checksum)"),
                                 ValueError("Insufficient precision in available types"),
                                 OSError("Can't read data"), RuntimeError("Set slist enabled failed"),
                                 TypeError("No NumPy equivalent for TypeBitfieldID exists")])
@pytest.mark.parametrize("where", ["open", "read"])
def test_any_h5py_error_becomes_a_checkpoint_error_naming_the_file(tmp_path, monkeypatch, exc, where):
    path = _intact(tmp_path)
    model = StandInModel(sizes=SIZES)
    if where == "open":
        def failing(*args, **kwargs):
            raise exc
        monkeypatch.setattr(load_module.h5py, "File", failing)
    else:
        def failing(self, *args):
            raise exc
        monkeypatch.setattr(load_module.h5py.Dataset, "__getitem__", failing)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, model=model)
    assert path in str(info.value) and type(exc).__name__ in str(info.value)


def _damaged_files(folder):
    """Files named like checkpoints that cannot be read, each in another way."""
    (folder / "ckpt-00000001.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)   # truncated
    (folder / "ckpt-00000002.h5").write_bytes(b"")                                  # empty
    (folder / "ckpt-00000003.h5").write_bytes(b"not a checkpoint")                  # foreign
    with h5py.File(folder / "ckpt-00000004.h5", "w") as f:                         # not ours
        f["x"] = np.zeros(3)


def test_unreadable_old_files_never_make_a_save_fail(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    folder.mkdir()
    _damaged_files(folder)
    shutil.copy(FORMAT1, folder / "ckpt-00000005.h5")
    bad6 = str(folder / "ckpt-00000006.h5")
    save_checkpoint(bad6, params={"w": nnthe.shared(np.zeros(3, "float32"))}, meta={"loss": 0.0})
    real_file = h5py.File

    def file(name, *args, **kwargs):  # what h5py raises for a damaged v2 object header
        if os.fspath(name) == bad6:
            raise KeyError("Unable to synchronously open object (incorrect metadata checksum "
                           "after all read attempts)")
        return real_file(name, *args, **kwargs)

    monkeypatch.setattr(load_module.h5py, "File", file)
    mgr = CheckpointManager(folder, keep=2, keep_best="loss")
    w = nnthe.shared(np.ones(3, "float32"), name="w")
    with pytest.warns(CheckpointWarning, match="skipping .*ckpt-0000000[1-46]"):
        for step, loss in ((7, 0.5), (8, 0.7), (9, 0.6)):
            mgr.save(step, params=[w], metric=loss)
    assert [s for s, _ in mgr.checkpoints()] == [7, 8, 9]
    assert mgr.best().endswith("ckpt-00000007.h5")
    assert mgr.unreadable == {}  # the unreadable ones were pruned (they were old)
    # Skipped, not deleted, when they are among the last kept.
    _damaged_files(folder)
    mgr2 = CheckpointManager(folder, keep=None, keep_best="loss")
    with pytest.warns(CheckpointWarning):
        assert mgr2.best().endswith("ckpt-00000007.h5")
    assert sorted(os.path.basename(p) for p in mgr2.unreadable) == [
        f"ckpt-0000000{i}.h5" for i in (1, 2, 3, 4)]
    assert all(p in msg for p, msg in mgr2.unreadable.items())
