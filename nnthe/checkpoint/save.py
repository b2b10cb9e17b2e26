"""Writing checkpoints."""
from __future__ import annotations

import datetime
import errno
import os
import shutil
from typing import Any, Mapping

import h5py
import numpy as np

from .atomic import atomic_path, deferred_sigint, resolve_target
from .format import (FORMAT_NAME, SECTIONS, collect_sections, encode_json, encode_meta,
                     format_version_string, manifest, sha256_hex)
from .matching import reject_unknown

_COMPRESSIONS = ("gzip", "lzf")
# HDF5 1.10 objects: superblock v3 and v2 object headers carry checksums, so HDF5
# itself refuses damaged metadata; HDF5 1.10 (2017) and later read these files.
_LIBVER = ("v110", "v110")
# fletcher32 runs per chunk; chunks of ~256 KiB keep its cost at about half of what one
# big chunk costs (the chunk is copied through HDF5's filter pipeline).
_CHUNK_BYTES = 256 << 10


def _check_compression(compression: Any) -> tuple[str | None, int | None]:
    if compression is None or compression is False:
        return None, None
    if compression is True:
        return "gzip", 4
    if isinstance(compression, int) and not isinstance(compression, bool):
        if not 0 <= compression <= 9:
            raise ValueError(f"compression: a gzip level is 0..9, got {compression}")
        return "gzip", compression
    if compression in _COMPRESSIONS:
        return compression, (4 if compression == "gzip" else None)
    raise ValueError(
        f"compression must be None, 'gzip', 'lzf', True (gzip level 4) or a gzip level "
        f"0..9, got {compression!r}"
    )


def save_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None,
                    params: Any = None, rng: Any = None, meta: Mapping[str, Any] | None = None,
                    compression: Any = None, **kwargs: Any) -> str:
    """Save parameters, optimizer state and random state to an HDF5 file, atomically.

    The file is written to a temporary file next to ``path``, synced to disk and
    renamed over ``path``: if the process dies at any moment, ``path`` holds either the
    previous checkpoint or the new one, never a mix. Temporary files of ``path`` left by
    killed saves are removed. If ``path`` is a symbolic link, the file it points to is
    replaced and the link is kept. A Ctrl-C during the save is never lost: the save
    stops between two datasets (the previous checkpoint stays) and KeyboardInterrupt is
    raised, or, if it came while the file was being renamed into place, the save
    finishes and then KeyboardInterrupt is raised.

    Every dataset is stored with its SHA-256 and (when not empty or scalar) HDF5's
    fletcher32 filter; the metadata is JSON in a byte dataset; nothing is stored as a
    variable-length string (see :mod:`nnthe.checkpoint.format`).

    Parameters
    ----------
    path : str or path-like
        The checkpoint file (conventionally ``.h5``). Its folder must exist.
    model : object, optional
        Anything with ``named_params()`` (and optionally ``named_random_states()`` and
        ``config()``, whose JSON-serializable result is stored as the architecture).
    optimizer : object, optional
        Anything with ``.state`` and ``.hyperparams`` (OrderedDict[str, SharedVariable]).
    params : dict or list, optional
        Extra shared variables: a dict name -> variable or a list of uniquely named
        variables. Saved with the model's parameters.
    rng : RandomStream, dict or list, optional
        A random stream (its ``state_variables()``) or its state variables.
    meta : dict, optional
        JSON-serializable metadata (epoch, step, metrics...), returned by
        :func:`load_checkpoint`. NumPy scalars are stored as Python numbers.
    compression : None, 'gzip', 'lzf', True or int, optional
        Compress the datasets (an int is a gzip level). Off by default: parameters
        compress poorly and it slows saving.

    Returns
    -------
    str
        The absolute path given (a link stays a link: its target was written).

    Raises
    ------
    TypeError
        If ``meta`` (or ``model.config()``) is not JSON-serializable, or an object lacks
        the methods above. Nothing is written then.
    FileNotFoundError
        If the folder does not exist.
    PermissionError
        If the folder does not let this user create files (the message says so).
    OSError
        If writing fails; the message says why when it can tell (disk full, the
        process's file-size limit, a read-only file system). The previous file is intact.
    KeyboardInterrupt
        On Ctrl-C, as above.

    Examples
    --------
    >>> nnthe.save_checkpoint('run.h5', model=model, optimizer=opt,
    ...                       meta={'epoch': 3, 'val_loss': 0.21})   # doctest: +SKIP

    Any HDF5 tool shows the parameters by name (``h5ls -r run.h5``: ``/params/0/W``...).
    """
    reject_unknown(kwargs, ("model", "optimizer", "params", "rng", "meta", "compression"),
                   "save_checkpoint")
    # Everything that can be refused is checked before the file is created.
    meta_json = encode_meta(meta)
    comp, level = _check_compression(compression)
    sections = collect_sections(model=model, optimizer=optimizer, params=params, rng=rng)
    if not sections:
        raise TypeError("save_checkpoint: nothing to save; pass model=, optimizer=, params= or rng=")
    config_json = None
    if model is not None and callable(getattr(model, "config", None)):
        config_json = encode_json(model.config(), "model.config()")
    path = os.path.abspath(os.fspath(path))
    header_bytes = {"meta": meta_json.encode("ascii")}  # json.dumps escapes non-ASCII
    if config_json is not None:
        header_bytes["model_config"] = config_json.encode("ascii")
    # A Ctrl-C is acted on between datasets (outside h5py), never lost: see deferred_sigint.
    with deferred_sigint() as interrupt:
        _save(path, sections, header_bytes, comp, level, interrupt)
    return path


def _save(path: str, sections: dict, header_bytes: dict[str, bytes], comp: str | None,
          level: int | None, interrupt: deferred_sigint) -> None:
    from .. import __version__

    target = resolve_target(path)
    with atomic_path(target) as tmp:
        try:
            _write_file(tmp, sections, header_bytes, comp, level, interrupt, __version__)
        except (OSError, RuntimeError) as exc:
            raise _explain_write_error(exc, path, tmp) from None
        interrupt.check()


def _write_file(tmp: str, sections: dict, header_bytes: dict[str, bytes], comp: str | None,
                level: int | None, interrupt: deferred_sigint, version: str) -> None:
    entries: dict[str, tuple[str, tuple, str]] = {}
    header = {"nnthe_format": FORMAT_NAME, "format_version": format_version_string(),
              "nnthe_version": str(version),
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    # track_order keeps the model's order, so h5ls lists layers as the model has them.
    with h5py.File(tmp, "w", track_order=True, libver=_LIBVER) as f:
        for key, data in header_bytes.items():
            entries[key] = _write(f, key, np.frombuffer(data, dtype=np.uint8), None, None)
        for section in SECTIONS:
            if section not in sections:
                continue
            group = f.create_group(section, track_order=True)
            for name, var in sections[section].items():
                interrupt.check()
                entries[f"{section}/{name}"] = _write(group, name, var.get_value(borrow=True),
                                                      comp, level)
        for key, text in header.items():
            f.attrs[key] = _ascii(text)
        f.attrs["sha256"] = np.bytes_(manifest(header, entries))
        f.flush()


def _ascii(text: str) -> np.bytes_:
    # A fixed-length string lives in the attribute itself; a Python str would become a
    # variable-length string in HDF5's global heap.
    return np.bytes_(text.encode("ascii", errors="backslashreplace"))


def _explain_write_error(exc: BaseException, path: str, tmp: str) -> OSError:
    # HDF5 reports a failed write as e.g. "RuntimeError: Set slist enabled failed";
    # find out what actually happened.
    text = f"{type(exc).__name__}: {exc}"
    try:
        written = os.path.getsize(tmp)
    except OSError:
        written = None
    try:
        import resource
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY and written is not None and written >= limit * 0.9:
            return OSError(errno.EFBIG, f"cannot write {path}: the file reached the file-size "
                           f"limit of this process ({limit} bytes, 'ulimit -f'); raise the limit "
                           f"or save less ({text})")
    except (ImportError, ValueError, OSError):
        pass
    try:
        free = shutil.disk_usage(os.path.dirname(tmp)).free
        if free < (1 << 20):
            return OSError(errno.ENOSPC, f"cannot write {path}: the disk is full ({free} bytes "
                           f"free in {os.path.dirname(tmp)}); the previous checkpoint is intact "
                           f"({text})")
    except OSError:
        pass
    if isinstance(exc, OSError) and exc.errno is not None:
        return OSError(exc.errno, f"cannot write {path}: {os.strerror(exc.errno)} ({text})")
    return OSError(f"cannot write {path}: HDF5 failed to write the file ({text}); the previous "
                   "checkpoint is intact")


def _chunks(value: np.ndarray) -> tuple[int, ...] | bool:
    # Whole rows along the first axis, ~_CHUNK_BYTES per chunk.
    row = value.nbytes // value.shape[0]
    if row > (1 << 30):  # (a chunk holds at most 4 GiB) let h5py cut rows too
        return True
    return (max(1, min(value.shape[0], _CHUNK_BYTES // max(row, 1))), *value.shape[1:])


def _write(group: h5py.Group, name: str, value: Any, comp: str | None,
           level: int | None) -> tuple[str, tuple, str]:
    *parents, leaf = name.split("/")
    for part in parents:
        # Explicit, so nested groups keep the model's order too.
        group = group[part] if part in group else group.create_group(part, track_order=True)
    value = np.asarray(value)
    if not value.flags.c_contiguous:  # (np.ascontiguousarray would make a 0-d array 1-d)
        value = value.copy(order="C")
    if value.dtype.byteorder not in "=|":
        value = value.astype(value.dtype.newbyteorder("="))
    kw: dict[str, Any] = {}
    if value.ndim > 0 and value.size > 0:
        # fletcher32 lets any HDF5 tool detect damaged data; it needs chunked storage.
        kw["fletcher32"] = True
        kw["chunks"] = _chunks(value)
        if comp is not None:
            kw.update(compression=comp, compression_opts=level, shuffle=value.dtype.itemsize > 1)
    dset = group.create_dataset(leaf, data=value, **kw)
    digest = sha256_hex(value)
    dset.attrs["sha256"] = np.bytes_(digest)
    return value.dtype.str, value.shape, digest
