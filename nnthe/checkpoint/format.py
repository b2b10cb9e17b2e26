"""The checkpoint file format: its layout, errors, and the state a checkpoint holds.

A checkpoint is a plain HDF5 file (format 2: HDF5 1.10 file-format objects, whose
metadata HDF5 itself checksums)::

    /                          attributes (fixed-length ASCII strings): nnthe_format,
                               format_version, nnthe_version, created (ISO 8601, UTC),
                               sha256 (of the manifest, see below)
    /meta                      the user's metadata: JSON as UTF-8 bytes (a uint8 array)
    /model_config              the model's config(), the same way (if it has one)
    /params/<name>             one dataset per parameter; "0/W" is /params/0/W
    /random_states/<name>      the model's own random states (Dropout, ...)
    /optimizer/state/<name>    optimizer slots ("0/W/m", "step", ...)
    /optimizer/hyperparams/<name>
    /rng/<name>                the state of a random stream passed as ``rng=``

Every dataset has a ``sha256`` attribute (hex, of its bytes in C order as stored), and
every non-empty array is chunked with HDF5's fletcher32 filter, so any HDF5 tool detects
damaged data too. The root ``sha256`` is the hash of the manifest: the file's header
attributes and, for every dataset, its path, dtype, shape and hash (see :func:`manifest`);
so no byte that is read can change unnoticed: not a value, not a name, not a shape, not
the metadata. Nothing is stored in HDF5's global heap (no variable-length strings): a
damaged global heap can make HDF5 loop forever.

The format is versioned ``MAJOR.MINOR``: a reader understands every file of its major
version (a newer minor version only adds things an older reader may ignore) and refuses a
newer major version. Format 1 files (nnthe before checksums: variable-length string
attributes, no hashes) are still read, after their global heaps are checked; nothing in
them is verified beyond what HDF5 checks.
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

from ..core.shared import SharedVariable

FORMAT_NAME = "nnthe-checkpoint"
FORMAT_VERSION = (2, 0)
#: The major versions this reader understands.
READABLE_MAJORS = (1, 2)

#: The sections of a checkpoint, in the order they are written; each is an HDF5 group.
SECTIONS = ("params", "random_states", "optimizer/state", "optimizer/hyperparams", "rng")


class CheckpointError(ValueError):
    """A checkpoint file cannot be used: not HDF5, truncated, unsafe or of a newer format."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint does not fit the objects it is loaded into.

    The message lists every difference; :attr:`report` holds them as a
    :class:`~nnthe.checkpoint.LoadReport`. Nothing was changed.
    """

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


def format_version_string() -> str:
    return f"{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}"


def check_name(name: Any, where: str) -> str:
    """Check that ``name`` can name a dataset: non-empty "/"-separated parts."""
    if not isinstance(name, str):
        raise TypeError(f"{where}: names must be str, got {name!r} ({type(name).__name__})")
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(
            f"{where}: the name {name!r} cannot name a checkpoint entry; names are "
            "'/'-separated parts that are not empty, '.' or '..' (like '0/W')"
        )
    return name


def _check_shared(var: Any, name: str, where: str) -> SharedVariable:
    if not isinstance(var, SharedVariable):
        raise TypeError(
            f"{where}: {name!r} must be a shared variable (nnthe.shared(...)), got "
            f"{type(var).__name__}"
        )
    return var


def named_variables(obj: Any, where: str) -> OrderedDict[str, SharedVariable]:
    """Name the shared variables in a dict (name -> variable) or a list (by ``.name``)."""
    out: OrderedDict[str, SharedVariable] = OrderedDict()
    if isinstance(obj, Mapping):
        for name, var in obj.items():
            out[check_name(name, where)] = _check_shared(var, name, where)
    elif isinstance(obj, (list, tuple)):
        for i, var in enumerate(obj):
            _check_shared(var, f"item {i}", where)
            if var.name is None:
                raise ValueError(
                    f"{where}: item {i} ({var.type}) has no name; give every shared "
                    "variable a unique name, or pass a dict name -> variable"
                )
            name = check_name(var.name, where)
            if name in out:
                raise ValueError(
                    f"{where}: two shared variables are named {name!r}; names must be "
                    "unique, or pass a dict name -> variable"
                )
            out[name] = var
    else:
        raise TypeError(
            f"{where}: expected a dict name -> shared variable or a list of named shared "
            f"variables, got {type(obj).__name__}"
        )
    _check_nesting(out, where)
    return out


def _check_nesting(named: Mapping[str, Any], where: str) -> None:
    # "a" and "a/b" cannot both exist: "a" would be both a dataset and a group.
    names = set(named)
    for name in named:
        parts = name.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in names:
                raise ValueError(
                    f"{where}: {prefix!r} and {name!r} cannot both be saved: in HDF5, "
                    f"{prefix!r} would be both a dataset and a group; rename one"
                )


def _call(obj: Any, method: str, where: str, required: bool = True) -> Any:
    fn = getattr(obj, method, None)
    if fn is None:
        if required:
            raise TypeError(
                f"{where}: {type(obj).__name__} has no {method}() method; expected an "
                f"object with {method}() -> OrderedDict[str, SharedVariable]"
            )
        return None
    return fn() if callable(fn) else fn


def collect_sections(model: Any = None, optimizer: Any = None, params: Any = None,
                     rng: Any = None) -> dict[str, OrderedDict[str, SharedVariable]]:
    """Gather the named shared variables of each section from the objects given.

    Only sections for which an object was given appear in the result.
    """
    sections: dict[str, OrderedDict[str, SharedVariable]] = {}
    if model is not None:
        sections["params"] = named_variables(_call(model, "named_params", "model"), "model.named_params()")
        states = _call(model, "named_random_states", "model", required=False)
        if states is not None:
            sections["random_states"] = named_variables(states, "model.named_random_states()")
    if params is not None:
        extra = named_variables(params, "params")
        merged = sections.get("params", OrderedDict())
        for name, var in extra.items():
            if name in merged and merged[name] is not var:
                raise ValueError(
                    f"params: {name!r} is also a parameter of the model; give it another "
                    "name or pass it only once"
                )
            merged[name] = var
        _check_nesting(merged, "params")
        sections["params"] = merged
    if optimizer is not None:
        for attr, section in (("state", "optimizer/state"), ("hyperparams", "optimizer/hyperparams")):
            if not hasattr(optimizer, attr):
                raise TypeError(
                    f"optimizer: {type(optimizer).__name__} has no .{attr}; expected an "
                    f"optimizer with .state and .hyperparams (OrderedDict[str, SharedVariable])"
                )
            sections[section] = named_variables(getattr(optimizer, attr), f"optimizer.{attr}")
    if rng is not None:
        if hasattr(rng, "state_variables"):
            sections["rng"] = named_variables(rng.state_variables(), "rng.state_variables()")
        else:
            sections["rng"] = named_variables(rng, "rng")
    return sections


def _json_default(obj: Any) -> Any:
    # NumPy scalars are what metrics usually are; store them as the Python numbers they hold.
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        return obj.item()
    raise TypeError(f"{type(obj).__name__} {obj!r:.60}")


def encode_json(value: Any, what: str) -> str:
    """``value`` as JSON, or a TypeError naming what cannot be stored."""
    try:
        return json.dumps(value, default=_json_default, allow_nan=True, sort_keys=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} must be JSON-serializable (dicts with str keys, lists, str, numbers, "
            f"bool, None; NumPy scalars are converted); cannot store: {exc}"
        ) from None


def encode_meta(meta: Any) -> str:
    if meta is None:
        return "{}"
    if not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
    bad = [k for k in meta if not isinstance(k, str)]
    if bad:
        # json.dumps would turn them into strings: the loaded dict would differ.
        raise TypeError(f"meta keys must be str, got {bad[:5]!r}")
    return encode_json(dict(meta), "meta")


def sha256_hex(buffer: Any) -> str:
    """The SHA-256 (hex) of a bytes-like object or of an array's bytes in C order."""
    if isinstance(buffer, np.ndarray):
        buffer = (buffer if buffer.flags.c_contiguous else buffer.copy(order="C")).data
    return hashlib.sha256(buffer).hexdigest()


def manifest(header: Mapping[str, str], entries: Mapping[str, tuple[str, tuple, str]]) -> str:
    """The SHA-256 (hex) of a file's header and of every dataset's (dtype, shape, hash).

    ``header``: the root attributes (``nnthe_format``, ``format_version``,
    ``nnthe_version``, ``created``); ``entries``: dataset path (no leading "/") ->
    (dtype string as NumPy writes it, e.g. ``'<f4'``, shape, sha256 hex).
    """
    doc = {"header": {k: header[k] for k in sorted(header)},
           "datasets": [[key, dt, [int(n) for n in shape], digest]
                        for key, (dt, shape, digest) in sorted(entries.items())]}
    return sha256_hex(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def decode_json(text: Any, what: str, path: str) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise CheckpointError(f"{path}: {what!r} is not UTF-8 text: {exc}") from None
    if not isinstance(text, str):
        raise CheckpointError(f"{path}: {what!r} should be a JSON string, got {type(text).__name__}")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {what!r} is not valid JSON: {exc}") from None


def parse_version(text: Any, path: str) -> tuple[int, int]:
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    try:
        major, minor = (int(p) for p in str(text).split("."))
    except ValueError:
        raise CheckpointError(f"{path}: unreadable format_version {text!r}; expected 'MAJOR.MINOR'") from None
    return major, minor
