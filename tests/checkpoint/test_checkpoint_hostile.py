"""Crafted and unusual files and paths: bounded memory, no blocking, clear messages."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tracemalloc

import h5py
import numpy as np
import pytest

import nnthe
from nnthe.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from nnthe.checkpoint import atomic as atomic_module
from nnthe.checkpoint import load as load_module
from nnthe.checkpoint import preflight as preflight_module
from nnthe.checkpoint.atomic import NAME_MAX, temp_stem
from ckpt_helpers import child_env

FORMAT1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "format1.h5")


def _w(n=3, value=0.0, shape=None):
    return nnthe.shared(np.full(n, value, dtype="float32"), name="w", shape=shape)


# -- 5. a small file never makes the loader allocate without bound --------------------------

@pytest.mark.parametrize("kind", ["unallocated", "chunked_gzip", "chunked_partial", "past_eof"])
def test_a_small_crafted_file_cannot_make_the_loader_allocate(tmp_path, kind):
    path = tmp_path / "crafted.h5"
    save_checkpoint(path, params=[_w()])
    n = 1 << 26   # 256 MiB of float32 declared in a file of a few KiB
    with h5py.File(path, "a") as f:
        del f["params/w"]
        if kind == "unallocated":     # reads as fill values: all allocation, no data
            f["params"].create_dataset("w", shape=(n,), dtype="float32")
        elif kind == "chunked_gzip":  # one compressed chunk claims to expand to 256 MiB
            d = f["params"].create_dataset("w", shape=(n,), dtype="float32", chunks=(n // 16,),
                                           compression="gzip")
            d[:16] = 1.0
        elif kind == "chunked_partial":
            d = f["params"].create_dataset("w", shape=(n,), dtype="float32", chunks=(1024,))
            d[:1024] = 1.0
        else:
            f["params"].create_dataset("w", data=np.zeros(4096, "float32"))
    if kind == "past_eof":  # the data of a contiguous dataset cut off by a truncation
        with h5py.File(path, "r") as f:
            offset = f["params/w"].id.get_offset()
        with open(path, "r+b") as fh:
            fh.truncate(offset + 100)
    else:
        with h5py.File(path, "a") as f:  # a checksum, so only the size check can refuse it
            f["params/w"].attrs["sha256"] = np.bytes_(b"0" * 64)
    assert os.path.getsize(path) < 64 << 10
    w = _w(shape=(None,))  # any length fits the variable
    tracemalloc.start()
    try:
        # (HDF5 itself notices a file shorter than it says; the check here covers the rest)
        with pytest.raises(CheckpointError, match=r"crafted\.h5(: /params/w | is not a readable)") as info:
            load_checkpoint(path, params=[w])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak
    assert "refused" in str(info.value) or "truncated" in str(info.value)


def test_dataset_storage_is_checked_on_format1_files_too(tmp_path):
    path = tmp_path / "f1.h5"
    shutil.copy(FORMAT1, path)
    with h5py.File(path, "a") as f:
        del f["params/0/b"]
        f["params/0"].create_dataset("b", shape=(1 << 26,), dtype="float32")
    with pytest.raises(CheckpointError, match=r"/params/0/b has shape \(67108864,\).*refused"):
        load_checkpoint(path, params={"0/b": _w(shape=(None,))})


# -- 6. non-regular files and non-HDF5 files never reach HDF5 ---------------------------------

def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    code = textwrap.dedent(f"""
        from nnthe.checkpoint import CheckpointError, load_checkpoint
        try:
            load_checkpoint({str(fifo)!r})
        except CheckpointError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=child_env())
    assert "pipe.h5 is a named pipe (FIFO), not a regular file; refused" in out.stdout, out.stderr


def test_a_device_is_refused():
    with pytest.raises(CheckpointError, match="/dev/null is a character device, not a regular file"):
        load_checkpoint("/dev/null")


@pytest.mark.parametrize("content", [b"", b"hello, not hdf5", b"PK\x03\x04" + b"\0" * 100,
                                     b"\x89HDF\r\n\x1a"])
def test_no_hdf5_signature_is_refused_before_h5py_sees_the_file(tmp_path, monkeypatch, content):
    path = tmp_path / "x.h5"
    path.write_bytes(content)

    def never(*args, **kwargs):  # HDF5 would search HDF5_PLUGIN_PATH for a connector
        raise AssertionError("h5py.File was called on a file that is not HDF5")

    monkeypatch.setattr(load_module.h5py, "File", never)
    with pytest.raises(CheckpointError, match=r"x\.h5 is (empty \(0 bytes\)|not a readable HDF5 "
                                              r"file \(truncated, corrupt or another format\): it "
                                              r"does not start with the 8-byte HDF5 signature)"):
        load_checkpoint(path)


def test_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "ck.h5"
    save_checkpoint(path, params=[_w()])
    if os.geteuid() != 0:   # root reads any file: simulate the refusal instead
        path.chmod(0)
    else:
        real = os.open

        def refuse(p, *args, **kwargs):
            if os.fspath(p) == str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return real(p, *args, **kwargs)

        monkeypatch.setattr(preflight_module.os, "open", refuse)
    with pytest.raises(CheckpointError, match=r"ck\.h5 cannot be read: permission denied"):
        load_checkpoint(path, params=[_w()])


# -- 7. temporary files, long names, symlinks, write errors -----------------------------------

def _dead_pid():
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_a_save_removes_stale_temp_files_of_its_target_only(tmp_path):
    host, dead, live = atomic_module._HOST, _dead_pid(), os.getppid()
    stale = tmp_path / f".ck.h5.{host}.{dead}.deadbeef.tmp"
    other_target = tmp_path / f".other.h5.{host}.{dead}.deadbeef.tmp"
    in_progress = tmp_path / f".ck.h5.{host}.{live}.cafe1234.tmp"
    other_host = tmp_path / f".ck.h5.otherhost.{dead}.deadbeef.tmp"
    for p in (stale, other_target, in_progress, other_host):
        p.write_bytes(b"x" * 1000)
    save_checkpoint(tmp_path / "ck.h5", params=[_w()])
    assert not stale.exists()
    assert other_target.exists() and in_progress.exists() and other_host.exists()


@pytest.mark.parametrize("length", [250, 251, 253, 255])
def test_names_up_to_255_bytes_can_be_saved(tmp_path, length):
    name = "c" * (length - 3) + ".h5"
    save_checkpoint(tmp_path / name, params=[_w(value=length)])
    w = _w()
    load_checkpoint(tmp_path / name, params=[w])
    assert w.get_value()[0] == length and os.listdir(tmp_path) == [name]


def test_long_multibyte_names_and_their_temp_stems(tmp_path):
    name = "é" * 126 + ".h5"                      # 255 bytes in UTF-8
    assert len(os.fsencode(name)) == 255
    save_checkpoint(tmp_path / name, params=[_w(value=1)])
    assert os.listdir(tmp_path) == [name]
    a, b = "x" * 240 + "a.h5", "x" * 240 + "b.h5"
    assert temp_stem(a) != temp_stem(b)
    for stem in (temp_stem(a), temp_stem(b), temp_stem(name)):
        assert len(os.fsencode(stem)) + atomic_module._SUFFIX_ROOM + 1 <= NAME_MAX
    assert temp_stem("short.h5") == "short.h5"


def test_saving_through_a_symlink_writes_the_linked_file(tmp_path):
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    target = real_dir / "real.h5"
    save_checkpoint(target, params=[_w(value=1)], meta={"n": 1})
    link = tmp_path / "latest.h5"
    link.symlink_to(target)
    assert save_checkpoint(link, params=[_w(value=2)], meta={"n": 2}) == str(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    w = _w()
    assert load_checkpoint(target, params=[w]) == {"n": 2} and w.get_value()[0] == 2
    assert sorted(os.listdir(real_dir)) == ["real.h5"] and sorted(os.listdir(tmp_path)) == ["latest.h5", "store"]
    dangling = tmp_path / "dangling.h5"
    dangling.symlink_to(real_dir / "new.h5")
    save_checkpoint(dangling, params=[_w(value=3)])
    assert dangling.is_symlink() and (real_dir / "new.h5").is_file()


def test_permission_denied_on_save_says_so(tmp_path, monkeypatch):
    real = os.open

    def refuse(p, flags, *args):
        if os.fspath(p).endswith(".tmp"):
            raise PermissionError(13, "Permission denied", p)
        return real(p, flags, *args)

    monkeypatch.setattr(atomic_module.os, "open", refuse)
    with pytest.raises(PermissionError, match=r"cannot write .*ck\.h5: permission denied to "
                                              r"create a file in the folder"):
        save_checkpoint(tmp_path / "ck.h5", params=[_w()])
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_permission_denied_on_a_real_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="permission denied"):
            save_checkpoint(folder / "ck.h5", params=[_w()])
    finally:
        folder.chmod(0o700)


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE and SIGXFSZ")
def test_the_file_size_limit_gets_a_message_that_says_so(tmp_path):
    path = tmp_path / "ck.h5"
    save_checkpoint(path, params=[_w(value=1)], meta={"n": 1})
    code = textwrap.dedent(f"""
        import resource, signal
        import numpy as np
        import nnthe
        from nnthe.checkpoint import save_checkpoint
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        w = nnthe.shared(np.ones(1 << 18, dtype="float32"), name="w")
        try:
            save_checkpoint({str(path)!r}, params=[w], meta={{"n": 2}})
        except Exception as exc:
            print(type(exc).__name__, exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=child_env())
    assert out.stdout.startswith("OSError"), (out.stdout, out.stderr)
    assert "file-size limit of this process (200000 bytes, 'ulimit -f')" in out.stdout
    assert load_checkpoint(path, params=[_w()]) == {"n": 1}
    assert os.listdir(tmp_path) == ["ck.h5"]


def test_meta_text_that_is_not_utf8(tmp_path):
    # A str with lone surrogates (os.fsdecode of undecodable bytes) round-trips: the JSON
    # escapes it. A file whose metadata bytes are not UTF-8 gets a CheckpointError.
    meta = {"file": os.fsdecode(b"run-\xff.h5"), os.fsdecode(b"k\xfe"): 1}
    save_checkpoint(tmp_path / "a.h5", params=[_w()], meta=meta)
    assert load_checkpoint(tmp_path / "a.h5") == meta
    path = tmp_path / "f1.h5"
    shutil.copy(FORMAT1, path)
    with h5py.File(path, "a") as f:
        f.attrs["meta"] = np.bytes_(b'{"a": "\xff"}')
    with pytest.raises(CheckpointError, match=r"f1\.h5: 'meta' is not UTF-8 text"):
        load_checkpoint(path)
