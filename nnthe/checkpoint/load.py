"""Reading checkpoints: verify the whole file first, then change everything or nothing."""
from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from typing import Any

import h5py
import numpy as np

from .format import (FORMAT_NAME, FORMAT_VERSION, SECTIONS, CheckpointError,
                     CheckpointMismatchError, collect_sections, decode_json, parse_version)
from .matching import LoadReport, flatten, match, reject_unknown

# Filters built into HDF5 (and h5py's lzf): a file needing any other filter would make
# HDF5 look for a plugin, i.e. load code; refuse it instead.
_SAFE_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
                 6: "scaleoffset", 32000: "lzf"}


class CheckpointWarning(UserWarning):
    """A non-strict load left some entries unloaded."""


class Metadata(dict):
    """The user's metadata dict, with what else the checkpoint says as attributes.

    Attributes
    ----------
    path : str
    format_version : str
    nnthe_version : str
        The version of nnthe that wrote the file.
    created : str
        When it was written (ISO 8601, UTC).
    model_config : object or None
        The model's ``config()`` at save time, if it had one.
    report : LoadReport
        What was loaded, and (with ``strict=False``) what was not.
    """

    path: str
    format_version: str
    nnthe_version: str
    created: str
    model_config: Any
    report: LoadReport


def _open(path: str) -> h5py.File:
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder, not a checkpoint file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise CheckpointError(
            f"{path} is not a readable HDF5 checkpoint (truncated, corrupt or another "
            f"format): {exc}"
        ) from None


def _check_dataset(dset: h5py.Dataset, where: str) -> tuple[tuple, np.dtype]:
    if dset.is_virtual:
        raise CheckpointError(f"{where} is a virtual dataset (data from other files); refused")
    if dset.external:
        raise CheckpointError(f"{where} stores its data in external raw files; refused")
    dt = dset.dtype
    if dt.fields is not None or dt.subdtype is not None or dt.kind not in "biufc":
        raise CheckpointError(
            f"{where} has dtype {dt} ({h5py.check_vlen_dtype(dt) and 'variable-length' or dt.kind}); "
            "a checkpoint holds only numeric arrays (bool, int, uint, float, complex)"
        )
    if dset.shape is None:
        raise CheckpointError(f"{where} is an empty (null) dataspace, not an array; refused")
    plist = dset.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _SAFE_FILTERS:
            raise CheckpointError(
                f"{where} needs the HDF5 filter {code}, which would be loaded as a plugin; "
                f"refused (allowed: {', '.join(_SAFE_FILTERS.values())})"
            )
    return tuple(dset.shape), dt.newbyteorder("=")


def scan(f: h5py.File, path: str) -> dict[str, h5py.Dataset]:
    """Check every object of the file and return the datasets of the known sections.

    Keys are paths without the leading "/" (``"params/0/W"``). Links other than hard
    links, committed datatypes and non-numeric datasets anywhere in the file are refused,
    so nothing is ever read through them.
    """
    found: dict[str, h5py.Dataset] = OrderedDict()
    seen = {f.id}
    stack: list[tuple[str, h5py.Group]] = [("", f)]
    while stack:
        prefix, group = stack.pop()
        for key in group:
            full = f"{prefix}{key}"
            where = f"{path}: /{full}"
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise CheckpointError(f"{where} is an external link to {link.filename}:{link.path}; refused")
            if isinstance(link, h5py.SoftLink):
                raise CheckpointError(f"{where} is a soft link to {link.path}; refused")
            if not isinstance(link, h5py.HardLink):
                raise CheckpointError(f"{where} is a link of unknown kind; refused")
            try:
                obj = group[key]
            except (OSError, KeyError) as exc:
                raise CheckpointError(f"{where} cannot be read (truncated or corrupt file?): {exc}") from None
            if isinstance(obj, h5py.Group):
                if obj.id in seen:
                    raise CheckpointError(f"{where} links back to a group already seen; refused")
                seen.add(obj.id)
                stack.append((full + "/", obj))
            elif isinstance(obj, h5py.Dataset):
                _check_dataset(obj, where)
                found[full] = obj
            else:
                raise CheckpointError(f"{where} is a {type(obj).__name__}, not a dataset or group; refused")
    return found


def _section_of(key: str) -> str | None:
    for section in SECTIONS:
        if key.startswith(section + "/"):
            return section
    return None


def _header(f: h5py.File, path: str) -> Metadata:
    attrs = f.attrs
    fmt = attrs.get("nnthe_format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode("utf-8", errors="replace")
    if fmt != FORMAT_NAME:
        raise CheckpointError(
            f"{path} is an HDF5 file but not an nnthe checkpoint (its 'nnthe_format' "
            f"attribute is {fmt!r}, expected {FORMAT_NAME!r})"
        )
    version = attrs.get("format_version")
    major, minor = parse_version(version, path)
    if major > FORMAT_VERSION[0]:
        raise CheckpointError(
            f"{path} has checkpoint format {major}.{minor}, newer than this nnthe reads "
            f"({FORMAT_VERSION[0]}.x); upgrade nnthe to load it"
        )
    meta = decode_json(attrs.get("meta", "{}"), "meta", path)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the 'meta' attribute should hold a JSON object, got {type(meta).__name__}")
    out = Metadata(meta)
    out.path = path
    out.format_version = f"{major}.{minor}"
    out.nnthe_version = _text(attrs.get("nnthe_version", ""))
    out.created = _text(attrs.get("created", ""))
    out.model_config = (decode_json(attrs["model_config"], "model_config", path)
                        if "model_config" in attrs else None)
    out.report = LoadReport()
    return out


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def load_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None,
                    params: Any = None, rng: Any = None, strict: bool = True,
                    **kwargs: Any) -> Metadata:
    """Load a checkpoint into a model, optimizer and random stream; return its metadata.

    The file is checked completely before any value changes: its format, the safety of
    every object in it, and the names, shapes and dtypes of every entry against the
    objects given. With ``strict=True`` (default) any difference raises one error that
    lists them all, and nothing is changed. Only the sections for the objects given are
    compared (loading just the model from a checkpoint with optimizer state is fine).

    Parameters
    ----------
    path : str or path-like
    model, optimizer, params, rng
        As for :func:`save_checkpoint`.
    strict : bool
        If False, load the entries that match, leave the others unchanged, warn with a
        :class:`CheckpointWarning` listing the differences, and return them in
        ``metadata.report``.

    Returns
    -------
    Metadata
        The ``meta`` dict given when saving (a dict subclass), with attributes
        ``report`` (a :class:`LoadReport`), ``format_version``, ``nnthe_version``,
        ``created``, ``model_config`` and ``path``.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    CheckpointError
        If the file is not an nnthe checkpoint, is truncated or corrupt, has a newer
        major format version, or holds external/soft links, virtual or external-storage
        datasets, or non-numeric dtypes.
    CheckpointMismatchError
        (``strict=True``) If names, shapes or dtypes differ; lists every difference.

    Examples
    --------
    >>> meta = nnthe.load_checkpoint('run.h5', model=model, optimizer=opt)  # doctest: +SKIP
    >>> start_epoch = meta['epoch'] + 1                                      # doctest: +SKIP
    """
    reject_unknown(kwargs, ("model", "optimizer", "params", "rng", "strict"), "load_checkpoint")
    sections = collect_sections(model=model, optimizer=optimizer, params=params, rng=rng)
    expected = flatten(sections)
    path = os.path.abspath(os.fspath(path))
    with _open(path) as f:
        try:
            meta = _header(f, path)
            datasets = scan(f, path)
            found = OrderedDict(
                (key, (tuple(d.shape), d.dtype.newbyteorder("=")))
                for key, d in datasets.items() if _section_of(key) in sections)
            report, ok = match(expected, found)
            if strict and not report.ok:
                raise CheckpointMismatchError(
                    f"checkpoint {path} does not fit the objects given; nothing was loaded. "
                    f"{report.n_differences} difference(s):\n{report.describe(expected, found)}\n"
                    f"{_empty_hints(sections, found)}(load what matches with strict=False)",
                    report,
                )
            values = {}
            for key in ok:
                values[key] = _read(datasets[key], found[key][1], f"{path}: /{key}")
        except (OSError, RuntimeError) as exc:
            raise CheckpointError(f"{path} cannot be read (truncated or corrupt?): {exc}") from None
    # Everything is read and checked: from here on nothing can fail half-way.
    for key in ok:
        expected[key].set_value(values[key], borrow=True)
    report.loaded = list(ok)
    meta.report = report
    if not report.ok:
        warnings.warn(
            f"load_checkpoint({path!r}, strict=False) left {report.n_differences} "
            f"difference(s) unloaded:\n{report.describe(expected, found)}",
            CheckpointWarning, stacklevel=2)
    return meta


_EMPTY_HINTS = {
    "params": "the model has no parameters yet: layers create them on their first call, "
              "so call the model on a symbolic input before loading",
    "optimizer/state": "the optimizer has no state yet: it is created by "
                       "opt.updates(loss, params), so build the training function before loading",
    "random_states": "the model's random layers have no state yet: it is created when the "
                     "model is called with training=True, so build the training graph first",
    "rng": "the random stream has no state yet: each draw creates one, so build the graph "
           "that draws from it before loading",
}


def _empty_hints(sections: dict, found: dict) -> str:
    # The usual cause of "everything unexpected": objects not built yet.
    hints = []
    for section, hint in _EMPTY_HINTS.items():
        if section in sections and not sections[section] and any(
                _section_of(k) == section for k in found):
            hints.append(f"Hint: {hint}.\n")
    return "".join(hints)


def _read(dset: h5py.Dataset, dtype: np.dtype, where: str) -> np.ndarray:
    try:
        arr = dset[()]
    except (OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{where} cannot be read (truncated or corrupt file?): {exc}") from None
    arr = np.asarray(arr)
    if arr.dtype != dtype:  # big-endian data from another tool
        arr = arr.astype(dtype)
    return arr
