"""Checks made before a file is handed to HDF5: what HDF5 would block, loop or search on.

HDF5 trusts what it reads. Given a named pipe it blocks forever; given a file that is not
HDF5 it loads every library in ``HDF5_PLUGIN_PATH`` looking for a connector that can open
it; given a global heap whose sizes were damaged it can loop forever (while Ctrl-C is
ignored). Each of these is refused here first, with a :class:`CheckpointError` that says
what the file is.
"""
from __future__ import annotations

import mmap
import os
import stat
import struct

from .format import CheckpointError

#: The 8 bytes every HDF5 file starts with (at offset 0 when it has no user block).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

_KINDS = ((stat.S_ISFIFO, "named pipe (FIFO)"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))


def check_regular_hdf5(path: str) -> int:
    """Refuse anything but a regular, readable file that starts with the HDF5 signature.

    Returns the file's size. Raises FileNotFoundError and IsADirectoryError as ``open``
    would, and CheckpointError for everything else (naming ``path``).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint at {path}") from None
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{path} is a folder, not a checkpoint file")
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "special file")
        raise CheckpointError(f"{path} is a {kind}, not a regular file; refused (reading it "
                              "could block forever)")
    try:
        # O_NONBLOCK: should the file have been swapped for a pipe since the stat.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            head = os.read(fd, len(HDF5_SIGNATURE))
        finally:
            os.close(fd)
    except PermissionError:
        raise CheckpointError(f"{path} cannot be read: permission denied (the file's mode or "
                              "owner does not let this user read it)") from None
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if st.st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): not a readable checkpoint (truncated, "
                              "corrupt or another format; a save killed before it wrote anything?)")
    if head != HDF5_SIGNATURE:
        raise CheckpointError(
            f"{path} is not a readable HDF5 file (truncated, corrupt or another format): it does "
            f"not start with the 8-byte HDF5 signature (it starts with {head!r})")
    return st.st_size


_GCOL = b"GCOL\x01\x00\x00\x00"
_GCOL_HEADER = 16      # signature, version, reserved, collection size (8)
_OBJ_HEADER = 16       # index (2), reference count (2), reserved (4), size (8)


def check_global_heaps(path: str) -> int:
    """Walk every global heap collection of ``path`` as HDF5 would, and refuse it if damaged.

    HDF5 walks a collection's objects by their sizes; a size of 0 for the free-space
    object (index 0), or a walk that does not end exactly at the collection's end, makes
    it loop forever or read past the collection. Format 1 checkpoints keep their string
    attributes there. Returns the number of collections checked. (Only collections with
    a whole, version-1 signature are found; a damaged signature makes HDF5 refuse the
    collection by itself.)
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return 0
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            n = 0
            pos = data.find(_GCOL)
            while pos >= 0:
                _check_collection(data, pos, size, path)
                n += 1
                pos = data.find(_GCOL, pos + 1)
    return n


def _check_collection(data: mmap.mmap, start: int, file_size: int, path: str) -> None:
    where = f"{path}: the global heap at byte {start}"
    if start + _GCOL_HEADER > file_size:
        raise CheckpointError(f"{where} is cut off by the end of the file (truncated?)")
    (coll_size,) = struct.unpack_from("<Q", data, start + 8)
    end = start + coll_size
    if coll_size < _GCOL_HEADER or end > file_size:
        raise CheckpointError(f"{where} declares {coll_size} bytes, which do not fit in the "
                              f"file ({file_size} bytes): damaged or truncated")
    p = start + _GCOL_HEADER
    seen = set()
    while p < end:
        if p + _OBJ_HEADER > end:
            return  # HDF5 takes a tail too small for an object header as free space
        idx, _refs, _reserved, obj_size = struct.unpack_from("<HHIQ", data, p)
        if idx == 0:
            need = obj_size
        else:
            need = _OBJ_HEADER + ((obj_size + 7) & ~7)
            if idx in seen:
                raise CheckpointError(f"{where} holds object {idx} twice: damaged")
            seen.add(idx)
        if need <= 0 or p + need > end:
            raise CheckpointError(f"{where}: object {idx} at byte {p} declares {obj_size} bytes, "
                                  "which do not fit in its collection: damaged")
        p += need
