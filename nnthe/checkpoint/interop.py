"""Parameters as plain NumPy: ``.npz`` files and dicts of arrays (state dicts)."""
from __future__ import annotations

import os
import warnings
import zipfile
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

from .atomic import atomic_path
from .format import CheckpointError, CheckpointMismatchError, named_variables
from .load import CheckpointWarning
from .matching import LoadReport, match
from ..core.shared import SharedVariable


def _named(obj: Any, where: str) -> OrderedDict[str, SharedVariable]:
    # A model (named_params) or params (dict / list of named shared variables).
    if hasattr(obj, "named_params"):
        return named_variables(obj.named_params(), f"{where}: model.named_params()")
    return named_variables(obj, where)


def state_dict(model: Any) -> OrderedDict[str, np.ndarray]:
    """The parameters of ``model`` (or a dict/list of shared variables) as NumPy copies.

    Examples
    --------
    >>> sd = state_dict(model)            # doctest: +SKIP
    >>> sd['0/W'].shape                   # doctest: +SKIP
    (784, 256)
    """
    return OrderedDict((name, var.get_value()) for name, var in _named(model, "state_dict").items())


def _load_arrays(named: Mapping[str, SharedVariable], arrays: Mapping[str, Any], strict: bool,
                 where: str) -> LoadReport:
    found = OrderedDict()
    converted = {}
    for name, value in arrays.items():
        if not isinstance(name, str):
            raise TypeError(f"{where}: keys must be parameter names (str), got {name!r}")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"{where}: {name!r} has dtype {arr.dtype}; only numeric arrays can be loaded")
        converted[name] = arr
        found[name] = (arr.shape, arr.dtype)
    report, ok = match(named, found)
    if not report.ok:
        text = report.describe(named, found)
        if strict:
            raise CheckpointMismatchError(
                f"{where}: the arrays do not fit the parameters; nothing was loaded. "
                f"{report.n_differences} difference(s):\n{text}\n(load what matches with strict=False)",
                report)
        warnings.warn(f"{where} (strict=False) left {report.n_differences} difference(s) unloaded:\n{text}",
                      CheckpointWarning, stacklevel=3)
    for name in ok:
        # Copy: the caller keeps its arrays, and they may be views into a file.
        named[name].set_value(np.array(converted[name], copy=True), borrow=True)
    report.loaded = list(ok)
    return report


def load_state_dict(model: Any, arrays: Mapping[str, Any], strict: bool = True) -> LoadReport:
    """Set the parameters of ``model`` from a dict name -> array.

    Names, shapes and dtypes are compared first; with ``strict=True`` any difference
    raises :class:`CheckpointMismatchError` listing them all and nothing changes. With
    ``strict=False`` what matches is loaded and the rest reported (and warned about).

    Returns
    -------
    LoadReport
    """
    if not isinstance(arrays, Mapping):
        raise TypeError(f"load_state_dict: expected a dict name -> array, got {type(arrays).__name__}")
    return _load_arrays(_named(model, "load_state_dict"), arrays, strict, "load_state_dict")


def export_npz(path: str | os.PathLike, model: Any, compressed: bool = False) -> str:
    """Write the parameters of ``model`` (or a dict/list of shared variables) to ``.npz``.

    Keys are the parameter names (``'0/W'``). Written atomically. Returns the path.
    """
    named = _named(model, "export_npz")
    path = os.path.abspath(os.fspath(path))
    if not path.endswith(".npz"):
        # np.savez would append ".npz" to the temporary name and the rename would miss it.
        raise ValueError(f"export_npz: the file name must end with .npz, got {path}")
    arrays = {name: var.get_value(borrow=True) for name, var in named.items()}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)
            fh.flush()
    return path


def import_npz(path: str | os.PathLike, model: Any, strict: bool = True) -> LoadReport:
    """Load parameters from an ``.npz`` file written by :func:`export_npz` or NumPy.

    Never unpickles (``allow_pickle=False``). Checked as :func:`load_state_dict`.
    """
    named = _named(model, "import_npz")
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(f"no .npz file at {path}")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path} is a single .npy array, not an .npz archive of named arrays")
        with data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"{path} is not a readable .npz file (truncated or corrupt?): {exc}") from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc} (object arrays are never unpickled)") from None
    return _load_arrays(named, arrays, strict, f"import_npz({path})")
