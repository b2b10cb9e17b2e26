"""Atomic file replacement: a crash at any moment leaves the old file or the new one.

The new content is written to a temporary file in the destination's folder (a rename is
atomic only within one file system), flushed and fsynced, then renamed over the
destination with :func:`os.replace`; the folder is fsynced so the rename itself survives
a power loss. Temporary files are named ``.<name>.<host>.<pid>.<random>.tmp``: hidden,
never matching a checkpoint name, and attributable to the process that wrote them.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
from typing import Iterator

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp$")


def _fsync_path(path: str, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some platforms (Windows) cannot open folders; nothing to sync there
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def _new_file_mode(path: str) -> int:
    # mkstemp creates 0600 files; a checkpoint should get the permissions of the file it
    # replaces, or the ones the user's umask gives new files.
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path to write; on success it atomically replaces ``path``.

    If the body raises, the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> with atomic_path('weights.npz') as tmp:      # doctest: +SKIP
    ...     np.savez(tmp, W=W)
    """
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    tmp = os.path.join(folder, f".{name}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _new_file_mode(path))
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_path(folder, directory=True)


def is_temp_name(filename: str) -> bool:
    """True for the name of a temporary file made by :func:`atomic_path`."""
    return _TEMP_RE.match(filename) is not None


def remove_stale_temp_files(folder: str, target_prefix: str = "") -> list[str]:
    """Remove temporary files left in ``folder`` by dead processes of this host.

    Only files whose target name starts with ``target_prefix`` are considered; files of
    a live process (a save in progress) or of another host are kept. Returns the
    removed paths.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return removed
    for fname in names:
        m = _TEMP_RE.match(fname)
        if m is None or m["host"] != _HOST or not m["name"].startswith(target_prefix):
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        full = os.path.join(folder, fname)
        with contextlib.suppress(OSError):
            os.unlink(full)
            removed.append(full)
    return removed


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
