"""The on-disk cache of generated kernels.

A kernel's source is written to ``<cache dir>/kernels/<prefix>_<hash>.py``, where the hash
is that of the source itself (so of the program it implements and of this code
generator's version), and imported from there. Being a real file lets numba's
``cache=True`` store the machine code next to it (``__pycache__``), so a later process
loads the compiled kernel instead of compiling it again. The cache directory is
``$NNTHE_CACHE_DIR`` or ``~/.cache/nnthe``.

Two processes may write the same kernel at once: each writes a temporary file in the
same directory and moves it into place atomically (``os.replace``), and a file already
in place with the right content is never rewritten (rewriting would change its mtime and
make numba discard the machine code it cached for it).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

#: Bump when generated sources change meaning without changing text.
VERSION = "1"

_modules: dict[str, ModuleType] = {}


def forget_loaded() -> None:
    """Forget the kernel modules loaded in this process: the next :func:`load_module`
    reads (or writes) the disk cache again."""
    _modules.clear()


def cache_dir() -> Path:
    """The directory generated kernels live in (``$NNTHE_CACHE_DIR``/kernels, default
    ``~/.cache/nnthe/kernels``)."""
    root = os.environ.get("NNTHE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "nnthe")
    return Path(root) / "kernels"


def source_key(source: str) -> str:
    """The cache key of a kernel source."""
    return hashlib.sha256((VERSION + "\0" + source).encode()).hexdigest()[:24]


def _write_atomically(path: Path, source: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_module(source: str, prefix: str) -> ModuleType:
    """Import the module with ``source`` from the cache directory, writing it first if
    it is not there (once per process per source).

    Raises
    ------
    OSError
        If the cache directory cannot be created or written (the message names it).
    """
    key = f"{prefix}_{source_key(source)}"
    directory = cache_dir()
    cached = _modules.get(str(directory / key))
    if cached is not None:
        return cached
    path = directory / f"{key}.py"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        try:
            current = path.read_text()
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        if current != source:
            _write_atomically(path, source)
    except OSError as exc:
        raise OSError(f"cannot write the kernel cache in {directory} ({exc}); set "
                      "NNTHE_CACHE_DIR to a writable directory or NNTHE_KERNELS=numpy") from exc
    spec = importlib.util.spec_from_file_location(f"nnthe_kernel_{key}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # numba's disk cache re-imports the module by name when it loads machine code.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    _modules[str(directory / key)] = module
    return module
