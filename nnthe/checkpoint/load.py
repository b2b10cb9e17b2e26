"""Reading checkpoints: verify the whole file first, then change everything or nothing.

Every failure to read a file, whatever HDF5 raised, is a :class:`CheckpointError` naming
the file (and the dataset when there is one); the order of the checks is what keeps
HDF5 from hanging or allocating without bound on a damaged or crafted file:

1. the path is a regular file starting with the HDF5 signature (:mod:`.preflight`);
2. (format 1 only) its global heaps are walked and checked before HDF5 reads them;
3. every object of the file is checked (links, dtypes, filters, and each dataset's
   storage against its shape and the file's size) before any data is read;
4. (format 2) the manifest hash over the header and every dataset's dtype, shape and
   hash is compared; the metadata's and each loaded dataset's hash is compared after
   reading it and before anything is used.
"""
from __future__ import annotations

import math
import os
import warnings
from collections import OrderedDict
from typing import Any

import h5py
import numpy as np

from .format import (FORMAT_NAME, FORMAT_VERSION, READABLE_MAJORS, SECTIONS, CheckpointError,
                     CheckpointMismatchError, collect_sections, decode_json, manifest,
                     parse_version, sha256_hex)
from .matching import LoadReport, flatten, match, reject_unknown
from .preflight import check_global_heaps, check_regular_hdf5

# Filters built into HDF5 (and h5py's lzf): a file needing any other filter would make
# HDF5 look for a plugin, i.e. load code; refuse it instead.
_SAFE_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
                 6: "scaleoffset", 32000: "lzf"}
_COMPRESSING = {1, 4, 5, 6, 32000}
# deflate cannot shrink data more than ~1032 times; a "compressed" dataset that claims more
# would make the reader allocate far more memory than the file could ever hold.
_MAX_RATIO = 1100
# The header datasets of format 2, outside the sections.
_HEADER_DATASETS = ("meta", "model_config")
_HEADER_ATTRS = ("nnthe_format", "format_version", "nnthe_version", "created")


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
    verified : bool
        True if the file has checksums (format 2) and everything read was verified
        against them; False for format 1 files, which have none.
    report : LoadReport
        What was loaded, and (with ``strict=False``) what was not.
    """

    path: str
    format_version: str
    nnthe_version: str
    created: str
    model_config: Any
    verified: bool
    report: LoadReport


class _File:
    """An open checkpoint: the h5py file, its size, and which format it is."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = check_regular_hdf5(path)
        self.legacy = False
        try:
            self.f = h5py.File(path, "r")
        except Exception as exc:  # h5py raises OSError, but also KeyError, ValueError...
            raise CheckpointError(
                f"{path} is not a readable HDF5 checkpoint (truncated, corrupt or another "
                f"format): {_describe(exc)}") from None

    def close(self) -> None:
        try:
            self.f.close()
        except Exception:  # closing a damaged file can fail too; nothing is left to do
            pass


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or "(no message)"
    return f"{type(exc).__name__}: {text}"


def _attr(obj: h5py.HLObject, name: str, where: str, allow_vlen: bool) -> Any:
    """An attribute's value, or None if absent; variable-length strings only if allowed."""
    if name not in obj.attrs:
        return None
    dt = obj.attrs.get_id(name).dtype
    info = h5py.check_string_dtype(dt)
    if info is not None and info.length is None:
        if not allow_vlen:
            raise CheckpointError(
                f"{where}: the attribute {name!r} is a variable-length string, which a format 2 "
                "checkpoint never holds (it would be read from HDF5's global heap); refused")
    elif dt.kind not in "Sbiuf" or h5py.check_vlen_dtype(dt) is not None:
        raise CheckpointError(f"{where}: the attribute {name!r} has dtype {dt}; expected a string")
    value = obj.attrs[name]
    if isinstance(value, np.ndarray):
        if value.shape != ():
            raise CheckpointError(f"{where}: the attribute {name!r} should be one value, got "
                                  f"an array of shape {value.shape}")
        value = value[()]
    return value


def _check_dataset(dset: h5py.Dataset, where: str, file_size: int | None = None
                   ) -> tuple[tuple, np.dtype]:
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
    codes = set()
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _SAFE_FILTERS:
            raise CheckpointError(
                f"{where} needs the HDF5 filter {code}, which would be loaded as a plugin; "
                f"refused (allowed: {', '.join(_SAFE_FILTERS.values())})"
            )
        codes.add(code)
    if file_size is not None:
        _check_storage(dset, plist, codes, where, file_size)
    return tuple(dset.shape), dt.newbyteorder("=")


def _check_storage(dset: h5py.Dataset, plist: Any, codes: set, where: str, file_size: int) -> None:
    # Reading allocates the whole array; a crafted file may declare an array far larger
    # than the bytes it holds (unallocated storage reads as fill values). Refuse any
    # dataset whose declared size its storage, and the file, cannot back.
    nbytes = math.prod(int(n) for n in dset.shape) * dset.dtype.itemsize
    if nbytes == 0:
        return
    stored = int(dset.id.get_storage_size())
    shape = tuple(int(n) for n in dset.shape)
    if stored > file_size:
        raise CheckpointError(f"{where} declares {stored} bytes of storage, more than the whole "
                              f"file ({file_size} bytes): damaged or crafted; refused")
    layout = plist.get_layout()
    if layout == h5py.h5d.CHUNKED and codes & _COMPRESSING:
        if nbytes > stored * _MAX_RATIO:
            raise CheckpointError(
                f"{where} has shape {shape} ({nbytes} bytes) but only {stored} compressed bytes "
                f"in the file, more than any real compression gives; refused")
    elif stored < nbytes:
        raise CheckpointError(
            f"{where} has shape {shape} and dtype {dset.dtype} ({nbytes} bytes) but only "
            f"{stored} bytes of data in the file: truncated, damaged or crafted; refused")
    if layout == h5py.h5d.CONTIGUOUS:
        offset = dset.id.get_offset()
        if offset is None or offset + nbytes > file_size:
            raise CheckpointError(f"{where}: its data ({nbytes} bytes at byte {offset}) lies "
                                  f"beyond the end of the file ({file_size} bytes): truncated")


def scan(f: h5py.File, path: str, file_size: int | None = None) -> dict[str, h5py.Dataset]:
    """Check every object of the file and return all its datasets.

    Keys are paths without the leading "/" (``"params/0/W"``). Links other than hard
    links, committed datatypes and non-numeric datasets anywhere in the file are refused,
    so nothing is ever read through them. With ``file_size``, every dataset's storage is
    checked to back its declared shape within the file.
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
            obj = group[key]
            if isinstance(obj, h5py.Group):
                if obj.id in seen:
                    raise CheckpointError(f"{where} links back to a group already seen; refused")
                seen.add(obj.id)
                stack.append((full + "/", obj))
            elif isinstance(obj, h5py.Dataset):
                _check_dataset(obj, where, file_size)
                found[full] = obj
            else:
                raise CheckpointError(f"{where} is a {type(obj).__name__}, not a dataset or group; refused")
    return found


def _section_of(key: str) -> str | None:
    for section in SECTIONS:
        if key.startswith(section + "/"):
            return section
    return None


def _header(cf: _File) -> Metadata:
    f, path = cf.f, cf.path
    fmt_is_vlen = ("nnthe_format" in f.attrs and h5py.check_string_dtype(
        f.attrs.get_id("nnthe_format").dtype) is not None and h5py.check_string_dtype(
        f.attrs.get_id("nnthe_format").dtype).length is None)
    if fmt_is_vlen:
        # Format 1 wrote Python str attributes: variable-length strings in the global heap,
        # which HDF5 may loop on forever if damaged. Walk the heaps first.
        check_global_heaps(path)
    fmt = _text(_attr(f, "nnthe_format", path, allow_vlen=fmt_is_vlen))
    if fmt != FORMAT_NAME:
        raise CheckpointError(
            f"{path} is an HDF5 file but not an nnthe checkpoint (its 'nnthe_format' "
            f"attribute is {fmt!r}, expected {FORMAT_NAME!r})"
        )
    version = _attr(f, "format_version", path, allow_vlen=fmt_is_vlen)
    major, minor = parse_version(version, path)
    if major > FORMAT_VERSION[0]:
        raise CheckpointError(
            f"{path} has checkpoint format {major}.{minor}, newer than this nnthe reads "
            f"({FORMAT_VERSION[0]}.x); upgrade nnthe to load it"
        )
    if major not in READABLE_MAJORS:
        raise CheckpointError(f"{path} has checkpoint format {major}.{minor}, which no nnthe "
                              f"wrote; this nnthe reads formats {', '.join(map(str, READABLE_MAJORS))}")
    cf.legacy = major == 1
    if cf.legacy != fmt_is_vlen:
        raise CheckpointError(f"{path} says it has format {major}.{minor} but its attributes are "
                              "not stored as that format stores them: damaged or not written by nnthe")
    out = Metadata()
    out.path = path
    out.format_version = f"{major}.{minor}"
    out.nnthe_version = _text(_attr(f, "nnthe_version", path, allow_vlen=cf.legacy) or "")
    out.created = _text(_attr(f, "created", path, allow_vlen=cf.legacy) or "")
    out.verified = not cf.legacy
    out.report = LoadReport()
    if cf.legacy:
        meta = decode_json(_attr(f, "meta", path, True) or "{}", "meta", path)
        config = _attr(f, "model_config", path, True)
        out.model_config = decode_json(config, "model_config", path) if config is not None else None
        _set_meta(out, meta, path)
    return out


def _set_meta(out: Metadata, meta: Any, path: str) -> None:
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: 'meta' should hold a JSON object, got {type(meta).__name__}")
    out.update(meta)


def _verify_manifest(cf: _File, datasets: dict[str, h5py.Dataset]) -> dict[str, str]:
    """(format 2) Compare the root hash with the file's header and datasets; return the hashes."""
    f, path = cf.f, cf.path
    header = {}
    for name in _HEADER_ATTRS:
        value = _attr(f, name, path, allow_vlen=False)
        if value is None:
            raise CheckpointError(f"{path} has no {name!r} attribute: damaged or not written by nnthe")
        header[name] = _text(value)
    root = _attr(f, "sha256", path, allow_vlen=False)
    if root is None:
        raise CheckpointError(f"{path} has no 'sha256' attribute (the hash of its manifest): "
                              "damaged or not written by nnthe")
    hashes, entries = {}, {}
    for key, dset in datasets.items():
        digest = _attr(dset, "sha256", f"{path}: /{key}", allow_vlen=False)
        if digest is None:
            raise CheckpointError(f"{path}: /{key} has no 'sha256' attribute (its checksum): "
                                  "damaged or not written by nnthe")
        hashes[key] = _text(digest)
        entries[key] = (dset.dtype.str, tuple(dset.shape), hashes[key])
    if manifest(header, entries) != _text(root):
        raise CheckpointError(
            f"{path} is damaged: its manifest checksum does not match (a header attribute, or "
            "the name, dtype, shape or checksum of a dataset, was changed since it was saved)")
    for name in ("meta",):
        if name not in datasets:
            raise CheckpointError(f"{path} has no /{name} dataset: damaged or not written by nnthe")
    return hashes


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def _header_json(cf: _File, datasets: dict, hashes: dict, name: str) -> Any:
    raw = _read(datasets[name], np.dtype(np.uint8), f"{cf.path}: /{name}", hashes.get(name))
    if raw.ndim != 1:
        raise CheckpointError(f"{cf.path}: /{name} should be a 1-d array of bytes, got shape {raw.shape}")
    return decode_json(raw.tobytes(), name, cf.path)


def read_checkpoint(path: str, sections: dict, strict: bool = True, verify_all: bool = False
                    ) -> tuple[Metadata, OrderedDict, dict[str, np.ndarray], list[str]]:
    """Open, check and read ``path``.

    Returns its metadata (with ``report`` comparing the file with ``sections``), the
    entries found in ``sections`` (key -> (shape, dtype)), the values of those that
    match (key -> array; none if ``strict`` and something differs) and their keys.
    With ``verify_all`` every dataset of the file is read and checked.

    Every exception is a CheckpointError naming the file (or FileNotFoundError /
    IsADirectoryError); ``sections`` maps section -> name -> shared variable.
    """
    expected = flatten(sections)
    cf = _File(path)
    try:
        meta = _header(cf)
        datasets = scan(cf.f, path, cf.size)
        hashes: dict[str, str] = {}
        if not cf.legacy:
            hashes = _verify_manifest(cf, datasets)
            _set_meta(meta, _header_json(cf, datasets, hashes, "meta"), path)
            meta.model_config = (_header_json(cf, datasets, hashes, "model_config")
                                 if "model_config" in datasets else None)
        found = OrderedDict(
            (key, (tuple(d.shape), d.dtype.newbyteorder("=")))
            for key, d in datasets.items() if _section_of(key) in sections)
        report, ok = match(expected, found)
        meta.report = report
        values: dict[str, np.ndarray] = {}
        if strict and not report.ok:
            return meta, found, values, ok  # the caller refuses; no need to read
        keys = list(datasets) if verify_all else ok
        for key in keys:
            if key in _HEADER_DATASETS and not cf.legacy:
                continue
            dt = found[key][1] if key in found else datasets[key].dtype.newbyteorder("=")
            arr = _read(datasets[key], dt, f"{path}: /{key}", hashes.get(key))
            if key in ok:
                values[key] = arr
        return meta, found, values, ok
    except CheckpointError:
        raise
    except Exception as exc:
        # h5py turns HDF5's errors into OSError, KeyError ("incorrect metadata checksum"),
        # ValueError ("Insufficient precision"), RuntimeError, TypeError...: for the
        # caller, all of them mean this file cannot be used.
        raise CheckpointError(f"{path} cannot be read (truncated or corrupt?): {_describe(exc)}") from None
    finally:
        cf.close()


def load_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None,
                    params: Any = None, rng: Any = None, strict: bool = True,
                    **kwargs: Any) -> Metadata:
    """Load a checkpoint into a model, optimizer and random stream; return its metadata.

    The file is checked completely before any value changes: its format, the safety of
    every object in it, the checksums of everything read, and the names, shapes and
    dtypes of every entry against the objects given. With ``strict=True`` (default) any
    difference raises one error that lists them all, and nothing is changed. Only the
    sections for the objects given are compared and read (loading just the model from a
    checkpoint with optimizer state is fine; loading with no object reads only the
    metadata).

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
        ``created``, ``model_config``, ``verified`` and ``path``.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    IsADirectoryError
        If ``path`` is a folder.
    CheckpointError
        For every other reason the file cannot be used, always naming the file (and the
        dataset): not a regular file (a pipe, a device), not readable (permissions), not
        HDF5, not an nnthe checkpoint, truncated or damaged (a checksum differs, or HDF5
        fails to read it), a newer major format version, external/soft links, virtual or
        external-storage datasets, non-numeric dtypes, or a dataset larger than the file
        can hold.
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
    meta, found, values, ok = read_checkpoint(path, sections, strict=strict)
    report = meta.report
    if strict and not report.ok:
        raise CheckpointMismatchError(
            f"checkpoint {path} does not fit the objects given; nothing was loaded. "
            f"{report.n_differences} difference(s):\n{report.describe(expected, found)}\n"
            f"{_empty_hints(sections, found)}(load what matches with strict=False)",
            report,
        )
    # Everything is read and checked: from here on nothing can fail half-way.
    for key in ok:
        expected[key].set_value(values[key], borrow=True)
    report.loaded = list(ok)
    if not report.ok:
        warnings.warn(
            f"load_checkpoint({path!r}, strict=False) left {report.n_differences} "
            f"difference(s) unloaded:\n{report.describe(expected, found)}",
            CheckpointWarning, stacklevel=2)
    return meta


def verify_checkpoint(path: str | os.PathLike) -> Metadata:
    """Read every dataset of a checkpoint and check it; return its metadata.

    Use it to pick a checkpoint to resume from, or to check a copied file: it raises
    :class:`CheckpointError` (naming the file and the dataset) exactly when some
    ``load_checkpoint`` of this file would fail for a reason of the file's own.
    ``metadata.verified`` is False for format 1 files, which have no checksums (then
    only HDF5's own checks were made).
    """
    path = os.path.abspath(os.fspath(path))
    meta, _, _, _ = read_checkpoint(path, {}, strict=False, verify_all=True)
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


def _read(dset: h5py.Dataset, dtype: np.dtype, where: str, digest: str | None) -> np.ndarray:
    try:
        arr = np.asarray(dset[()])
    except Exception as exc:  # fletcher32 and decompression failures come as OSError
        raise CheckpointError(f"{where} cannot be read (truncated or corrupt file?): "
                              f"{_describe(exc)}") from None
    if digest is not None and sha256_hex(arr) != digest:
        raise CheckpointError(f"{where} is damaged: its data does not match its sha256 checksum "
                              "(changed since it was saved); nothing was loaded")
    if arr.dtype != dtype:  # big-endian data from another tool
        arr = arr.astype(dtype)
    return arr
