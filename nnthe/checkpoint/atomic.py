"""Atomic file replacement: a crash at any moment leaves the old file or the new one.

The new content is written to a temporary file in the destination's folder (a rename is
atomic only within one file system), flushed and fsynced, then renamed over the
destination with :func:`os.replace`; the folder is fsynced so the rename itself survives
a power loss. Temporary files are named ``.<name>.<host>.<pid>.<random>.tmp``: hidden,
never matching a checkpoint name, and attributable to the process that wrote them. A
name too long for that (file names are limited to 255 bytes) is shortened to its start
and a hash of the whole name, so every name that can be saved at all can be saved
atomically. A path that is a symbolic link is written through: the file it points to is
replaced and the link stays a link.

A save is also the time to clean up after saves that were killed: :func:`atomic_path`
removes the temporary files of the same destination left by dead processes of this host.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import signal
import socket
import threading
from typing import Any, Iterator

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp$")
#: The longest file name (in bytes) common file systems accept (ext4, XFS, btrfs, APFS, NTFS).
NAME_MAX = 255
# Room for ".<host>.<pid>.<8 hex>.tmp" with the longest pid Linux gives (2**22) and then some.
_SUFFIX_ROOM = 1 + len(_HOST) + 1 + 10 + 1 + 8 + 4


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


def temp_stem(name: str) -> str:
    """The part of a temporary file's name that stands for the destination ``name``.

    ``name`` itself when the temporary name fits in :data:`NAME_MAX` bytes; otherwise its
    start and ``~`` and 12 hex digits of its SHA-256, so two long names that share
    their start still get different temporary files.
    """
    room = NAME_MAX - 1 - _SUFFIX_ROOM
    raw = os.fsencode(name)
    if len(raw) <= room:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:12]
    head = raw[:room - 13]
    # Cut on a character boundary, so the stem is still a valid (decodable) name.
    while head:
        try:
            text = os.fsdecode(head)
            os.fsencode(text)
            break
        except (UnicodeDecodeError, UnicodeEncodeError):
            head = head[:-1]
    return f"{os.fsdecode(head)}~{digest}"


def resolve_target(path: str | os.PathLike) -> str:
    """The absolute path a save of ``path`` replaces: symbolic links are followed.

    Replacing the link itself would turn it into a file and leave the file it points to
    behind, stale; writing through it is what ``open(path, 'w')`` would do.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.islink(path):
        return os.path.realpath(path)
    return path


def _explain_open_error(exc: OSError, tmp: str, path: str, folder: str) -> OSError:
    if isinstance(exc, PermissionError):
        return PermissionError(exc.errno, f"cannot write {path}: permission denied to create a "
                               f"file in the folder {folder} (check its owner and mode)", tmp)
    if exc.errno == errno.EROFS:
        return OSError(exc.errno, f"cannot write {path}: the folder {folder} is on a read-only "
                       "file system", tmp)
    if exc.errno == errno.ENAMETOOLONG:
        return OSError(exc.errno, f"cannot write {path}: the file name is too long for this file "
                       "system", tmp)
    return exc


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path to write; on success it atomically replaces ``path``.

    If the body raises, the temporary file is removed and ``path`` is untouched. If
    ``path`` is a symbolic link, the file it points to is replaced (the link stays).
    Temporary files of the same destination left by dead processes are removed first.

    Examples
    --------
    >>> with atomic_path('weights.npz') as tmp:      # doctest: +SKIP
    ...     np.savez(tmp, W=W)
    """
    path = resolve_target(path)
    folder, name = os.path.split(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path}: it is a folder")
    stem = temp_stem(name)
    remove_stale_temp_files(folder, stem, exact=True)
    tmp = os.path.join(folder, f".{stem}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise _explain_open_error(exc, tmp, path, folder) from None
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


def remove_stale_temp_files(folder: str, target_prefix: str = "", exact: bool = False) -> list[str]:
    """Remove temporary files left in ``folder`` by dead processes of this host.

    Only files whose target name starts with ``target_prefix`` (with ``exact=True``: is
    the stem :func:`temp_stem` gives for one target) are considered; files of a live
    process (a save in progress) or of another host are kept. Returns the removed paths.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return removed
    for fname in names:
        m = _TEMP_RE.match(fname)
        if m is None or m["host"] != _HOST:
            continue
        if (m["name"] != target_prefix) if exact else not m["name"].startswith(target_prefix):
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


class deferred_sigint:
    """Hold back SIGINT (Ctrl-C) while a file is written; raise it only where it is safe.

    A KeyboardInterrupt raised by Python's default handler can land anywhere, including
    inside a weak-reference callback that h5py runs when one of its objects is freed;
    there Python can only print "Exception ignored in ..." and the interrupt is lost (a
    training loop then carries on). Inside this context a Ctrl-C only sets
    :attr:`pending`; the writer calls :meth:`check` between steps (raising
    KeyboardInterrupt at a point of its choosing), and on exit the previous handler
    gets the signal. Only the main thread can change signal handlers: elsewhere, and
    when SIGINT is ignored or not handled by Python, this does nothing.
    """

    def __init__(self) -> None:
        self.pending = False
        self._old: Any = None
        self._active = False

    def _handler(self, signum: int, frame: Any) -> None:
        self.pending = True

    def check(self) -> None:
        """Raise KeyboardInterrupt if a Ctrl-C arrived (call it outside any h5py call)."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __enter__(self) -> "deferred_sigint":
        if threading.current_thread() is threading.main_thread():
            old = signal.getsignal(signal.SIGINT)
            if callable(old):
                self._old = old
                signal.signal(signal.SIGINT, self._handler)
                self._active = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._active:
            return
        signal.signal(signal.SIGINT, self._old)
        self._active = False
        if self.pending:
            self.pending = False
            # The handler the user had (Python's default raises KeyboardInterrupt).
            self._old(signal.SIGINT, None)
